//! Targeted syncs: a partial sync of exactly the resources a platform task names, their
//! entitlements and their grants, as the Baton SDK's syncer runs one (`partial`, no grant
//! expansion, a target that is gone skipped with a warning).
//!
//! A targeted user costs one ListUsers call (GetResource, see `connector::users::get`; one
//! AdminListUserAuthEvents more where the pool records sign-ins and last login is read) and its
//! AdminListGroupsForUser pages: its grants are read from its own side. The groups those grants
//! name are stored with their `member` entitlements from the same pages, so the file holds every
//! entitlement its grants point to without a GetGroup call per group. A targeted group costs its
//! GetGroup and its ListUsersInGroup pages.

use std::collections::BTreeSet;

use super::resume::Start;
use super::store::StoreHandle;
use super::{
    GrantsListing, Progress, SyncEngine, SyncError, SyncStore, SyncSummary, closed, grants_of,
    unless_gone,
};
use crate::pb::v2::ResourceId;

impl SyncEngine {
    /// Syncs the `targets` (of the resource types the engine syncs) into `store`, as
    /// [`run`](Self::run) does a full sync.
    pub async fn run_targeted<S: SyncStore>(
        &self,
        store: S,
        targets: &[ResourceId],
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<(S, SyncSummary), SyncError> {
        let walk = |handle: StoreHandle| async move { self.walk_targets(&handle, targets).await };
        self.run_walk(store, cancel, walk).await
    }

    async fn walk_targets(
        &self,
        store: &StoreHandle,
        targets: &[ResourceId],
    ) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        self.store_resource_types(store, &mut summary).await?;
        let mut seen = BTreeSet::new();
        let mut related = BTreeSet::new();
        for target in targets {
            let key = (target.resource_type.clone(), target.resource.clone());
            if !self.wanted(&target.resource_type) || !seen.insert(key) {
                continue;
            }
            let got = self.fleet.get_resource(target).await;
            let Some(resource) = unless_gone(got, "a targeted resource is gone")? else {
                summary.warnings += 1;
                continue;
            };
            *summary
                .resources_by_type
                .entry(target.resource_type.clone())
                .or_default() += 1;
            Progress::add(&self.progress.resources, 1);
            store
                .resources(vec![resource.clone()])
                .await
                .map_err(closed)?;
            if self.scope.skip_entitlements_and_grants {
                continue;
            }
            let entitlements = self.fleet.list_entitlements(&resource)?;
            summary.entitlements += entitlements.len() as u64;
            if !entitlements.is_empty() {
                store.entitlements(entitlements).await.map_err(closed)?;
            }
            // A pool (one of several) has no grants; its users and groups are targets of their own.
            let Some(connector) = self.fleet.pool_of_resource(&resource)? else {
                continue;
            };
            if !self.scope.skip_grants {
                let listing = GrantsListing {
                    checkpoint: None,
                    start: Start::Fresh,
                    owners: Some(&mut related),
                };
                let (grants, gone) =
                    grants_of(connector, &self.progress, store, resource, listing).await?;
                summary.grants += grants;
                summary.warnings += u64::from(gone);
            }
        }
        Ok(summary)
    }
}

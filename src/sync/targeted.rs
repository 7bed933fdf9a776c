//! Targeted syncs: a partial sync of exactly the resources a platform task names, their
//! entitlements and their grants, as the Baton SDK's syncer runs one (`partial`, no grant
//! expansion, a target that is gone skipped with a warning).
//!
//! A targeted user costs one ListUsers call (GetResource, see `connector::users::get`) and its
//! AdminListGroupsForUser pages: its grants are read from its own side. The groups those grants
//! name are stored with their `member` entitlements from the same pages, so the file holds every
//! entitlement its grants point to without a GetGroup call per group. A targeted group costs its
//! GetGroup and its ListUsersInGroup pages.

use std::collections::BTreeSet;

use super::store::StoreHandle;
use super::{Progress, SyncEngine, SyncError, SyncStore, SyncSummary, closed, may_restart};
use crate::connector::{ConnectorError, Cursor, ListingTrail, ResourceKind};
use crate::pb::v2::{Resource, ResourceId};

impl SyncEngine {
    /// Syncs the `targets` (and only resource types among `type_ids`, when not empty) into
    /// `store`, as [`run`](Self::run) does a full sync.
    pub async fn run_targeted<S: SyncStore>(
        &self,
        store: S,
        targets: &[ResourceId],
        type_ids: &[String],
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<(S, SyncSummary), SyncError> {
        let walk = |handle: StoreHandle| async move {
            self.walk_targets(&handle, targets, type_ids).await
        };
        self.run_walk(store, cancel, walk).await
    }

    async fn walk_targets(
        &self,
        store: &StoreHandle,
        targets: &[ResourceId],
        type_ids: &[String],
    ) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        let wanted = |type_id: &str| type_ids.is_empty() || type_ids.iter().any(|t| t == type_id);
        let resource_types: Vec<_> = self
            .connector
            .resource_types()
            .into_iter()
            .filter(|t| wanted(&t.id))
            .collect();
        summary.resource_types = resource_types.len() as u64;
        store.resource_types(resource_types).await.map_err(closed)?;
        let mut seen = BTreeSet::new();
        let mut related = BTreeSet::new();
        for target in targets {
            let key = (target.resource_type.clone(), target.resource.clone());
            if !wanted(&target.resource_type) || !seen.insert(key) {
                continue;
            }
            let resource = match self.connector.get_resource(target).await {
                Ok(resource) => resource,
                Err(ConnectorError::NotFound(message)) => {
                    tracing::warn!(reason = %message, "a targeted resource is gone; skipped");
                    summary.warnings += 1;
                    continue;
                }
                Err(err) => return Err(err.into()),
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
            let entitlements = self.connector.list_entitlements(&resource)?;
            summary.entitlements += entitlements.len() as u64;
            if !entitlements.is_empty() {
                store.entitlements(entitlements).await.map_err(closed)?;
            }
            if !self.scope.skip_grants {
                self.grants_of_target(store, &resource, &mut summary, &mut related)
                    .await?;
            }
        }
        Ok(summary)
    }

    /// Every page of a target's grants, read from its own side; the groups they name (when the
    /// target is a user) are stored once each, with their entitlement.
    async fn grants_of_target(
        &self,
        store: &StoreHandle,
        target: &Resource,
        summary: &mut SyncSummary,
        related: &mut BTreeSet<String>,
    ) -> Result<(), SyncError> {
        let (mut cursor, mut trail, mut restarts) = (Cursor::first(0), ListingTrail::default(), 0);
        loop {
            let page = match self.connector.sync_grants(target, &cursor).await {
                Ok(page) => page,
                Err(err) if may_restart(&err, &mut restarts) => {
                    (cursor, trail) = (Cursor::first(0), ListingTrail::default());
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            let mut resources = Vec::new();
            let mut entitlements = Vec::new();
            for entitlement in page.items.iter().filter_map(|g| g.entitlement.as_ref()) {
                let owner = entitlement.resource.as_ref().filter(|r| {
                    r.id.as_ref().is_some_and(|id| {
                        id.resource_type == ResourceKind::Group.syncer().type_id()
                    }) && r.id != target.id
                });
                if let Some(group) = owner
                    && related.insert(entitlement.id.clone())
                {
                    resources.push(group.clone());
                    entitlements.push(entitlement.clone());
                }
            }
            if !resources.is_empty() {
                let group_type = ResourceKind::Group.syncer().type_id();
                *summary.resources_by_type.entry(group_type).or_default() += resources.len() as u64;
                summary.entitlements += entitlements.len() as u64;
                store.resources(resources).await.map_err(closed)?;
                store.entitlements(entitlements).await.map_err(closed)?;
            }
            Progress::add(&self.progress.grants, page.items.len());
            summary.grants += page.items.len() as u64;
            if !page.items.is_empty() {
                store.grants(page.items).await.map_err(closed)?;
            }
            match page.next {
                Some(next) => {
                    trail.follow(&next).map_err(ConnectorError::from)?;
                    cursor = next;
                }
                None => return Ok(()),
            }
        }
    }
}

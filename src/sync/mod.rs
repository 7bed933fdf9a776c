//! The sync engine: walks the connector through the Baton messages (resource types, resources,
//! static entitlements, entitlements, grants) and streams everything into a store, today the
//! one-shot `.c1z`; it knows nothing of files, so other stores can reuse it.
//!
//! The listings run as a pipeline, not in strict phases, because Cognito's quotas are per
//! category: every resource type is listed at once (users and groups draw on different quotas),
//! a type's entitlements follow its own listing, and memberships start as soon as the connector
//! knows which side to read them from and that side is stored. A sync then takes about as long
//! as its busiest quota category needs, not the sum of the phases. What is stored does not
//! depend on the order.
//!
//! Memory stays flat whatever the pool size: pages go straight to the store thread through a
//! bounded queue, and entitlements and grants page through the resources the store already holds
//! instead of keeping them.

pub mod plan;
pub mod progress;
pub mod reach;
pub mod resume;
pub mod store;
mod targeted;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::cognito::CognitoError;
use crate::cognito::pacing::{prioritized, timing_waits};
use crate::cognito::records::PoolDescription;
use crate::cognito::stats::OperationStats;
use crate::connector::pool_ids::POOL_TYPE_ID;
use crate::connector::{Connector, ConnectorError, Cursor, ListingTrail, Partition, ResourceKind};
use crate::fleet::Fleet;
use crate::pb::v2::{
    Grant, Resource, ResourceId, ResourceType, SkipEntitlements, SkipEntitlementsAndGrants,
    SkipGrants,
};
use plan::{ChainPace, Listed, ListingPlan};
pub use progress::{Phase, Progress};
use resume::{Resume, Start};
use store::{StoreClosed, StoreError, StoreHandle, SyncStore};

/// How many stored resources the entitlement and grant listings read back at a time.
const RESOURCE_BATCH: usize = 500;

/// NOT_FOUND while listing a resource's grants or entitlements is a warning (the resource went
/// away mid-sync); as upstream, the sync fails only when warnings are both more than this many
/// and more than a tenth of the listings.
const WARNING_LIMIT: u64 = 10;

/// How many times one listing may start over because Cognito refused its page token.
const LISTING_RESTARTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("writing the output failed: {0}")]
    Store(StoreError),
    #[error(
        "{warnings} of {listings} listings found their resource gone; the pool changed too much during the sync to trust it"
    )]
    TooManyWarnings { warnings: u64, listings: u64 },
    #[error("the sync was interrupted")]
    Cancelled,
    #[error("a sync task failed: {0}")]
    Task(String),
}

/// What a finished sync did.
#[derive(Debug, Default, serde::Serialize)]
pub struct SyncSummary {
    pub resource_types: u64,
    pub resources_by_type: BTreeMap<String, u64>,
    pub entitlements: u64,
    pub grants: u64,
    /// Listings skipped because their resource disappeared during the sync.
    pub warnings: u64,
    pub api_calls: BTreeMap<&'static str, OperationStats>,
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
    /// How long the sync was expected to take once the pools were described (none when
    /// unpaced).
    #[serde(skip)]
    pub forecast: Option<Duration>,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Runs syncs of every pool of a fleet into one store; each pool's listings form a pipeline of
/// their own, and the pools' pipelines run side by side (pools of one account and Region pace
/// together, so they share its quotas rather than each taking a share).
pub struct SyncEngine {
    fleet: Arc<Fleet>,
    progress: Arc<Progress>,
    scope: SyncScope,
    /// Only these resource types (a platform task's `sync_resource_type_ids`); empty for all.
    type_ids: Vec<String>,
    /// Where a killed sync this one continues stood (empty for a new sync).
    resume: Arc<Resume>,
}

/// What a sync leaves out, as a platform sync task may ask (`skip_entitlements_and_grants`,
/// `skip_grants`). The default is everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncScope {
    pub skip_entitlements_and_grants: bool,
    pub skip_grants: bool,
}

/// Whether the annotations say the syncer should skip a kind of listing.
fn skips<T: prost::Name + Default>(annotations: &[prost_types::Any]) -> bool {
    annotations.iter().any(|a| a.type_url == T::type_url())
}

fn skips_entitlements(annotations: &[prost_types::Any]) -> bool {
    skips::<SkipEntitlementsAndGrants>(annotations) || skips::<SkipEntitlements>(annotations)
}

fn skips_grants(annotations: &[prost_types::Any]) -> bool {
    skips::<SkipEntitlementsAndGrants>(annotations) || skips::<SkipGrants>(annotations)
}

impl SyncEngine {
    pub fn new(fleet: Arc<Fleet>) -> Self {
        Self {
            fleet,
            progress: Arc::new(Progress::default()),
            scope: SyncScope::default(),
            type_ids: Vec::new(),
            resume: Arc::new(Resume::default()),
        }
    }

    /// What this engine's syncs are of, for a later run to know whether it may continue one:
    /// `run` (a platform task's id, or nothing), the pools, the user filter, what is left out
    /// and which types are synced.
    pub fn resume_key(&self, run: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "v": 1,
            "run": run,
            "pools": self.fleet.pool_ids(),
            "user_filter": self.fleet.user_filter_text(),
            "skip_entitlements_and_grants": self.scope.skip_entitlements_and_grants,
            "skip_grants": self.scope.skip_grants,
            "types": self.type_ids,
        }))
        .unwrap_or_default()
    }

    /// Continues a killed sync from its checkpoints, into the store that holds what it stored.
    pub fn with_resume(mut self, resume: Resume) -> Self {
        self.resume = Arc::new(resume);
        self
    }

    /// Syncs only these resource types (all when empty). Memberships are the groups' grants:
    /// without groups there are none, and without users they are read per group.
    pub fn with_resource_types(mut self, type_ids: Vec<String>) -> Self {
        self.type_ids = type_ids;
        self
    }

    fn wanted(&self, type_id: &str) -> bool {
        self.type_ids.is_empty() || self.type_ids.iter().any(|t| t == type_id)
    }

    /// Stores the resource types this sync covers, and returns them.
    async fn store_resource_types(
        &self,
        store: &StoreHandle,
        summary: &mut SyncSummary,
    ) -> Result<Vec<ResourceType>, SyncError> {
        let resource_types: Vec<_> = self
            .fleet
            .resource_types()
            .into_iter()
            // The pools (of several) are the parents of every user and group: always stored.
            .filter(|t| self.wanted(&t.id) || t.id == POOL_TYPE_ID)
            .collect();
        summary.resource_types = resource_types.len() as u64;
        store
            .resource_types(resource_types.clone())
            .await
            .map_err(closed)?;
        Ok(resource_types)
    }

    pub fn with_scope(mut self, scope: SyncScope) -> Self {
        self.scope = scope;
        self
    }

    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// Syncs everything into `store` and hands the store back for finishing. On error, or when
    /// `cancel` completes first, the store is dropped unfinished (which leaves no output behind)
    /// before this returns, so a caller may exit right away.
    pub async fn run<S: SyncStore>(
        &self,
        store: S,
        cancel: impl Future<Output = ()>,
    ) -> Result<(S, SyncSummary), SyncError> {
        let walk = |handle: StoreHandle| async move { self.walk(&handle).await };
        self.run_walk(store, cancel, walk).await
    }

    /// Runs one walk of the connector into `store` (see [`run`](Self::run)); the walk gets its
    /// own handle on the store, which it drops when done.
    async fn run_walk<S: SyncStore, W: Future<Output = Result<SyncSummary, SyncError>>>(
        &self,
        store: S,
        cancel: impl Future<Output = ()>,
        walk: impl FnOnce(StoreHandle) -> W,
    ) -> Result<(S, SyncSummary), SyncError> {
        let started = Instant::now();
        let (handle, thread) = store::spawn(store);
        // One span for the whole sync: every listing's and Cognito call's span is inside it.
        let span = tracing::info_span!("sync", pool_id = %self.fleet.pool_ids());
        let outcome = tokio::select! {
            outcome = walk(handle.clone()).instrument(span) => outcome,
            () = cancel => Err(SyncError::Cancelled),
        };
        drop(handle);
        match (outcome, thread.join().await) {
            (Ok(mut summary), Ok(store)) => {
                summary.duration = started.elapsed();
                summary.forecast = self.progress.forecast_made();
                summary.api_calls = self.fleet.stats().snapshot();
                Ok((store, summary))
            }
            // A failed store is the cause of the walk's "store stopped".
            (Ok(_) | Err(SyncError::Store(_)), Err(store_err)) => Err(SyncError::Store(store_err)),
            (Err(err), _) => Err(err),
        }
    }

    async fn walk(&self, store: &StoreHandle) -> Result<SyncSummary, SyncError> {
        let mut summary = SyncSummary::default();
        let progress = &self.progress;

        progress.enter(Phase::Validating);
        let pools = self.fleet.validate().await?;
        let (pages, forecast) = progress::forecast_of(&self.fleet, &pools);
        progress.forecast(pages, forecast);

        progress.enter(Phase::ResourceTypes);
        let resource_types = self.store_resource_types(store, &mut summary).await?;
        if resource_types.iter().any(|t| t.id == POOL_TYPE_ID) {
            let pool_resources = self.fleet.pool_resources_of(&pools);
            summary
                .resources_by_type
                .insert(POOL_TYPE_ID.to_string(), pool_resources.len() as u64);
            Progress::add(&progress.resources, pool_resources.len());
            store.resources(pool_resources).await.map_err(closed)?;
        }
        let kinds = resource_types
            .iter()
            .filter(|t| t.id != POOL_TYPE_ID)
            .map(|t| Ok((t, ResourceKind::parse(&t.id)?)))
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        if !self.scope.skip_entitlements_and_grants {
            for (t, _) in &kinds {
                let statics = self.fleet.list_static_entitlements(&t.id)?;
                summary.entitlements += statics.len() as u64;
                if !statics.is_empty() {
                    store.entitlements(statics).await.map_err(closed)?;
                }
            }
        }

        progress.enter(Phase::Listing);
        let walks = self
            .fleet
            .pools()
            .iter()
            .zip(&pools)
            .map(|(connector, pool)| self.walk_pool(connector, pool, &kinds, store));
        let mut listings = 0;
        for walked in try_join_all(walks).await? {
            for (type_id, count) in walked.resources {
                *summary.resources_by_type.entry(type_id).or_default() += count;
            }
            for tally in &walked.entitlements {
                summary.entitlements += tally.items;
            }
            for tally in &walked.grants {
                summary.grants += tally.items;
            }
            for tally in walked.entitlements.iter().chain(&walked.grants) {
                summary.warnings += tally.warnings;
                listings += tally.listings;
            }
        }
        check_warnings(summary.warnings, listings)?;
        progress.enter(Phase::Writing);
        Ok(summary)
    }

    /// One pool's pipeline: its resources of each type, their entitlements and the
    /// memberships, into the store (where its resources are told from other pools' by their
    /// parent).
    async fn walk_pool(
        &self,
        connector: &Arc<Connector>,
        pool: &PoolDescription,
        kinds: &[(&ResourceType, ResourceKind)],
        store: &StoreHandle,
    ) -> Result<PoolWalk, SyncError> {
        let plan = Arc::new(ListingPlan::new(connector, pool));
        let parent = connector.options().ids.parent();
        let has = |wanted: ResourceKind| kinds.iter().any(|(_, kind)| *kind == wanted);
        let with_entitlements = !self.scope.skip_entitlements_and_grants;
        let with_grants = with_entitlements && !self.scope.skip_grants && has(ResourceKind::Group);
        // Without users, memberships can only be read per group.
        let (listing, watched) = watch::channel(Listing {
            membership_side: (!has(ResourceKind::User)).then_some(ResourceKind::Group),
            ..Listing::default()
        });
        let resources = try_join_all(
            kinds
                .iter()
                .map(|(t, kind)| self.list_resources(connector, t, *kind, &plan, store, &listing)),
        );
        let stored = |kind| StoredResources::new(store, kind, parent.clone());
        let entitlements = try_join_all(
            kinds
                .iter()
                .filter(|(t, _)| with_entitlements && !skips_entitlements(&t.annotations))
                .map(|(_, kind)| {
                    self.list_entitlements_of_type(connector, *kind, stored(*kind), watched.clone())
                }),
        );
        let grants = try_join_all(kinds.iter().filter(|_| with_grants).map(|(_, kind)| {
            let concurrency = plan::membership_concurrency(connector, *kind);
            self.list_grants_of_type(
                connector,
                *kind,
                concurrency,
                stored(*kind),
                watched.clone(),
            )
        }));
        let (counts, entitlement_tallies, grant_tallies) =
            tokio::try_join!(resources, entitlements, grants)?;
        // Each pool is judged on its own too: a quiet pool must not hide one that changed
        // too much to trust.
        let (warnings, listings) = entitlement_tallies
            .iter()
            .chain(&grant_tallies)
            .fold((0, 0), |(w, l), t| (w + t.warnings, l + t.listings));
        check_warnings(warnings, listings)?;
        Ok(PoolWalk {
            resources: kinds
                .iter()
                .map(|(t, _)| t.id.clone())
                .zip(counts)
                .collect(),
            entitlements: entitlement_tallies,
            grants: grant_tallies,
        })
    }

    /// Pages through a type's resources into the store, its partitions side by side, and
    /// reports what it stored to the tasks waiting on `listing`.
    async fn list_resources(
        &self,
        connector: &Arc<Connector>,
        resource_type: &ResourceType,
        kind: ResourceKind,
        plan: &Arc<ListingPlan>,
        store: &StoreHandle,
        listing: &watch::Sender<Listing>,
    ) -> Result<u64, SyncError> {
        let pool_id = connector.pool().pool_id();
        // A resumed type is listed in the slices it was being listed in.
        let resumed = self.resume.partitions(pool_id, kind);
        let was_resumed = resumed.is_some();
        let partitions = resumed.unwrap_or_else(|| plan.partitions(kind));
        let record_plan = |partitions: &[Partition]| {
            store.progress(resume::plan_checkpoint(pool_id, kind, partitions))
        };
        record_plan(&partitions).await.map_err(closed)?;
        // One unsliced chain may learn from its first pages that slices finish sooner.
        let probe = partitions.len() == 1 && !was_resumed;
        let chain = |partition: Partition, probe| {
            let key = resume::resources_key(pool_id, kind, &partition);
            Chain {
                start: self.resume.start(&key),
                key,
                connector: connector.clone(),
                plan: plan.clone(),
                progress: self.progress.clone(),
                store: store.clone(),
                listing: listing.clone(),
                kind,
                partition,
                probe,
            }
        };
        // Resource listings queue for the rate at the lowest priority, first come first served,
        // behind membership chains (see `prioritized`): served in turn, a type's partitions
        // advance together and end together with all their parallelism. An unsliced user
        // listing that cannot keep up with the rate on its own is re-sliced by its first pages.
        let mut parts = JoinSet::new();
        for partition in partitions {
            parts.spawn(chain(partition, probe).list().in_current_span());
        }
        let mut total = 0;
        while let Some(done) = parts.join_next().await {
            match done.map_err(|e| SyncError::Task(e.to_string()))?? {
                ChainEnd::Listed(count) => total += count,
                ChainEnd::Resliced(slices) => {
                    record_plan(&slices).await.map_err(closed)?;
                    for partition in slices {
                        parts.spawn(chain(partition, false).list().in_current_span());
                    }
                }
            }
        }
        tracing::debug!(resource_type = %resource_type.id, total, "resources listed");
        listing.send_modify(|l| l.update(|listed| listed.finish(kind)));
        Ok(total)
    }

    /// The entitlements of every resource of a type, once the type is listed.
    async fn list_entitlements_of_type(
        &self,
        connector: &Connector,
        kind: ResourceKind,
        mut stored: StoredResources<'_>,
        mut listing: watch::Receiver<Listing>,
    ) -> Result<Tally, SyncError> {
        wait_for(&mut listing, |l| l.listed.is_done(kind)).await?;
        let mut tally = Tally::default();
        let store = stored.store;
        while let Some(batch) = stored.next_batch().await? {
            for resource in batch.iter().filter(|r| !skips_entitlements(&r.annotations)) {
                tally.listings += 1;
                let listed = connector.list_entitlements(resource);
                let Some(entitlements) =
                    unless_gone(listed, "resource gone while listing its entitlements")?
                else {
                    tally.warnings += 1;
                    continue;
                };
                tally.items += entitlements.len() as u64;
                Progress::add(&self.progress.entitlements, entitlements.len());
                if !entitlements.is_empty() {
                    store.entitlements(entitlements).await.map_err(closed)?;
                }
            }
        }
        Ok(tally)
    }

    /// Lists the grants of every stored resource of a type, `concurrency` resources at a time
    /// (the plan's), if memberships are read from this type's side; waits until that is
    /// decided and, if so, until the type is listed.
    async fn list_grants_of_type(
        &self,
        connector: &Arc<Connector>,
        kind: ResourceKind,
        concurrency: usize,
        mut stored: StoredResources<'_>,
        mut listing: watch::Receiver<Listing>,
    ) -> Result<Tally, SyncError> {
        // No type-level skip check: which side carries memberships is the connector's choice
        // (users skip grants over gRPC, yet a full sync may read memberships from them).
        let ready = wait_for(&mut listing, |l| {
            l.membership_side
                .is_some_and(|side| side != kind || l.listed.is_done(kind))
        })
        .await?;
        if ready.membership_side != Some(kind) {
            return Ok(Tally::default());
        }
        let mut tasks: JoinSet<Result<(u64, bool), SyncError>> = JoinSet::new();
        let mut tally = Tally::default();
        let store = stored.store;
        let pool_id = connector.pool().pool_id();
        while let Some(batch) = stored.next_batch().await? {
            for resource in batch {
                if skips_grants(&resource.annotations) {
                    continue;
                }
                tally.listings += 1;
                let id = resource.id.clone().unwrap_or_default();
                let key = resume::grants_key(pool_id, &id.resource_type, &id.resource);
                let start = self.resume.start(&key);
                if let Start::Done { items, .. } = start {
                    Progress::add(&self.progress.grants, items as usize);
                    tally.items += items;
                    continue;
                }
                while tasks.len() >= concurrency {
                    if let Some(done) = tasks.join_next().await {
                        tally.add_resource(done)?;
                    }
                }
                let connector = connector.clone();
                let progress = self.progress.clone();
                let store = store.clone();
                // In the sync's span, as the listings are: a spawned task starts in none.
                tasks.spawn(
                    async move {
                        let listing = GrantsListing {
                            checkpoint: Some(key),
                            start,
                            owners: None,
                        };
                        grants_of(&connector, &progress, &store, resource, listing).await
                    }
                    .in_current_span(),
                );
            }
        }
        while let Some(done) = tasks.join_next().await {
            tally.add_resource(done)?;
        }
        Ok(tally)
    }
}

/// What the listings have done so far, and the membership side once it is decided. The side is
/// fixed the first time the counts settle it, so that later counts (a listing that starts over)
/// cannot make the two sides' tasks disagree.
#[derive(Clone, Debug, Default)]
struct Listing {
    listed: Listed,
    membership_side: Option<ResourceKind>,
}

impl Listing {
    fn update(&mut self, change: impl FnOnce(&mut Listed)) {
        change(&mut self.listed);
        if self.membership_side.is_none() {
            self.membership_side = self.listed.membership_side();
        }
    }
}

/// Waits until the listings reach a state; a snapshot of it.
async fn wait_for(
    listing: &mut watch::Receiver<Listing>,
    ready: impl FnMut(&Listing) -> bool,
) -> Result<Listing, SyncError> {
    listing
        .wait_for(ready)
        .await
        .map(|state| state.clone())
        .map_err(|_| SyncError::Task("the listings stopped".into()))
}

/// What one pool's pipeline listed: resources per type, and the tallies of its entitlement and
/// grant listings.
struct PoolWalk {
    resources: Vec<(String, u64)>,
    entitlements: Vec<Tally>,
    grants: Vec<Tally>,
}

/// Items written by one kind of listing over one resource type.
#[derive(Debug, Default)]
struct Tally {
    items: u64,
    /// Resources gone while being listed (warnings, not failures).
    warnings: u64,
    /// Resources whose items were listed.
    listings: u64,
}

impl Tally {
    /// Counts what one resource's grant task wrote: `(grants, whether the resource was gone)`.
    fn add_resource(
        &mut self,
        task: Result<Result<(u64, bool), SyncError>, tokio::task::JoinError>,
    ) -> Result<(), SyncError> {
        let (count, gone) = task.map_err(|e| SyncError::Task(e.to_string()))??;
        self.items += count;
        self.warnings += u64::from(gone);
        Ok(())
    }
}

/// The resources of one type (of one pool, when the parent is given) the store holds, read back
/// a batch at a time, so that later listings visit every resource without the engine keeping
/// them in memory.
struct StoredResources<'a> {
    store: &'a StoreHandle,
    resource_type_id: String,
    parent: Option<ResourceId>,
    after: i64,
}

impl<'a> StoredResources<'a> {
    fn new(store: &'a StoreHandle, kind: ResourceKind, parent: Option<ResourceId>) -> Self {
        Self {
            store,
            resource_type_id: kind.syncer().type_id(),
            parent,
            after: 0,
        }
    }

    /// The next batch in storage order, or `None` once all have been read.
    async fn next_batch(&mut self) -> Result<Option<Vec<Resource>>, SyncError> {
        let batch = self
            .store
            .resources_after(
                &self.resource_type_id,
                self.parent.as_ref(),
                self.after,
                RESOURCE_BATCH,
            )
            .await
            .map_err(closed)?;
        let Some((last, _)) = batch.last() else {
            return Ok(None);
        };
        self.after = *last;
        Ok(Some(
            batch.into_iter().map(|(_, resource)| resource).collect(),
        ))
    }
}

/// How one resource's grants are listed: where from, whether each page is checkpointed (a full
/// sync's listings are; a targeted sync's are not), and, for a targeted sync, the owners of
/// the grants' entitlements stored so far (see [`store_owners`]).
struct GrantsListing<'a> {
    checkpoint: Option<String>,
    start: Start,
    owners: Option<&'a mut BTreeSet<String>>,
}

/// Every page of one resource's grants into the store. `(count, true)` when the resource
/// disappeared (a warning, not a failure).
#[tracing::instrument(name = "grants listing", skip_all, fields(
    resource_type = resource.id.as_ref().map(|id| id.resource_type.as_str()).unwrap_or_default(),
    resource = resource.id.as_ref().map(|id| id.resource.as_str()).unwrap_or_default(),
))]
async fn grants_of(
    connector: &Connector,
    progress: &Progress,
    store: &StoreHandle,
    resource: Resource,
    mut listing: GrantsListing<'_>,
) -> Result<(u64, bool), SyncError> {
    let (mut cursor, mut count, mut calls) = match &listing.start {
        Start::From {
            cursor,
            items,
            calls,
        } => (cursor.clone(), *items, *calls),
        Start::Fresh | Start::Done { .. } => (Cursor::first(0), 0, 0),
    };
    Progress::add(&progress.grants, count as usize);
    Progress::add(&progress.pages, calls as usize);
    Progress::add(&progress.resumed_pages, calls as usize);
    Progress::add(&progress.planned_pages, calls as usize + 1);
    let mut trail = ListingTrail::default();
    let mut restarts = 0;
    loop {
        let depth = u32::try_from(calls).unwrap_or(u32::MAX);
        let page = match prioritized(depth, connector.sync_grants(&resource, &cursor)).await {
            Ok(page) => page,
            Err(ConnectorError::NotFound(message)) => {
                tracing::warn!(reason = %message, "resource gone while listing its grants; its grants are skipped");
                return Ok((count, true));
            }
            Err(err) if may_restart(&err, &mut restarts) => {
                if let Some(id) = &resource.id {
                    let first = Cursor::first(0);
                    let restart = (listing.checkpoint.as_deref())
                        .map(|key| resume::checkpoint(key, Some(&first), 0, 0));
                    store
                        .remove_grants_of(id.clone(), restart)
                        .await
                        .map_err(closed)?;
                }
                (cursor, trail, count, calls) = (Cursor::first(0), ListingTrail::default(), 0, 0);
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        Progress::add(&progress.pages, 1);
        Progress::add(&progress.grants, page.items.len());
        count += page.items.len() as u64;
        calls += 1;
        if let Some(owners) = listing.owners.as_deref_mut() {
            store_owners(store, &resource, &page.items, owners).await?;
        }
        if !page.items.is_empty() {
            store.grants(page.items).await.map_err(closed)?;
        }
        if let Some(key) = &listing.checkpoint {
            let checkpoint = resume::checkpoint(key, page.next.as_ref(), count, calls);
            store.progress(checkpoint).await.map_err(closed)?;
        }
        match page.next {
            Some(next) => {
                trail.follow(&next).map_err(ConnectorError::from)?;
                Progress::add(&progress.planned_pages, 1);
                cursor = next;
            }
            None => break,
        }
    }
    Ok((count, false))
}

/// Stores, once each, the groups that own the entitlements of a targeted resource's grants, with
/// their `member` entitlement: the grants read from a user's side name them, and the file must
/// hold what its grants point to. They come from the grants themselves, with no call.
async fn store_owners(
    store: &StoreHandle,
    target: &Resource,
    grants: &[Grant],
    stored: &mut BTreeSet<String>,
) -> Result<(), SyncError> {
    let mut resources = Vec::new();
    let mut entitlements = Vec::new();
    for entitlement in grants.iter().filter_map(|g| g.entitlement.as_ref()) {
        let owner = entitlement.resource.as_ref().filter(|r| r.id != target.id);
        if let Some(owner) = owner
            && stored.insert(entitlement.id.clone())
        {
            resources.push(owner.clone());
            entitlements.push(entitlement.clone());
        }
    }
    if !resources.is_empty() {
        store.resources(resources).await.map_err(closed)?;
        store.entitlements(entitlements).await.map_err(closed)?;
    }
    Ok(())
}

/// The first pages after which an unsliced listing may turn into slices: by then its own pages
/// have measured how long a page takes, and at most this many calls are spent twice.
const PROBE_PAGES: u64 = 4;

/// One partition of a type's listing: a chain of pages, each needing the last one's token.
struct Chain {
    /// Its checkpoints' listing, and where it starts.
    key: String,
    start: Start,
    connector: Arc<Connector>,
    plan: Arc<ListingPlan>,
    progress: Arc<Progress>,
    store: StoreHandle,
    listing: watch::Sender<Listing>,
    kind: ResourceKind,
    partition: Partition,
    /// Whether its first pages may decide that slices finish sooner.
    probe: bool,
}

/// How a chain ended.
enum ChainEnd {
    Listed(u64),
    /// Its first pages showed that these partitions finish sooner: what it counted is taken
    /// back, and they list the type again from the start (the store keeps one record per id).
    Resliced(Vec<Partition>),
}

impl Chain {
    /// Takes back the `count` resources a pass stored before it started over: the next pass
    /// stores and counts them again.
    fn take_back(&self, count: u64) {
        Progress::take_back(&self.progress.resources, count);
        self.listing
            .send_modify(|l| l.update(|listed| listed.retract(self.kind, count)));
    }

    #[tracing::instrument(name = "listing", skip_all, fields(
        resource_type = self.kind.syncer().type_id(),
        partition = self.partition.user_filter.as_ref().map(ToString::to_string).unwrap_or_default(),
    ))]
    async fn list(self) -> Result<ChainEnd, SyncError> {
        let kind = self.kind;
        let mut calling = Duration::ZERO;
        let (mut cursor, mut count, mut calls) = match &self.start {
            Start::Fresh => (Cursor::first(0), 0, 0),
            Start::From {
                cursor,
                items,
                calls,
            } => (cursor.clone(), *items, *calls),
            Start::Done { items, calls } => (Cursor::first(0), *items, *calls),
        };
        // What a killed run stored counts as listed, as if this run had. User pages are planned
        // from the pools' estimated sizes; a group listing's as they come.
        Progress::add(&self.progress.resources, count as usize);
        Progress::add(&self.progress.pages, calls as usize);
        Progress::add(&self.progress.resumed_pages, calls as usize);
        if kind == ResourceKind::Group {
            let done = matches!(self.start, Start::Done { .. });
            Progress::add(
                &self.progress.planned_pages,
                calls as usize + usize::from(!done),
            );
        }
        self.listing
            .send_modify(|l| l.update(|listed| listed.add(kind, count)));
        if matches!(self.start, Start::Done { .. }) {
            return Ok(ChainEnd::Listed(count));
        }
        let mut trail = ListingTrail::default();
        let (mut pages, mut restarts) = (0, 0);
        // Once the listing starts over, the ids it finds: what it stored before and does not
        // find again was deleted meanwhile, and goes when it ends.
        let mut found: Option<HashSet<String>> = None;
        loop {
            let started = Instant::now();
            let listed = self
                .connector
                .list_partition(kind, &self.partition, &cursor);
            let (listed, waited) = timing_waits(listed).await;
            calling += started.elapsed().saturating_sub(waited);
            let page = match listed {
                Ok(page) => page,
                Err(err) if may_restart(&err, &mut restarts) => {
                    found = Some(HashSet::new());
                    self.take_back(count);
                    (cursor, trail, count, calls) =
                        (Cursor::first(0), ListingTrail::default(), 0, 0);
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            calls += 1;
            Progress::add(&self.progress.pages, 1);
            Progress::add(&self.progress.resources, page.items.len());
            let stored = page.items.len() as u64;
            count += stored;
            pages += 1;
            if let Some(found) = &mut found {
                let ids = page.items.iter().filter_map(|r| r.id.as_ref());
                found.extend(ids.map(|id| id.resource.clone()));
            }
            if !page.items.is_empty() {
                self.store.resources(page.items).await.map_err(closed)?;
            }
            self.listing
                .send_modify(|l| l.update(|listed| listed.add(kind, stored)));
            let Some(next) = page.next else {
                if let Some(found) = found {
                    let (type_id, parent) = (
                        kind.syncer().type_id(),
                        self.connector.options().ids.parent(),
                    );
                    self.store
                        .remove_unfound(type_id, parent, self.partition.clone(), found)
                        .await
                        .map_err(closed)?;
                }
                let checkpoint = resume::checkpoint(&self.key, None, count, calls);
                self.store.progress(checkpoint).await.map_err(closed)?;
                return Ok(ChainEnd::Listed(count));
            };
            let checkpoint = resume::checkpoint(&self.key, Some(&next), count, calls);
            self.store.progress(checkpoint).await.map_err(closed)?;
            if kind == ResourceKind::Group {
                Progress::add(&self.progress.planned_pages, 1);
            }
            trail.follow(&next).map_err(ConnectorError::from)?;
            cursor = next;
            if self.probe && restarts == 0 && (2..=PROBE_PAGES).contains(&pages) {
                let pace = ChainPace {
                    pages,
                    users: count,
                    calling,
                };
                if let Some(slices) = self.plan.measured_partitions(kind, &pace) {
                    tracing::info!(
                        pages,
                        page_latency_ms = pace.page_latency().as_millis() as u64,
                        "the listing is latency-bound: listing it again in parallel slices"
                    );
                    self.take_back(count);
                    return Ok(ChainEnd::Resliced(slices));
                }
            }
        }
    }
}

/// Fails a sync whose listings found their resource gone more than [`WARNING_LIMIT`] times and
/// in more than a tenth of the listings, as upstream does.
fn check_warnings(warnings: u64, listings: u64) -> Result<(), SyncError> {
    if warnings > WARNING_LIMIT && warnings * 10 > listings {
        return Err(SyncError::TooManyWarnings { warnings, listings });
    }
    Ok(())
}

/// Whether a listing that failed with `err` may start over from its first page: when Cognito
/// refused a page token (expired, or its anchor deleted), a bounded number of times. What the
/// first pass stored is stored again, not twice: the store keeps one record per id.
fn may_restart(err: &ConnectorError, restarts: &mut u32) -> bool {
    if !matches!(
        err,
        ConnectorError::Cognito(CognitoError::StaleToken { .. })
    ) || *restarts >= LISTING_RESTARTS
    {
        return false;
    }
    *restarts += 1;
    tracing::warn!(%err, restart = *restarts, "listing again from its first page");
    true
}

/// The value, or `None` with a warning when the resource went away (NOT_FOUND), which upstream
/// counts as a warning, not a failure.
fn unless_gone<T>(result: Result<T, ConnectorError>, what: &str) -> Result<Option<T>, SyncError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ConnectorError::NotFound(message)) => {
            tracing::warn!(reason = %message, "{what}; skipped");
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

fn closed(_: StoreClosed) -> SyncError {
    SyncError::Store("the output store stopped".into())
}

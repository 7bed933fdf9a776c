//! Cognito in Baton's terms: what a user and a group are, which entitlements and grants they
//! carry, and how listings page.
//!
//! Each resource type lives in its own file and answers the same questions (its resource type,
//! a page of resources, one resource, its entitlements, its grants). This module dispatches by
//! type id and holds what they share: paging and the one error type.

pub mod accounts;
pub mod actions;
mod change_locks;
pub mod groups;
pub mod memberships;
pub mod metadata;
pub mod model;
pub mod paging;
pub mod profile_keys;
pub mod users;

use std::sync::Arc;

use crate::cognito::filter::UserFilter;
use crate::cognito::{CognitoError, Operation, PoolClient};
use crate::pb::v2::{
    BatonActionSchema, CreateAccountRequest, CreateAccountResponse, Entitlement, Grant, Resource,
    ResourceId, ResourceType,
};
use actions::{ActionHistory, ActionOutcome};
use change_locks::ChangeLocks;
pub use paging::{Cursor, ListingTrail, PageResult, held_page};

/// Why a connector request failed; mapped to a gRPC status once, in `server`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Cognito(#[from] CognitoError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The pool itself is gone: nothing read from it can be trusted to be complete.
    #[error("{0}")]
    PoolMissing(String),
    /// A failure of this connector itself (e.g. no secure randomness), not of the request.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::credentials::CredentialError> for ConnectorError {
    fn from(err: crate::credentials::CredentialError) -> Self {
        if err.is_invalid_argument() {
            Self::InvalidArgument(err.to_string())
        } else {
            Self::Internal(err.to_string())
        }
    }
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// What a provisioning request did: the change, or nothing because things already were so
/// (reported to Baton as `GrantAlreadyExists`, `GrantAlreadyRevoked`, `ResourceDoesNotExist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Made,
    AlreadySo,
}

/// The resource types this connector knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub const ALL: [Self; 2] = [Self::User, Self::Group];

    pub fn parse(type_id: &str) -> Result<Self> {
        match type_id {
            users::TYPE_ID => Ok(Self::User),
            groups::TYPE_ID => Ok(Self::Group),
            other => Err(ConnectorError::NotFound(format!(
                "unknown resource type {}; this connector has {:?} and {:?}",
                model::shown(other),
                users::TYPE_ID,
                groups::TYPE_ID
            ))),
        }
    }

    pub fn resource_type(self) -> ResourceType {
        match self {
            Self::User => users::resource_type(),
            Self::Group => groups::resource_type(),
        }
    }
}

/// Whether a full listing of users is split into `sub` prefix slices listed side by side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UserSlicing {
    /// Slice pools large enough that the slices' extra partial pages cost under 1% more calls,
    /// and smaller ones whose first pages measure a latency-bound listing slices would shorten.
    #[default]
    Auto,
    Always,
    Never,
}

/// What the operator chose for this connector instance.
#[derive(Clone, Debug, Default)]
pub struct ConnectorOptions {
    /// Only users matching this filter are listed, and only their memberships are granted.
    pub user_filter: Option<UserFilter>,
    pub user_slicing: UserSlicing,
}

/// An independent part of one resource type's listing; the parts of a type together list
/// each of its resources exactly once, so they can be listed concurrently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// For users: the ListUsers filter of this part (a `sub` prefix), or the operator's filter.
    user_filter: Option<UserFilter>,
}

/// How far a full sync's listings have got: resources stored per type, and which types are
/// completely listed, and the membership side they settle.
#[derive(Clone, Debug, Default)]
pub struct Listed {
    stored: std::collections::BTreeMap<ResourceKind, u64>,
    done: std::collections::BTreeSet<ResourceKind>,
}

impl Listed {
    pub fn add(&mut self, kind: ResourceKind, count: u64) {
        *self.stored.entry(kind).or_default() += count;
    }

    /// Takes back what a listing that starts over had counted: its second pass counts again.
    pub fn retract(&mut self, kind: ResourceKind, count: u64) {
        let stored = self.stored.entry(kind).or_default();
        *stored = stored.saturating_sub(count);
    }

    pub fn finish(&mut self, kind: ResourceKind) {
        self.done.insert(kind);
    }

    pub fn stored(&self, kind: ResourceKind) -> u64 {
        self.stored.get(&kind).copied().unwrap_or_default()
    }

    pub fn is_done(&self, kind: ResourceKind) -> bool {
        self.done.contains(&kind)
    }

    /// Which side a full sync reads memberships from, as soon as what has been listed settles
    /// it: per user (AdminListGroupsForUser, about one call per user) when the pool has fewer
    /// users than groups, else per group (ListUsersInGroup, at least one call per group). Only
    /// counts listed decide, never DescribeUserPool's estimate: at 0 or stale, it read a
    /// 150-user, 10-group pool per user (150 calls instead of 10). Per user is settled once the
    /// users are all listed and fewer than the groups seen so far, and per group once the groups
    /// are all listed and no more than the users seen so far. `None` until then. (A listing that
    /// starts over takes its count back; the sync keeps the side it chose first.)
    pub fn membership_side(&self) -> Option<ResourceKind> {
        let users = self.stored(ResourceKind::User);
        let groups = self.stored(ResourceKind::Group);
        if self.is_done(ResourceKind::User) && users < groups {
            Some(ResourceKind::User)
        } else if self.is_done(ResourceKind::Group) && users >= groups {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}

/// A Cognito user pool seen as a Baton connector.
pub struct Connector {
    pool: Arc<PoolClient>,
    options: ConnectorOptions,
    actions: ActionHistory,
    /// Serializes grants and revokes of one membership.
    changes: ChangeLocks,
    /// The pool as Validate last saw it, to plan listings.
    observed: std::sync::Mutex<users::PoolObservation>,
}

impl Connector {
    pub fn new(pool: Arc<PoolClient>, options: ConnectorOptions) -> Self {
        Self {
            pool,
            options,
            actions: ActionHistory::default(),
            changes: ChangeLocks::default(),
            observed: std::sync::Mutex::default(),
        }
    }

    pub fn pool(&self) -> &PoolClient {
        &self.pool
    }

    /// The operator's user filter as Cognito sees it (`""` without one).
    pub fn user_filter_text(&self) -> String {
        self.options
            .user_filter
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Checks that the pool exists and the credentials may read it.
    pub async fn validate(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let pool = self.pool.describe_user_pool().await?;
        let round_trip = started.elapsed();
        tracing::info!(
            pool_id = %pool.id,
            pool_name = %pool.name,
            pool_arn = pool.arn.as_deref().unwrap_or_default(),
            tier = pool.tier.as_deref().unwrap_or_default(),
            estimated_users = pool.estimated_users,
            round_trip_ms = round_trip.as_millis() as u64,
            "user pool is reachable"
        );
        *self.observation() = users::PoolObservation {
            estimated_users: pool.estimated_users,
            user_list_rate: self.pool.rate_of(Operation::ListUsers),
        };
        Ok(())
    }

    /// The pool as Validate last saw it (a poisoned lock only means a panic elsewhere while it
    /// was held; the plain value inside is still whole).
    fn observation(&self) -> std::sync::MutexGuard<'_, users::PoolObservation> {
        self.observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How to split a full listing of a type (see [`UserSlicing`]); groups are one part.
    pub fn partitions(&self, kind: ResourceKind) -> Vec<Partition> {
        let user_filter = self.options.user_filter.clone();
        match kind {
            ResourceKind::User => {
                let observed = *self.observation();
                users::slices(user_filter, self.options.user_slicing, &observed)
                    .into_iter()
                    .map(|user_filter| Partition { user_filter })
                    .collect()
            }
            ResourceKind::Group => vec![Partition { user_filter: None }],
        }
    }

    /// The partitions to re-list a type in, from the start, when the one chain it began as has
    /// measured that slices finish sooner (see [`users::slicing_pays`]); `None` to carry on.
    /// Only an unsliced user listing without an operator's filter is ever re-sliced.
    pub fn measured_partitions(
        &self,
        kind: ResourceKind,
        pace: &users::ChainPace,
    ) -> Option<Vec<Partition>> {
        let eligible = kind == ResourceKind::User
            && self.options.user_filter.is_none()
            && self.options.user_slicing == UserSlicing::Auto;
        if !eligible || !users::slicing_pays(&self.observation(), pace) {
            return None;
        }
        Some(
            users::sub_slices()
                .into_iter()
                .map(|user_filter| Partition { user_filter })
                .collect(),
        )
    }

    /// One page of one partition of a type's listing.
    pub async fn list_partition(
        &self,
        kind: ResourceKind,
        partition: &Partition,
        cursor: &Cursor,
    ) -> Result<PageResult<Resource>> {
        match kind {
            ResourceKind::User => {
                users::list(&self.pool, partition.user_filter.as_ref(), cursor).await
            }
            ResourceKind::Group => groups::list(&self.pool, cursor).await,
        }
    }

    pub fn resource_types(&self) -> Vec<ResourceType> {
        ResourceKind::ALL
            .iter()
            .map(|k| k.resource_type())
            .collect()
    }

    /// One page of resources of a type. Users and groups are top-level: asked for the children
    /// of a parent, the answer is an empty page.
    pub async fn list_resources(
        &self,
        kind: ResourceKind,
        parent: Option<&ResourceId>,
        cursor: &Cursor,
    ) -> Result<PageResult<Resource>> {
        if parent.is_some() {
            return Ok(PageResult::last(Vec::new()));
        }
        // Callers page one listing with one token, so it is never sliced.
        let whole = Partition {
            user_filter: self.options.user_filter.clone(),
        };
        self.list_partition(kind, &whole, cursor).await
    }

    pub async fn get_resource(&self, id: &ResourceId) -> Result<Resource> {
        model::checked_id("resource_id.resource", &id.resource)?;
        match ResourceKind::parse(&id.resource_type)? {
            ResourceKind::User => users::get(&self.pool, &id.resource).await,
            ResourceKind::Group => groups::get(&self.pool, &id.resource).await,
        }
    }

    /// Entitlements every resource of a type has; Cognito has none of this kind.
    pub fn list_static_entitlements(&self, _kind: ResourceKind) -> Vec<Entitlement> {
        Vec::new()
    }

    /// Entitlements of one resource; they fit in one page.
    pub fn list_entitlements(&self, resource: &Resource) -> Result<Vec<Entitlement>> {
        let id = model::resource_id_of(resource)?;
        Ok(match ResourceKind::parse(&id.resource_type)? {
            ResourceKind::User => Vec::new(),
            ResourceKind::Group => vec![memberships::member_entitlement(resource)],
        })
    }

    pub async fn list_grants(
        &self,
        resource: &Resource,
        cursor: &Cursor,
    ) -> Result<PageResult<Grant>> {
        let id = model::resource_id_of(resource)?;
        match ResourceKind::parse(&id.resource_type)? {
            ResourceKind::User => Ok(PageResult::last(Vec::new())),
            ResourceKind::Group => {
                memberships::of_group(
                    &self.pool,
                    resource,
                    self.options.user_filter.as_ref(),
                    cursor,
                )
                .await
            }
        }
    }

    /// Adds a user to a group (the entitlement's group, the principal user).
    pub async fn grant(
        &self,
        entitlement: Option<&Entitlement>,
        principal: Option<&Resource>,
    ) -> Result<(Grant, Change)> {
        memberships::grant(&self.pool, &self.changes, entitlement, principal).await
    }

    pub async fn revoke(&self, grant: &Grant) -> Result<Change> {
        memberships::revoke(&self.pool, &self.changes, grant).await
    }

    pub async fn create_account(
        &self,
        request: &CreateAccountRequest,
    ) -> Result<CreateAccountResponse> {
        accounts::create_account(&self.pool, request).await
    }

    /// How many resources of a type to list memberships of at once in a full sync: enough to
    /// use the operation's whole budget, which still bounds the rate.
    pub fn grant_listing_concurrency(&self, kind: ResourceKind) -> usize {
        self.pool.concurrency_for(match kind {
            ResourceKind::User => Operation::AdminListGroupsForUser,
            ResourceKind::Group => Operation::ListUsersInGroup,
        })
    }

    /// A page of memberships for a full sync, from whichever side [`Listed::membership_side`] chose.
    /// (Over gRPC, memberships are always listed per group, and users list none.)
    pub async fn sync_grants(
        &self,
        resource: &Resource,
        cursor: &Cursor,
    ) -> Result<PageResult<Grant>> {
        let id = model::resource_id_of(resource)?;
        match ResourceKind::parse(&id.resource_type)? {
            ResourceKind::User => memberships::of_user(&self.pool, resource, cursor).await,
            ResourceKind::Group => self.list_grants(resource, cursor).await,
        }
    }

    /// Deletes a user. Groups are not a lifecycle object here: deleting one is refused.
    pub async fn delete_resource(&self, id: Option<&ResourceId>) -> Result<Change> {
        let id = id.ok_or_else(|| {
            ConnectorError::InvalidArgument("resource_id with a resource is required".to_string())
        })?;
        model::checked_id("resource_id.resource", &id.resource)?;
        match ResourceKind::parse(&id.resource_type)? {
            ResourceKind::User => users::delete(&self.pool, &id.resource).await,
            ResourceKind::Group => Err(ConnectorError::InvalidArgument(format!(
                "group {:?} cannot be deleted through this connector: only users are created and deleted",
                id.resource
            ))),
        }
    }

    /// Action schemas; all are global, so a resource-type filter finds none.
    pub fn action_schemas(&self, resource_type_id: &str) -> Vec<BatonActionSchema> {
        if resource_type_id.is_empty() {
            actions::schemas()
        } else {
            Vec::new()
        }
    }

    pub fn action_schema(&self, name: &str) -> Result<BatonActionSchema> {
        actions::schemas()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ConnectorError::NotFound(format!("action schema {name:?} not found")))
    }

    pub async fn invoke_action(
        &self,
        name: &str,
        resource_type_id: &str,
        args: Option<&prost_types::Struct>,
    ) -> Result<ActionOutcome> {
        actions::invoke(&self.pool, &self.actions, name, resource_type_id, args).await
    }

    pub fn action_status(&self, id: &str) -> Result<ActionOutcome> {
        self.actions
            .find(id)
            .ok_or_else(|| ConnectorError::NotFound(format!("action id {id:?} not found")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(users: u64, users_done: bool, groups: u64, groups_done: bool) -> Listed {
        let mut listed = Listed::default();
        listed.add(ResourceKind::User, users);
        listed.add(ResourceKind::Group, groups);
        if users_done {
            listed.finish(ResourceKind::User);
        }
        if groups_done {
            listed.finish(ResourceKind::Group);
        }
        listed
    }

    /// #17: the side followed DescribeUserPool's estimate, so at 0 a 150-user, 10-group pool
    /// was read per user. Only what has been listed decides now.
    #[test]
    fn the_membership_side_is_settled_by_what_has_been_listed() {
        use ResourceKind::{Group, User};
        // Nothing settled while both listings run, whatever the counts so far.
        assert_eq!(listed(0, false, 10, false).membership_side(), None);
        assert_eq!(listed(5, false, 10, true).membership_side(), None);
        // All groups listed and at least as many users seen: per group, users still listing.
        assert_eq!(listed(10, false, 10, true).membership_side(), Some(Group));
        assert_eq!(listed(150, true, 10, true).membership_side(), Some(Group));
        // All users listed and fewer than the groups seen so far: per user, groups still listing.
        assert_eq!(listed(5, true, 60, false).membership_side(), Some(User));
        assert_eq!(listed(0, true, 1, false).membership_side(), Some(User));
        // As many users as groups: per group (at least one call a group either way).
        assert_eq!(listed(10, true, 10, true).membership_side(), Some(Group));
        // Users all listed but not fewer than the groups seen while groups still list: wait.
        assert_eq!(listed(60, true, 60, false).membership_side(), None);
        // A listing that starts over takes its count back.
        let mut restarted = listed(10, false, 10, true);
        restarted.retract(User, 10);
        assert_eq!(restarted.membership_side(), None);
    }
}

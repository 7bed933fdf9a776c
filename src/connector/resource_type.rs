//! What every resource type answers: the one trait `users.rs` and `groups.rs` implement, so
//! that the connector dispatches by type id and never by a `match` on the type.

use async_trait::async_trait;

use super::change_locks::ChangeLocks;
use super::error::{ConnectorError, Result};
use super::paging::{Cursor, PageResult};
use super::profile_keys;
use super::user_activity::UserActivity;
use crate::cognito::filter::UserFilter;
use crate::cognito::{Operation, PoolClient};
use crate::pb::v2::{Capability, Entitlement, Grant, Resource, ResourceType};
use prost_types::value::Kind;

/// What a provisioning request did: the change, or nothing because things already were so
/// (reported to Baton as `GrantAlreadyExists`, `GrantAlreadyRevoked`, `ResourceDoesNotExist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Made,
    AlreadySo,
}

/// What a resource type's calls need besides their request: the pool, the operator's user
/// filter, the locks that serialize changes to one membership, and the user activity reader.
pub struct Scope<'a> {
    pub pool: &'a PoolClient,
    /// Only users matching it are listed, and only their memberships are granted.
    pub user_filter: Option<&'a UserFilter>,
    pub changes: &'a ChangeLocks,
    /// What users' sign-in histories add to their records.
    pub activity: &'a UserActivity,
}

/// A page of a listing, or why it could not be read.
pub type Page<T> = Result<PageResult<T>>;

/// A grant or a revoke as the request names it: an entitlement and the principal holding it.
#[derive(Clone, Copy)]
pub struct Assignment<'a> {
    pub entitlement: &'a Entitlement,
    pub principal: &'a Resource,
}

/// An independent part of one resource type's listing; the parts of a type together list each
/// of its resources exactly once, so they can be listed side by side. Which parts a full sync
/// lists is the sync engine's plan (`sync::plan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// For users: the ListUsers filter of this part (a `sub` prefix, or the operator's filter).
    pub user_filter: Option<UserFilter>,
}

impl Partition {
    /// Whether a stored resource (of this partition's type and pool) is one its listing
    /// returned: every one without a user filter; with one, the users whose stored profile
    /// satisfies it, as Cognito judged their record.
    pub fn holds(&self, stored: &Resource) -> bool {
        let Some(filter) = &self.user_filter else {
            return true;
        };
        let field = |key: &str| stored.profile.as_ref()?.fields.get(key)?.kind.as_ref();
        let text = |key: &str| match field(key) {
            Some(Kind::StringValue(text)) => Some(text.as_str()),
            _ => None,
        };
        filter.accepts(match filter.attribute() {
            "username" => text(profile_keys::USERNAME),
            "status" => match field(profile_keys::ENABLED) {
                Some(Kind::BoolValue(enabled)) => Some(UserFilter::status(*enabled)),
                _ => None,
            },
            // The record's status is kept under the name the filter uses.
            attribute => text(attribute),
        })
    }
}

/// One Baton resource type backed by Cognito, as the Baton SDK's `ResourceSyncer` is: its
/// description, its listing, its entitlements and grants, and the provisioning it supports.
/// What a type does not support is refused with the reason, by the defaults here.
#[async_trait]
pub trait ResourceSyncer: Send + Sync {
    fn resource_type(&self) -> ResourceType;

    /// The Baton resource type id (`user`, `group`).
    fn type_id(&self) -> String {
        self.resource_type().id
    }

    /// The provisioning this file implements, as the capabilities file reports it.
    fn provisioning(&self) -> Vec<Capability>;

    /// What Baton can do with this type here: every type is synced and read one at a time
    /// (GetResource, so targeted syncs), and provisioned as far as it implements.
    fn capabilities(&self) -> Vec<Capability> {
        [Capability::Sync, Capability::TargetedSync]
            .into_iter()
            .chain(self.provisioning())
            .collect()
    }

    /// One page of one part of the type's listing.
    async fn list(&self, scope: &Scope<'_>, part: &Partition, cursor: &Cursor) -> Page<Resource>;

    /// One resource by its id.
    async fn get(&self, scope: &Scope<'_>, id: &str) -> Result<Resource>;

    /// Entitlements every resource of the type has, listed once per type (Baton's static
    /// entitlements); Cognito has none of this kind.
    fn static_entitlements(&self) -> Vec<Entitlement> {
        Vec::new()
    }

    /// The entitlements of one resource; they fit in one page.
    fn entitlements(&self, resource: &Resource) -> Vec<Entitlement>;

    /// One page of the grants of one resource's entitlements.
    async fn grants(&self, scope: &Scope<'_>, item: &Resource, cursor: &Cursor) -> Page<Grant>;

    /// The operation that reads memberships from this type's side in a full sync: its budget
    /// sets how many resources' memberships are read at once.
    fn membership_operation(&self) -> Operation;

    /// Grants the entitlement of one of this type's resources to the principal.
    async fn grant(&self, _scope: &Scope<'_>, asked: &Assignment<'_>) -> Result<(Grant, Change)> {
        Err(not_grantable(asked.entitlement))
    }

    /// Revokes a grant of one of this type's entitlements.
    async fn revoke(&self, _scope: &Scope<'_>, asked: &Assignment<'_>) -> Result<Change> {
        Err(not_grantable(asked.entitlement))
    }

    /// Deletes one resource.
    async fn delete(&self, _scope: &Scope<'_>, id: &str) -> Result<Change> {
        Err(ConnectorError::InvalidArgument(format!(
            "{} {id:?} cannot be deleted through this connector: only users are created and deleted",
            self.type_id()
        )))
    }
}

/// The refusal of an entitlement that is not a group's membership: the only kind this
/// connector grants.
pub fn not_grantable(entitlement: &Entitlement) -> ConnectorError {
    ConnectorError::InvalidArgument(format!(
        "entitlement {} does not belong to a group; only group memberships can be granted",
        super::model::shown(&entitlement.id)
    ))
}

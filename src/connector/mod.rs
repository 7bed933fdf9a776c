//! Cognito in Baton's terms: what a user and a group are, which entitlements and grants they
//! carry, and how listings page.
//!
//! Each resource type lives in its own file (`users.rs`, `groups.rs`) and implements one trait,
//! [`ResourceSyncer`]: its resource type, a page of resources, one resource, its entitlements,
//! its grants, and the provisioning it supports. [`Connector`] dispatches to them by type id.
//! What a user's sign-in history adds (last login, MFA status) is read by `user_activity`.
//! Files lower in this list never import higher ones: `error`, `model`, `paging`,
//! `profile_keys`, `pool_ids`, `change_locks`, `user_activity`, then `resource_type`, `users`, `groups`,
//! `kinds`, and on top `accounts`, `actions` and `metadata`.

pub mod accounts;
pub mod actions;
mod change_locks;
pub mod error;
pub mod groups;
pub mod kinds;
pub mod metadata;
pub mod model;
pub mod paging;
pub mod pool_ids;
pub mod profile_keys;
pub mod resource_type;
pub mod user_activity;
pub mod users;

use std::borrow::Cow;
use std::sync::Arc;

use crate::cognito::PoolClient;
use crate::cognito::filter::UserFilter;
use crate::cognito::records::PoolDescription;
use crate::pb::v2::{
    BatonActionSchema, CreateAccountRequest, CreateAccountResponse, Entitlement, Grant, Resource,
    ResourceId, ResourceType,
};
use actions::{ActionHistory, ActionOutcome};
use change_locks::ChangeLocks;
pub use error::{ConnectorError, Result};
pub use kinds::ResourceKind;
pub use paging::{Cursor, ListingTrail, PageResult, held_page};
use pool_ids::PoolIds;
use resource_type::{Assignment, Scope};
pub use resource_type::{Change, Partition, ResourceSyncer};
use user_activity::{ActivityOptions, LastLogin, UserActivity};

/// Whether a full listing of users is split into `sub` prefix slices listed side by side (the
/// sync engine's plan, `sync::plan`, decides with it).
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
    /// How a full sync lists users; the connector itself lists whatever part it is asked for.
    pub user_slicing: UserSlicing,
    /// Last login and MFA status.
    pub activity: ActivityOptions,
    /// The pool's own names, or names qualified by the pool when the process holds several.
    pub ids: PoolIds,
}

/// A Cognito user pool seen as a Baton connector.
pub struct Connector {
    pool: Arc<PoolClient>,
    options: ConnectorOptions,
    actions: ActionHistory,
    /// Serializes grants and revokes of one membership.
    changes: ChangeLocks,
    activity: UserActivity,
}

impl Connector {
    pub fn new(pool: Arc<PoolClient>, options: ConnectorOptions) -> Self {
        Self {
            activity: UserActivity::new(options.activity),
            pool,
            options,
            actions: ActionHistory::default(),
            changes: ChangeLocks::default(),
        }
    }

    pub fn pool(&self) -> &PoolClient {
        &self.pool
    }

    /// A connector for the same pool (the same client, pacing and counts) that reads users'
    /// records only, no sign-in history: for the snapshots the change features compare, which
    /// never look at last login or MFA status and are taken every few minutes.
    pub fn records_only(&self) -> Arc<Connector> {
        let options = ConnectorOptions {
            activity: ActivityOptions {
                last_login: LastLogin::Off,
                mfa_status: false,
            },
            ..self.options.clone()
        };
        Arc::new(Connector::new(self.pool.clone(), options))
    }

    /// A connector for the same pool (the same client, pacing and counts) in the pool's own
    /// names: for the features that work in Cognito's names whatever the process holds (the
    /// event feeds, which qualify their events' ids themselves).
    pub fn in_own_names(&self) -> Arc<Connector> {
        let options = ConnectorOptions {
            ids: PoolIds::default(),
            ..self.options.clone()
        };
        Arc::new(Connector::new(self.pool.clone(), options))
    }

    pub fn options(&self) -> &ConnectorOptions {
        &self.options
    }

    /// The operator's user filter as Cognito sees it (`""` without one).
    pub fn user_filter_text(&self) -> String {
        self.options
            .user_filter
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            pool: &self.pool,
            user_filter: self.options.user_filter.as_ref(),
            changes: &self.changes,
            activity: &self.activity,
        }
    }

    /// Checks that the pool exists and the credentials may read it; the pool as Cognito
    /// describes it, for a sync to plan its listings.
    pub async fn validate(&self) -> Result<PoolDescription> {
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
        self.activity.learn(&self.pool, &pool);
        Ok(pool)
    }

    /// Whether user listings read each user's sign-in history (known after [`validate`](Self::validate)).
    pub fn reads_user_history(&self) -> bool {
        self.activity.reads_history_now()
    }

    /// Whether the pool keeps the sign-in history the sign-in feed reads.
    pub async fn records_sign_ins(&self) -> Result<bool> {
        self.activity.records_sign_ins(&self.pool).await
    }

    pub fn resource_types(&self) -> Vec<ResourceType> {
        ResourceKind::ALL
            .iter()
            .map(|kind| kind.syncer().resource_type())
            .collect()
    }

    /// One page of one part of a type's listing (a full sync lists a type in parts).
    pub async fn list_partition(
        &self,
        kind: ResourceKind,
        partition: &Partition,
        cursor: &Cursor,
    ) -> Result<PageResult<Resource>> {
        let page = kind.syncer().list(&self.scope(), partition, cursor).await?;
        Ok(page.map(|r| self.options.ids.resource_out(r)))
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
        let kind = ResourceKind::parse(&id.resource_type)?;
        let id = self.options.ids.id_in(id)?;
        let resource = kind.syncer().get(&self.scope(), &id.resource).await?;
        Ok(self.options.ids.resource_out(resource))
    }

    /// Entitlements every resource of a type has.
    pub fn list_static_entitlements(&self, kind: ResourceKind) -> Vec<Entitlement> {
        kind.syncer().static_entitlements()
    }

    /// Entitlements of one resource; they fit in one page.
    pub fn list_entitlements(&self, resource: &Resource) -> Result<Vec<Entitlement>> {
        let resource = self.options.ids.resource_in(resource)?;
        let entitlements = self.syncer_of(&resource)?.entitlements(&resource);
        Ok(entitlements
            .into_iter()
            .map(|e| self.options.ids.entitlement_out(e))
            .collect())
    }

    pub async fn list_grants(
        &self,
        resource: &Resource,
        cursor: &Cursor,
    ) -> Result<PageResult<Grant>> {
        let resource = self.options.ids.resource_in(resource)?;
        let syncer = self.syncer_of(&resource)?;
        let page = syncer.grants(&self.scope(), &resource, cursor).await?;
        Ok(page.map(|g| self.options.ids.grant_out(g)))
    }

    /// A page of memberships for a full sync, read from the side of `resource`, whichever side
    /// the sync's plan chose. Memberships are the groups' grants; from a user's side they are
    /// read with AdminListGroupsForUser, which `groups.rs` turns into the same grants. (Over
    /// gRPC, memberships are always listed per group, and users list none.)
    pub async fn sync_grants(
        &self,
        resource: &Resource,
        cursor: &Cursor,
    ) -> Result<PageResult<Grant>> {
        if self.kind_of(resource)? != ResourceKind::User {
            return self.list_grants(resource, cursor).await;
        }
        let user = self.options.ids.resource_in(resource)?;
        let page = groups::memberships_of_user(&self.pool, &user, cursor).await?;
        Ok(page.map(|g| self.options.ids.grant_out(g)))
    }

    fn kind_of(&self, resource: &Resource) -> Result<ResourceKind> {
        ResourceKind::parse(&model::resource_id_of(resource)?.resource_type)
    }

    fn syncer_of(&self, resource: &Resource) -> Result<&'static dyn ResourceSyncer> {
        Ok(self.kind_of(resource)?.syncer())
    }

    /// Grants an entitlement to a principal, through the type the entitlement belongs to (in
    /// Cognito, a group's membership to a user).
    pub async fn grant(
        &self,
        entitlement: Option<&Entitlement>,
        principal: Option<&Resource>,
    ) -> Result<(Grant, Change)> {
        let (entitlement, principal) = self.assignment_in(entitlement, principal)?;
        let (syncer, asked) = granting(entitlement.as_deref(), principal.as_deref())?;
        let (grant, change) = syncer.grant(&self.scope(), &asked).await?;
        Ok((self.options.ids.grant_out(grant), change))
    }

    pub async fn revoke(&self, grant: &Grant) -> Result<Change> {
        let (entitlement, principal) =
            self.assignment_in(grant.entitlement.as_ref(), grant.principal.as_ref())?;
        let (syncer, asked) = granting(entitlement.as_deref(), principal.as_deref())?;
        syncer.revoke(&self.scope(), &asked).await
    }

    /// A grant or revoke's entitlement and principal in the pool's own names.
    #[allow(clippy::type_complexity)]
    fn assignment_in<'a>(
        &self,
        entitlement: Option<&'a Entitlement>,
        principal: Option<&'a Resource>,
    ) -> Result<(Option<Cow<'a, Entitlement>>, Option<Cow<'a, Resource>>)> {
        let ids = &self.options.ids;
        Ok((
            entitlement.map(|e| ids.entitlement_in(e)).transpose()?,
            principal.map(|p| ids.resource_in(p)).transpose()?,
        ))
    }

    pub async fn create_account(
        &self,
        request: &CreateAccountRequest,
    ) -> Result<CreateAccountResponse> {
        let mut created = accounts::create_account(&self.pool, request).await?;
        accounts::map_resource(&mut created, |r| self.options.ids.resource_out(r));
        Ok(created)
    }

    /// Deletes a resource, if its type allows (users do, groups do not).
    pub async fn delete_resource(&self, id: Option<&ResourceId>) -> Result<Change> {
        let id = id.ok_or_else(|| {
            ConnectorError::InvalidArgument("resource_id with a resource is required".to_string())
        })?;
        model::checked_id("resource_id.resource", &id.resource)?;
        let kind = ResourceKind::parse(&id.resource_type)?;
        let id = self.options.ids.id_in(id)?;
        kind.syncer().delete(&self.scope(), &id.resource).await
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
        let ids = &self.options.ids;
        let user = |id: &str| ids.local_name(actions::USER_ID, id).map(str::to_string);
        actions::invoke(
            &self.pool,
            &self.actions,
            name,
            resource_type_id,
            args,
            user,
        )
        .await
    }

    pub fn action_status(&self, id: &str) -> Result<ActionOutcome> {
        self.actions
            .find(id)
            .ok_or_else(|| ConnectorError::NotFound(format!("action id {id:?} not found")))
    }
}

/// The type an entitlement to grant or revoke belongs to, with the entitlement and principal
/// the request must carry. An entitlement of no known type is refused as not grantable.
fn granting<'a>(
    entitlement: Option<&'a Entitlement>,
    principal: Option<&'a Resource>,
) -> Result<(&'static dyn ResourceSyncer, Assignment<'a>)> {
    let entitlement = entitlement
        .ok_or_else(|| ConnectorError::InvalidArgument("entitlement is required".to_string()))?;
    let syncer = entitlement
        .resource
        .as_ref()
        .and_then(|r| r.id.as_ref())
        .and_then(|id| ResourceKind::parse(&id.resource_type).ok())
        .map(ResourceKind::syncer)
        .ok_or_else(|| resource_type::not_grantable(entitlement))?;
    let principal = principal
        .ok_or_else(|| ConnectorError::InvalidArgument("principal is required".to_string()))?;
    Ok((
        syncer,
        Assignment {
            entitlement,
            principal,
        },
    ))
}

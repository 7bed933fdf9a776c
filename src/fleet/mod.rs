//! Every user pool the process holds, as one Baton connector: what the gRPC services, service
//! mode and the sync engine call. Each pool is a [`Connector`] of its own (its client, its
//! options, its action history); this layer routes a request to the pool its ids name.
//!
//! One pool is served exactly as it always was: every call goes straight to it, and its ids are
//! Cognito's names. Several pools add the `user_pool` resource type (`user_pools`), whose
//! children are each pool's users and groups, and every user and group id is qualified by its
//! pool (see `connector::pool_ids`), so a request is routed by its ids alone.

pub mod user_pools;

use std::sync::Arc;

use futures_util::future::try_join_all;

use crate::cognito::records::PoolDescription;
use crate::cognito::stats::CallStats;
use crate::connector::accounts;
use crate::connector::actions::{self, ActionOutcome, USER_ID};
use crate::connector::pool_ids::{POOL_TYPE_ID, PoolIds};
use crate::connector::{
    Change, Connector, ConnectorError, Cursor, PageResult, ResourceKind, Result, held_page, model,
};
use crate::pb::v2::{
    BatonActionSchema, CreateAccountRequest, CreateAccountResponse, Entitlement, Grant, Resource,
    ResourceId, ResourceType,
};

/// The pools of one process, in the order the operator named them (never empty).
pub struct Fleet {
    pools: Vec<Arc<Connector>>,
}

/// Where a request goes: the pools themselves (`user_pool` resources), or one pool's connector.
enum Route<'a> {
    Pools,
    Pool(&'a Arc<Connector>),
}

impl Fleet {
    /// The fleet of `pools`, in order; `None` when there are none.
    pub fn new(pools: Vec<Arc<Connector>>) -> Option<Self> {
        (!pools.is_empty()).then_some(Self { pools })
    }

    /// The fleet of one pool.
    pub fn one(connector: Arc<Connector>) -> Self {
        Self {
            pools: vec![connector],
        }
    }

    pub fn pools(&self) -> &[Arc<Connector>] {
        &self.pools
    }

    /// The pool, when the process holds exactly one.
    pub fn single(&self) -> Option<&Arc<Connector>> {
        match self.pools.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// Every pool's connector in the pool's own names (the same ones, with one pool): for the
    /// event feeds, which qualify their events' ids themselves.
    pub fn in_own_names(&self) -> Vec<Arc<Connector>> {
        match self.single() {
            Some(only) => vec![only.clone()],
            None => self.pools.iter().map(|c| c.in_own_names()).collect(),
        }
    }

    /// The call counts, shared by every pool's client.
    pub fn stats(&self) -> &CallStats {
        self.pools[0].pool().stats()
    }

    /// The operator's user filter as Cognito sees it (`""` without one): every pool's.
    pub fn user_filter_text(&self) -> String {
        self.pools[0].user_filter_text()
    }

    /// The pools' Regions, comma-separated in the pools' order, for log lines.
    pub fn regions(&self) -> String {
        self.pools
            .iter()
            .map(|c| c.pool().region())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Refuses a resource type none of the pools has, before anything else is looked at.
    pub fn check_type(&self, type_id: &str) -> Result<()> {
        if self.single().is_none() && type_id == POOL_TYPE_ID {
            return Ok(());
        }
        ResourceKind::parse(type_id).map(drop)
    }

    /// The pool ids, comma-separated, for log lines and page-token binding.
    pub fn pool_ids(&self) -> String {
        self.pools
            .iter()
            .map(|c| c.pool().pool_id())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The pools' ids and Regions, in order.
    pub fn places(&self) -> Vec<(&str, &str)> {
        self.pools
            .iter()
            .map(|c| (c.pool().pool_id(), c.pool().region()))
            .collect()
    }

    fn find(&self, pool_id: &str) -> Option<&Arc<Connector>> {
        self.pools.iter().find(|c| c.pool().pool_id() == pool_id)
    }

    /// The connector for a qualified id (`<pool id>:<name>`). An id that names none of the
    /// pools held is not found (a pool taken out of the configuration, an id from before a
    /// second pool came): a targeted sync skips it with a warning, as a resource gone.
    fn pool_named_by(&self, what: &str, id: &str) -> Result<&Arc<Connector>> {
        if let Some(only) = self.single() {
            return Ok(only);
        }
        PoolIds::pool_of(id)
            .and_then(|pool| self.find(pool))
            .ok_or_else(|| {
                ConnectorError::NotFound(format!(
                    "{what} {} names none of this connector's user pools ({}); ids here are <pool id>:<name>",
                    model::shown(id),
                    self.pool_ids()
                ))
            })
    }

    fn route<'a>(&'a self, id: &ResourceId) -> Result<Route<'a>> {
        if self.single().is_none() && id.resource_type == POOL_TYPE_ID {
            return Ok(Route::Pools);
        }
        self.pool_named_by(&id.resource_type, &id.resource)
            .map(Route::Pool)
    }

    fn route_resource<'a>(&'a self, resource: &Resource) -> Result<Route<'a>> {
        self.route(model::resource_id_of(resource)?)
    }

    /// The pool a user or group belongs to; `None` for a pool itself.
    pub fn pool_of_resource(&self, resource: &Resource) -> Result<Option<&Arc<Connector>>> {
        Ok(match self.route_resource(resource)? {
            Route::Pools => None,
            Route::Pool(connector) => Some(connector),
        })
    }

    /// Checks every pool (side by side); their descriptions, in order.
    pub async fn validate(&self) -> Result<Vec<PoolDescription>> {
        try_join_all(self.pools.iter().map(|c| c.validate())).await
    }

    pub fn resource_types(&self) -> Vec<ResourceType> {
        let mut types = self.pools[0].resource_types();
        if self.single().is_none() {
            types.insert(0, user_pools::resource_type());
        }
        types
    }

    /// The `user_pool` resources, each described now.
    async fn pool_resources(&self) -> Result<Vec<Resource>> {
        Ok(self.pool_resources_of(&self.validate().await?))
    }

    /// The `user_pool` resources of the pools as `described` (by [`validate`](Self::validate)).
    pub fn pool_resources_of(&self, described: &[PoolDescription]) -> Vec<Resource> {
        self.pools
            .iter()
            .zip(described)
            .map(|(c, pool)| user_pools::resource(pool, c.pool().region()))
            .collect()
    }

    /// One page of resources of a type. With several pools, users and groups are listed per
    /// pool (their parent), and none at the top level.
    pub async fn list_resources(
        &self,
        type_id: &str,
        parent: Option<&ResourceId>,
        cursor: &Cursor,
    ) -> Result<PageResult<Resource>> {
        if let Some(only) = self.single() {
            return only
                .list_resources(ResourceKind::parse(type_id)?, parent, cursor)
                .await;
        }
        if type_id == POOL_TYPE_ID {
            if parent.is_some() {
                return Ok(PageResult::last(Vec::new()));
            }
            let pools = self.pool_resources().await?;
            return Ok(held_page(pools, cursor, cursor.limit() as u32));
        }
        let kind = ResourceKind::parse(type_id)?;
        match parent.filter(|p| p.resource_type == POOL_TYPE_ID) {
            Some(pool) => match self.find(&pool.resource) {
                Some(connector) => connector.list_resources(kind, None, cursor).await,
                None => Err(ConnectorError::NotFound(format!(
                    "user pool {} is not one of this connector's ({})",
                    model::shown(&pool.resource),
                    self.pool_ids()
                ))),
            },
            None => Ok(PageResult::last(Vec::new())),
        }
    }

    pub async fn get_resource(&self, id: &ResourceId) -> Result<Resource> {
        model::checked_id("resource_id.resource", &id.resource)?;
        match self.route(id)? {
            Route::Pool(connector) => connector.get_resource(id).await,
            Route::Pools => {
                let connector = self.find(&id.resource).ok_or_else(|| {
                    ConnectorError::NotFound(format!(
                        "user pool {} is not one of this connector's ({})",
                        model::shown(&id.resource),
                        self.pool_ids()
                    ))
                })?;
                let pool = connector.validate().await?;
                Ok(user_pools::resource(&pool, connector.pool().region()))
            }
        }
    }

    pub fn list_static_entitlements(&self, type_id: &str) -> Result<Vec<Entitlement>> {
        if self.single().is_none() && type_id == POOL_TYPE_ID {
            return Ok(Vec::new());
        }
        Ok(self.pools[0].list_static_entitlements(ResourceKind::parse(type_id)?))
    }

    pub fn list_entitlements(&self, resource: &Resource) -> Result<Vec<Entitlement>> {
        match self.route_resource(resource)? {
            Route::Pools => Ok(Vec::new()),
            Route::Pool(connector) => connector.list_entitlements(resource),
        }
    }

    pub async fn list_grants(
        &self,
        resource: &Resource,
        cursor: &Cursor,
    ) -> Result<PageResult<Grant>> {
        match self.route_resource(resource)? {
            Route::Pools => Ok(PageResult::last(Vec::new())),
            Route::Pool(connector) => connector.list_grants(resource, cursor).await,
        }
    }

    /// The pool an entitlement to grant or revoke belongs to: its resource's.
    fn pool_of_entitlement(&self, entitlement: Option<&Entitlement>) -> Result<&Arc<Connector>> {
        if let Some(only) = self.single() {
            return Ok(only);
        }
        let id = entitlement
            .and_then(|e| e.resource.as_ref())
            .and_then(|r| r.id.as_ref())
            .ok_or_else(|| {
                ConnectorError::InvalidArgument(
                    "entitlement with a resource id is required".to_string(),
                )
            })?;
        self.pool_named_by("entitlement resource", &id.resource)
    }

    pub async fn grant(
        &self,
        entitlement: Option<&Entitlement>,
        principal: Option<&Resource>,
    ) -> Result<(Grant, Change)> {
        self.pool_of_entitlement(entitlement)?
            .grant(entitlement, principal)
            .await
    }

    pub async fn revoke(&self, grant: &Grant) -> Result<Change> {
        self.pool_of_entitlement(grant.entitlement.as_ref())?
            .revoke(grant)
            .await
    }

    /// Creates a user; with several pools, in the one its profile's `user_pool_id` names (the
    /// key is taken out before the rest becomes the user's attributes).
    pub async fn create_account(
        &self,
        request: &CreateAccountRequest,
    ) -> Result<CreateAccountResponse> {
        if let Some(only) = self.single() {
            return only.create_account(request).await;
        }
        let mut request = request.clone();
        let named = request
            .account_info
            .as_mut()
            .and_then(|info| info.profile.as_mut())
            .and_then(|profile| profile.fields.remove(accounts::POOL_KEY))
            .and_then(|value| match value.kind {
                Some(prost_types::value::Kind::StringValue(id)) => Some(id),
                _ => None,
            });
        let connector = named
            .as_deref()
            .and_then(|id| self.find(id.trim()))
            .ok_or_else(|| {
                ConnectorError::InvalidArgument(format!(
                    "account_info.profile.{} must name the user pool to create the user in: one of {}",
                    accounts::POOL_KEY,
                    self.pool_ids()
                ))
            })?;
        connector.create_account(&request).await
    }

    pub async fn delete_resource(&self, id: Option<&ResourceId>) -> Result<Change> {
        let id = id.ok_or_else(|| {
            ConnectorError::InvalidArgument("resource_id with a resource is required".to_string())
        })?;
        match self.route(id)? {
            Route::Pool(connector) => connector.delete_resource(Some(id)).await,
            Route::Pools => Err(ConnectorError::InvalidArgument(format!(
                "user pool {} cannot be deleted through this connector: only users are created and deleted",
                model::shown(&id.resource)
            ))),
        }
    }

    pub fn action_schemas(&self, resource_type_id: &str) -> Vec<BatonActionSchema> {
        self.pools[0].action_schemas(resource_type_id)
    }

    pub fn action_schema(&self, name: &str) -> Result<BatonActionSchema> {
        self.pools[0].action_schema(name)
    }

    /// Runs an action on the pool its `user_id` names (`<pool id>:<username>` with several).
    pub async fn invoke_action(
        &self,
        name: &str,
        resource_type_id: &str,
        args: Option<&prost_types::Struct>,
    ) -> Result<ActionOutcome> {
        let connector = match self.single() {
            Some(only) => only,
            None => self.pool_named_by(USER_ID, &actions::user_id(args)?)?,
        };
        connector.invoke_action(name, resource_type_id, args).await
    }

    pub fn action_status(&self, id: &str) -> Result<ActionOutcome> {
        let mut last = None;
        for connector in &self.pools {
            match connector.action_status(id) {
                Ok(outcome) => return Ok(outcome),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| ConnectorError::NotFound(format!("action id {id:?} not found"))))
    }
}

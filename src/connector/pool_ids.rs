//! The ids a connector's resources carry. With one pool in the process they are Cognito's own
//! names (`user:alice`, `group:admins:member`), exactly as they have always been. With several,
//! the same username may live in two pools, so every user and group id is qualified by its pool
//! (`user:eu-west-1_A:alice`, `group:eu-west-1_A:admins:member`, and the grant
//! `group:eu-west-1_A:admins:member:user:eu-west-1_A:alice`), and each resource names its pool
//! as its parent (`user_pool:eu-west-1_A`).
//!
//! The connector works in Cognito's names inside and translates at its edge: what leaves it is
//! qualified by [`PoolIds`], and what a caller sends is taken back to the pool's own names,
//! refused if it names another pool. Entitlement and grant ids are rebuilt from their parts,
//! as Baton builds them (`TYPE:RESOURCE:SLUG`, `ENTITLEMENT:TYPE:PRINCIPAL`), never by
//! splitting strings, since group names and usernames may hold colons.

use std::borrow::Cow;

use super::error::{ConnectorError, Result};
use super::model;
use crate::pb::v2::{Entitlement, Grant, Resource, ResourceId};

/// The resource type of a pool, the parent of its users and groups when a process holds several.
pub const POOL_TYPE_ID: &str = "user_pool";

/// How one connector's ids are written: its pool's own names, or qualified by the pool id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolIds {
    /// The pool that qualifies every id, when the process holds several pools.
    qualifier: Option<String>,
}

impl PoolIds {
    /// Ids qualified by `pool_id`, for a pool among several.
    pub fn qualified(pool_id: &str) -> Self {
        Self {
            qualifier: Some(pool_id.to_string()),
        }
    }

    /// The pool as a resource id (`user_pool:<pool id>`), when ids are qualified.
    pub fn parent(&self) -> Option<ResourceId> {
        self.qualifier
            .as_deref()
            .map(|pool| model::resource_id(POOL_TYPE_ID, pool))
    }

    /// The pool a qualified id names (the part before its first colon; pool ids hold none).
    pub fn pool_of(id: &str) -> Option<&str> {
        id.split_once(':').map(|(pool, _)| pool)
    }

    fn qualify_id(&self, id: &mut ResourceId) {
        if let Some(pool) = &self.qualifier {
            id.resource = format!("{pool}:{}", id.resource);
        }
    }

    /// A resource id as it leaves the connector.
    pub fn id_out(&self, mut id: ResourceId) -> ResourceId {
        self.qualify_id(&mut id);
        id
    }

    /// A resource as it leaves the connector.
    pub fn resource_out(&self, mut resource: Resource) -> Resource {
        if self.qualifier.is_some() {
            if let Some(id) = resource.id.as_mut() {
                self.qualify_id(id);
            }
            resource.parent_resource_id = self.parent();
        }
        resource
    }

    /// An entitlement as it leaves the connector: its resource qualified, and its id rebuilt
    /// from the qualified resource and its slug.
    pub fn entitlement_out(&self, mut entitlement: Entitlement) -> Entitlement {
        if self.qualifier.is_none() {
            return entitlement;
        }
        entitlement.resource = entitlement.resource.map(|r| self.resource_out(r));
        if let Some(id) = entitlement.resource.as_ref().and_then(|r| r.id.as_ref()) {
            entitlement.id = format!("{}:{}:{}", id.resource_type, id.resource, entitlement.slug);
        }
        entitlement
    }

    /// A grant as it leaves the connector: its entitlement and principal qualified, and its id
    /// rebuilt from them.
    pub fn grant_out(&self, mut grant: Grant) -> Grant {
        if self.qualifier.is_none() {
            return grant;
        }
        grant.entitlement = grant.entitlement.map(|e| self.entitlement_out(e));
        grant.principal = grant.principal.map(|p| self.resource_out(p));
        if let (Some(entitlement), Some(principal)) = (
            grant.entitlement.as_ref(),
            grant.principal.as_ref().and_then(|p| p.id.as_ref()),
        ) {
            grant.id = format!(
                "{}:{}:{}",
                entitlement.id, principal.resource_type, principal.resource
            );
        }
        grant
    }

    /// A caller's id in the pool's own names; refused if it names another pool.
    pub fn local_name<'a>(&self, what: &str, id: &'a str) -> Result<&'a str> {
        let Some(pool) = &self.qualifier else {
            return Ok(id);
        };
        id.strip_prefix(pool.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| {
                ConnectorError::InvalidArgument(format!(
                    "{what} {} is not an id of user pool {pool}; ids here are <pool id>:<name>",
                    model::shown(id)
                ))
            })
    }

    pub fn id_in<'a>(&self, id: &'a ResourceId) -> Result<Cow<'a, ResourceId>> {
        if self.qualifier.is_none() {
            return Ok(Cow::Borrowed(id));
        }
        let local = self.local_name(&id.resource_type, &id.resource)?;
        Ok(Cow::Owned(ResourceId {
            resource: local.to_string(),
            ..id.clone()
        }))
    }

    /// A caller's resource in the pool's own names (an id absent or empty is left for the
    /// connector to refuse as it always has).
    pub fn resource_in<'a>(&self, resource: &'a Resource) -> Result<Cow<'a, Resource>> {
        let Some(id) = resource.id.as_ref().filter(|_| self.qualifier.is_some()) else {
            return Ok(Cow::Borrowed(resource));
        };
        if id.resource.is_empty() {
            return Ok(Cow::Borrowed(resource));
        }
        let local = self.id_in(id)?.into_owned();
        Ok(Cow::Owned(Resource {
            id: Some(local),
            parent_resource_id: None,
            ..resource.clone()
        }))
    }

    /// A caller's entitlement in the pool's own names: its resource, and its id if it is the
    /// one this connector gave the resource's entitlement of that slug (any other id is left as
    /// sent, for the connector to refuse).
    pub fn entitlement_in<'a>(&self, entitlement: &'a Entitlement) -> Result<Cow<'a, Entitlement>> {
        let Some(resource) = entitlement
            .resource
            .as_ref()
            .filter(|_| self.qualifier.is_some())
        else {
            return Ok(Cow::Borrowed(entitlement));
        };
        let local = self.resource_in(resource)?.into_owned();
        let mut id = entitlement.id.clone();
        if let (Some(sent), Some(own)) = (resource.id.as_ref(), local.id.as_ref()) {
            let qualified = format!(
                "{}:{}:{}",
                sent.resource_type, sent.resource, entitlement.slug
            );
            if entitlement.id == qualified {
                id = format!(
                    "{}:{}:{}",
                    own.resource_type, own.resource, entitlement.slug
                );
            }
        }
        Ok(Cow::Owned(Entitlement {
            id,
            resource: Some(local),
            ..entitlement.clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{groups, users};

    fn group(name: &str) -> Resource {
        model::resource_ref(groups::TYPE_ID, name)
    }

    #[test]
    fn one_pool_keeps_cognitos_names() {
        let ids = PoolIds::default();
        let entitlement = groups::member_entitlement(&group("a:b"));
        let grant = groups::member_grant(&entitlement, "ann");
        assert_eq!(ids.grant_out(grant.clone()), grant);
        assert_eq!(ids.entitlement_out(entitlement.clone()), entitlement);
        assert!(matches!(
            ids.entitlement_in(&entitlement),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(ids.local_name("user", "x:y").unwrap(), "x:y");
        assert_eq!(ids.parent(), None);
    }

    #[test]
    fn several_pools_qualify_every_id_and_take_them_back() {
        let ids = PoolIds::qualified("eu-west-1_A");
        let entitlement = ids.entitlement_out(groups::member_entitlement(&group("ops:eu")));
        assert_eq!(entitlement.id, "group:eu-west-1_A:ops:eu:member");
        let grant = ids.grant_out(groups::member_grant(
            &groups::member_entitlement(&group("ops:eu")),
            "ann",
        ));
        assert_eq!(
            grant.id,
            "group:eu-west-1_A:ops:eu:member:user:eu-west-1_A:ann"
        );
        let principal = grant.principal.as_ref().unwrap();
        assert_eq!(
            principal.parent_resource_id,
            Some(model::resource_id(POOL_TYPE_ID, "eu-west-1_A"))
        );
        let back = ids.entitlement_in(&entitlement).unwrap();
        assert_eq!(back.id, "group:ops:eu:member");
        assert_eq!(back.resource.as_ref().unwrap().parent_resource_id, None);
        let user = ids.resource_in(principal).unwrap();
        assert_eq!(user.id.as_ref().unwrap().resource, "ann");
        assert_eq!(user.id.as_ref().unwrap().resource_type, users::TYPE_ID);
    }

    #[test]
    fn an_id_of_another_pool_is_refused_by_name() {
        let ids = PoolIds::qualified("eu-west-1_A");
        for other in ["eu-west-1_B:ann", "ann", "eu-west-1_A:", "eu-west-1_Ab:ann"] {
            let err = ids.local_name("user", other).unwrap_err().to_string();
            assert!(err.contains("eu-west-1_A"), "{other}: {err}");
        }
        assert_eq!(PoolIds::pool_of("eu-west-1_B:ann"), Some("eu-west-1_B"));
        assert_eq!(PoolIds::pool_of("ann"), None);
    }
}

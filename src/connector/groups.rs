//! Cognito groups as Baton `group` resources, each with one `member` entitlement: the one
//! relation between the two resource types. A user in a group is a grant of it.
//!
//! The resource id is the `GroupName`, Cognito's immutable group key. Ids are never split back
//! apart: a group name may contain `:`, so the group is always recovered from
//! `ResourceId.resource`. A sync reads memberships from whichever side is cheaper (per group
//! with ListUsersInGroup, per user with AdminListGroupsForUser); grants and revokes change one
//! membership at a time.

use async_trait::async_trait;

use super::error::{ConnectorError, Result};
use super::model::{self, MAX_NAME_BYTES, Profile};
use super::paging::{Cursor, PageResult, fit_page};
use super::profile_keys as keys;
use super::resource_type::{
    Assignment, Change, Page, Partition, ResourceSyncer, Scope, not_grantable,
};
use super::users;
use crate::cognito::records::CognitoGroup;
use crate::cognito::{CognitoError, Operation, PoolClient};
use crate::pb::pack;
use crate::pb::v2::entitlement::PurposeValue;
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::{Capability, Entitlement, Grant, GroupTrait, Resource, ResourceType};

pub const TYPE_ID: &str = "group";

/// The slug of a group's one entitlement.
pub const MEMBER: &str = "member";

/// IAM actions reading groups and their members needs.
pub const SYNC_PERMISSIONS: &[&str] = &[
    "cognito-idp:ListGroups",
    "cognito-idp:GetGroup",
    "cognito-idp:ListUsersInGroup",
];

/// IAM actions granting and revoking memberships needs.
pub const PROVISION_PERMISSIONS: &[&str] = &[
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminListGroupsForUser",
];

pub fn resource_type() -> ResourceType {
    ResourceType {
        id: TYPE_ID.to_string(),
        display_name: "Group".to_string(),
        traits: vec![Trait::Group as i32],
        annotations: vec![model::permissions_annotation(
            &[SYNC_PERMISSIONS, PROVISION_PERMISSIONS].concat(),
        )],
        description: "A group of the Cognito user pool".to_string(),
        sourced_externally: false,
    }
}

/// The `group` resource type: listed with ListGroups; its `member` entitlement is granted with
/// AdminAddUserToGroup and its grants listed with ListUsersInGroup.
pub struct Groups;

#[async_trait]
impl ResourceSyncer for Groups {
    fn resource_type(&self) -> ResourceType {
        resource_type()
    }

    /// Memberships are granted and revoked.
    fn provisioning(&self) -> Vec<Capability> {
        vec![Capability::Provision]
    }

    /// Groups are one part: the user filter does not apply to them.
    async fn list(&self, scope: &Scope<'_>, _all: &Partition, cursor: &Cursor) -> Page<Resource> {
        let page = scope
            .pool
            .list_groups(cursor.cognito_token.as_deref(), cursor.limit())
            .await?;
        Ok(fit_page(page, cursor, |group| Some(resource(group))))
    }

    async fn get(&self, scope: &Scope<'_>, name: &str) -> Result<Resource> {
        let pool = scope.pool;
        match pool.get_group(name).await {
            Ok(group) => Ok(resource(&group)),
            Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, name).await),
            Err(err) => Err(err.into()),
        }
    }

    fn entitlements(&self, group: &Resource) -> Vec<Entitlement> {
        vec![member_entitlement(group)]
    }

    /// One page of the group's members as grants. With a user filter, members outside it are
    /// left out, so no grant names a user the listing did not return.
    async fn grants(&self, scope: &Scope<'_>, group: &Resource, cursor: &Cursor) -> Page<Grant> {
        let pool = scope.pool;
        let name = model::resource_id_of(group)?.resource.as_str();
        let page = match pool
            .list_users_in_group(name, cursor.cognito_token.as_deref(), cursor.limit())
            .await
        {
            Ok(page) => page,
            Err(CognitoError::NotFound { .. }) => return Err(group_not_found(pool, name).await),
            Err(err) => return Err(err.into()),
        };
        let entitlement = member_entitlement(group);
        Ok(fit_page(page, cursor, |user| {
            scope
                .user_filter
                .is_none_or(|f| f.matches(user))
                .then(|| member_grant(&entitlement, &user.username))
        }))
    }

    fn membership_operation(&self) -> Operation {
        Operation::ListUsersInGroup
    }

    /// Adds the principal to the entitlement's group; returns the grant and whether it already
    /// existed.
    async fn grant(&self, scope: &Scope<'_>, asked: &Assignment<'_>) -> Result<(Grant, Change)> {
        let (group, username) = membership(asked)?;
        let (pool, changes) = (scope.pool, scope.changes);
        let grant = member_grant(asked.entitlement, username);
        let _turn = changes.lock((group, username)).await;
        if is_member(pool, group, username).await? {
            return Ok((grant, Change::AlreadySo));
        }
        match pool.add_user_to_group(username, group).await {
            Ok(()) => {
                tracing::info!(group, username, "added user to group");
                Ok((grant, Change::Made))
            }
            Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, group).await),
            Err(CognitoError::UserNotFound { .. }) => Err(users::user_not_found(pool, username)),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes the principal from the entitlement's group.
    async fn revoke(&self, scope: &Scope<'_>, asked: &Assignment<'_>) -> Result<Change> {
        let (group, username) = membership(asked)?;
        let (pool, changes) = (scope.pool, scope.changes);
        let _turn = changes.lock((group, username)).await;
        if !is_member(pool, group, username).await? {
            // Not a member: either already revoked or the group is gone; say which.
            return match pool.get_group(group).await {
                Ok(_) => Ok(Change::AlreadySo),
                Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, group).await),
                Err(err) => Err(err.into()),
            };
        }
        match pool.remove_user_from_group(username, group).await {
            Ok(()) => {
                tracing::info!(group, username, "removed user from group");
                Ok(Change::Made)
            }
            Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, group).await),
            Err(CognitoError::UserNotFound { .. }) => Err(users::user_not_found(pool, username)),
            Err(err) => Err(err.into()),
        }
    }
}

/// Cognito answers ResourceNotFound both for a missing group and for a missing pool; they mean
/// very different things (a group deleted mid-sync is a warning, a vanished pool must fail the
/// sync), so one DescribeUserPool call tells them apart.
async fn group_not_found(pool: &PoolClient, name: &str) -> ConnectorError {
    match pool.describe_user_pool().await {
        Ok(_) => ConnectorError::NotFound(format!(
            "group {name:?} does not exist in user pool {}",
            pool.pool_id()
        )),
        Err(CognitoError::NotFound { message, .. }) => ConnectorError::PoolMissing(format!(
            "user pool {} does not exist (any more): {message}",
            pool.pool_id()
        )),
        Err(err) => err.into(),
    }
}

pub fn resource(group: &CognitoGroup) -> Resource {
    let mut profile = Profile::default();
    profile
        .text(keys::GROUP_NAME, &group.name)
        .text_opt(keys::DESCRIPTION, group.description.as_deref())
        .text_opt(keys::ROLE_ARN, group.role_arn.as_deref())
        .date(keys::CREATION_DATE, group.created.as_ref())
        .date(keys::LAST_MODIFIED_DATE, group.last_modified.as_ref());
    if let Some(precedence) = group.precedence {
        profile.number(keys::PRECEDENCE, f64::from(precedence));
    }
    Resource {
        id: Some(model::resource_id(TYPE_ID, &group.name)),
        display_name: crate::text::truncate(&group.name, MAX_NAME_BYTES),
        description: crate::text::truncate(group.description.as_deref().unwrap_or_default(), 2048),
        annotations: vec![pack(&GroupTrait {
            group_source_type: "native".to_string(),
            ..GroupTrait::default()
        })],
        profile: Some(profile.build()),
        created_at: group.created.as_ref().map(model::timestamp),
        ..Resource::default()
    }
}

/// `group:<name>:member`: membership of the group, grantable to users.
pub fn member_entitlement(group: &Resource) -> Entitlement {
    let name = group
        .id
        .as_ref()
        .map(|id| id.resource.as_str())
        .unwrap_or_default();
    Entitlement {
        resource: Some(group.clone()),
        id: format!("{TYPE_ID}:{name}:{MEMBER}"),
        display_name: format!("{} Group Member", group.display_name),
        description: format!("Member of the Cognito group {name}"),
        grantable_to: vec![users::resource_type()],
        purpose: PurposeValue::Assignment as i32,
        slug: MEMBER.to_string(),
        annotations: Vec::new(),
    }
}

/// A membership grant: `group:<name>:member:user:<username>`.
pub fn member_grant(entitlement: &Entitlement, username: &str) -> Grant {
    Grant {
        id: format!("{}:{}:{username}", entitlement.id, users::TYPE_ID),
        entitlement: Some(entitlement.clone()),
        principal: Some(model::resource_ref(users::TYPE_ID, username)),
        ..Grant::default()
    }
}

/// One page of a user's group memberships as grants, from the user's side (AdminListGroupsForUser):
/// the cheaper way to read memberships of a pool with more groups than users.
pub async fn memberships_of_user(
    pool: &PoolClient,
    user: &Resource,
    cursor: &Cursor,
) -> Result<PageResult<Grant>> {
    let username = model::resource_id_of(user)?.resource.as_str();
    let page = match pool
        .list_groups_of_user(username, cursor.cognito_token.as_deref(), cursor.limit())
        .await
    {
        Ok(page) => page,
        Err(CognitoError::UserNotFound { .. }) => {
            return Err(users::user_not_found(pool, username));
        }
        Err(err) => return Err(err.into()),
    };
    Ok(fit_page(page, cursor, |group| {
        let entitlement = member_entitlement(&resource(group));
        Some(member_grant(&entitlement, username))
    }))
}

/// The group and the user a membership request names. The entitlement must be exactly the
/// `member` entitlement of its group and the principal a user; both come from the ids the
/// request carries, never from splitting id strings.
fn membership<'a>(asked: &Assignment<'a>) -> Result<(&'a str, &'a str)> {
    let Assignment {
        entitlement,
        principal,
    } = *asked;
    let group = entitlement
        .resource
        .as_ref()
        .and_then(|r| r.id.as_ref())
        .filter(|id| id.resource_type == TYPE_ID && !id.resource.is_empty())
        .ok_or_else(|| not_grantable(entitlement))?;
    model::checked_id("entitlement.resource.id.resource", &group.resource)?;
    let expected = format!("{TYPE_ID}:{}:{MEMBER}", group.resource);
    if entitlement.id != expected {
        return Err(ConnectorError::InvalidArgument(format!(
            "entitlement {} is not a group membership; expected {}",
            model::shown(&entitlement.id),
            model::shown(&expected)
        )));
    }
    let user = model::resource_id_of(principal)?;
    if user.resource_type != users::TYPE_ID {
        return Err(ConnectorError::InvalidArgument(format!(
            "principal {} is not a user; Cognito groups hold users only",
            model::shown(&format!("{}:{}", user.resource_type, user.resource))
        )));
    }
    Ok((group.resource.as_str(), user.resource.as_str()))
}

/// Whether the user is in the group, from the user's own group list: one or two cheap calls
/// (a user is in at most 100 groups) instead of listing the group's members.
async fn is_member(pool: &PoolClient, group: &str, username: &str) -> Result<bool> {
    match pool.groups_of_user(username).await {
        Ok(groups) => Ok(groups.iter().any(|g| g == group)),
        Err(CognitoError::UserNotFound { .. }) => Err(users::user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::records::CognitoGroup;

    fn assignment<'a>(entitlement: &'a Entitlement, principal: &'a Resource) -> Assignment<'a> {
        Assignment {
            entitlement,
            principal,
        }
    }

    #[test]
    fn only_user_memberships_of_groups_are_provisioned() {
        let group = resource(&CognitoGroup {
            name: "a:b".into(),
            ..CognitoGroup::default()
        });
        let entitlement = member_entitlement(&group);
        let user = |type_id: &str| model::resource_ref(type_id, "ann");
        let ann = user("user");
        let (group, username) = membership(&assignment(&entitlement, &ann)).unwrap();
        assert_eq!((group, username), ("a:b", "ann"));
        assert!(membership(&assignment(&entitlement, &user("group"))).is_err());
        let mut other = entitlement.clone();
        other.id = "group:a:b:owner".into();
        assert!(membership(&assignment(&other, &user("user"))).is_err());
        let mut not_group = entitlement;
        not_group.resource = Some(user("user"));
        assert!(membership(&assignment(&not_group, &user("user"))).is_err());
    }

    #[test]
    fn ids_follow_baton_conventions_and_keep_odd_names_whole() {
        let group = resource(&CognitoGroup {
            name: "ops: on/call \"x\"".into(),
            precedence: Some(3),
            ..CognitoGroup::default()
        });
        let entitlement = member_entitlement(&group);
        assert_eq!(entitlement.id, "group:ops: on/call \"x\":member");
        assert_eq!(entitlement.purpose, PurposeValue::Assignment as i32);
        assert_eq!(entitlement.grantable_to[0].id, "user");
        let grant = member_grant(&entitlement, "ann:1");
        assert_eq!(grant.id, "group:ops: on/call \"x\":member:user:ann:1");
        assert_eq!(grant.principal.unwrap().id.unwrap().resource, "ann:1");
        let fields = group.profile.unwrap().fields;
        assert!(fields.contains_key("precedence"));
    }
}

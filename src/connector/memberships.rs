//! Group memberships: the one relation between the two resource types. Each group has one
//! `member` entitlement, grantable to users; a user in a group is a grant of it. A sync reads
//! memberships from whichever side is cheaper (per group with ListUsersInGroup, per user with
//! AdminListGroupsForUser); grants and revokes change one at a time per membership.

use super::change_locks::ChangeLocks;
use super::model;
use super::paging::{Cursor, PageResult, fit_page};
use super::{Change, ConnectorError, Result, groups, users};
use crate::cognito::filter::UserFilter;
use crate::cognito::{CognitoError, PoolClient};
use crate::pb::v2::entitlement::PurposeValue;
use crate::pb::v2::{Entitlement, Grant, Resource};

/// The slug of a group's one entitlement.
pub const MEMBER: &str = "member";

/// `group:<name>:member`: membership of the group, grantable to users.
pub fn member_entitlement(group: &Resource) -> Entitlement {
    let name = group
        .id
        .as_ref()
        .map(|id| id.resource.as_str())
        .unwrap_or_default();
    Entitlement {
        resource: Some(group.clone()),
        id: format!("{}:{name}:{MEMBER}", groups::TYPE_ID),
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

/// One page of the group's members as grants. With a user filter, members outside it are left
/// out, so no grant names a user the listing did not return.
pub async fn of_group(
    pool: &PoolClient,
    group: &Resource,
    filter: Option<&UserFilter>,
    cursor: &Cursor,
) -> Result<PageResult<Grant>> {
    let name = model::resource_id_of(group)?.resource.as_str();
    let page = match pool
        .list_users_in_group(name, cursor.cognito_token.as_deref(), cursor.limit())
        .await
    {
        Ok(page) => page,
        Err(CognitoError::NotFound { .. }) => return Err(groups::group_not_found(pool, name).await),
        Err(err) => return Err(err.into()),
    };
    let entitlement = member_entitlement(group);
    Ok(fit_page(page, cursor, |user| {
        filter
            .is_none_or(|f| f.matches(user))
            .then(|| member_grant(&entitlement, &user.username))
    }))
}

/// The group and the user a membership request names. The entitlement must be exactly the
/// `member` entitlement of its group and the principal a user; both come from the ids the
/// request carries, never from splitting id strings.
fn membership<'a>(
    entitlement: Option<&'a Entitlement>,
    principal: Option<&'a Resource>,
) -> Result<(&'a Entitlement, &'a str, &'a str)> {
    let entitlement = entitlement
        .ok_or_else(|| ConnectorError::InvalidArgument("entitlement is required".to_string()))?;
    let group = entitlement
        .resource
        .as_ref()
        .and_then(|r| r.id.as_ref())
        .filter(|id| id.resource_type == groups::TYPE_ID && !id.resource.is_empty())
        .ok_or_else(|| {
            ConnectorError::InvalidArgument(format!(
                "entitlement {} does not belong to a group; only group memberships can be granted",
                model::shown(&entitlement.id)
            ))
        })?;
    model::checked_id("entitlement.resource.id.resource", &group.resource)?;
    let expected = format!("{}:{}:{MEMBER}", groups::TYPE_ID, group.resource);
    if entitlement.id != expected {
        return Err(ConnectorError::InvalidArgument(format!(
            "entitlement {} is not a group membership; expected {}",
            model::shown(&entitlement.id),
            model::shown(&expected)
        )));
    }
    let principal = principal
        .ok_or_else(|| ConnectorError::InvalidArgument("principal is required".to_string()))?;
    let user = model::resource_id_of(principal)?;
    if user.resource_type != users::TYPE_ID {
        return Err(ConnectorError::InvalidArgument(format!(
            "principal {} is not a user; Cognito groups hold users only",
            model::shown(&format!("{}:{}", user.resource_type, user.resource))
        )));
    }
    Ok((entitlement, group.resource.as_str(), user.resource.as_str()))
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

/// Adds the principal to the entitlement's group; returns the grant and whether it already
/// existed.
pub async fn grant(
    pool: &PoolClient,
    changes: &ChangeLocks,
    entitlement: Option<&Entitlement>,
    principal: Option<&Resource>,
) -> Result<(Grant, Change)> {
    let (entitlement, group, username) = membership(entitlement, principal)?;
    let grant = member_grant(entitlement, username);
    let _turn = changes.lock((group, username)).await;
    if is_member(pool, group, username).await? {
        return Ok((grant, Change::AlreadySo));
    }
    match pool.add_user_to_group(username, group).await {
        Ok(()) => {
            tracing::info!(group, username, "added user to group");
            Ok((grant, Change::Made))
        }
        Err(CognitoError::NotFound { .. }) => Err(groups::group_not_found(pool, group).await),
        Err(CognitoError::UserNotFound { .. }) => Err(users::user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

/// Removes the grant's principal from the grant's group.
pub async fn revoke(pool: &PoolClient, changes: &ChangeLocks, grant: &Grant) -> Result<Change> {
    let (_, group, username) = membership(grant.entitlement.as_ref(), grant.principal.as_ref())?;
    let _turn = changes.lock((group, username)).await;
    if !is_member(pool, group, username).await? {
        // Not a member: either already revoked or the group is gone; say which.
        return match pool.get_group(group).await {
            Ok(_) => Ok(Change::AlreadySo),
            Err(CognitoError::NotFound { .. }) => Err(groups::group_not_found(pool, group).await),
            Err(err) => Err(err.into()),
        };
    }
    match pool.remove_user_from_group(username, group).await {
        Ok(()) => {
            tracing::info!(group, username, "removed user from group");
            Ok(Change::Made)
        }
        Err(CognitoError::NotFound { .. }) => Err(groups::group_not_found(pool, group).await),
        Err(CognitoError::UserNotFound { .. }) => Err(users::user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

/// One page of a user's group memberships as grants, from the user's side (AdminListGroupsForUser):
/// the cheaper way to read memberships of a pool with more groups than users.
pub async fn of_user(
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
        let entitlement = member_entitlement(&groups::resource(group));
        Some(member_grant(&entitlement, username))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::records::CognitoGroup;

    #[test]
    fn only_user_memberships_of_groups_are_provisioned() {
        let group = groups::resource(&CognitoGroup {
            name: "a:b".into(),
            ..CognitoGroup::default()
        });
        let entitlement = member_entitlement(&group);
        let user = |type_id: &str| model::resource_ref(type_id, "ann");
        let ann = user("user");
        let (_, group, username) = membership(Some(&entitlement), Some(&ann)).unwrap();
        assert_eq!((group, username), ("a:b", "ann"));
        assert!(membership(Some(&entitlement), Some(&user("group"))).is_err());
        assert!(membership(None, Some(&user("user"))).is_err());
        assert!(membership(Some(&entitlement), None).is_err());
        let mut other = entitlement.clone();
        other.id = "group:a:b:owner".into();
        assert!(membership(Some(&other), Some(&user("user"))).is_err());
        let mut not_group = entitlement;
        not_group.resource = Some(user("user"));
        assert!(membership(Some(&not_group), Some(&user("user"))).is_err());
    }

    #[test]
    fn ids_follow_baton_conventions_and_keep_odd_names_whole() {
        let group = groups::resource(&CognitoGroup {
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

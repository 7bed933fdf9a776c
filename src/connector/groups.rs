//! Cognito groups as Baton `group` resources, each with one `member` entitlement.
//!
//! The resource id is the `GroupName`, Cognito's immutable group key. Ids are never split back
//! apart: a group name may contain `:`, so the group is always recovered from
//! `ResourceId.resource`. Memberships are listed per group with ListUsersInGroup.

use super::model::{self, MAX_NAME_BYTES, Profile};
use super::paging::{Cursor, PageResult, fit_page};
use super::{ConnectorError, Result, users};
use crate::cognito::filter::UserFilter;
use crate::cognito::records::CognitoGroup;
use crate::cognito::{CognitoError, PoolClient};
use crate::pb::pack;
use crate::pb::v2::entitlement::PurposeValue;
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::{Entitlement, Grant, GroupTrait, Resource, ResourceType};

pub const TYPE_ID: &str = "group";

/// The slug of the one entitlement every group has.
pub const MEMBER: &str = "member";

/// IAM actions reading groups and their members needs.
pub const SYNC_PERMISSIONS: &[&str] = &[
    "cognito-idp:ListGroups",
    "cognito-idp:GetGroup",
    "cognito-idp:ListUsersInGroup",
];

pub fn resource_type() -> ResourceType {
    ResourceType {
        id: TYPE_ID.to_string(),
        display_name: "Group".to_string(),
        traits: vec![Trait::Group as i32],
        annotations: vec![model::permissions_annotation(SYNC_PERMISSIONS)],
        description: "A group of the Cognito user pool".to_string(),
        sourced_externally: false,
    }
}

pub async fn list(pool: &PoolClient, cursor: &Cursor) -> Result<PageResult<Resource>> {
    let page = pool
        .list_groups(cursor.cognito_token.as_deref(), cursor.limit())
        .await?;
    Ok(fit_page(page, cursor, |group| Some(resource(group))))
}

pub async fn get(pool: &PoolClient, name: &str) -> Result<Resource> {
    match pool.get_group(name).await {
        Ok(group) => Ok(resource(&group)),
        Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, name)),
        Err(err) => Err(err.into()),
    }
}

fn group_not_found(pool: &PoolClient, name: &str) -> ConnectorError {
    ConnectorError::NotFound(format!(
        "group {name:?} does not exist in user pool {}",
        pool.pool_id()
    ))
}

pub fn resource(group: &CognitoGroup) -> Resource {
    let mut profile = Profile::default();
    profile
        .text("group_name", &group.name)
        .text_opt("description", group.description.as_deref())
        .text_opt("role_arn", group.role_arn.as_deref())
        .date("cognito:creation_date", group.created.as_ref())
        .date("cognito:last_modified_date", group.last_modified.as_ref());
    if let Some(precedence) = group.precedence {
        profile.number("precedence", f64::from(precedence));
    }
    Resource {
        id: Some(model::resource_id(TYPE_ID, &group.name)),
        display_name: model::truncate(&group.name, MAX_NAME_BYTES),
        description: model::truncate(group.description.as_deref().unwrap_or_default(), 2048),
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
        principal: Some(Resource {
            id: Some(model::resource_id(users::TYPE_ID, username)),
            ..Resource::default()
        }),
        ..Grant::default()
    }
}

/// One page of the group's members as grants. With a user filter, members outside it are left
/// out, so no grant names a user the listing did not return.
pub async fn grants(
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
        Err(CognitoError::NotFound { .. }) => return Err(group_not_found(pool, name)),
        Err(err) => return Err(err.into()),
    };
    let entitlement = member_entitlement(group);
    Ok(fit_page(page, cursor, |user| {
        filter
            .is_none_or(|f| f.matches(user))
            .then(|| member_grant(&entitlement, &user.username))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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

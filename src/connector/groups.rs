//! Cognito groups as Baton `group` resources, each with one `member` entitlement.
//!
//! The resource id is the `GroupName`, Cognito's immutable group key. Ids are never split back
//! apart: a group name may contain `:`, so the group is always recovered from
//! `ResourceId.resource`. Its `member` entitlement and the grants of it are in `memberships.rs`.

use super::model::{self, MAX_NAME_BYTES, Profile};
use super::paging::{Cursor, PageResult, fit_page};
use super::profile_keys as keys;
use super::{ConnectorError, Result};
use crate::cognito::records::CognitoGroup;
use crate::cognito::{CognitoError, PoolClient};
use crate::pb::pack;
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::{GroupTrait, Resource, ResourceType};

pub const TYPE_ID: &str = "group";

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

pub async fn list(pool: &PoolClient, cursor: &Cursor) -> Result<PageResult<Resource>> {
    let page = pool
        .list_groups(cursor.cognito_token.as_deref(), cursor.limit())
        .await?;
    Ok(fit_page(page, cursor, |group| Some(resource(group))))
}

pub async fn get(pool: &PoolClient, name: &str) -> Result<Resource> {
    match pool.get_group(name).await {
        Ok(group) => Ok(resource(&group)),
        Err(CognitoError::NotFound { .. }) => Err(group_not_found(pool, name).await),
        Err(err) => Err(err.into()),
    }
}

/// Cognito answers ResourceNotFound both for a missing group and for a missing pool; they mean
/// very different things (a group deleted mid-sync is a warning, a vanished pool must fail the
/// sync), so one DescribeUserPool call tells them apart.
pub(super) async fn group_not_found(pool: &PoolClient, name: &str) -> ConnectorError {
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

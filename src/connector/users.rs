//! Cognito users as Baton `user` resources.
//!
//! The resource id is the Cognito `Username`: every Admin* call accepts it, federated users
//! included. Users carry no entitlements or grants of their own; memberships are granted by
//! groups. A full listing uses ListUsers only: AdminGetUser would make every listed user a
//! billable monthly active user.

use async_trait::async_trait;

use super::error::{ConnectorError, Result};
use super::model::{self, MAX_NAME_BYTES, Profile};
use super::paging::{Cursor, PageResult, fit_page};
use super::profile_keys as keys;
use super::resource_type::{Change, Page, Partition, ResourceSyncer, Scope};
use super::user_activity::Activity;
use crate::cognito::filter::{FilterOp, UserFilter};
use crate::cognito::records::{CognitoUser, Page as CognitoPage};
use crate::cognito::{CognitoError, Operation, PoolClient};
use crate::pb::pack;
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::status::ResourceStatus;
use crate::pb::v2::user_trait::{self, AccountType, Email, MfaStatus, SsoStatus, StructuredName};
use crate::pb::v2::{
    Capability, Entitlement, Grant, Resource, ResourceType, SkipEntitlementsAndGrants, Status,
    UserTrait,
};

pub const TYPE_ID: &str = "user";

/// IAM actions reading users needs.
pub const SYNC_PERMISSIONS: &[&str] = &[
    "cognito-idp:ListUsers",
    "cognito-idp:AdminGetUser",
    // A full sync of a pool with fewer users than groups reads memberships per user.
    "cognito-idp:AdminListGroupsForUser",
    // Last login and MFA status, in pools with threat protection (Plus feature plan).
    "cognito-idp:AdminListUserAuthEvents",
];

/// IAM actions creating, deleting, enabling and disabling users needs.
pub const PROVISION_PERMISSIONS: &[&str] = &[
    "cognito-idp:DescribeUserPool",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminUserGlobalSignOut",
];

pub fn resource_type() -> ResourceType {
    ResourceType {
        id: TYPE_ID.to_string(),
        display_name: "User".to_string(),
        traits: vec![Trait::User as i32],
        annotations: vec![
            pack(&SkipEntitlementsAndGrants {}),
            model::permissions_annotation(&[SYNC_PERMISSIONS, PROVISION_PERMISSIONS].concat()),
        ],
        description: "A user of the Cognito user pool".to_string(),
        sourced_externally: false,
    }
}

/// The `user` resource type: listed with ListUsers, deleted with AdminDeleteUser.
pub struct Users;

#[async_trait]
impl ResourceSyncer for Users {
    fn resource_type(&self) -> ResourceType {
        resource_type()
    }

    /// Users are created (`accounts.rs`) and deleted.
    fn provisioning(&self) -> Vec<Capability> {
        vec![Capability::AccountProvisioning, Capability::ResourceDelete]
    }

    async fn list(&self, scope: &Scope<'_>, part: &Partition, cursor: &Cursor) -> Page<Resource> {
        let page = scope
            .pool
            .list_users(
                part.user_filter.as_ref(),
                cursor.cognito_token.as_deref(),
                cursor.limit(),
            )
            .await?;
        // Users an earlier answer already carried (the cursor skips them) are not read again.
        let fresh = page.items.get(cursor.skip as usize..).unwrap_or_default();
        let mut activity = vec![Activity::default(); page.items.len() - fresh.len()];
        activity.extend(scope.activity.of_users(scope.pool, fresh).await?);
        let page = CognitoPage {
            items: page.items.into_iter().zip(activity).collect(),
            next_token: page.next_token,
        };
        Ok(fit_page(page, cursor, |(user, activity)| {
            Some(resource_with(user, activity))
        }))
    }

    /// One user with their activity (last login, MFA), as a listing reads them.
    async fn get(&self, scope: &Scope<'_>, username: &str) -> Result<Resource> {
        let user = find(scope.pool, username).await?;
        let activity = scope
            .activity
            .of_users(scope.pool, std::slice::from_ref(&user))
            .await?
            .pop()
            .unwrap_or_else(|| Activity::of_record(&user));
        Ok(resource_with(&user, &activity))
    }

    /// Users carry no entitlements of their own: memberships are the groups'.
    fn entitlements(&self, _user: &Resource) -> Vec<Entitlement> {
        Vec::new()
    }

    async fn grants(&self, _scope: &Scope<'_>, _user: &Resource, _at: &Cursor) -> Page<Grant> {
        Ok(PageResult::last(Vec::new()))
    }

    fn membership_operation(&self) -> Operation {
        Operation::AdminListGroupsForUser
    }

    /// Deletes a user for good. A user that is already gone is reported as such, not as an
    /// error, so that a retried delete succeeds.
    async fn delete(&self, scope: &Scope<'_>, username: &str) -> Result<Change> {
        match scope.pool.delete_user(username).await {
            Ok(()) => {
                tracing::info!(username, "deleted user");
                Ok(Change::Made)
            }
            Err(CognitoError::UserNotFound { .. }) => Ok(Change::AlreadySo),
            Err(err) => Err(err.into()),
        }
    }
}

/// One user as its record describes it, read as cheaply as a listing reads it: ListUsers with
/// an exact `username` filter, so the read does not make the user a billable monthly active user
/// (AdminGetUser would). Its MFA settings are then unknown, as in a listing. A username that a
/// ListUsers filter cannot hold (a double quote or a backslash in it) is read with AdminGetUser:
/// nothing else finds it. A targeted read (GetResource, `Users::get`) adds the user's activity.
pub async fn get(pool: &PoolClient, username: &str) -> Result<Resource> {
    Ok(resource(&find(pool, username).await?))
}

/// The record of one user, read as [`get`] says.
async fn find(pool: &PoolClient, username: &str) -> Result<CognitoUser> {
    let Ok(filter) = UserFilter::new("username", FilterOp::Equals, username) else {
        return find_consistently(pool, username).await;
    };
    pool.find_user(&filter, username)
        .await?
        .ok_or_else(|| user_not_found(pool, username))
}

/// One user read with AdminGetUser: consistent where ListUsers is only eventually so, and with
/// its MFA settings, but the user counts as a monthly active user. Only for a user this
/// connector has just created (reading it back) or one no filter can find.
pub async fn get_consistently(pool: &PoolClient, username: &str) -> Result<Resource> {
    Ok(resource(&find_consistently(pool, username).await?))
}

async fn find_consistently(pool: &PoolClient, username: &str) -> Result<CognitoUser> {
    match pool.get_user(username).await {
        Ok(user) => Ok(user),
        Err(CognitoError::UserNotFound { .. }) => Err(user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

pub fn user_not_found(pool: &PoolClient, username: &str) -> ConnectorError {
    ConnectorError::NotFound(format!(
        "user {username:?} does not exist in user pool {}",
        pool.pool_id()
    ))
}

/// Signs a user out of every session (the `sign_out_user` action); doing so twice is harmless.
pub async fn sign_out(pool: &PoolClient, username: &str) -> Result<()> {
    match pool.sign_out_everywhere(username).await {
        Ok(()) => {
            tracing::info!(username, "signed the user out everywhere");
            Ok(())
        }
        Err(CognitoError::UserNotFound { .. }) => Err(user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

/// Enables or disables a user; doing so twice is harmless.
pub async fn set_enabled(pool: &PoolClient, username: &str, enabled: bool) -> Result<()> {
    match pool.set_user_enabled(username, enabled).await {
        Ok(()) => {
            tracing::info!(username, enabled, "changed whether the user may sign in");
            Ok(())
        }
        Err(CognitoError::UserNotFound { .. }) => Err(user_not_found(pool, username)),
        Err(err) => Err(err.into()),
    }
}

/// The name people know the user by: full name, given + family name, preferred username,
/// email, and the username when nothing else is set.
pub fn display_name(user: &CognitoUser) -> String {
    let non_empty = |name: &str| {
        user.attribute(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let full = non_empty("name").map(str::to_string).or_else(|| {
        match (non_empty("given_name"), non_empty("family_name")) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
            (None, None) => None,
        }
    });
    let name = full
        .or_else(|| non_empty("preferred_username").map(str::to_string))
        .or_else(|| non_empty("email").map(str::to_string))
        .unwrap_or_else(|| user.username.clone());
    crate::text::truncate(&name, MAX_NAME_BYTES)
}

/// A user as its record alone describes it (no sign-in history read).
pub fn resource(user: &CognitoUser) -> Resource {
    resource_with(user, &Activity::of_record(user))
}

/// A user with what its activity adds: the trait's last login and MFA status, and the last
/// login in the profile.
pub fn resource_with(user: &CognitoUser, activity: &Activity) -> Resource {
    let status = if user.enabled {
        ResourceStatus::Enabled
    } else {
        ResourceStatus::Disabled
    };
    Resource {
        id: Some(model::resource_id(TYPE_ID, &user.username)),
        display_name: display_name(user),
        annotations: vec![pack(&user_trait(user, activity))],
        profile: Some(profile(user, activity)),
        status: Some(Status {
            status: status as i32,
            details: user.status.clone(),
        }),
        created_at: user.created.as_ref().map(model::timestamp),
        ..Resource::default()
    }
}

fn user_trait(user: &CognitoUser, activity: &Activity) -> UserTrait {
    let attr = |name: &str| user.attribute(name).filter(|v| !v.is_empty());
    let email = attr("email");
    let mut login_aliases: Vec<String> = Vec::new();
    for alias in [attr("preferred_username"), email].into_iter().flatten() {
        if alias != user.username && !login_aliases.iter().any(|a| a == alias) {
            login_aliases.push(alias.to_string());
        }
    }
    let structured_name =
        (attr("given_name").is_some() || attr("family_name").is_some()).then(|| StructuredName {
            given_name: attr("given_name").unwrap_or_default().to_string(),
            family_name: attr("family_name").unwrap_or_default().to_string(),
            middle_names: attr("middle_name")
                .map(|m| vec![m.to_string()])
                .unwrap_or_default(),
            ..StructuredName::default()
        });
    // The trait's own status is deprecated but still read; it must agree with Resource.status.
    let trait_status = if user.enabled {
        user_trait::status::Status::Enabled
    } else {
        user_trait::status::Status::Disabled
    };
    #[allow(deprecated)]
    UserTrait {
        emails: email
            .map(|address| Email {
                address: address.to_string(),
                is_primary: true,
            })
            .into_iter()
            .collect(),
        status: Some(user_trait::Status {
            status: trait_status as i32,
            details: user.status.clone(),
        }),
        account_type: AccountType::Human as i32,
        login: user.username.clone(),
        login_aliases,
        last_login: activity.last_login.as_ref().map(model::timestamp),
        mfa_status: activity
            .mfa_enabled
            .map(|mfa_enabled| MfaStatus { mfa_enabled }),
        sso_status: (user.status == "EXTERNAL_PROVIDER").then_some(SsoStatus { sso_enabled: true }),
        structured_name,
        ..UserTrait::default()
    }
}

/// Every attribute under its Cognito name (`email`, `sub`, `custom:*`, ...), plus the record's
/// own fields under `cognito:` keys, which no attribute can have.
fn profile(user: &CognitoUser, activity: &Activity) -> prost_types::Struct {
    let mut profile = Profile::default();
    for (name, value) in &user.attributes {
        profile.text(name, value);
    }
    profile
        .text(keys::USERNAME, &user.username)
        .text(keys::USER_STATUS, &user.status)
        .flag(keys::ENABLED, user.enabled)
        .date(keys::USER_CREATE_DATE, user.created.as_ref())
        .date(keys::USER_LAST_MODIFIED_DATE, user.last_modified.as_ref())
        .date(keys::LAST_LOGIN, activity.last_login.as_ref())
        .text_opt(keys::PREFERRED_MFA_SETTING, user.preferred_mfa.as_deref());
    if !user.mfa_options.is_empty() {
        profile.list(keys::MFA_OPTIONS, &user.mfa_options);
    }
    if let Some(settings) = &user.mfa_settings {
        profile.list(keys::USER_MFA_SETTING_LIST, settings);
    }
    profile.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::{Message, Name};

    fn user(attributes: &[(&str, &str)]) -> CognitoUser {
        CognitoUser {
            username: "u-1".into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            enabled: true,
            status: "CONFIRMED".into(),
            ..CognitoUser::default()
        }
    }

    fn trait_of(resource: &Resource) -> UserTrait {
        let any = &resource.annotations[0];
        assert_eq!(
            any.type_url,
            format!("type.googleapis.com/{}", UserTrait::full_name())
        );
        UserTrait::decode(any.value.as_slice()).unwrap()
    }

    #[test]
    fn display_name_prefers_real_names() {
        assert_eq!(
            display_name(&user(&[("name", "Ann Lee"), ("email", "a@x")])),
            "Ann Lee"
        );
        assert_eq!(
            display_name(&user(&[("given_name", "Ann"), ("family_name", "Lee")])),
            "Ann Lee"
        );
        assert_eq!(
            display_name(&user(&[("preferred_username", "annie"), ("email", "a@x")])),
            "annie"
        );
        assert_eq!(display_name(&user(&[("email", "a@x")])), "a@x");
        assert_eq!(display_name(&user(&[("name", "  ")])), "u-1");
    }

    #[test]
    fn disabled_users_are_disabled_everywhere() {
        let mut u = user(&[("email", "a@x"), ("preferred_username", "annie")]);
        u.enabled = false;
        u.status = "RESET_REQUIRED".into();
        let r = resource(&u);
        let status = r.status.clone().unwrap();
        assert_eq!(status.status, ResourceStatus::Disabled as i32);
        assert_eq!(status.details, "RESET_REQUIRED");
        let t = trait_of(&r);
        #[allow(deprecated)]
        let trait_status = t.status.unwrap();
        assert_eq!(
            trait_status.status,
            user_trait::status::Status::Disabled as i32
        );
        assert_eq!(t.login, "u-1");
        assert_eq!(t.login_aliases, vec!["annie", "a@x"]);
        assert_eq!(t.emails[0].address, "a@x");
        assert!(t.emails[0].is_primary);
        assert_eq!(t.mfa_status, None, "unknown from a listing");
    }

    /// A stored user belongs to a listing's partition exactly when Cognito's filter took the
    /// record: what a restarted listing that no longer finds a user removes rests on it.
    #[test]
    fn a_stored_user_is_in_the_partitions_whose_filter_took_its_record() {
        use crate::connector::resource_type::Partition;
        let mut disabled = user(&[("sub", "a1b2"), ("email", "ann@x.org")]);
        disabled.enabled = false;
        disabled.status = "RESET_REQUIRED".into();
        let users = [
            user(&[("sub", "a1b2"), ("email", "ann@x.org")]),
            user(&[("sub", "9f00")]),
            disabled,
        ];
        let filters = [
            r#"sub ^= "a""#,
            r#"sub ^= "9""#,
            r#"username = "u-1""#,
            r#"username ^= "v""#,
            r#"email ^= "ann""#,
            r#"status = "Enabled""#,
            r#"status = "Disabled""#,
            r#"cognito:user_status = "CONFIRMED""#,
            r#"cognito:user_status = "RESET_REQUIRED""#,
        ];
        for filter in filters {
            let partition = Partition {
                user_filter: Some(filter.parse().unwrap()),
            };
            let filter = partition.user_filter.as_ref().unwrap();
            for u in &users {
                let stored = resource(u);
                assert_eq!(
                    partition.holds(&stored),
                    filter.matches(u),
                    "{filter} {u:?}"
                );
            }
        }
        let everyone = Partition { user_filter: None };
        assert!(users.iter().all(|u| everyone.holds(&resource(u))));
        assert!(
            Partition {
                user_filter: Some(filters[0].parse().unwrap())
            }
            .holds(&resource(&users[0]))
        );
    }

    #[test]
    fn profile_keeps_every_attribute_and_the_record_fields() {
        let r = resource(&user(&[("sub", "abc"), ("custom:dept", "ops")]));
        let fields = r.profile.unwrap().fields;
        for key in [
            "sub",
            "custom:dept",
            "cognito:username",
            "cognito:user_status",
            "cognito:enabled",
        ] {
            assert!(fields.contains_key(key), "missing {key}");
        }
    }

    #[test]
    fn users_without_email_have_no_email() {
        let t = trait_of(&resource(&user(&[])));
        assert!(t.emails.is_empty());
        assert!(t.login_aliases.is_empty());
    }
}

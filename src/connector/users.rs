//! Cognito users as Baton `user` resources.
//!
//! The resource id is the Cognito `Username`: every Admin* call accepts it, federated users
//! included. Users carry no entitlements or grants of their own; memberships are granted by
//! groups. A full listing uses ListUsers only: AdminGetUser would make every listed user a
//! billable monthly active user.

use std::time::Duration;

use super::model::{self, MAX_NAME_BYTES, Profile};
use super::paging::{Cursor, PageResult, fit_page};
use super::profile_keys as keys;
use super::{Change, ConnectorError, Result, UserSlicing};
use crate::cognito::filter::{FilterOp, UserFilter};
use crate::cognito::records::CognitoUser;
use crate::cognito::{CognitoError, MAX_PAGE_SIZE, PoolClient};
use crate::pb::pack;
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::status::ResourceStatus;
use crate::pb::v2::user_trait::{self, AccountType, Email, MfaStatus, SsoStatus, StructuredName};
use crate::pb::v2::{Resource, ResourceType, SkipEntitlementsAndGrants, Status, UserTrait};

pub const TYPE_ID: &str = "user";

/// IAM actions reading users needs.
pub const SYNC_PERMISSIONS: &[&str] = &[
    "cognito-idp:ListUsers",
    "cognito-idp:AdminGetUser",
    // A full sync of a pool with fewer users than groups reads memberships per user.
    "cognito-idp:AdminListGroupsForUser",
];

/// IAM actions creating, deleting, enabling and disabling users needs.
pub const PROVISION_PERMISSIONS: &[&str] = &[
    "cognito-idp:DescribeUserPool",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminDisableUser",
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

/// Pools from this size on are listed in 16 `sub` slices: each slice may end in one partial
/// page, and 15 extra calls are under 1% of the `ceil(users / 60)` a full listing needs.
pub const SLICE_FROM_USERS: u64 = 90_000;

/// A smaller pool begun as one chain of pages is re-listed in slices only when its first pages
/// show that the chain is latency-bound (each page waits for the last, slower than the UserList
/// budget allows) and would still take at least this long. Below that, the few seconds slicing
/// could save are not worth its extra calls.
pub const LATENCY_BOUND_FROM: Duration = Duration::from_secs(5);

/// Re-listing in slices must save at least this share of the chain's remaining time: a chain
/// measured only a little slower than the budget keeps its calls.
const SLICING_SAVES_AT_LEAST: f64 = 0.2;

/// What Validate saw of the pool, to plan a full listing of its users.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolObservation {
    /// DescribeUserPool's estimate: 0 or stale at times, so only ever a plan, never a fact.
    pub estimated_users: u64,
    /// ListUsers calls per second the budget allows (infinite when unpaced).
    pub user_list_rate: f64,
}

/// The ListUsers filters that together list every user once at the start of a full listing: the
/// operator's filter alone, or, for a pool large enough that the slices' partial last pages are
/// under 1% of its calls, the 16 `sub ^= "<hex digit>"` slices (a `sub` is a UUID). Cognito
/// takes one filter per request, so an operator's filter is never sliced. A smaller pool starts
/// as one chain, and [`slicing_pays`] decides from its measured pages.
pub fn slices(
    filter: Option<UserFilter>,
    slicing: UserSlicing,
    pool: &PoolObservation,
) -> Vec<Option<UserFilter>> {
    let slice = match (slicing, &filter) {
        (_, Some(_)) | (UserSlicing::Never, None) => false,
        (UserSlicing::Always, None) => true,
        (UserSlicing::Auto, None) => pool.estimated_users >= SLICE_FROM_USERS,
    };
    if !slice {
        return vec![filter];
    }
    sub_slices()
}

/// The 16 `sub ^= "<hex digit>"` filters.
pub fn sub_slices() -> Vec<Option<UserFilter>> {
    "0123456789abcdef"
        .chars()
        .filter_map(|digit| UserFilter::new("sub", FilterOp::StartsWith, &digit.to_string()).ok())
        .map(Some)
        .collect()
}

/// What the first pages of an unsliced user listing measured.
#[derive(Clone, Copy, Debug)]
pub struct ChainPace {
    /// Pages listed so far, and the users they held.
    pub pages: u64,
    pub users: u64,
    /// The time their calls took, waits for the rate left out: a chain that mostly waits for
    /// the rate (other listings take it) is rate-bound, and slices would only wait too.
    pub calling: Duration,
}

impl ChainPace {
    /// How long one page takes here, queueing for the rate left out.
    pub fn page_latency(&self) -> Duration {
        self.calling / u32::try_from(self.pages.max(1)).unwrap_or(u32::MAX)
    }
}

/// Whether a user listing begun as one chain finishes sooner re-listed from the start in 16
/// slices. The chain's own pages tell how long a page takes here (one DescribeUserPool round
/// trip, connection set-up and all, does not); the pool's size comes from the estimate or what
/// the chain has already seen, whichever is more, and an unknown size never pays. Slices re-list
/// every page and may each end in a partial one, and the budget bounds them all together.
pub fn slicing_pays(pool: &PoolObservation, pace: &ChainPace) -> bool {
    if pace.pages == 0 {
        return false;
    }
    let latency = pace.page_latency().as_secs_f64();
    let total_pages = pool
        .estimated_users
        .max(pace.users)
        .div_ceil(u64::from(MAX_PAGE_SIZE));
    // One chain takes a page's latency or the budget's interval, whichever is longer.
    let page = latency.max(1.0 / pool.user_list_rate);
    let remaining = total_pages.saturating_sub(pace.pages) as f64 * page;
    let sliced_pages = (total_pages + 16) as f64;
    let sliced =
        (sliced_pages / pool.user_list_rate).max((total_pages.div_ceil(16) + 1) as f64 * latency);
    remaining >= LATENCY_BOUND_FROM.as_secs_f64()
        && sliced <= remaining * (1.0 - SLICING_SAVES_AT_LEAST)
}

/// One page of users, filtered by the operator's `--user-filter` if any.
pub async fn list(
    pool: &PoolClient,
    filter: Option<&UserFilter>,
    cursor: &Cursor,
) -> Result<PageResult<Resource>> {
    let page = pool
        .list_users(filter, cursor.cognito_token.as_deref(), cursor.limit())
        .await?;
    Ok(fit_page(page, cursor, |user| Some(resource(user))))
}

/// One user, read consistently with AdminGetUser (targeted reads only).
pub async fn get(pool: &PoolClient, username: &str) -> Result<Resource> {
    match pool.get_user(username).await {
        Ok(user) => Ok(resource(&user)),
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

/// Deletes a user for good. A user that is already gone is reported as such, not as an error,
/// so that a retried delete succeeds.
pub async fn delete(pool: &PoolClient, username: &str) -> Result<Change> {
    match pool.delete_user(username).await {
        Ok(()) => {
            tracing::info!(username, "deleted user");
            Ok(Change::Made)
        }
        Err(CognitoError::UserNotFound { .. }) => Ok(Change::AlreadySo),
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

pub fn resource(user: &CognitoUser) -> Resource {
    let status = if user.enabled {
        ResourceStatus::Enabled
    } else {
        ResourceStatus::Disabled
    };
    Resource {
        id: Some(model::resource_id(TYPE_ID, &user.username)),
        display_name: display_name(user),
        annotations: vec![pack(&user_trait(user))],
        profile: Some(profile(user)),
        status: Some(Status {
            status: status as i32,
            details: user.status.clone(),
        }),
        created_at: user.created.as_ref().map(model::timestamp),
        ..Resource::default()
    }
}

fn user_trait(user: &CognitoUser) -> UserTrait {
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
        mfa_status: user
            .mfa_enabled()
            .map(|mfa_enabled| MfaStatus { mfa_enabled }),
        sso_status: (user.status == "EXTERNAL_PROVIDER").then_some(SsoStatus { sso_enabled: true }),
        structured_name,
        ..UserTrait::default()
    }
}

/// Every attribute under its Cognito name (`email`, `sub`, `custom:*`, ...), plus the record's
/// own fields under `cognito:` keys, which no attribute can have.
fn profile(user: &CognitoUser) -> prost_types::Struct {
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
    fn large_pools_are_sliced_by_sub_from_the_start_unless_filtered() {
        let one = |f: Option<UserFilter>| vec![f];
        let pool = |estimated_users| PoolObservation {
            estimated_users,
            user_list_rate: 30.0,
        };
        assert_eq!(slices(None, UserSlicing::Auto, &pool(1_000)), one(None));
        // #17: a noisy DescribeUserPool round trip no longer slices a pool this size up front.
        assert_eq!(slices(None, UserSlicing::Auto, &pool(10_000)), one(None));
        let sliced = slices(None, UserSlicing::Auto, &pool(SLICE_FROM_USERS));
        assert_eq!(sliced.len(), 16);
        assert_eq!(sliced[10].as_ref().unwrap().to_string(), r#"sub ^= "a""#);
        assert_eq!(slices(None, UserSlicing::Always, &pool(1)).len(), 16);
        assert_eq!(
            slices(None, UserSlicing::Never, &pool(10_000_000)),
            one(None)
        );
        let filter: UserFilter = r#"email ^= "a""#.parse().unwrap();
        assert_eq!(
            slices(Some(filter.clone()), UserSlicing::Always, &pool(10_000_000)),
            one(Some(filter))
        );
    }

    /// #17: one noisy round trip chose 16 slices for 2,000 users (45 calls instead of 34, and
    /// slower). Slicing now follows what the listing's own pages measured.
    #[test]
    fn a_chain_is_resliced_only_when_its_pages_show_slicing_shortens_the_sync() {
        let pool = |estimated_users, user_list_rate| PoolObservation {
            estimated_users,
            user_list_rate,
        };
        let pace = |pages, ms_per_page| ChainPace {
            pages,
            users: pages * 60,
            calling: Duration::from_millis(pages * ms_per_page),
        };
        // 10,000 users at 55 ms a page with 30 calls a second allowed: 165 more pages take 9 s
        // one after another, 6 s in slices at the budget. Sliced.
        assert!(slicing_pays(&pool(10_000, 30.0), &pace(2, 55)));
        // 2,000 users: 32 pages left take under 5 s whatever the latency here. Not sliced.
        assert!(!slicing_pays(&pool(2_000, 15.0), &pace(2, 100)));
        // The chain keeps up with the budget (15 a second, 60 ms a page): nothing to gain.
        assert!(!slicing_pays(&pool(10_000, 15.0), &pace(2, 60)));
        // Fast calls that queue for the rate (other listings take it): rate-bound, and slices
        // would only queue too.
        assert!(!slicing_pays(&pool(10_000, 30.0), &pace(4, 2)));
        // An estimate of 0 (or one below what was seen) is no size: never sliced on it.
        assert!(!slicing_pays(&pool(0, 30.0), &pace(3, 500)));
        // Slow pages on a mid-sized pool: 3,000 users at 300 ms, 15 a second. Sliced.
        assert!(slicing_pays(&pool(3_000, 15.0), &pace(2, 300)));
        // Unpaced and slow: the slices run 16 at a time.
        assert!(slicing_pays(&pool(10_000, f64::INFINITY), &pace(2, 50)));
        assert!(!slicing_pays(&pool(10_000, 30.0), &pace(0, 50)));
    }

    #[test]
    fn users_without_email_have_no_email() {
        let t = trait_of(&resource(&user(&[])));
        assert!(t.emails.is_empty());
        assert!(t.login_aliases.is_empty());
    }
}

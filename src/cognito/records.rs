//! Cognito's own records, as this crate keeps them: plain data, no SDK builders, no Baton.

use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthEventType, GroupType, MfaOptionType, PasswordPolicyType, UserType,
};
use aws_smithy_types::DateTime;

use crate::credentials::PasswordPolicy;

/// A user as ListUsers, ListUsersInGroup or AdminGetUser return it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CognitoUser {
    pub username: String,
    /// Every attribute in Cognito's order, including `sub` and `custom:*`.
    pub attributes: Vec<(String, String)>,
    pub enabled: bool,
    /// `UserStatus` as Cognito spells it (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
    pub status: String,
    pub created: Option<DateTime>,
    pub last_modified: Option<DateTime>,
    /// Deprecated SMS MFA options (`DeliveryMedium:AttributeName`), listed by every call.
    pub mfa_options: Vec<String>,
    /// MFA methods the user has set up; only AdminGetUser tells, so `None` means unknown.
    pub mfa_settings: Option<Vec<String>>,
    pub preferred_mfa: Option<String>,
}

impl CognitoUser {
    /// The value of one attribute, if present.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the user has any MFA method, when that is known.
    pub fn mfa_enabled(&self) -> Option<bool> {
        if !self.mfa_options.is_empty() {
            return Some(true);
        }
        self.mfa_settings
            .as_ref()
            .map(|settings| !settings.is_empty())
    }

    fn attributes_from(attributes: &[AttributeType]) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|a| {
                (
                    a.name().to_string(),
                    a.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

impl From<&UserType> for CognitoUser {
    fn from(user: &UserType) -> Self {
        Self {
            username: user.username().unwrap_or_default().to_string(),
            attributes: Self::attributes_from(user.attributes()),
            enabled: user.enabled(),
            status: user
                .user_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "UNKNOWN".to_string()),
            created: cognito_date(user.user_create_date()),
            last_modified: cognito_date(user.user_last_modified_date()),
            mfa_options: mfa_options(user.mfa_options()),
            mfa_settings: None,
            preferred_mfa: None,
        }
    }
}

impl From<aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput>
    for CognitoUser
{
    fn from(
        out: aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput,
    ) -> Self {
        Self {
            username: out.username().to_string(),
            attributes: Self::attributes_from(out.user_attributes()),
            enabled: out.enabled(),
            status: out
                .user_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "UNKNOWN".to_string()),
            created: cognito_date(out.user_create_date()),
            last_modified: cognito_date(out.user_last_modified_date()),
            mfa_options: mfa_options(out.mfa_options()),
            mfa_settings: Some(out.user_mfa_setting_list().to_vec()),
            preferred_mfa: out.preferred_mfa_setting().map(str::to_string),
        }
    }
}

/// The deprecated SMS MFA options as `DeliveryMedium:AttributeName`.
fn mfa_options(options: &[MfaOptionType]) -> Vec<String> {
    options
        .iter()
        .map(|o| {
            format!(
                "{}:{}",
                o.delivery_medium().map(|m| m.as_str()).unwrap_or("SMS"),
                o.attribute_name().unwrap_or_default()
            )
        })
        .collect()
}

/// The first and last second a date may have: the range of a protobuf `Timestamp` (years 1 to
/// 9999), which every date this connector writes ends up in.
const EARLIEST_SECOND: i64 = -62_135_596_800;
const LATEST_SECOND: i64 = 253_402_300_799;

/// A date as Cognito meant it. Cognito sends epoch seconds with a fraction, which arrive as the
/// nearest binary float (`.870` as `.8699999…`); rounded to the microsecond, the precision the
/// AWS CLI prints, every date written from it equals the CLI's instead of falling 1 µs early.
/// A date outside the years 1 to 9999 is no date Cognito keeps: it is read as unknown (with a
/// warning), never written as an invalid `Timestamp`.
fn cognito_date(at: Option<&DateTime>) -> Option<DateTime> {
    let at = at?;
    let micros = (at.as_nanos() + 500).div_euclid(1000);
    let rounded = DateTime::from_nanos(micros * 1000).unwrap_or(*at);
    if (EARLIEST_SECOND..=LATEST_SECOND).contains(&rounded.secs()) {
        Some(rounded)
    } else {
        tracing::warn!(
            epoch_seconds = at.secs(),
            "Cognito sent a date outside the years 1 to 9999; it is kept as unknown"
        );
        None
    }
}

/// A group as ListGroups or GetGroup return it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CognitoGroup {
    pub name: String,
    pub description: Option<String>,
    pub precedence: Option<i32>,
    pub role_arn: Option<String>,
    pub created: Option<DateTime>,
    pub last_modified: Option<DateTime>,
}

impl From<&GroupType> for CognitoGroup {
    fn from(group: &GroupType) -> Self {
        Self {
            name: group.group_name().unwrap_or_default().to_string(),
            description: group.description().map(str::to_string),
            precedence: group.precedence(),
            role_arn: group.role_arn().map(str::to_string),
            created: cognito_date(group.creation_date()),
            last_modified: cognito_date(group.last_modified_date()),
        }
    }
}

/// What DescribeUserPool says about a pool, as far as this connector needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolDescription {
    pub id: String,
    pub name: String,
    pub arn: Option<String>,
    pub estimated_users: u64,
    /// `UserPoolTier` (LITE, ESSENTIALS, PLUS), when Cognito reports it.
    pub tier: Option<String>,
    /// `UserPoolAddOns.AdvancedSecurityMode` (OFF, AUDIT, ENFORCED): threat protection, which
    /// records the sign-in events AdminListUserAuthEvents reads. Absent means OFF.
    pub threat_protection: Option<String>,
    /// `MfaConfiguration` (OFF, ON, OPTIONAL): whether users must, may or cannot use MFA.
    pub mfa_configuration: Option<String>,
    /// What a password must contain, when the pool says.
    pub password_policy: Option<PasswordPolicy>,
}

/// One event of a user's history as AdminListUserAuthEvents reports it: what happened, when,
/// how it ended, and the challenges the user answered on the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthEvent {
    /// `EventId`: unique in the pool.
    pub id: String,
    /// `EventType`: SignIn, SignUp, ForgotPassword, PasswordChange, ResendCode.
    pub kind: String,
    pub at: Option<DateTime>,
    /// `EventResponse`: Pass, Fail, InProgress.
    pub response: String,
    /// `ChallengeResponses` as (`ChallengeName`, `ChallengeResponse`): (Password | Mfa,
    /// Success | Failure).
    pub challenges: Vec<(String, String)>,
}

impl From<&AuthEventType> for AuthEvent {
    fn from(event: &AuthEventType) -> Self {
        Self {
            id: event.event_id().unwrap_or_default().to_string(),
            kind: event
                .event_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            at: cognito_date(event.creation_date()),
            response: event
                .event_response()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            challenges: event
                .challenge_responses()
                .iter()
                .map(|c| {
                    (
                        c.challenge_name()
                            .map(|n| n.as_str().to_string())
                            .unwrap_or_default(),
                        c.challenge_response()
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

/// One page of a Cognito listing. `next_token` absent means the listing is complete; a short
/// page with a token is not the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl<T> Page<T> {
    /// A page of an SDK answer: its records mapped, and its token unless that is empty (an empty
    /// token ends a listing as an absent one does).
    pub fn from_sdk<'a, R>(records: &'a [R], token: Option<&str>) -> Self
    where
        T: From<&'a R>,
    {
        Self {
            items: records.iter().map(T::from).collect(),
            next_token: token.filter(|t| !t.is_empty()).map(str::to_string),
        }
    }
}

/// The policy as the Cognito SDK reports it. A missing minimum length means Cognito's default (8);
/// a nonsensical negative one is read as no minimum.
pub fn password_policy(p: &PasswordPolicyType) -> PasswordPolicy {
    PasswordPolicy {
        min_length: p
            .minimum_length()
            .map_or(PasswordPolicy::default().min_length, |n| {
                u32::try_from(n).unwrap_or(0)
            }),
        require_uppercase: p.require_uppercase(),
        require_lowercase: p.require_lowercase(),
        require_numbers: p.require_numbers(),
        require_symbols: p.require_symbols(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the SDK conformance suite (and as #17 reports it): dates were cut, not rounded.
    #[test]
    fn dates_are_rounded_to_the_microsecond_as_the_aws_cli_prints_them() {
        let sent = |epoch: f64| DateTime::from_secs_f64(epoch);
        for (epoch, secs, nanos) in [
            (1_796_569_109.938, 1_796_569_109, 938_000_000),
            (1_700_000_036.87, 1_700_000_036, 870_000_000),
            (1_700_000_000.0, 1_700_000_000, 0),
            (1_700_000_000.999_999_9, 1_700_000_001, 0),
            (-1.5, -2, 500_000_000),
        ] {
            let user = CognitoUser::from(
                &UserType::builder()
                    .username("u")
                    .user_create_date(sent(epoch))
                    .build(),
            );
            let created = user.created.unwrap();
            assert_eq!(
                (created.secs(), created.subsec_nanos()),
                (secs, nanos),
                "{epoch}"
            );
        }
        assert_ne!(sent(1_796_569_109.938).subsec_nanos(), 938_000_000);
        let group =
            CognitoGroup::from(&GroupType::builder().creation_date(sent(0.1234567)).build());
        assert_eq!(group.created.unwrap().subsec_nanos(), 123_457_000);
    }

    /// #17: a creation date of 1e20 seconds was stored as an invalid protobuf Timestamp.
    #[test]
    fn dates_outside_the_years_1_to_9999_are_unknown_not_invalid() {
        for (epoch, kept) in [
            (1e20, false),
            (-1e20, false),
            (253_402_300_800.0, false),
            (-62_135_596_801.0, false),
            (253_402_300_799.0, true),
            (-62_135_596_800.0, true),
        ] {
            let user = CognitoUser::from(
                &UserType::builder()
                    .username("u")
                    .user_create_date(DateTime::from_secs_f64(epoch))
                    .user_last_modified_date(DateTime::from_secs(1))
                    .build(),
            );
            assert_eq!(user.created.is_some(), kept, "{epoch}");
            assert_eq!(user.last_modified, Some(DateTime::from_secs(1)));
        }
    }

    #[test]
    fn policy_from_the_cognito_sdk() {
        let p = PasswordPolicyType::builder()
            .minimum_length(12)
            .require_uppercase(true)
            .require_lowercase(false)
            .require_numbers(true)
            .require_symbols(false)
            .build();
        assert_eq!(
            password_policy(&p),
            PasswordPolicy {
                min_length: 12,
                require_uppercase: true,
                require_lowercase: false,
                require_numbers: true,
                require_symbols: false,
            }
        );
        let unset = PasswordPolicyType::builder().build();
        let policy = password_policy(&unset);
        assert_eq!(policy.min_length, 8);
        assert!(!policy.require_symbols);
    }
}

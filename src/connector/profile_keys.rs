//! The keys of the profiles this connector writes on users and groups, in one place: the
//! connector writes them, and export and the change feeds read them back from a `.c1z` to
//! rebuild Cognito's own records. A key renamed here is renamed for both.
//!
//! A user's profile also holds every Cognito attribute under its own name (`email`, `sub`,
//! `custom:*`); the connector's own keys start with [`RECORD_PREFIX`], which no attribute does.

/// What every key of the connector's own (not an attribute) starts with.
pub const RECORD_PREFIX: &str = "cognito:";

pub const USERNAME: &str = "cognito:username";
pub const USER_STATUS: &str = "cognito:user_status";
pub const ENABLED: &str = "cognito:enabled";
pub const USER_CREATE_DATE: &str = "cognito:user_create_date";
pub const USER_LAST_MODIFIED_DATE: &str = "cognito:user_last_modified_date";
pub const PREFERRED_MFA_SETTING: &str = "cognito:preferred_mfa_setting";
pub const MFA_OPTIONS: &str = "cognito:mfa_options";
pub const USER_MFA_SETTING_LIST: &str = "cognito:user_mfa_setting_list";
/// The user's most recent successful sign-in, where the pool records sign-ins.
pub const LAST_LOGIN: &str = "cognito:last_login";

pub const GROUP_NAME: &str = "group_name";
pub const DESCRIPTION: &str = "description";
pub const ROLE_ARN: &str = "role_arn";
pub const PRECEDENCE: &str = "precedence";
pub const CREATION_DATE: &str = "cognito:creation_date";
pub const LAST_MODIFIED_DATE: &str = "cognito:last_modified_date";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connectors_own_user_keys_are_told_from_attributes_by_their_prefix() {
        for key in [
            USERNAME,
            USER_STATUS,
            ENABLED,
            USER_CREATE_DATE,
            USER_LAST_MODIFIED_DATE,
            PREFERRED_MFA_SETTING,
            MFA_OPTIONS,
            USER_MFA_SETTING_LIST,
            LAST_LOGIN,
        ] {
            assert!(key.starts_with(RECORD_PREFIX), "{key}");
        }
    }
}

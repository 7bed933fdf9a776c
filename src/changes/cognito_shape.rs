//! Cognito's own record shapes, rebuilt from the Baton resources a sync stores: the user's
//! profile keeps every attribute and the record's fields under `cognito:` keys, the group's its
//! description, precedence, role and dates. Export and change events print these, so a log
//! pipeline sees what `aws cognito-idp list-users` would show it.

use prost_types::value::Kind;
use prost_types::{Struct, Value};
use serde::Serialize;

use crate::connector::profile_keys as keys;
use crate::pb::v2::Resource;

/// A user as ListUsers returns it (dates as ISO 8601, as the AWS CLI prints them).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserRecord {
    pub username: String,
    /// Sorted by name.
    pub attributes: Vec<Attribute>,
    pub enabled: bool,
    pub user_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_create_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_last_modified_date: Option<String>,
    #[serde(rename = "MFAOptions", skip_serializing_if = "Vec::is_empty")]
    pub mfa_options: Vec<MfaOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MfaOption {
    pub delivery_medium: String,
    pub attribute_name: String,
}

/// A group as ListGroups returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupRecord {
    pub group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precedence: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_date: Option<String>,
}

impl UserRecord {
    /// The record behind a stored user resource; `None` if it is not one this connector wrote.
    pub fn from_resource(resource: &Resource) -> Option<UserRecord> {
        let profile = resource.profile.as_ref()?;
        let username = text(profile, keys::USERNAME)?;
        let mut attributes: Vec<Attribute> = profile
            .fields
            .iter()
            .filter(|(name, _)| !name.starts_with(keys::RECORD_PREFIX))
            .filter_map(|(name, value)| match &value.kind {
                Some(Kind::StringValue(text)) => Some(Attribute {
                    name: name.clone(),
                    value: text.clone(),
                }),
                _ => None,
            })
            .collect();
        attributes.sort();
        let mfa_options = list(profile, keys::MFA_OPTIONS)
            .into_iter()
            .map(|option| {
                let (medium, attribute) = option.split_once(':').unwrap_or((option.as_str(), ""));
                MfaOption {
                    delivery_medium: medium.to_string(),
                    attribute_name: attribute.to_string(),
                }
            })
            .collect();
        Some(UserRecord {
            username,
            attributes,
            enabled: matches!(
                profile
                    .fields
                    .get(keys::ENABLED)
                    .and_then(|v| v.kind.as_ref()),
                Some(Kind::BoolValue(true))
            ),
            user_status: text(profile, keys::USER_STATUS).unwrap_or_default(),
            user_create_date: text(profile, keys::USER_CREATE_DATE),
            user_last_modified_date: text(profile, keys::USER_LAST_MODIFIED_DATE),
            mfa_options,
        })
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The names of what differs from `before`: attribute names (`email`, `custom:team`) and
    /// record fields (`UserStatus`, `MFAOptions`, `UserLastModifiedDate`). `Enabled` is left to
    /// the enabled and disabled changes.
    pub fn changed_fields(&self, before: &UserRecord) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let names: std::collections::BTreeSet<&str> = self
            .attributes
            .iter()
            .chain(&before.attributes)
            .map(|a| a.name.as_str())
            .collect();
        for name in names {
            if self.attribute(name) != before.attribute(name) {
                fields.push(name.to_string());
            }
        }
        let mut field = |name: &str, differs: bool| {
            if differs {
                fields.push(name.to_string());
            }
        };
        field("UserStatus", self.user_status != before.user_status);
        field("MFAOptions", self.mfa_options != before.mfa_options);
        field(
            "UserCreateDate",
            self.user_create_date != before.user_create_date,
        );
        field(
            "UserLastModifiedDate",
            self.user_last_modified_date != before.user_last_modified_date,
        );
        fields
    }
}

impl GroupRecord {
    pub fn from_resource(resource: &Resource) -> Option<GroupRecord> {
        let profile = resource.profile.as_ref()?;
        Some(GroupRecord {
            group_name: text(profile, keys::GROUP_NAME)?,
            description: text(profile, keys::DESCRIPTION),
            precedence: match profile
                .fields
                .get(keys::PRECEDENCE)
                .and_then(|v| v.kind.as_ref())
            {
                Some(Kind::NumberValue(n)) => Some(*n as i64),
                _ => None,
            },
            role_arn: text(profile, keys::ROLE_ARN),
            creation_date: text(profile, keys::CREATION_DATE),
            last_modified_date: text(profile, keys::LAST_MODIFIED_DATE),
        })
    }
}

fn text(profile: &Struct, key: &str) -> Option<String> {
    match profile.fields.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}

fn list(profile: &Struct, key: &str) -> Vec<String> {
    match profile.fields.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::ListValue(list)) => list
            .values
            .iter()
            .filter_map(|v: &Value| match &v.kind {
                Some(Kind::StringValue(text)) => Some(text.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::DateTime;

    use super::*;
    use crate::cognito::records::{CognitoGroup, CognitoUser};
    use crate::connector::{groups, users};

    /// The records are read from the profiles the connector writes: every field comes back, so
    /// a key renamed on one side fails here rather than emptying export and the feeds.
    #[test]
    fn records_read_back_every_field_the_connector_stores() {
        let user = CognitoUser {
            username: "ann".into(),
            attributes: vec![
                ("sub".into(), "0000".into()),
                ("email".into(), "ann@example.com".into()),
            ],
            enabled: false,
            status: "FORCE_CHANGE_PASSWORD".into(),
            created: Some(DateTime::from_secs(1_767_225_600)),
            last_modified: Some(DateTime::from_secs(1_767_312_000)),
            mfa_options: vec!["SMS:phone_number".into()],
            ..CognitoUser::default()
        };
        assert_eq!(
            UserRecord::from_resource(&users::resource(&user)),
            Some(UserRecord {
                username: "ann".into(),
                attributes: vec![
                    Attribute {
                        name: "email".into(),
                        value: "ann@example.com".into()
                    },
                    Attribute {
                        name: "sub".into(),
                        value: "0000".into()
                    },
                ],
                enabled: false,
                user_status: "FORCE_CHANGE_PASSWORD".into(),
                user_create_date: Some("2026-01-01T00:00:00Z".into()),
                user_last_modified_date: Some("2026-01-02T00:00:00Z".into()),
                mfa_options: vec![MfaOption {
                    delivery_medium: "SMS".into(),
                    attribute_name: "phone_number".into()
                }],
            })
        );

        let group = CognitoGroup {
            name: "admins".into(),
            description: Some("the admins".into()),
            precedence: Some(3),
            role_arn: Some("arn:aws:iam::123456789012:role/admins".into()),
            created: Some(DateTime::from_secs(1_767_225_600)),
            last_modified: Some(DateTime::from_secs(1_767_312_000)),
        };
        assert_eq!(
            GroupRecord::from_resource(&groups::resource(&group)),
            Some(GroupRecord {
                group_name: "admins".into(),
                description: Some("the admins".into()),
                precedence: Some(3),
                role_arn: Some("arn:aws:iam::123456789012:role/admins".into()),
                creation_date: Some("2026-01-01T00:00:00Z".into()),
                last_modified_date: Some("2026-01-02T00:00:00Z".into()),
            })
        );
    }
}

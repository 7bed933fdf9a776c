//! What the connector says about itself: metadata and capabilities, derived from what each
//! resource type really implements so the two cannot drift apart.

use std::collections::BTreeSet;

use super::accounts;
use super::kinds::ResourceKind;
use super::model;
use crate::pb::v2::{
    Capability, CapabilityDetailCredentialOption, CapabilityPermissions,
    ConnectorAccountCreationSchema, ConnectorCapabilities, ConnectorMetadata, CredentialDetails,
    CredentialDetailsAccountProvisioning, ResourceTypeCapability,
    connector_account_creation_schema,
};

pub const DISPLAY_NAME: &str = "AWS Cognito";
pub const HELP_URL: &str =
    "https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools.html";

/// The protocol version this connector implements, reported by Validate. The syncer turns on
/// `active_sync_id` for versions at or above 0.4.3.
pub const SDK_VERSION: &str = "v0.25.0";

pub fn capabilities() -> ConnectorCapabilities {
    let mut kinds: Vec<_> = ResourceKind::ALL.to_vec();
    kinds.sort_by_key(|k| k.syncer().type_id());
    let mut all = BTreeSet::new();
    let resource_type_capabilities = kinds
        .into_iter()
        .map(|kind| {
            let syncer = kind.syncer();
            let resource_type = syncer.resource_type();
            let capabilities: Vec<i32> = syncer.capabilities().iter().map(|c| *c as i32).collect();
            all.extend(capabilities.iter().copied());
            let permissions = resource_type
                .annotations
                .iter()
                .find_map(|any| any.to_msg::<CapabilityPermissions>().ok());
            ResourceTypeCapability {
                resource_type: Some(resource_type),
                capabilities,
                permissions,
                ..ResourceTypeCapability::default()
            }
        })
        .collect();
    // Global actions (enable_user, disable_user) are a connector-level capability, and so is
    // the event feed (EventService, one feed of the pool's changes).
    all.insert(Capability::Actions as i32);
    all.insert(Capability::EventFeedV2 as i32);
    // A platform sync task may name the resources to sync (a partial sync, `sync::targeted`).
    all.insert(Capability::ServiceModeTargetedSync as i32);
    ConnectorCapabilities {
        resource_type_capabilities,
        connector_capabilities: all.into_iter().collect(),
        credential_details: Some(CredentialDetails {
            capability_account_provisioning: Some(CredentialDetailsAccountProvisioning {
                supported_credential_options: vec![
                    CapabilityDetailCredentialOption::NoPassword as i32,
                    CapabilityDetailCredentialOption::RandomPassword as i32,
                ],
                preferred_credential_option: CapabilityDetailCredentialOption::NoPassword as i32,
            }),
            ..CredentialDetails::default()
        }),
    }
}

/// The account-creation form: the keys the platform puts into `AccountInfo.profile`. Keys
/// beyond these are forwarded to Cognito as attributes under their exact names.
pub fn account_creation_schema() -> ConnectorAccountCreationSchema {
    use connector_account_creation_schema::{BoolField, Field, StringField, field};
    let text = |display: &str, description: &str, required: bool, order: i32| Field {
        display_name: display.to_string(),
        description: description.to_string(),
        required,
        order,
        field: Some(field::Field::StringField(StringField::default())),
        ..Field::default()
    };
    let field_map = [
        (
            "login",
            text(
                "Username",
                "The Cognito username; it cannot be changed later",
                true,
                1,
            ),
        ),
        (
            "email",
            text(
                "Email",
                "The user's email address (the email attribute)",
                false,
                2,
            ),
        ),
        (
            "given_name",
            text("Given name", "The given_name attribute", false, 3),
        ),
        (
            "family_name",
            text("Family name", "The family_name attribute", false, 4),
        ),
        (
            accounts::SEND_INVITE_EMAIL,
            Field {
                display_name: "Send invitation email".to_string(),
                description:
                    "Let Cognito send its invitation message with the temporary password; \
                    off by default, as the invitation is suppressed"
                        .to_string(),
                order: 5,
                field: Some(field::Field::BoolField(BoolField {
                    default_value: Some(false),
                })),
                ..Field::default()
            },
        ),
    ]
    .into_iter()
    .map(|(key, field)| (key.to_string(), field))
    .collect();
    ConnectorAccountCreationSchema { field_map }
}

/// Metadata for GetMetadata and the service-mode Hello.
pub fn metadata(pools: &[(&str, &str)]) -> ConnectorMetadata {
    let mut profile = model::Profile::default();
    let (description, account_creation_schema) = match pools {
        [(pool_id, region)] => {
            profile.text("user_pool_id", pool_id).text("region", region);
            (
                format!(
                    "Users, groups and group memberships of the Amazon Cognito user pool {pool_id} ({region})."
                ),
                account_creation_schema(),
            )
        }
        several => {
            let ids: Vec<String> = several.iter().map(|(id, _)| id.to_string()).collect();
            let regions: Vec<String> = several.iter().map(|(_, r)| r.to_string()).collect();
            profile
                .list("user_pool_ids", &ids)
                .list("regions", &regions);
            let named: Vec<String> = several
                .iter()
                .map(|(id, region)| format!("{id} ({region})"))
                .collect();
            (
                format!(
                    "Users, groups and group memberships of {} Amazon Cognito user pools: {}.",
                    several.len(),
                    named.join(", ")
                ),
                account_creation_schema_naming_the_pool(&ids),
            )
        }
    };
    ConnectorMetadata {
        display_name: DISPLAY_NAME.to_string(),
        help_url: HELP_URL.to_string(),
        description,
        profile: Some(profile.build()),
        capabilities: Some(capabilities()),
        account_creation_schema: Some(account_creation_schema),
        ..ConnectorMetadata::default()
    }
}

/// The account-creation form of a connector holding several pools: the pool to create the user
/// in comes first.
fn account_creation_schema_naming_the_pool(pool_ids: &[String]) -> ConnectorAccountCreationSchema {
    use connector_account_creation_schema::{Field, StringField, field};
    let mut schema = account_creation_schema();
    schema.field_map.insert(
        accounts::POOL_KEY.to_string(),
        Field {
            display_name: "User pool".to_string(),
            description: format!(
                "The user pool to create the user in: {}",
                pool_ids.join(", ")
            ),
            required: true,
            order: 0,
            field: Some(field::Field::StringField(StringField::default())),
            ..Field::default()
        },
    );
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_sorted_and_carry_permissions() {
        let caps = capabilities();
        let ids: Vec<_> = caps
            .resource_type_capabilities
            .iter()
            .map(|c| c.resource_type.as_ref().unwrap().id.clone())
            .collect();
        assert_eq!(ids, vec!["group", "user"]);
        assert_eq!(
            caps.connector_capabilities,
            [
                Capability::Provision,
                Capability::Sync,
                Capability::AccountProvisioning,
                Capability::ResourceDelete,
                Capability::Actions,
                Capability::TargetedSync,
                Capability::EventFeedV2,
                Capability::ServiceModeTargetedSync,
            ]
            .map(|c| c as i32)
            .to_vec()
        );
        let user_perms = caps.resource_type_capabilities[1]
            .permissions
            .as_ref()
            .unwrap();
        assert!(
            user_perms
                .permissions
                .iter()
                .any(|p| p.permission == "cognito-idp:ListUsers")
        );
    }
}

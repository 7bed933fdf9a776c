//! What the connector says about itself: metadata and capabilities, derived from what each
//! resource type really implements so the two cannot drift apart.

use std::collections::BTreeSet;

use super::ResourceKind;
use super::model;
use crate::pb::v2::{
    Capability, CapabilityPermissions, ConnectorCapabilities, ConnectorMetadata,
    ResourceTypeCapability,
};

pub const DISPLAY_NAME: &str = "AWS Cognito";
pub const HELP_URL: &str =
    "https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools.html";

/// The protocol version this connector implements, reported by Validate. The syncer turns on
/// `active_sync_id` for versions at or above 0.4.3.
pub const SDK_VERSION: &str = "v0.25.0";

impl ResourceKind {
    /// What Baton can do with this type here: every type is synced, and every type has a getter
    /// (GetResource), which makes it a target for targeted syncs.
    pub fn capabilities(self) -> Vec<Capability> {
        match self {
            Self::User | Self::Group => vec![Capability::Sync, Capability::TargetedSync],
        }
    }
}

pub fn capabilities() -> ConnectorCapabilities {
    let mut kinds: Vec<_> = ResourceKind::ALL.to_vec();
    kinds.sort_by_key(|k| k.resource_type().id);
    let mut all = BTreeSet::new();
    let resource_type_capabilities = kinds
        .into_iter()
        .map(|kind| {
            let resource_type = kind.resource_type();
            let capabilities: Vec<i32> = kind.capabilities().iter().map(|c| *c as i32).collect();
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
    ConnectorCapabilities {
        resource_type_capabilities,
        connector_capabilities: all.into_iter().collect(),
        credential_details: None,
    }
}

/// Metadata for GetMetadata and the service-mode Hello.
pub fn metadata(pool_id: &str, region: &str) -> ConnectorMetadata {
    let mut profile = model::Profile::default();
    profile.text("user_pool_id", pool_id).text("region", region);
    ConnectorMetadata {
        display_name: DISPLAY_NAME.to_string(),
        help_url: HELP_URL.to_string(),
        description: format!(
            "Users, groups and group memberships of the Amazon Cognito user pool {pool_id} ({region})."
        ),
        profile: Some(profile.build()),
        capabilities: Some(capabilities()),
        ..ConnectorMetadata::default()
    }
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
            vec![Capability::Sync as i32, Capability::TargetedSync as i32]
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

//! Helpers for this crate's own unit tests.

use proptest::prelude::ProptestConfig;

/// Property-test settings: bounded, and without regression files written into the source tree.
pub fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A `.c1z` at `path` as a sync of a pool with these users and groups and `(group, user)`
/// memberships would write it, the resources stored in the order given.
pub fn pool_file(
    path: &std::path::Path,
    users: &[crate::cognito::records::CognitoUser],
    groups: &[crate::cognito::records::CognitoGroup],
    members: &[(&str, &str)],
) -> std::path::PathBuf {
    use crate::connector::{groups, users};
    let mut writer = crate::c1z::C1zWriter::create(path).expect("create");
    writer
        .put_resource_types(&[users::resource_type(), groups::resource_type()])
        .expect("resource types");
    let user_resources: Vec<_> = users.iter().map(users::resource).collect();
    writer.put_resources(&user_resources).expect("users");
    let group_resources: Vec<_> = groups.iter().map(groups::resource).collect();
    writer.put_resources(&group_resources).expect("groups");
    let entitlements: Vec<_> = group_resources
        .iter()
        .map(groups::member_entitlement)
        .collect();
    writer
        .put_entitlements(&entitlements)
        .expect("entitlements");
    let grants: Vec<_> = members
        .iter()
        .map(|(group, user)| {
            let entitlement = entitlements
                .iter()
                .find(|e| e.id == format!("{}:{group}:member", groups::TYPE_ID))
                .expect("members are of listed groups");
            groups::member_grant(entitlement, user)
        })
        .collect();
    writer.put_grants(&grants).expect("grants");
    writer.finish().expect("finish").path
}

//! The start of a synthetic pool's `.c1z` that the benches share: a writer with the user and
//! group resource types, and `n` groups with their member entitlements.

use std::path::Path;

use baton_cognito::c1z::C1zWriter;
use baton_cognito::cognito::records::CognitoGroup;
use baton_cognito::connector::{groups, users};
use baton_cognito::pb::v2::Entitlement;

/// A writer at `path` holding the resource types and groups `group-000`, `group-001`, ...;
/// and the groups' member entitlements, for the grants that follow.
pub fn with_groups(path: &Path, n: usize) -> (C1zWriter, Vec<Entitlement>) {
    let mut writer = C1zWriter::create(path).expect("create");
    writer
        .put_resource_types(&[users::resource_type(), groups::resource_type()])
        .expect("resource types");
    let group_resources: Vec<_> = (0..n)
        .map(|g| {
            groups::resource(&CognitoGroup {
                name: format!("group-{g:03}"),
                ..CognitoGroup::default()
            })
        })
        .collect();
    writer.put_resources(&group_resources).expect("groups");
    let entitlements: Vec<_> = group_resources
        .iter()
        .map(groups::member_entitlement)
        .collect();
    writer
        .put_entitlements(&entitlements)
        .expect("entitlements");
    (writer, entitlements)
}

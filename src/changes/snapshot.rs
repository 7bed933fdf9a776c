//! Reading a snapshot: the `.c1z` a sync wrote, as the pool's records in Cognito's shape, one at
//! a time (a snapshot of a million users is never loaded whole).

use super::cognito_shape::UserRecord;
use crate::c1z::{C1zError, C1zReader, GrantFilter};
use crate::connector::{groups, users};
use crate::pb::v2::Grant;

/// Every user, in username order (byte order, as the change feed walks them).
pub fn each_user<E: From<C1zError>>(
    reader: &C1zReader,
    mut each: impl FnMut(UserRecord) -> Result<(), E>,
) -> Result<(), E> {
    reader.resources_in_id_order(users::TYPE_ID, |resource| {
        match UserRecord::from_resource(&resource) {
            Some(user) => each(user),
            None => Ok(()),
        }
    })
}

/// One user, if the snapshot has them.
pub fn user(reader: &C1zReader, username: &str) -> Result<Option<UserRecord>, C1zError> {
    Ok(reader
        .resource(users::TYPE_ID, username)?
        .as_ref()
        .and_then(UserRecord::from_resource))
}

/// The groups a user is in, by name, sorted.
pub fn groups_of(reader: &C1zReader, username: &str) -> Result<Vec<String>, C1zError> {
    let mut names = Vec::new();
    let filter = GrantFilter {
        principal: Some((users::TYPE_ID.to_string(), username.to_string())),
        ..GrantFilter::default()
    };
    reader.grants(&filter, |grant| {
        if let Some((group, _)) = membership(&grant) {
            names.push(group);
        }
        Ok(())
    })?;
    names.sort();
    Ok(names)
}

/// The `(group, username)` of a group membership grant.
pub fn membership(grant: &Grant) -> Option<(String, String)> {
    let group = grant
        .entitlement
        .as_ref()
        .and_then(|e| e.resource.as_ref())
        .and_then(|r| r.id.as_ref())
        .filter(|id| id.resource_type == groups::TYPE_ID)?;
    let user = grant
        .principal
        .as_ref()
        .and_then(|p| p.id.as_ref())
        .filter(|id| id.resource_type == users::TYPE_ID)?;
    Some((group.resource.clone(), user.resource.clone()))
}

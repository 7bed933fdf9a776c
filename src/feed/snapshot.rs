//! What a pool held at one sync, as the feed compares it: users and groups by name, and the
//! memberships. Read from a `.c1z` the sync engine wrote, so a snapshot is also a Baton file.

use std::collections::{BTreeMap, BTreeSet};

use super::record::{GroupRecord, UserRecord};
use crate::c1z::{C1zError, C1zReader, GrantFilter};
use crate::connector::{groups, users};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub users: BTreeMap<String, UserRecord>,
    pub groups: BTreeMap<String, GroupRecord>,
    /// (group, username).
    pub memberships: BTreeSet<(String, String)>,
}

impl Snapshot {
    pub fn read(reader: &C1zReader) -> Result<Snapshot, C1zError> {
        let mut snapshot = Snapshot::default();
        reader.resources(Some(users::TYPE_ID), |resource| {
            if let Some(user) = UserRecord::from_resource(&resource) {
                snapshot.users.insert(user.username.clone(), user);
            }
            Ok(())
        })?;
        reader.resources(Some(groups::TYPE_ID), |resource| {
            if let Some(group) = GroupRecord::from_resource(&resource) {
                snapshot.groups.insert(group.group_name.clone(), group);
            }
            Ok(())
        })?;
        reader.grants(&GrantFilter::default(), |grant| {
            let group = grant
                .entitlement
                .as_ref()
                .and_then(|e| e.resource.as_ref())
                .and_then(|r| r.id.as_ref())
                .filter(|id| id.resource_type == groups::TYPE_ID);
            let user = grant
                .principal
                .as_ref()
                .and_then(|p| p.id.as_ref())
                .filter(|id| id.resource_type == users::TYPE_ID);
            if let (Some(group), Some(user)) = (group, user) {
                snapshot
                    .memberships
                    .insert((group.resource.clone(), user.resource.clone()));
            }
            Ok(())
        })?;
        Ok(snapshot)
    }

    /// The groups a user is in, by name.
    pub fn groups_of(&self, username: &str) -> Vec<String> {
        self.memberships
            .iter()
            .filter(|(_, user)| user == username)
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// Every user's groups, in one pass.
    pub fn groups_by_user(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (group, user) in &self.memberships {
            by_user.entry(user).or_default().push(group);
        }
        by_user
    }
}

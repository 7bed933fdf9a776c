//! The changes between two snapshots, each with an id that depends only on what changed and on
//! the snapshot it changed from: computing the same diff again (after a crash, before the state
//! advanced) gives the same ids, so consumers can deduplicate; the same membership added again
//! in a later run is a new change with a new id.

use sha2::{Digest, Sha256};

use super::record::{GroupRecord, UserRecord};
use super::snapshot::Snapshot;

/// One change, in the order consumers should apply them.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    GroupCreated(GroupRecord),
    GroupUpdated {
        group: GroupRecord,
        fields: Vec<String>,
    },
    UserCreated(UserRecord),
    UserUpdated {
        user: UserRecord,
        fields: Vec<String>,
    },
    UserEnabled(UserRecord),
    UserDisabled(UserRecord),
    MemberAdded {
        group: String,
        username: String,
    },
    MemberRemoved {
        group: String,
        username: String,
    },
    UserDeleted {
        username: String,
    },
    GroupDeleted {
        group: String,
    },
}

impl Change {
    /// A short name for the kind of change (`user.created`, `membership.added`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GroupCreated(_) => "group.created",
            Self::GroupUpdated { .. } => "group.updated",
            Self::UserCreated(_) => "user.created",
            Self::UserUpdated { .. } => "user.updated",
            Self::UserEnabled(_) => "user.enabled",
            Self::UserDisabled(_) => "user.disabled",
            Self::MemberAdded { .. } => "membership.added",
            Self::MemberRemoved { .. } => "membership.removed",
            Self::UserDeleted { .. } => "user.deleted",
            Self::GroupDeleted { .. } => "group.deleted",
        }
    }

    /// The user the change is about, if it is about one.
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::UserCreated(user)
            | Self::UserUpdated { user, .. }
            | Self::UserEnabled(user)
            | Self::UserDisabled(user) => Some(&user.username),
            Self::MemberAdded { username, .. }
            | Self::MemberRemoved { username, .. }
            | Self::UserDeleted { username } => Some(username),
            _ => None,
        }
    }

    /// The group the change is about, if it is about one.
    pub fn group(&self) -> Option<&str> {
        match self {
            Self::GroupCreated(group) | Self::GroupUpdated { group, .. } => Some(&group.group_name),
            Self::MemberAdded { group, .. }
            | Self::MemberRemoved { group, .. }
            | Self::GroupDeleted { group } => Some(group),
            _ => None,
        }
    }
}

/// A change and its id.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedChange {
    pub id: String,
    pub change: Change,
}

/// What changed from `before` (the snapshot whose sync id is `base`) to `after`, for `pool`.
pub fn diff(pool: &str, base: &str, before: &Snapshot, after: &Snapshot) -> Vec<FeedChange> {
    let mut changes = Vec::new();
    let mut push = |change: Change, before: Vec<u8>, after: Vec<u8>| {
        let id = change_id(pool, base, &change, &before, &after);
        changes.push(FeedChange { id, change });
    };

    for (name, group) in &after.groups {
        match before.groups.get(name) {
            None => push(
                Change::GroupCreated(group.clone()),
                Vec::new(),
                canonical(group),
            ),
            Some(old) if old != group => {
                let fields = group_fields(old, group);
                push(
                    Change::GroupUpdated {
                        group: group.clone(),
                        fields,
                    },
                    canonical(old),
                    canonical(group),
                );
            }
            Some(_) => {}
        }
    }
    for (name, user) in &after.users {
        match before.users.get(name) {
            None => push(
                Change::UserCreated(user.clone()),
                Vec::new(),
                canonical(user),
            ),
            Some(old) => {
                if old.enabled != user.enabled {
                    let change = if user.enabled {
                        Change::UserEnabled(user.clone())
                    } else {
                        Change::UserDisabled(user.clone())
                    };
                    push(change, canonical(old), canonical(user));
                }
                let fields = user.changed_fields(old);
                if !fields.is_empty() {
                    push(
                        Change::UserUpdated {
                            user: user.clone(),
                            fields,
                        },
                        canonical(old),
                        canonical(user),
                    );
                }
            }
        }
    }
    for (group, username) in after.memberships.difference(&before.memberships) {
        push(
            Change::MemberAdded {
                group: group.clone(),
                username: username.clone(),
            },
            Vec::new(),
            Vec::new(),
        );
    }
    for (group, username) in before.memberships.difference(&after.memberships) {
        push(
            Change::MemberRemoved {
                group: group.clone(),
                username: username.clone(),
            },
            Vec::new(),
            Vec::new(),
        );
    }
    for (name, old) in &before.users {
        if !after.users.contains_key(name) {
            push(
                Change::UserDeleted {
                    username: name.clone(),
                },
                canonical(old),
                Vec::new(),
            );
        }
    }
    for (name, old) in &before.groups {
        if !after.groups.contains_key(name) {
            push(
                Change::GroupDeleted {
                    group: name.clone(),
                },
                canonical(old),
                Vec::new(),
            );
        }
    }
    changes
}

fn group_fields(before: &GroupRecord, after: &GroupRecord) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = |name: &str, differs: bool| {
        if differs {
            fields.push(name.to_string());
        }
    };
    field("Description", before.description != after.description);
    field("Precedence", before.precedence != after.precedence);
    field("RoleArn", before.role_arn != after.role_arn);
    field(
        "LastModifiedDate",
        before.last_modified_date != after.last_modified_date,
    );
    fields
}

/// `sha256(pool, base, kind, user, group, record before, record after)`, first 128 bits in hex.
fn change_id(pool: &str, base: &str, change: &Change, before: &[u8], after: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [
        pool.as_bytes(),
        base.as_bytes(),
        change.kind().as_bytes(),
        change.username().unwrap_or_default().as_bytes(),
        change.group().unwrap_or_default().as_bytes(),
        before,
        after,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A record's canonical JSON, which its change ids are hashed from.
fn canonical(record: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::record::Attribute;

    fn user(name: &str, email: &str, enabled: bool) -> UserRecord {
        UserRecord {
            username: name.to_string(),
            attributes: vec![Attribute {
                name: "email".into(),
                value: email.into(),
            }],
            enabled,
            user_status: "CONFIRMED".into(),
            user_create_date: Some("2026-01-01T00:00:00Z".into()),
            user_last_modified_date: Some("2026-01-01T00:00:00Z".into()),
            mfa_options: Vec::new(),
        }
    }

    fn group(name: &str) -> GroupRecord {
        GroupRecord {
            group_name: name.into(),
            description: None,
            precedence: None,
            role_arn: None,
            creation_date: None,
            last_modified_date: None,
        }
    }

    fn snapshot(users: &[UserRecord], groups: &[&str], members: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            users: users
                .iter()
                .map(|u| (u.username.clone(), u.clone()))
                .collect(),
            groups: groups.iter().map(|g| (g.to_string(), group(g))).collect(),
            memberships: members
                .iter()
                .map(|(g, u)| (g.to_string(), u.to_string()))
                .collect(),
        }
    }

    #[test]
    fn every_kind_of_change_is_found_once() {
        let before = snapshot(
            &[
                user("ann", "ann@x", true),
                user("bob", "bob@x", true),
                user("cy", "cy@x", true),
            ],
            &["admins", "old"],
            &[("admins", "ann"), ("old", "bob")],
        );
        let after = snapshot(
            &[
                user("ann", "ann@new", true),
                user("bob", "bob@x", false),
                user("dee", "dee@x", true),
            ],
            &["admins", "new"],
            &[("admins", "ann"), ("admins", "dee"), ("new", "bob")],
        );
        let kinds: Vec<(String, Option<String>)> = diff("pool", "base", &before, &after)
            .into_iter()
            .map(|c| {
                (
                    c.change.kind().to_string(),
                    c.change.username().map(String::from),
                )
            })
            .collect();
        let expected: Vec<(String, Option<String>)> = [
            ("group.created", None),
            ("user.updated", Some("ann")),
            ("user.disabled", Some("bob")),
            ("user.created", Some("dee")),
            ("membership.added", Some("dee")),
            ("membership.added", Some("bob")),
            ("membership.removed", Some("bob")),
            ("user.deleted", Some("cy")),
            ("group.deleted", None),
        ]
        .into_iter()
        .map(|(k, u)| (k.to_string(), u.map(String::from)))
        .collect();
        assert_eq!(kinds, expected);
        let updated = diff("pool", "base", &before, &after)
            .into_iter()
            .find_map(|c| match c.change {
                Change::UserUpdated { fields, .. } => Some(fields),
                _ => None,
            });
        assert_eq!(updated, Some(vec!["email".to_string()]));
    }

    #[test]
    fn ids_repeat_for_the_same_change_and_differ_otherwise() {
        let before = snapshot(&[user("ann", "a@x", true)], &["g"], &[]);
        let after = snapshot(&[user("ann", "a@x", true)], &["g"], &[("g", "ann")]);
        let first = diff("pool", "sync-1", &before, &after);
        assert_eq!(first, diff("pool", "sync-1", &before, &after));
        // The same membership added again later, from another snapshot, is another change.
        assert_ne!(first[0].id, diff("pool", "sync-7", &before, &after)[0].id);
        assert_ne!(
            first[0].id,
            diff("other-pool", "sync-1", &before, &after)[0].id
        );
        // Two changes of one diff never share an id.
        let both = snapshot(&[user("ann", "a@y", false)], &["g"], &[("g", "ann")]);
        let changes = diff("pool", "sync-1", &before, &both);
        let ids: std::collections::BTreeSet<_> = changes.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), changes.len());
        assert_eq!(changes.len(), 3, "{changes:?}");
    }

    #[test]
    fn nothing_changed_is_no_change() {
        let same = snapshot(&[user("ann", "a@x", true)], &["g"], &[("g", "ann")]);
        assert!(diff("pool", "base", &same, &same).is_empty());
    }
}

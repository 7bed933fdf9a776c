//! The changes between two snapshots, each with an id that depends only on what changed and on
//! the snapshot it changed from: computing the same diff again (after a crash, before the state
//! advanced) gives the same ids, so consumers can deduplicate; the same membership added again
//! in a later run is a new change with a new id.

use sha2::{Digest, Sha256};

use super::cognito_shape::{GroupRecord, UserRecord};
use super::snapshot::membership;
use crate::c1z::{C1zError, C1zReader, Paired, merge_grants, merge_resources};
use crate::connector::{groups, users};

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

/// What changed from `before` (the snapshot whose sync id is `base`) to `after`, for `pool`,
/// handed to `emit` one change at a time in the order of [`Change`].
///
/// The two files are walked side by side in id order, a record of each at a time, so a diff of
/// a million-user pool holds no more than the changes that must wait for their turn (removed
/// memberships and deletions, which come after everything added), and `emit` can send or store
/// each change as it comes. An error from `emit` stops the diff.
pub fn diff<E: From<C1zError>>(
    pool: &str,
    base: &str,
    before: &C1zReader,
    after: &C1zReader,
    mut emit: impl FnMut(FeedChange) -> Result<(), E>,
) -> Result<(), E> {
    let ids = ChangeIds { pool, base };
    let mut groups_deleted = Vec::new();
    merge_resources(before, after, groups::TYPE_ID, |pair| {
        match pair.filter_map(|r| GroupRecord::from_resource(&r)) {
            Some(Paired::After(group)) => {
                emit(ids.change(None, Some(&group), Change::GroupCreated(group.clone())))
            }
            Some(Paired::Both { before, after }) => {
                let fields = group_fields(&before, &after);
                if fields.is_empty() {
                    return Ok(());
                }
                emit(ids.change(
                    Some(&before),
                    Some(&after),
                    Change::GroupUpdated {
                        group: after.clone(),
                        fields,
                    },
                ))
            }
            Some(Paired::Before(old)) => {
                let group = old.group_name.clone();
                groups_deleted.push(ids.change(Some(&old), None, Change::GroupDeleted { group }));
                Ok(())
            }
            _ => Ok(()),
        }
    })?;
    let mut users_deleted = Vec::new();
    merge_resources(before, after, users::TYPE_ID, |pair| {
        match pair.filter_map(|r| UserRecord::from_resource(&r)) {
            Some(Paired::After(user)) => {
                emit(ids.change(None, Some(&user), Change::UserCreated(user.clone())))
            }
            Some(Paired::Both { before, after }) => {
                if before.enabled != after.enabled {
                    let change = if after.enabled {
                        Change::UserEnabled(after.clone())
                    } else {
                        Change::UserDisabled(after.clone())
                    };
                    emit(ids.change(Some(&before), Some(&after), change))?;
                }
                let fields = after.changed_fields(&before);
                if fields.is_empty() {
                    return Ok(());
                }
                emit(ids.change(
                    Some(&before),
                    Some(&after),
                    Change::UserUpdated {
                        user: after.clone(),
                        fields,
                    },
                ))
            }
            Some(Paired::Before(old)) => {
                let username = old.username.clone();
                users_deleted.push(ids.change(Some(&old), None, Change::UserDeleted { username }));
                Ok(())
            }
            None => Ok(()),
        }
    })?;
    let mut members_removed = Vec::new();
    merge_grants(before, after, |pair| {
        match pair.filter_map(|g| membership(&g)) {
            Some(Paired::After((group, username))) => {
                emit(ids.membership(Change::MemberAdded { group, username }))
            }
            Some(Paired::Before((group, username))) => {
                members_removed.push(ids.membership(Change::MemberRemoved { group, username }));
                Ok(())
            }
            _ => Ok(()),
        }
    })?;
    members_removed
        .into_iter()
        .chain(users_deleted)
        .chain(groups_deleted)
        .try_for_each(emit)
}

/// Gives changes their ids: what a change is about, hashed with where it happened.
struct ChangeIds<'a> {
    pool: &'a str,
    base: &'a str,
}

impl ChangeIds<'_> {
    /// `change`, from the record `before` to the record `after` (either absent).
    fn change<R: serde::Serialize>(
        &self,
        before: Option<&R>,
        after: Option<&R>,
        change: Change,
    ) -> FeedChange {
        let id = change_id(
            self.pool,
            self.base,
            &change,
            &before.map(canonical).unwrap_or_default(),
            &after.map(canonical).unwrap_or_default(),
        );
        FeedChange { id, change }
    }

    /// A membership change: a membership has no record of its own.
    fn membership(&self, change: Change) -> FeedChange {
        self.change::<()>(None, None, change)
    }
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
    field("CreationDate", before.creation_date != after.creation_date);
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
    hex::encode(&digest[..16])
}

/// A record's canonical JSON, which its change ids are hashed from.
fn canonical(record: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use aws_smithy_types::DateTime;
    use proptest::prelude::*;

    use super::*;
    use crate::cognito::records::{CognitoGroup, CognitoUser};

    fn user(name: &str, email: &str, enabled: bool) -> CognitoUser {
        CognitoUser {
            username: name.to_string(),
            attributes: vec![("email".into(), email.into())],
            enabled,
            status: "CONFIRMED".into(),
            created: Some(DateTime::from_secs(1_767_225_600)),
            last_modified: Some(DateTime::from_secs(1_767_225_600)),
            ..CognitoUser::default()
        }
    }

    /// A snapshot file with these users, groups and `(group, user)` memberships.
    fn snapshot(
        dir: &Path,
        name: &str,
        users: &[CognitoUser],
        groups: &[&str],
        members: &[(&str, &str)],
    ) -> C1zReader {
        let groups: Vec<CognitoGroup> = groups
            .iter()
            .map(|name| CognitoGroup {
                name: name.to_string(),
                ..CognitoGroup::default()
            })
            .collect();
        let path = crate::testing::pool_file(&dir.join(name), users, &groups, members);
        C1zReader::open(&path).expect("open")
    }

    fn changes(pool: &str, base: &str, before: &C1zReader, after: &C1zReader) -> Vec<FeedChange> {
        let mut changes = Vec::new();
        diff(pool, base, before, after, |change| {
            changes.push(change);
            Ok::<_, C1zError>(())
        })
        .expect("diff");
        changes
    }

    fn kinds(changes: &[FeedChange]) -> Vec<(&'static str, Option<&str>, Option<&str>)> {
        changes
            .iter()
            .map(|c| (c.change.kind(), c.change.username(), c.change.group()))
            .collect()
    }

    #[test]
    fn every_kind_of_change_is_found_once_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let before = snapshot(
            dir.path(),
            "before.c1z",
            &[
                user("cy", "cy@x", true),
                user("ann", "ann@x", true),
                user("bob", "bob@x", true),
            ],
            &["admins", "old"],
            &[("admins", "ann"), ("old", "bob")],
        );
        let after = snapshot(
            dir.path(),
            "after.c1z",
            &[
                user("dee", "dee@x", true),
                user("bob", "bob@x", false),
                user("ann", "ann@new", true),
            ],
            &["new", "admins"],
            &[("admins", "dee"), ("new", "bob"), ("admins", "ann")],
        );
        let found = changes("pool", "base", &before, &after);
        assert_eq!(
            kinds(&found),
            [
                ("group.created", None, Some("new")),
                ("user.updated", Some("ann"), None),
                ("user.disabled", Some("bob"), None),
                ("user.created", Some("dee"), None),
                ("membership.added", Some("dee"), Some("admins")),
                ("membership.added", Some("bob"), Some("new")),
                ("membership.removed", Some("bob"), Some("old")),
                ("user.deleted", Some("cy"), None),
                ("group.deleted", None, Some("old")),
            ]
        );
        let updated = found.iter().find_map(|c| match &c.change {
            Change::UserUpdated { fields, .. } => Some(fields.clone()),
            _ => None,
        });
        assert_eq!(updated, Some(vec!["email".to_string()]));
    }

    #[test]
    fn ids_repeat_for_the_same_change_and_differ_otherwise() {
        let dir = tempfile::tempdir().expect("dir");
        let ann = user("ann", "a@x", true);
        let before = snapshot(dir.path(), "1.c1z", std::slice::from_ref(&ann), &["g"], &[]);
        let after = snapshot(dir.path(), "2.c1z", &[ann], &["g"], &[("g", "ann")]);
        let first = changes("pool", "sync-1", &before, &after);
        assert_eq!(first, changes("pool", "sync-1", &before, &after));
        // The same membership added again later, from another snapshot, is another change.
        assert_ne!(
            first[0].id,
            changes("pool", "sync-7", &before, &after)[0].id
        );
        assert_ne!(
            first[0].id,
            changes("other-pool", "sync-1", &before, &after)[0].id
        );
        // Two changes of one diff never share an id.
        let both = snapshot(
            dir.path(),
            "3.c1z",
            &[user("ann", "a@y", false)],
            &["g"],
            &[("g", "ann")],
        );
        let found = changes("pool", "sync-1", &before, &both);
        let ids: BTreeSet<_> = found.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), found.len());
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn nothing_changed_is_no_change() {
        let dir = tempfile::tempdir().expect("dir");
        let users = [user("ann", "a@x", true)];
        let one = snapshot(dir.path(), "1.c1z", &users, &["g"], &[("g", "ann")]);
        let two = snapshot(dir.path(), "2.c1z", &users, &["g"], &[("g", "ann")]);
        assert!(changes("pool", "base", &one, &two).is_empty());
    }

    #[test]
    fn an_error_from_emit_stops_the_diff() {
        let dir = tempfile::tempdir().expect("dir");
        let none = snapshot(dir.path(), "1.c1z", &[], &[], &[]);
        let some = snapshot(
            dir.path(),
            "2.c1z",
            &[user("a", "a@x", true), user("b", "b@x", true)],
            &[],
            &[],
        );
        let mut calls = 0;
        let result = diff("pool", "base", &none, &some, |_| {
            calls += 1;
            Err(C1zError::Cancelled { path: "x".into() })
        });
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }

    /// One user of a generated pool: a name, whether they are enabled, and their email.
    type Member = (String, bool, u8);

    fn pool() -> impl Strategy<Value = (Vec<Member>, BTreeSet<(String, String)>)> {
        let users = proptest::collection::btree_map("[a-e]{1,2}", (any::<bool>(), 0..2u8), 0..12);
        users.prop_flat_map(|users| {
            let names: Vec<String> = users.keys().cloned().collect();
            let members = if names.is_empty() {
                Just(BTreeSet::new()).boxed()
            } else {
                proptest::collection::btree_set(("[gh]", proptest::sample::select(names)), 0..8)
                    .boxed()
            };
            let users: Vec<Member> = users.into_iter().map(|(n, (e, m))| (n, e, m)).collect();
            (Just(users), members)
        })
    }

    fn pool_snapshot(
        dir: &Path,
        name: &str,
        (users, members): &(Vec<Member>, BTreeSet<(String, String)>),
    ) -> C1zReader {
        let users: Vec<CognitoUser> = users
            .iter()
            .map(|(n, enabled, mail)| user(n, &format!("{n}{mail}@x"), *enabled))
            .collect();
        let members: Vec<(&str, &str)> = members
            .iter()
            .map(|(g, u)| (g.as_str(), u.as_str()))
            .collect();
        snapshot(dir, name, &users, &["g", "h"], &members)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 48,
            ..crate::testing::proptest_config()
        })]

        /// Whatever the two pools, the streamed diff finds exactly what set arithmetic finds.
        #[test]
        fn the_diff_is_the_difference_of_the_pools(before in pool(), after in pool()) {
            let dir = tempfile::tempdir().expect("dir");
            let older = pool_snapshot(dir.path(), "before.c1z", &before);
            let newer = pool_snapshot(dir.path(), "after.c1z", &after);
            let found: BTreeSet<(&str, Option<String>, Option<String>)> =
                changes("pool", "base", &older, &newer)
                    .iter()
                    .map(|c| {
                        (
                            c.change.kind(),
                            c.change.username().map(String::from),
                            c.change.group().map(String::from),
                        )
                    })
                    .collect();

            let mut expected = BTreeSet::new();
            let old_users: std::collections::BTreeMap<_, _> =
                before.0.iter().map(|(n, e, m)| (n.clone(), (*e, *m))).collect();
            let new_users: std::collections::BTreeMap<_, _> =
                after.0.iter().map(|(n, e, m)| (n.clone(), (*e, *m))).collect();
            for (name, (enabled, mail)) in &new_users {
                match old_users.get(name) {
                    None => {
                        expected.insert(("user.created", Some(name.clone()), None));
                    }
                    Some((was_enabled, old_mail)) => {
                        if was_enabled != enabled {
                            let kind = if *enabled { "user.enabled" } else { "user.disabled" };
                            expected.insert((kind, Some(name.clone()), None));
                        }
                        if old_mail != mail {
                            expected.insert(("user.updated", Some(name.clone()), None));
                        }
                    }
                }
            }
            for name in old_users.keys().filter(|n| !new_users.contains_key(*n)) {
                expected.insert(("user.deleted", Some(name.clone()), None));
            }
            for (group, name) in after.1.difference(&before.1) {
                expected.insert(("membership.added", Some(name.clone()), Some(group.clone())));
            }
            for (group, name) in before.1.difference(&after.1) {
                expected.insert(("membership.removed", Some(name.clone()), Some(group.clone())));
            }
            prop_assert_eq!(found, expected);
        }
    }
}

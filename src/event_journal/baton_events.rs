//! Changes as Baton events (`c1.connector.v2.Event`), for `EventService.ListEvents`.
//!
//! Users and groups that appear, change or go are `ResourceChangeEvent`s: the platform fetches
//! the resource again (and finds it gone after a deletion). A new or changed resource also
//! rides along as a `Resource` annotation, which the protocol allows ("resources referenced in
//! events"), so a consumer need not call back. Memberships added and removed are
//! `CreateGrantEvent` and `CreateRevokeEvent`, carrying the group's member entitlement and the
//! user, as a sync would have stored them.

use std::time::SystemTime;

use prost_types::Timestamp;

use crate::c1z::{C1zError, C1zReader};
use crate::changes::cognito_shape::UserRecord;
use crate::changes::diff::{Change, FeedChange};
use crate::connector::{groups, model, users};
use crate::pb::pack;
use crate::pb::v2::event::Event as EventKind;
use crate::pb::v2::{
    CreateGrantEvent, CreateRevokeEvent, Event, EventFeedMetadata, EventType, Resource,
    ResourceChangeEvent,
};

/// The one feed this connector serves.
pub const FEED_ID: &str = "cognito_user_pool_changes";

/// What `ListEventFeeds` says about the feed.
pub fn feed_metadata() -> EventFeedMetadata {
    EventFeedMetadata {
        id: FEED_ID.to_string(),
        supported_event_types: vec![
            EventType::ResourceChange as i32,
            EventType::CreateGrant as i32,
            EventType::CreateRevoke as i32,
        ],
    }
}

/// The snapshots a change is between, where events find the resources they carry.
pub struct Snapshots<'a> {
    pub before: &'a C1zReader,
    pub after: &'a C1zReader,
}

impl Snapshots<'_> {
    /// The resource as the newer snapshot has it, else as the older one did, else just its id
    /// (which never happens for a diff of these two snapshots, but an event is still valid).
    fn resource(&self, type_id: &str, id: &str) -> Result<Resource, C1zError> {
        for reader in [self.after, self.before] {
            if let Some(resource) = reader.resource(type_id, id)? {
                return Ok(resource);
            }
        }
        Ok(model::resource_ref(type_id, id))
    }

    /// Like [`Self::resource`] but preferring the older snapshot: what was revoked.
    fn former_resource(&self, type_id: &str, id: &str) -> Result<Resource, C1zError> {
        match self.before.resource(type_id, id)? {
            Some(resource) => Ok(resource),
            None => self.resource(type_id, id),
        }
    }
}

/// The Baton event for `change`, observed by the snapshot taken at `observed`.
pub fn event(
    change: &FeedChange,
    observed: SystemTime,
    snapshots: &Snapshots,
) -> Result<Event, C1zError> {
    let observed_at = Timestamp::from(observed);
    let resource_change = |type_id: &str, id: &str, carried: Option<Resource>| {
        let resource_id = model::resource_id(type_id, id);
        (
            EventKind::ResourceChangeEvent(ResourceChangeEvent {
                resource_id: Some(resource_id),
                parent_resource_id: None,
            }),
            carried.map(|r| vec![pack(&r)]).unwrap_or_default(),
        )
    };
    let (kind, annotations) = match &change.change {
        Change::GroupCreated(group) | Change::GroupUpdated { group, .. } => {
            let resource = snapshots.resource(groups::TYPE_ID, &group.group_name)?;
            resource_change(groups::TYPE_ID, &group.group_name, Some(resource))
        }
        Change::GroupDeleted { group } => resource_change(groups::TYPE_ID, group, None),
        Change::UserCreated(user)
        | Change::UserUpdated { user, .. }
        | Change::UserEnabled(user)
        | Change::UserDisabled(user) => {
            let resource = snapshots.resource(users::TYPE_ID, &user.username)?;
            resource_change(users::TYPE_ID, &user.username, Some(resource))
        }
        Change::UserDeleted { username } => resource_change(users::TYPE_ID, username, None),
        Change::MemberAdded { group, username } => (
            EventKind::CreateGrantEvent(CreateGrantEvent {
                entitlement: Some(groups::member_entitlement(
                    &snapshots.resource(groups::TYPE_ID, group)?,
                )),
                principal: Some(snapshots.resource(users::TYPE_ID, username)?),
                annotations: Vec::new(),
            }),
            Vec::new(),
        ),
        Change::MemberRemoved { group, username } => (
            EventKind::CreateRevokeEvent(CreateRevokeEvent {
                entitlement: Some(groups::member_entitlement(
                    &snapshots.former_resource(groups::TYPE_ID, group)?,
                )),
                principal: Some(snapshots.former_resource(users::TYPE_ID, username)?),
                annotations: Vec::new(),
            }),
            Vec::new(),
        ),
    };
    Ok(Event {
        id: change.id.clone(),
        occurred_at: Some(occurred_at(&change.change, observed).unwrap_or(observed_at)),
        annotations,
        event: Some(kind),
    })
}

/// When a user change happened, if its record says and the date is not after the snapshot
/// that saw it (clocks differ; the snapshot time is the safe upper bound).
fn occurred_at(change: &Change, observed: SystemTime) -> Option<Timestamp> {
    let date = |user: &UserRecord, created: bool| {
        if created {
            user.user_create_date.clone()
        } else {
            user.user_last_modified_date.clone()
        }
    };
    let text = match change {
        Change::UserCreated(user) => date(user, true),
        Change::UserUpdated { user, .. }
        | Change::UserEnabled(user)
        | Change::UserDisabled(user) => date(user, false),
        _ => None,
    }?;
    let at = chrono::DateTime::parse_from_rfc3339(&text).ok()?;
    let at = SystemTime::from(at);
    (at <= observed).then(|| Timestamp::from(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(modified: &str) -> UserRecord {
        UserRecord {
            username: "ann".into(),
            attributes: Vec::new(),
            enabled: true,
            user_status: "CONFIRMED".into(),
            user_create_date: Some("2026-01-01T00:00:00Z".into()),
            user_last_modified_date: Some(modified.into()),
            mfa_options: Vec::new(),
        }
    }

    #[test]
    fn user_changes_happen_when_their_record_says_unless_that_is_later_than_observed() {
        let observed =
            SystemTime::from(chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap());
        let updated = Change::UserUpdated {
            user: user("2026-05-01T12:00:00Z"),
            fields: vec!["email".into()],
        };
        assert_eq!(
            occurred_at(&updated, observed).map(|t| t.seconds),
            Some(1_777_636_800)
        );
        let created = Change::UserCreated(user("2026-05-01T12:00:00Z"));
        assert_eq!(
            occurred_at(&created, observed).map(|t| t.seconds),
            Some(1_767_225_600)
        );
        let future = Change::UserDisabled(user("2027-01-01T00:00:00Z"));
        assert_eq!(occurred_at(&future, observed), None);
        let membership = Change::MemberAdded {
            group: "g".into(),
            username: "ann".into(),
        };
        assert_eq!(occurred_at(&membership, observed), None);
    }

    #[test]
    fn the_feed_advertises_resource_grant_and_revoke_events() {
        let metadata = feed_metadata();
        assert_eq!(metadata.id, FEED_ID);
        assert_eq!(metadata.supported_event_types, [4, 5, 6]);
    }
}

//! A sign-in as a Baton usage event, whichever source told of it.

use crate::connector::{model, users};
use crate::pb::v2::event::Event as EventKind;
use crate::pb::v2::{Event, Resource, UsageEvent};

/// One successful sign-in of `actor` (a user resource): its id is Cognito's `EventId`, so the
/// same sign-in read twice, from either source, is one event to a consumer that deduplicates.
/// The target is the account signed in to, the user's own.
pub fn usage_event(id: &str, at: Option<prost_types::Timestamp>, actor: Resource) -> Event {
    let username = actor
        .id
        .as_ref()
        .map(|id| id.resource.clone())
        .unwrap_or_default();
    Event {
        id: id.to_string(),
        occurred_at: at,
        annotations: Vec::new(),
        event: Some(EventKind::UsageEvent(UsageEvent {
            target_resource: Some(model::resource_ref(users::TYPE_ID, &username)),
            actor_resource: Some(actor),
        })),
    }
}

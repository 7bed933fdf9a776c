//! The event feeds of every pool the process holds: what `EventService` and the event-feed tasks
//! call.
//!
//! One pool serves its two feeds exactly as it always has. With several, each pool has its own
//! feeds, read and refreshed on their own (its journal in a directory of its own under
//! `--event-feed-dir`, its cursors sealed to it): their ids name the pool
//! (`cognito_user_pool_changes:us-east-1_AbC123`), and their events carry the ids a sync of
//! several pools gives its resources, qualified by the pool (see `connector::pool_ids`).

use std::sync::Arc;

use prost::Message;

use super::event_feed::{EventFeed, EventFeedSettings};
use super::request::{EventFeedError, EventsRequest};
use crate::connector::Connector;
use crate::connector::pool_ids::PoolIds;
use crate::pb::pack;
use crate::pb::v2::event::Event as EventKind;
use crate::pb::v2::{Event, EventFeedMetadata, ListEventsResponse, Resource};

/// One pool's feeds, and how its events' ids are written.
struct PoolFeed {
    pool_id: String,
    feed: Arc<EventFeed>,
    ids: PoolIds,
}

pub struct EventFeeds {
    pools: Vec<PoolFeed>,
}

impl EventFeeds {
    /// The feeds of `pools`, each connector in its pool's own names (the feeds qualify the ids
    /// of their events themselves when there are several).
    pub fn new(pools: Vec<Arc<Connector>>, settings: EventFeedSettings) -> Self {
        let several = pools.len() > 1;
        let pools = pools
            .into_iter()
            .map(|connector| {
                let pool_id = connector.pool().pool_id().to_string();
                let (settings, ids) = if several {
                    let settings = EventFeedSettings {
                        dir: settings.dir.join(&pool_id),
                        ..settings.clone()
                    };
                    (settings, PoolIds::qualified(&pool_id))
                } else {
                    (settings.clone(), PoolIds::default())
                };
                PoolFeed {
                    feed: EventFeed::new(connector, settings),
                    pool_id,
                    ids,
                }
            })
            .collect();
        Self { pools }
    }

    fn single(&self) -> Option<&PoolFeed> {
        match self.pools.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub fn feeds(&self) -> Vec<EventFeedMetadata> {
        if let Some(only) = self.single() {
            return only.feed.feeds();
        }
        self.pools
            .iter()
            .flat_map(|pool| {
                pool.feed.feeds().into_iter().map(|feed| EventFeedMetadata {
                    id: format!("{}:{}", feed.id, pool.pool_id),
                    ..feed
                })
            })
            .collect()
    }

    /// The pool a request is for, and the request as that pool's feeds know it.
    fn route(&self, request: &EventsRequest) -> Result<(&PoolFeed, EventsRequest), EventFeedError> {
        if let Some(only) = self.single() {
            return Ok((only, request.clone()));
        }
        let routed = request.feed_id.split_once(':').and_then(|(feed, pool)| {
            let found = self.pools.iter().find(|p| p.pool_id == pool)?;
            Some((found, feed))
        });
        match routed {
            Some((pool, feed)) => Ok((
                pool,
                EventsRequest {
                    feed_id: feed.to_string(),
                    ..request.clone()
                },
            )),
            None if request.feed_id.is_empty() => {
                Err(EventFeedError::FeedNotNamed(self.feed_ids()))
            }
            None => Err(EventFeedError::UnknownFeed(request.feed_id.clone())),
        }
    }

    fn feed_ids(&self) -> String {
        self.feeds()
            .into_iter()
            .map(|feed| feed.id)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether a request is for a sign-in feed (which has no journal to refresh).
    pub fn is_sign_ins(&self, request: &EventsRequest) -> bool {
        self.route(request)
            .is_ok_and(|(_, routed)| EventFeed::is_sign_ins(&routed))
    }

    /// One page of the feed the request names, its events in the ids of a sync.
    pub async fn list(&self, request: EventsRequest) -> Result<ListEventsResponse, EventFeedError> {
        let (pool, routed) = self.route(&request)?;
        let mut page = pool.feed.list(routed).await?;
        if pool.ids != PoolIds::default() {
            page.events = page
                .events
                .into_iter()
                .map(|event| event_out(&pool.ids, event))
                .collect();
        }
        Ok(page)
    }

    /// Refuses a request that cannot be answered, without refreshing anything.
    pub fn check(&self, request: &EventsRequest) -> Result<(), EventFeedError> {
        let (pool, routed) = self.route(request)?;
        pool.feed.check(&routed)
    }

    /// Takes a snapshot of the pool the request's feed is of, now.
    pub async fn refresh_now(&self, request: &EventsRequest) -> Result<(), EventFeedError> {
        let (pool, _) = self.route(request)?;
        pool.feed.refresh_now().await
    }
}

/// An event in the ids of a sync of several pools: the resources it names and carries
/// qualified by their pool, with the pool as their parent.
fn event_out(ids: &PoolIds, mut event: Event) -> Event {
    event.event = event.event.map(|kind| match kind {
        EventKind::ResourceChangeEvent(mut change) => {
            change.resource_id = change.resource_id.map(|id| ids.id_out(id));
            change.parent_resource_id = ids.parent();
            EventKind::ResourceChangeEvent(change)
        }
        EventKind::CreateGrantEvent(mut grant) => {
            grant.entitlement = grant.entitlement.map(|e| ids.entitlement_out(e));
            grant.principal = grant.principal.map(|p| ids.resource_out(p));
            EventKind::CreateGrantEvent(grant)
        }
        EventKind::CreateRevokeEvent(mut revoke) => {
            revoke.entitlement = revoke.entitlement.map(|e| ids.entitlement_out(e));
            revoke.principal = revoke.principal.map(|p| ids.resource_out(p));
            EventKind::CreateRevokeEvent(revoke)
        }
        EventKind::UsageEvent(mut usage) => {
            usage.target_resource = usage.target_resource.map(|r| ids.resource_out(r));
            usage.actor_resource = usage.actor_resource.map(|r| ids.resource_out(r));
            EventKind::UsageEvent(usage)
        }
        other => other,
    });
    // A changed resource rides along as an annotation: the same resource, qualified.
    event.annotations = event
        .annotations
        .into_iter()
        .map(|annotation| {
            match (annotation.type_url == <Resource as prost::Name>::type_url())
                .then(|| Resource::decode(annotation.value.as_slice()).ok())
                .flatten()
            {
                Some(resource) => pack(&ids.resource_out(resource)),
                None => annotation,
            }
        })
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{groups, model, users};
    use crate::pb::v2::{CreateGrantEvent, ResourceChangeEvent};

    #[test]
    fn events_of_a_pool_among_several_name_their_resources_as_a_sync_does() {
        let ids = PoolIds::qualified("eu-west-1_A");
        let ann = model::resource_ref(users::TYPE_ID, "ann");
        let changed = event_out(
            &ids,
            Event {
                event: Some(EventKind::ResourceChangeEvent(ResourceChangeEvent {
                    resource_id: ann.id.clone(),
                    parent_resource_id: None,
                })),
                annotations: vec![pack(&ann)],
                ..Event::default()
            },
        );
        let Some(EventKind::ResourceChangeEvent(change)) = &changed.event else {
            panic!("{changed:?}");
        };
        assert_eq!(
            change.resource_id.as_ref().unwrap().resource,
            "eu-west-1_A:ann"
        );
        assert_eq!(change.parent_resource_id, ids.parent());
        let carried = Resource::decode(changed.annotations[0].value.as_slice()).unwrap();
        assert_eq!(carried.id.unwrap().resource, "eu-west-1_A:ann");

        let entitlement = groups::member_entitlement(&model::resource_ref(groups::TYPE_ID, "ops"));
        let granted = event_out(
            &ids,
            Event {
                event: Some(EventKind::CreateGrantEvent(CreateGrantEvent {
                    entitlement: Some(entitlement),
                    principal: Some(ann),
                    annotations: Vec::new(),
                })),
                ..Event::default()
            },
        );
        let Some(EventKind::CreateGrantEvent(grant)) = &granted.event else {
            panic!("{granted:?}");
        };
        assert_eq!(
            grant.entitlement.as_ref().unwrap().id,
            "group:eu-west-1_A:ops:member"
        );
        assert_eq!(
            grant
                .principal
                .as_ref()
                .unwrap()
                .id
                .as_ref()
                .unwrap()
                .resource,
            "eu-west-1_A:ann"
        );
    }
}

//! `EventService`: each pool's change journal and sign-ins as Baton events (see
//! [`crate::event_journal::pool_feeds`]).

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use crate::event_journal::event_feed::EventsRequest;
use crate::event_journal::pool_feeds::EventFeeds;
use crate::pb::v2::event_service_server::EventService;
use crate::pb::v2::*;

#[derive(Clone)]
pub struct EventsApi {
    feeds: Arc<EventFeeds>,
}

impl EventsApi {
    pub fn new(feeds: EventFeeds) -> Self {
        Self {
            feeds: Arc::new(feeds),
        }
    }
}

#[tonic::async_trait]
impl EventService for EventsApi {
    async fn list_event_feeds(
        &self,
        _: Request<ListEventFeedsRequest>,
    ) -> Result<Response<ListEventFeedsResponse>, Status> {
        Ok(Response::new(ListEventFeedsResponse {
            list: self.feeds.feeds(),
            annotations: Vec::new(),
        }))
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        let request = request.into_inner();
        let start_at = request
            .start_at
            .map(SystemTime::try_from)
            .transpose()
            .map_err(|err| Status::invalid_argument(format!("start_at: {err}")))?;
        let response = self
            .feeds
            .list(EventsRequest {
                feed_id: request.event_feed_id,
                cursor: request.cursor,
                start_at,
                page_size: request.page_size,
            })
            .await?;
        Ok(Response::new(response))
    }
}

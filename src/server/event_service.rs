//! `EventService`: the pool's change journal as Baton events (see
//! [`crate::event_journal::event_feed`]).

use std::sync::Arc;
use std::time::SystemTime;

use tonic::{Request, Response, Status};

use crate::event_journal::event_feed::{EventFeed, EventsRequest};
use crate::pb::v2::event_service_server::EventService;
use crate::pb::v2::*;

#[derive(Clone)]
pub struct EventsApi {
    /// None when the server holds several pools: the feeds read one pool so far, and list none.
    feed: Option<Arc<EventFeed>>,
    pools: usize,
}

impl EventsApi {
    pub fn new(feed: Option<Arc<EventFeed>>, pools: usize) -> Self {
        Self { feed, pools }
    }

    fn feed(&self) -> Result<&Arc<EventFeed>, Status> {
        self.feed.as_ref().ok_or_else(|| {
            Status::failed_precondition(format!(
                "event feeds read one user pool; this connector holds {}",
                self.pools
            ))
        })
    }
}

#[tonic::async_trait]
impl EventService for EventsApi {
    async fn list_event_feeds(
        &self,
        _: Request<ListEventFeedsRequest>,
    ) -> Result<Response<ListEventFeedsResponse>, Status> {
        Ok(Response::new(ListEventFeedsResponse {
            list: self.feed.as_ref().map(|f| f.feeds()).unwrap_or_default(),
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
            .feed()?
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

//! The sign-in feed: each successful sign-in to the pool as a Baton `UsageEvent`, the user as
//! its actor and as its target (the account signed in to), so the platform learns last login
//! as it happens instead of from the next full sync.
//!
//! Cognito keeps sign-ins only in pools with threat protection (Plus feature plan). They are
//! read from one of two sources: each user's history, in passes over the users (`history`), or
//! the user-activity log the pool exports to CloudWatch Logs (`log_group`, with
//! `--sign-in-log-group`). Nothing is stored: the cursor says where the reader is, sealed to the
//! pool, the user filter and the source, so a caller cannot forge one, or use it on another
//! pool or after the source changed.

pub mod event;
pub mod history;
pub mod log_group;

use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::request::{DEFAULT_PAGE_SIZE, EventFeedError, EventsRequest, MAX_PAGE_SIZE};
use crate::cognito::sign_in_logs::LogGroup;
use crate::connector::Connector;
use crate::pb::v2::{EventFeedMetadata, EventType, ListEventsResponse};
use crate::sealed::Sealer;
use history::PassCursor;
use log_group::LogCursor;

pub const FEED_ID: &str = "cognito_user_pool_sign_ins";

/// Where a reader starts without a cursor or `start_at`: a day ago, as the SDK's reader does.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// What `ListEventFeeds` says about the feed.
pub fn feed_metadata() -> EventFeedMetadata {
    EventFeedMetadata {
        id: FEED_ID.to_string(),
        supported_event_types: vec![EventType::Usage as i32],
    }
}

/// Where the feed reads sign-ins from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SignInSource {
    /// Each user's history, in passes over the users.
    #[default]
    History,
    /// The pool's exported user-activity log in CloudWatch Logs.
    LogGroup(LogGroup),
}

impl SignInSource {
    /// What cursors are sealed to, so that a cursor of one source is refused by the other.
    fn label(&self) -> String {
        match self {
            Self::History => "history".to_string(),
            Self::LogGroup(group) => format!("log-group:{group}"),
        }
    }
}

/// Reads the sign-in feed of one connector's pool.
pub struct SignInFeed {
    cursors: Sealer,
    source: SignInSource,
    /// How long a finished pass over the users waits before the next (the event feed's interval).
    interval: Duration,
}

impl SignInFeed {
    pub fn new(pool_id: &str, user_filter: &str, source: SignInSource, interval: Duration) -> Self {
        Self {
            cursors: Sealer::new(
                "baton-cognito sign-in cursor key v1",
                &[pool_id, user_filter, &source.label()],
            ),
            source,
            interval,
        }
    }

    /// The request's page size, and its cursor opened (`None` without one).
    fn open<C: DeserializeOwned>(
        &self,
        request: &EventsRequest,
    ) -> Result<(usize, Option<C>), EventFeedError> {
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if size > MAX_PAGE_SIZE => return Err(EventFeedError::PageSize(size)),
            size => size as usize,
        };
        if request.cursor.is_empty() {
            return Ok((page_size, None));
        }
        let cursor = self
            .cursors
            .open(&request.cursor)
            .ok_or(EventFeedError::BadCursor)?;
        Ok((page_size, Some(cursor)))
    }

    /// Refuses a request that cannot be answered, before anything is read.
    pub fn check(&self, request: &EventsRequest) -> Result<(), EventFeedError> {
        match &self.source {
            SignInSource::History => self.open::<PassCursor>(request).map(drop),
            SignInSource::LogGroup(_) => self.open::<LogCursor>(request).map(drop),
        }
    }

    fn answer<C: Serialize>(
        &self,
        read: (Vec<crate::pb::v2::Event>, C, bool),
    ) -> ListEventsResponse {
        let (events, cursor, has_more) = read;
        ListEventsResponse {
            events,
            cursor: self.cursors.seal(&cursor),
            has_more,
            annotations: Vec::new(),
        }
    }

    /// One page of sign-ins after the request's cursor (or from its `start_at`).
    pub async fn list(
        &self,
        connector: &Connector,
        request: &EventsRequest,
    ) -> Result<ListEventsResponse, EventFeedError> {
        let now = SystemTime::now();
        let start = request
            .start_at
            .unwrap_or_else(|| now.checked_sub(DEFAULT_LOOKBACK).unwrap_or(now));
        match &self.source {
            SignInSource::History => {
                let (page_size, cursor) = self.open(request)?;
                let cursor = cursor.unwrap_or_else(|| PassCursor::first(start, now));
                let read = history::read(connector, cursor, page_size, self.interval, now);
                Ok(self.answer(read.await?))
            }
            SignInSource::LogGroup(group) => {
                let (page_size, cursor) = self.open(request)?;
                let cursor = cursor.unwrap_or_else(|| LogCursor::first(start));
                let read = log_group::read(connector.pool(), group, cursor, page_size);
                Ok(self.answer(read.await?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cursor: &str, page_size: u32) -> EventsRequest {
        EventsRequest {
            feed_id: FEED_ID.into(),
            cursor: cursor.into(),
            page_size,
            ..EventsRequest::default()
        }
    }

    #[test]
    fn cursors_are_sealed_to_the_pool_and_the_source() {
        let history = SignInFeed::new("us-east-1_A", "", SignInSource::History, Duration::ZERO);
        let cursor = PassCursor::first(SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH);
        let sealed = history.cursors.seal(&cursor);
        assert!(history.check(&request(&sealed, 0)).is_ok());
        let group = LogGroup::parse("sign-ins", "us-east-1").unwrap();
        for other in [
            SignInFeed::new("us-east-1_B", "", SignInSource::History, Duration::ZERO),
            SignInFeed::new(
                "us-east-1_A",
                "",
                SignInSource::LogGroup(group),
                Duration::ZERO,
            ),
        ] {
            assert!(matches!(
                other.check(&request(&sealed, 0)),
                Err(EventFeedError::BadCursor)
            ));
        }
        assert!(matches!(
            history.check(&request("garbage", 0)),
            Err(EventFeedError::BadCursor)
        ));
        assert!(matches!(
            history.check(&request("", MAX_PAGE_SIZE + 1)),
            Err(EventFeedError::PageSize(_))
        ));
    }
}

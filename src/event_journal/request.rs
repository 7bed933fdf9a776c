//! What a ListEvents call asks of either feed, and how it can fail: shared by the change feed
//! (`event_feed`) and the sign-in feed (`sign_ins`), which sits below it.

use std::sync::Arc;
use std::time::SystemTime;

use crate::c1z::C1zError;
use crate::changes::state::FeedError;
use crate::connector::ConnectorError;

use super::journal::JournalError;

/// Baton's validation limit on a ListEvents page.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// A page when the caller does not say (what the SDK's own one-shot reader asks for).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Pages stay well under gRPC's default 4 MiB message limit.
pub const MAX_PAGE_BYTES: usize = 3 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EventFeedError {
    #[error("error: event feed id {0} not found")]
    UnknownFeed(String),
    /// With several pools each has its own feeds: a request must name one.
    #[error("with several user pools, name the event feed: one of {0}")]
    FeedNotNamed(String),
    #[error("page_size {0} is larger than the maximum of {MAX_PAGE_SIZE}")]
    PageSize(u32),
    #[error(
        "cursor was not issued by this connector for this user pool and filter, or was altered"
    )]
    BadCursor,
    #[error(
        "cursor belongs to an event journal that no longer exists (the --event-feed-dir was replaced); list again without a cursor"
    )]
    OtherJournal,
    #[error(
        "the events after this cursor are gone (older than --event-feed-retention {retention}); list again without a cursor, and sync to catch up"
    )]
    Pruned { retention: String },
    #[error("event journal: {0}")]
    Journal(#[from] JournalError),
    #[error("event feed snapshot: {0}")]
    Snapshot(#[from] FeedError),
    #[error("event feed snapshot: {0}")]
    File(#[from] C1zError),
    #[error("event feed refresh failed: {0}")]
    Task(String),
    /// The refresh this call waited for failed (shared by every caller that waited).
    #[error(transparent)]
    Refresh(Arc<EventFeedError>),
    /// Reading the sign-in feed's users or histories failed.
    #[error("reading sign-ins: {0}")]
    Reading(#[from] ConnectorError),
    /// The sign-in log group does not exist where the connector calls AWS: the operator's to fix.
    #[error(
        "--sign-in-log-group {group}: no such log group in this account and Region ({message})"
    )]
    NoLogGroup { group: String, message: String },
}

/// What a ListEvents call asks for.
#[derive(Clone, Debug, Default)]
pub struct EventsRequest {
    pub feed_id: String,
    pub cursor: String,
    pub start_at: Option<SystemTime>,
    pub page_size: u32,
}

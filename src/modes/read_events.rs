//! `--event-feed`: reads the Baton event feed once, as the SDK's one-shot event feed does, and
//! prints each event as a protojson line. A run always looks at the pool first (the refresh
//! interval does not apply to a person at a terminal) and waits for that snapshot however long
//! it takes; then it logs the cursor a next run continues from.

use std::io::Write;
use std::time::{Duration, SystemTime};

use super::{PoolSettings, RunError, pool_connectors};
use crate::event_journal::event_feed::{EventFeedError, EventFeedSettings, EventsRequest};
use crate::event_journal::journal::JournalError;
use crate::event_journal::pool_feeds::EventFeeds;
use crate::pb::to_protojson;

/// What the SDK's local reader asks for per page.
const PAGE_SIZE: u32 = 100;
/// Where a read without a cursor or start time begins: the SDK's default, one day ago.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug)]
pub struct EventFeedRun {
    pub settings: EventFeedSettings,
    pub feed_id: Option<String>,
    pub start_at: Option<SystemTime>,
    pub cursor: Option<String>,
}

pub async fn run(pool: &PoolSettings, run: EventFeedRun) -> Result<(), RunError> {
    let settings = EventFeedSettings {
        // The one refresh is the explicit one below; reading never starts another. The sign-in
        // feed's passes keep their interval (`sign_in_interval`).
        interval: Duration::MAX,
        wait: None,
        ..run.settings
    };
    let feed = EventFeeds::new(pool_connectors(pool).await, settings);
    let mut cursor = run.cursor.unwrap_or_default();
    let start_at = run
        .start_at
        .or_else(|| SystemTime::now().checked_sub(DEFAULT_LOOKBACK));
    // A bad cursor or feed id is refused before the snapshot, not after it.
    feed.check(&EventsRequest {
        feed_id: run.feed_id.clone().unwrap_or_default(),
        cursor: cursor.clone(),
        start_at,
        page_size: PAGE_SIZE,
    })
    .map_err(run_error)?;
    let request = EventsRequest {
        feed_id: run.feed_id.clone().unwrap_or_default(),
        ..EventsRequest::default()
    };
    if !feed.is_sign_ins(&request) {
        feed.refresh_now(&request).await.map_err(run_error)?;
    }
    let mut stdout = std::io::stdout().lock();
    let mut printed = 0usize;
    loop {
        let page = feed
            .list(EventsRequest {
                feed_id: run.feed_id.clone().unwrap_or_default(),
                cursor: cursor.clone(),
                start_at,
                page_size: PAGE_SIZE,
            })
            .await
            .map_err(run_error)?;
        for event in &page.events {
            writeln!(stdout, "{}", to_protojson(event)?)?;
        }
        printed += page.events.len();
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    stdout.flush()?;
    tracing::info!(events = printed, %cursor, "event feed read; pass --event-feed-cursor to continue from here");
    Ok(())
}

fn run_error(err: EventFeedError) -> RunError {
    match err {
        EventFeedError::UnknownFeed(_) | EventFeedError::FeedNotNamed(_) => {
            RunError::Usage(format!("--event-feed-id: {err}"))
        }
        EventFeedError::BadCursor
        | EventFeedError::OtherJournal
        | EventFeedError::Pruned { .. } => RunError::Usage(format!("--event-feed-cursor: {err}")),
        EventFeedError::NoLogGroup { .. } => RunError::Usage(err.to_string()),
        EventFeedError::Journal(JournalError::Db { .. }) => RunError::Failed(err.to_string()),
        EventFeedError::Journal(_) => RunError::Usage(format!("--event-feed-dir: {err}")),
        other => RunError::Failed(other.to_string()),
    }
}

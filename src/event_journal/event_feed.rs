//! The Baton event feed: `ListEventFeeds` and `ListEvents` over the [`Journal`].
//!
//! A caller reads the journal from its cursor. When it has read everything and the newest
//! snapshot is older than the refresh interval, the feed takes a new snapshot (a sync), appends
//! what changed, and answers with that. Only one refresh runs at a time, whoever asked; it runs
//! as its own task, so a caller that gives up (or a million-user sync that outlasts the wait,
//! [`REFRESH_WAIT`] for gRPC callers) does not stop it, and the next call finds its events.
//!
//! Cursors are sealed positions in one journal: `{journal id, seq}`. Reading from a cursor
//! again gives the same events with the same ids, across restarts, so a consumer that
//! checkpoints the cursor after processing a page loses nothing and, deduplicating by event id,
//! repeats nothing.

use std::future::{Future, pending};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use futures_util::future::Shared;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::baton_events::{self, Snapshots};
use super::journal::Journal;
pub use super::request::{
    DEFAULT_PAGE_SIZE, EventFeedError, EventsRequest, MAX_PAGE_BYTES, MAX_PAGE_SIZE,
};
use super::sign_ins::{self, SignInFeed, SignInSource};
use crate::c1z::C1zReader;
use crate::changes::diff::diff;
use crate::changes::state::{FeedMeta, take_into};
use crate::connector::Connector;
use crate::pb::v2::{Event, EventFeedMetadata, ListEventsResponse};
use crate::sealed::Sealer;
use tokio_util::sync::CancellationToken;

/// How long a ListEvents call over gRPC waits for a refresh before answering with what the
/// journal has (possibly nothing); the refresh goes on.
pub const REFRESH_WAIT: Duration = Duration::from_secs(20);
const CURSOR_VERSION: u8 = 1;

#[derive(Clone, Debug)]
pub struct EventFeedSettings {
    /// Where the journal and its snapshot live.
    pub dir: PathBuf,
    /// A caller who has read everything gets a new snapshot only once the newest is this old.
    pub interval: Duration,
    /// Events observed longer ago than this are dropped.
    pub retention: Duration,
    /// How long a call waits for the refresh it needs; `None` waits for it to finish.
    pub wait: Option<Duration>,
    /// Where the sign-in feed reads from.
    pub sign_ins: SignInSource,
    /// How long a finished pass of the sign-in feed waits before the next: the configured
    /// interval, even where the journal's own refreshes are turned off (the one-shot reader).
    pub sign_in_interval: Duration,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    v: u8,
    /// The journal's id.
    j: String,
    /// Every event up to this position was delivered.
    s: i64,
}

/// The journal, locked and known to be open.
struct OpenJournal<'a>(MutexGuard<'a, Option<Journal>>);

impl Deref for OpenJournal<'_> {
    type Target = Journal;

    fn deref(&self) -> &Journal {
        self.0
            .as_ref()
            .expect("an OpenJournal is only made once the journal is open")
    }
}

impl DerefMut for OpenJournal<'_> {
    fn deref_mut(&mut self) -> &mut Journal {
        self.0
            .as_mut()
            .expect("an OpenJournal is only made once the journal is open")
    }
}

type Refresh = Shared<Pin<Box<dyn Future<Output = Result<(), Arc<EventFeedError>>> + Send>>>;

pub struct EventFeed {
    connector: Arc<Connector>,
    settings: EventFeedSettings,
    cursors: Sealer,
    /// The pool and user filter the journal and its cursors belong to.
    listing: FeedMeta,
    /// Opened on first use, so a server whose callers never read events never needs the
    /// directory.
    journal: Mutex<Option<Journal>>,
    refreshing: Mutex<Option<Refresh>>,
    failures: Mutex<Failures>,
    /// The second feed, of sign-ins, which needs no journal: requests for it are handed on.
    sign_ins: SignInFeed,
}

/// The checks a request passes before the journal is looked at.
fn check_request(request: &EventsRequest) -> Result<(), EventFeedError> {
    // The SDK maps an empty id to its legacy single feed: here, the change feed.
    if !request.feed_id.is_empty() && request.feed_id != baton_events::FEED_ID {
        return Err(EventFeedError::UnknownFeed(request.feed_id.clone()));
    }
    if request.page_size > MAX_PAGE_SIZE {
        return Err(EventFeedError::PageSize(request.page_size));
    }
    Ok(())
}

/// The longest a failing feed waits between refreshes (unless its interval is longer).
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Refreshes that failed in a row, and when the last one did. A refresh is a sync: against a
/// pool that is throttled or refusing the credentials, starting one for every caller would
/// only spend more of the pool's quota, so each failure doubles the wait for the next.
#[derive(Debug, Default)]
struct Failures {
    in_a_row: u32,
    last: Option<Instant>,
}

impl Failures {
    /// How long after the last failure the next refresh waits: the refresh interval, doubled
    /// for each further failure in a row, up to [`MAX_BACKOFF`] (or the interval, if longer).
    fn backoff(&self, interval: Duration) -> Duration {
        let doublings = self.in_a_row.saturating_sub(1).min(31);
        interval
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF.max(interval))
    }

    /// Whether a refresh may start at `now`.
    fn allow(&self, interval: Duration, now: Instant) -> bool {
        self.last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.backoff(interval))
    }

    fn note(&mut self, succeeded: bool, now: Instant) {
        if succeeded {
            *self = Failures::default();
        } else {
            self.in_a_row = self.in_a_row.saturating_add(1);
            self.last = Some(now);
        }
    }
}

impl EventFeed {
    pub fn new(connector: Arc<Connector>, settings: EventFeedSettings) -> Arc<Self> {
        let listing = FeedMeta::local(&connector);
        let cursors = Sealer::new(
            "baton-cognito event cursor key",
            &[&listing.pool_id, &listing.user_filter],
        );
        Arc::new(Self {
            sign_ins: SignInFeed::new(
                &listing.pool_id,
                &listing.user_filter,
                settings.sign_ins.clone(),
                settings.sign_in_interval,
            ),
            connector,
            settings,
            cursors,
            listing,
            journal: Mutex::new(None),
            refreshing: Mutex::new(None),
            failures: Mutex::new(Failures::default()),
        })
    }

    pub fn feeds(&self) -> Vec<EventFeedMetadata> {
        vec![baton_events::feed_metadata(), sign_ins::feed_metadata()]
    }

    /// Whether a request is for the sign-in feed (which has no journal to refresh).
    pub fn is_sign_ins(request: &EventsRequest) -> bool {
        request.feed_id == sign_ins::FEED_ID
    }

    /// One page of events after the request's cursor (or from its `start_at`, or from the
    /// oldest kept event), refreshing first when the caller has read everything and a refresh
    /// is due.
    pub async fn list(
        self: &Arc<Self>,
        request: EventsRequest,
    ) -> Result<ListEventsResponse, EventFeedError> {
        if Self::is_sign_ins(&request) {
            return self.sign_ins.list(&self.connector, &request).await;
        }
        check_request(&request)?;
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE as u32,
            size => size,
        } as usize;

        let (position, refresh_due) = {
            let journal = self.journal()?;
            let position = self.position(&journal, &request)?;
            let due = journal.last_seq()? <= position && self.refresh_due(&journal)?;
            (position, due)
        };
        if refresh_due {
            let refresh = self.refresh();
            let done = match self.settings.wait {
                Some(wait) => tokio::time::timeout(wait, refresh).await.ok(),
                None => Some(refresh.await),
            };
            match done {
                Some(result) => result.map_err(EventFeedError::Refresh)?,
                None => tracing::info!(
                    "the event feed's snapshot is still being taken; answering with what the journal has"
                ),
            }
        }

        let journal = self.journal()?;
        let (entries, has_more) = journal.page(position, page_size, MAX_PAGE_BYTES)?;
        let last = entries.last().map_or(position, |entry| entry.seq);
        let events = entries
            .iter()
            .map(|entry| {
                Event::decode(entry.event.as_slice()).map_err(|err| {
                    EventFeedError::Task(format!("journal entry {}: {err}", entry.seq))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListEventsResponse {
            events,
            cursor: self.cursor(journal.id(), last),
            has_more,
            annotations: Vec::new(),
        })
    }

    /// Refuses a request that cannot be answered (another feed, too large a page, a cursor that
    /// is not this journal's or points at pruned events) without refreshing anything: the
    /// one-shot reader asks before its snapshot, not after it.
    pub fn check(&self, request: &EventsRequest) -> Result<(), EventFeedError> {
        if Self::is_sign_ins(request) {
            return self.sign_ins.check(request);
        }
        check_request(request)?;
        let journal = self.journal()?;
        self.position(&journal, request).map(drop)
    }

    fn cursor(&self, journal_id: &str, seq: i64) -> String {
        self.cursors.seal(&CursorPayload {
            v: CURSOR_VERSION,
            j: journal_id.to_string(),
            s: seq,
        })
    }

    /// The position the request reads after.
    fn position(&self, journal: &Journal, request: &EventsRequest) -> Result<i64, EventFeedError> {
        if request.cursor.is_empty() {
            return Ok(match request.start_at {
                Some(at) => journal.position_at(at)?,
                None => journal.pruned_through()?,
            });
        }
        let payload: CursorPayload = self
            .cursors
            .open(&request.cursor)
            .filter(|p: &CursorPayload| p.v == CURSOR_VERSION)
            .ok_or(EventFeedError::BadCursor)?;
        if payload.j != journal.id() {
            return Err(EventFeedError::OtherJournal);
        }
        if payload.s > journal.last_seq()? {
            // Sealed by this connector for this journal, yet past its end: a journal restored
            // from an older backup. Its positions no longer mean what the cursor saw.
            return Err(EventFeedError::OtherJournal);
        }
        if payload.s < journal.pruned_through()? {
            return Err(EventFeedError::Pruned {
                retention: humantime::format_duration(self.settings.retention).to_string(),
            });
        }
        Ok(payload.s)
    }

    fn refresh_due(&self, journal: &Journal) -> Result<bool, EventFeedError> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.allow(self.settings.interval, Instant::now()) {
            tracing::debug!(
                failures = failures.in_a_row,
                "the last event feed refreshes failed; answering from the journal until the next try"
            );
            return Ok(false);
        }
        Ok(match journal.latest()? {
            None => true,
            Some(latest) => latest
                .taken_at
                .elapsed()
                .is_ok_and(|age| age >= self.settings.interval),
        })
    }

    /// The journal, opened if it is not yet.
    fn journal(&self) -> Result<OpenJournal<'_>, EventFeedError> {
        let mut slot = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let journal = Journal::open(
                &self.settings.dir,
                &self.listing.pool_id,
                &self.listing.user_filter,
            )?;
            tracing::info!(dir = %self.settings.dir.display(), "event journal opened");
            *slot = Some(journal);
        }
        Ok(OpenJournal(slot))
    }

    /// Takes a snapshot now, whatever the interval, and waits for it (or joins the one
    /// running): what the one-shot reader does before it reads.
    pub async fn refresh_now(self: &Arc<Self>) -> Result<(), EventFeedError> {
        // A directory in use, or of another pool, is the caller's to fix: say so as such.
        drop(self.journal()?);
        self.refresh().await.map_err(EventFeedError::Refresh)
    }

    /// The running refresh, or a new one.
    fn refresh(self: &Arc<Self>) -> Refresh {
        let mut slot = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = slot.as_ref() {
            return running.clone();
        }
        let feed = self.clone();
        let task = tokio::spawn(async move {
            let result = feed.clone().take_and_record().await;
            feed.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .note(result.is_ok(), Instant::now());
            // Done: the next refresh is a new one. (Callers who gave up waiting never polled
            // this one to its end, so its future cannot tell.) The slot is set before this
            // runs: `refresh` holds its lock until then.
            *feed.refreshing.lock().unwrap_or_else(|e| e.into_inner()) = None;
            result
        });
        let refresh: Refresh = async move {
            match task.await {
                Ok(result) => result.map_err(|err| {
                    tracing::warn!(error = %err, "event feed refresh failed");
                    Arc::new(err)
                }),
                Err(err) => Err(Arc::new(EventFeedError::Task(err.to_string()))),
            }
        }
        .boxed()
        .shared();
        *slot = Some(refresh.clone());
        refresh
    }

    /// Takes a snapshot and appends what changed since the latest one.
    async fn take_and_record(self: Arc<Self>) -> Result<(), EventFeedError> {
        let next = { self.journal()?.next_snapshot_path() };
        let observed = SystemTime::now();
        let taken = take_into(
            &next,
            self.connector.clone(),
            // Baton events do not name the pool's ARN: no DescribeUserPool beyond the sync's own.
            &self.listing,
            pending::<()>(),
            CancellationToken::new(),
        )
        .await?;
        let feed = self.clone();
        tokio::task::spawn_blocking(move || {
            // Only the recording's start and end hold the journal: readers go on meanwhile.
            let (latest, mut recorder) = {
                let journal = feed.journal()?;
                (journal.latest()?, journal.recorder()?)
            };
            let mut appended = 0u64;
            match latest {
                None => recorder.record(taken.file(), &taken.sync_id, observed, |_| {
                    Ok::<_, EventFeedError>(())
                })?,
                Some(latest) => {
                    let before = C1zReader::open(&latest.file)?;
                    let after = C1zReader::open(taken.file())?;
                    let snapshots = Snapshots {
                        before: &before,
                        after: &after,
                    };
                    recorder.record(taken.file(), &taken.sync_id, observed, |appender| {
                        diff(
                            &feed.listing.pool_id,
                            &latest.sync_id,
                            &before,
                            &after,
                            |change| {
                                let event = baton_events::event(&change, observed, &snapshots)?;
                                appender.append(&event.encode_to_vec())?;
                                appended += 1;
                                Ok::<_, EventFeedError>(())
                            },
                        )
                    })?
                }
            };
            let horizon = observed
                .checked_sub(feed.settings.retention)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let (last, pruned) = {
                let mut journal = feed.journal()?;
                (journal.last_seq()?, journal.prune(horizon)?)
            };
            tracing::info!(
                events = appended,
                last_position = last,
                pruned,
                sync_id = %taken.sync_id,
                "event feed refreshed"
            );
            Ok(())
        })
        .await
        .map_err(|err| EventFeedError::Task(err.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_double_the_wait_up_to_a_cap_and_a_success_clears_them() {
        let minute = Duration::from_secs(60);
        let start = Instant::now();
        let mut failures = Failures::default();
        assert!(failures.allow(minute, start), "no failure, no wait");

        failures.note(false, start);
        assert_eq!(failures.backoff(minute), minute);
        assert!(!failures.allow(minute, start + minute / 2));
        assert!(failures.allow(minute, start + minute));

        failures.note(false, start);
        assert_eq!(failures.backoff(minute), 2 * minute);
        for _ in 0..40 {
            failures.note(false, start);
        }
        assert_eq!(failures.backoff(minute), MAX_BACKOFF);
        // An interval longer than the cap is waited out at least once.
        assert_eq!(failures.backoff(2 * MAX_BACKOFF), 2 * MAX_BACKOFF);
        // The one-shot reader refreshes at interval 0: it never waits.
        assert!(failures.allow(Duration::ZERO, start));

        failures.note(true, start);
        assert!(failures.allow(minute, start));
        assert_eq!(failures.in_a_row, 0);
    }
}

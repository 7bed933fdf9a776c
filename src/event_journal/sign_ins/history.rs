//! Sign-ins from each user's history (AdminListUserAuthEvents), in passes over the users the
//! connector tracks (the pool's, or the user filter's): each call lists the next page of users
//! and reads their histories side by side, keeping the sign-ins since the pass's start time. A
//! pass costs one ListUsers call per 60 users and one history call per user (more only for a
//! user with more than 60 events since). A finished pass waits for the event-feed interval
//! before the next begins, which reads from a little before the last one began, so that a
//! sign-in recorded late is not missed; one read twice keeps its id.

use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::event::usage_event;
use crate::cognito::records::{AuthEvent, CognitoUser};
use crate::cognito::{CognitoError, PoolClient};
use crate::connector::{Connector, ConnectorError, model, users};
use crate::event_journal::journal::millis;
use crate::event_journal::request::{EventFeedError, MAX_PAGE_BYTES};
use crate::pb::v2::Event;

/// Users per ListUsers page: Cognito's most.
const USERS_PER_PAGE: i32 = 60;
/// How far before the last pass began the next one reads: sign-ins recorded a little late.
const OVERLAP: Duration = Duration::from_secs(300);
/// How long one call keeps reading pages of users before it answers with what it has (and
/// `has_more`), so that no caller times out on a large pool.
const CALL_BUDGET: Duration = Duration::from_secs(15);
/// The most history pages read for one user in one pass (60 events each); older sign-ins of a
/// user this busy are skipped, with a warning.
const MAX_HISTORY_PAGES: usize = 10;
/// How many times a pass lists its users again from the start after a stale page token.
const LISTING_RESTARTS: u32 = 3;
/// The fewest users whose histories are read side by side, even when the page has room for
/// fewer events: reading them one at a time would make the pass latency-bound.
const MIN_READS_AT_ONCE: usize = 8;

/// The events of one answer, within its size and Baton's message budget (each event carries its
/// user, whose attributes can be large).
struct PageOut {
    events: Vec<Event>,
    size: usize,
    bytes: usize,
}

impl PageOut {
    fn new(size: usize) -> Self {
        Self {
            events: Vec::new(),
            size,
            bytes: 0,
        }
    }

    fn room(&self) -> usize {
        self.size.saturating_sub(self.events.len())
    }

    /// Full at its size, or once past its bytes (with at least one event, so a page always
    /// moves on).
    fn is_full(&self) -> bool {
        self.room() == 0 || self.bytes >= MAX_PAGE_BYTES
    }

    fn push(&mut self, event: Event) {
        self.bytes += event.encoded_len() + 8;
        self.events.push(event);
    }
}

/// Where a reader is: in a pass (`at`), or between passes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PassCursor {
    /// The pass keeps sign-ins at or after this (milliseconds since the epoch).
    since: i64,
    /// When the pass began (ms): the next one begins an interval later, reading from
    /// [`OVERLAP`] before it.
    began: i64,
    /// The next page of users, or `None` once the pass is done.
    at: Option<Position>,
}

/// A place in the pass's user listing: the page (its token; none for the first), how many of
/// its users are done, and the last sign-in of the next one already delivered, by (time, id):
/// a page of events may end in the middle of a user's, and the next call goes on after it
/// whatever the user's history gained meanwhile.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
struct Position {
    token: Option<String>,
    skip: usize,
    after: Option<(i64, String)>,
}

impl PassCursor {
    /// A first pass, keeping the sign-ins since `since`.
    pub fn first(since: SystemTime, now: SystemTime) -> Self {
        Self {
            since: millis(since),
            began: millis(now),
            at: Some(Position::default()),
        }
    }
}

/// The sign-ins after `cursor`, at most `page_size`; where to go on, and whether to ask again
/// at once. Between passes, nothing is read until `interval` has passed since the last began.
pub async fn read(
    connector: &Connector,
    mut cursor: PassCursor,
    page_size: usize,
    interval: Duration,
    now: SystemTime,
) -> Result<(Vec<Event>, PassCursor, bool), EventFeedError> {
    if cursor.at.is_none() {
        let next_pass = cursor
            .began
            .saturating_add(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX));
        if millis(now) < next_pass {
            return Ok((Vec::new(), cursor, false));
        }
        cursor = PassCursor {
            since: cursor.began - OVERLAP.as_millis() as i64,
            began: millis(now),
            at: Some(Position::default()),
        };
    }
    if !connector.records_sign_ins().await.map_err(reading)? {
        tracing::info!(
            "the sign-in feed is empty: Cognito records sign-ins only with threat protection (AUDIT or ENFORCED, Plus feature plan)"
        );
        cursor.at = None;
        return Ok((Vec::new(), cursor, false));
    }
    let pass = Pass {
        pool: connector.pool(),
        user_filter: connector.options().user_filter.as_ref(),
        since: cursor.since,
    };
    let (events, at) = pass
        .read(cursor.at.take().unwrap_or_default(), page_size)
        .await?;
    let has_more = at.is_some();
    cursor.at = at;
    Ok((events, cursor, has_more))
}

fn reading(err: ConnectorError) -> EventFeedError {
    EventFeedError::Reading(err)
}

/// One pass's reading: the users to visit and the sign-ins to keep.
struct Pass<'a> {
    pool: &'a PoolClient,
    user_filter: Option<&'a crate::cognito::filter::UserFilter>,
    since: i64,
}

impl Pass<'_> {
    /// Sign-ins from `at` on, page after page of users, until `page_size` events, the page's
    /// byte budget, the call's time budget or the end of the pass; the events and where the
    /// pass goes on (`None` when it is done). Histories are read a few users at a time, as
    /// many as the page still has room for (at least [`MIN_READS_AT_ONCE`]), so that a page
    /// that fills up early has read few histories it does not deliver.
    async fn read(
        &self,
        mut at: Position,
        page_size: usize,
    ) -> Result<(Vec<Event>, Option<Position>), EventFeedError> {
        let started = Instant::now();
        let mut page_out = PageOut::new(page_size);
        let mut restarts = 0;
        loop {
            let page = match self
                .pool
                .list_users(self.user_filter, at.token.as_deref(), USERS_PER_PAGE)
                .await
            {
                Ok(page) => page,
                Err(CognitoError::StaleToken { .. }) if restarts < LISTING_RESTARTS => {
                    restarts += 1;
                    tracing::warn!(
                        "the sign-in feed's user listing starts over: Cognito refused its page token"
                    );
                    // The pass's users are visited again: what this call gathered comes again.
                    at = Position::default();
                    page_out = PageOut::new(page_size);
                    continue;
                }
                Err(err) => return Err(reading(err.into())),
            };
            while at.skip < page.items.len() {
                let reads = page_out.room().max(MIN_READS_AT_ONCE);
                let users = &page.items[at.skip..page.items.len().min(at.skip + reads)];
                let histories = join_all(users.iter().map(|user| self.sign_ins(user))).await;
                for (user, sign_ins) in users.iter().zip(histories) {
                    let sign_ins = sign_ins?;
                    let delivered = at.after.take();
                    let fresh = sign_ins.iter().filter(|s| {
                        delivered
                            .as_ref()
                            .is_none_or(|(ms, id)| (sign_in_ms(s), &s.id) > (*ms, id))
                    });
                    at.after = delivered.clone();
                    for sign_in in fresh {
                        if page_out.is_full() {
                            return Ok((page_out.events, Some(at)));
                        }
                        page_out.push(sign_in_event(user, sign_in));
                        at.after = Some((sign_in_ms(sign_in), sign_in.id.clone()));
                    }
                    at.skip += 1;
                    at.after = None;
                    if page_out.is_full() && at.skip < page.items.len() {
                        return Ok((page_out.events, Some(at)));
                    }
                }
                if started.elapsed() >= CALL_BUDGET && at.skip < page.items.len() {
                    return Ok((page_out.events, Some(at)));
                }
            }
            let Some(token) = page.next_token else {
                return Ok((page_out.events, None));
            };
            at = Position {
                token: Some(token),
                ..Position::default()
            };
            if page_out.is_full() || started.elapsed() >= CALL_BUDGET {
                return Ok((page_out.events, Some(at)));
            }
        }
    }

    /// A user's successful sign-ins since the pass's start, oldest first (so that sign-ins
    /// recorded later only add to the end), reading the history (newest first) back to it.
    async fn sign_ins(&self, user: &CognitoUser) -> Result<Vec<AuthEvent>, EventFeedError> {
        let mut kept = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let page = match self
                .pool
                .list_auth_events(&user.username, token.as_deref(), USERS_PER_PAGE)
                .await
            {
                Ok(page) => page,
                // Deleted since it was listed: no sign-ins to tell.
                Err(CognitoError::UserNotFound { .. }) => return Ok(oldest_first(kept)),
                Err(err) => return Err(reading(err.into())),
            };
            let mut reached_since = false;
            for event in page.items {
                let Some(at) = event.at.and_then(|at| at.to_millis().ok()) else {
                    continue;
                };
                if at < self.since {
                    reached_since = true;
                } else if event.kind == "SignIn" && event.response == "Pass" {
                    kept.push(event);
                }
            }
            match page.next_token {
                Some(next) if !reached_since => token = Some(next),
                _ => return Ok(oldest_first(kept)),
            }
        }
        tracing::warn!(
            username = %user.username,
            pages = MAX_HISTORY_PAGES,
            "the user has more events since the last pass than the sign-in feed reads; older sign-ins are skipped"
        );
        Ok(oldest_first(kept))
    }
}

fn sign_in_ms(sign_in: &AuthEvent) -> i64 {
    sign_in.at.and_then(|at| at.to_millis().ok()).unwrap_or(0)
}

fn oldest_first(mut sign_ins: Vec<AuthEvent>) -> Vec<AuthEvent> {
    sign_ins.sort_by(|a, b| (sign_in_ms(a), &a.id).cmp(&(sign_in_ms(b), &b.id)));
    sign_ins
}

/// One sign-in of a listed user, the user as the sync describes them.
fn sign_in_event(user: &CognitoUser, sign_in: &AuthEvent) -> Event {
    usage_event(
        &sign_in.id,
        sign_in.at.as_ref().map(model::timestamp),
        users::resource(user),
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use aws_smithy_types::DateTime;

    use super::*;

    #[test]
    fn a_first_pass_keeps_the_sign_ins_since_its_start() {
        let now = UNIX_EPOCH + Duration::from_secs(100_000);
        let first = PassCursor::first(UNIX_EPOCH + Duration::from_secs(5), now);
        assert_eq!(first.since, 5000);
        assert_eq!(first.began, 100_000_000);
        assert_eq!(first.at, Some(Position::default()));
    }

    #[test]
    fn a_page_ends_at_its_size_or_its_bytes_whichever_comes_first() {
        let event = |bytes: usize| Event {
            id: "x".repeat(bytes),
            ..Event::default()
        };
        let mut by_size = PageOut::new(2);
        by_size.push(event(10));
        assert!(!by_size.is_full());
        by_size.push(event(10));
        assert!(by_size.is_full());
        let mut by_bytes = PageOut::new(1000);
        by_bytes.push(event(MAX_PAGE_BYTES / 2));
        assert!(!by_bytes.is_full());
        by_bytes.push(event(MAX_PAGE_BYTES / 2));
        assert!(by_bytes.is_full(), "3 MiB of events fill a page of 1000");
        assert_eq!(by_bytes.room(), 998);
    }

    #[test]
    fn sign_ins_come_oldest_first() {
        let at = |secs| AuthEvent {
            id: format!("e{secs}"),
            at: Some(DateTime::from_secs(secs)),
            ..AuthEvent::default()
        };
        let ids: Vec<String> = oldest_first(vec![at(3), at(1), at(2)])
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
    }
}

//! Sign-ins from the user-activity log a pool exports to CloudWatch Logs (`--sign-in-log-group`),
//! read with FilterLogEvents from where the last read ended: the cost grows with the sign-ins,
//! not with the users, and one call reads up to a page of them whatever the pool's size.
//!
//! A read is a scan from a start time, page after page (CloudWatch's token); a scan that reaches
//! the end leaves the log time of the newest sign-in delivered, and the ids delivered at that
//! very millisecond, for the next scan to start from without repeating them. Places are kept in
//! the log's own timestamps, which the scan's start time filters on, never in the time a record
//! says its sign-in happened. A record CloudWatch
//! ingests later than newer ones, with an older time, is not seen by a scan that has passed it:
//! AWS delivers these logs on a best-effort basis, and the history (the other source) reads
//! every user's.

use std::time::{Instant, SystemTime};

use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use super::event::usage_event;
use crate::cognito::sign_in_logs::{LogGroup, LoggedSignIn};
use crate::cognito::{CognitoError, PoolClient};
use crate::connector::{model, users};
use crate::event_journal::journal::millis;
use crate::event_journal::request::EventFeedError;
use crate::pb::v2::Event;

/// How long one call keeps reading before it answers with what it has (and `has_more`).
const CALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);
/// How many times a read starts its scan over after CloudWatch refused the scan's token
/// (they expire after 24 hours).
const SCAN_RESTARTS: u32 = 3;

/// Where a reader is in the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogCursor {
    /// Sign-ins logged before this time (ms since the epoch) are delivered.
    since: i64,
    /// The ids delivered at exactly `since`.
    seen: Vec<String>,
    /// The scan under way, if a page of it remains.
    scan: Option<Scan>,
}

/// A FilterLogEvents scan: its start time and the token of its next page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Scan {
    start: i64,
    token: String,
}

impl LogCursor {
    /// A first read, from `since`.
    pub fn first(since: SystemTime) -> Self {
        Self {
            since: millis(since),
            seen: Vec::new(),
            scan: None,
        }
    }

    /// Notes a sign-in as delivered; whether it was new (not one the last scan delivered).
    fn deliver(&mut self, sign_in: &LoggedSignIn) -> bool {
        let logged = sign_in.logged_ms;
        if logged == self.since && self.seen.contains(&sign_in.id) {
            return false;
        }
        if logged > self.since {
            self.since = logged;
            self.seen.clear();
        }
        if logged == self.since {
            self.seen.push(sign_in.id.clone());
        }
        true
    }
}

/// The sign-ins after `cursor`, at most `page_size`; where to go on, and whether to ask again
/// at once (`false` once the scan reached the end of the log).
pub async fn read(
    pool: &PoolClient,
    group: &LogGroup,
    mut cursor: LogCursor,
    page_size: usize,
) -> Result<(Vec<Event>, LogCursor, bool), EventFeedError> {
    let started = Instant::now();
    let mut events = Vec::new();
    let mut restarts = 0;
    loop {
        let (start, token) = match &cursor.scan {
            Some(scan) => (scan.start, Some(scan.token.clone())),
            None => (cursor.since, None),
        };
        // Every record the pattern lets through is a sign-in: asking for the room left keeps
        // the page within its size.
        let room = i32::try_from(page_size - events.len()).unwrap_or(i32::MAX);
        let page = match pool
            .filter_sign_in_logs(group, start, token.as_deref(), room)
            .await
        {
            Ok(page) => page,
            Err(CognitoError::StaleToken { .. }) if restarts < SCAN_RESTARTS => {
                restarts += 1;
                tracing::warn!(
                    "the sign-in log's scan starts over: CloudWatch Logs refused its token"
                );
                cursor.scan = None;
                continue;
            }
            Err(CognitoError::NotFound { message, .. }) => {
                return Err(EventFeedError::NoLogGroup {
                    group: group.to_string(),
                    message,
                });
            }
            Err(err) => return Err(EventFeedError::Reading(err.into())),
        };
        for sign_in in &page.sign_ins {
            if cursor.deliver(sign_in) {
                events.push(logged_event(sign_in));
            }
        }
        let Some(token) = page.next_token else {
            cursor.scan = None;
            return Ok((events, cursor, false));
        };
        cursor.scan = Some(Scan { start, token });
        if events.len() >= page_size || started.elapsed() >= CALL_BUDGET {
            return Ok((events, cursor, true));
        }
    }
}

/// One logged sign-in: the log names the user, with no call to describe them further.
fn logged_event(sign_in: &LoggedSignIn) -> Event {
    let mut actor = model::resource_ref(users::TYPE_ID, &sign_in.username);
    actor.display_name = sign_in.username.clone();
    let at = model::timestamp(&DateTime::from_millis(sign_in.at_ms));
    usage_event(&sign_in.id, Some(at), actor)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// A sign-in logged at `logged_ms`, which it says happened a second earlier.
    fn sign_in(id: &str, logged_ms: i64) -> LoggedSignIn {
        LoggedSignIn {
            id: id.into(),
            username: "ann".into(),
            at_ms: logged_ms - 1000,
            logged_ms,
        }
    }

    #[test]
    fn a_new_scan_skips_what_the_last_delivered_at_its_start() {
        let mut cursor = LogCursor::first(UNIX_EPOCH);
        assert!(cursor.deliver(&sign_in("a", 10)));
        assert!(cursor.deliver(&sign_in("b", 20)));
        assert!(cursor.deliver(&sign_in("c", 20)));
        assert_eq!(
            (cursor.since, cursor.seen.clone()),
            (20, vec!["b".into(), "c".into()])
        );
        // The next scan starts at 20 and finds b and c again, then d.
        assert!(!cursor.deliver(&sign_in("b", 20)));
        assert!(!cursor.deliver(&sign_in("c", 20)));
        assert!(cursor.deliver(&sign_in("d", 20)));
        assert!(cursor.deliver(&sign_in("e", 30)));
        assert_eq!(cursor.seen, vec!["e".to_string()]);
        assert!(
            cursor.deliver(&sign_in("late", 25)),
            "an older record within a scan is new"
        );
        assert_eq!(cursor.since, 30);
    }

    #[test]
    fn a_logged_sign_in_names_the_user_and_its_time() {
        let event = logged_event(&sign_in("e-1", 1_687_297_331_677));
        assert_eq!(event.id, "e-1");
        let at = event.occurred_at.unwrap();
        assert_eq!(
            (at.seconds, at.nanos),
            (1_687_297_330, 677_000_000),
            "when it happened, not when it was logged"
        );
    }
}

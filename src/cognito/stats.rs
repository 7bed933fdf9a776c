//! Counts of Cognito calls per operation: what a sync summary and the call-count tests read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::operation::Operation;

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    pacing_wait_micros: AtomicU64,
}

/// Per-operation counters, shared by every task using one pool client.
pub struct CallStats {
    counters: Vec<Counters>,
}

/// A point-in-time copy of one operation's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OperationStats {
    /// Requests sent, retries included.
    pub calls: u64,
    /// Requests Cognito answered with a throttling error.
    pub throttled: u64,
    /// Requests that were repeats of a failed one.
    pub retries: u64,
    /// Time spent waiting for the client-side pacer.
    #[serde(serialize_with = "as_millis")]
    pub pacing_wait: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Default for CallStats {
    fn default() -> Self {
        Self {
            counters: Operation::ALL.iter().map(|_| Counters::default()).collect(),
        }
    }
}

impl CallStats {
    fn of(&self, op: Operation) -> &Counters {
        &self.counters[op as usize]
    }

    pub(super) fn record_call(&self, op: Operation, pacing_wait: Duration, is_retry: bool) {
        let c = self.of(op);
        c.calls.fetch_add(1, Ordering::Relaxed);
        if is_retry {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
        c.pacing_wait_micros
            .fetch_add(pacing_wait.as_micros() as u64, Ordering::Relaxed);
    }

    pub(super) fn record_throttled(&self, op: Operation) {
        self.of(op).throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Operations that were called at least once, by name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, OperationStats> {
        Operation::ALL
            .iter()
            .map(|op| {
                let c = self.of(*op);
                (
                    op.name(),
                    OperationStats {
                        calls: c.calls.load(Ordering::Relaxed),
                        throttled: c.throttled.load(Ordering::Relaxed),
                        retries: c.retries.load(Ordering::Relaxed),
                        pacing_wait: Duration::from_micros(
                            c.pacing_wait_micros.load(Ordering::Relaxed),
                        ),
                    },
                )
            })
            .filter(|(_, s)| s.calls > 0)
            .collect()
    }
}

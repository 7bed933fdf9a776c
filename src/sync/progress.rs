//! What a running sync has done so far: counted by the engine, shown in place on a terminal,
//! logged periodically otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cognito::stats::CallStats;
use crate::fleet::Fleet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Validating,
    ResourceTypes,
    /// Resources, entitlements and grants, which overlap (see the engine).
    Listing,
    Writing,
}

impl Phase {
    const ALL: [Self; 4] = [
        Self::Validating,
        Self::ResourceTypes,
        Self::Listing,
        Self::Writing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Validating => "validating",
            Self::ResourceTypes => "resource types",
            Self::Listing => "listing",
            Self::Writing => "writing file",
        }
    }
}

/// Counters the engine bumps as it goes.
#[derive(Default)]
pub struct Progress {
    phase: AtomicU8,
    pub resources: AtomicU64,
    pub entitlements: AtomicU64,
    pub grants: AtomicU64,
    pub pages: AtomicU64,
}

impl Progress {
    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        tracing::info!(phase = phase.name(), "sync phase");
    }

    pub fn phase(&self) -> Phase {
        Phase::ALL[self.phase.load(Ordering::Relaxed) as usize]
    }

    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Takes back what a listing that starts over had counted: its next pass counts again.
    pub fn take_back(counter: &AtomicU64, n: u64) {
        let _always_some = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
            Some(now.saturating_sub(n))
        });
    }

    fn line(&self, calls: &CallStats, started: Instant) -> String {
        let snapshot = calls.snapshot();
        let api_calls: u64 = snapshot.values().map(|s| s.calls).sum();
        let throttled: u64 = snapshot.values().map(|s| s.throttled).sum();
        let waited: Duration = snapshot.values().map(|s| s.pacing_wait).sum();
        format!(
            "[{:>6.1}s] {:<19} resources {:>9}  entitlements {:>7}  grants {:>9}  pages {:>7}  API calls {:>7}  throttled {:>4}  paced {:>6.1}s",
            started.elapsed().as_secs_f64(),
            self.phase().name(),
            self.resources.load(Ordering::Relaxed),
            self.entitlements.load(Ordering::Relaxed),
            self.grants.load(Ordering::Relaxed),
            self.pages.load(Ordering::Relaxed),
            api_calls,
            throttled,
            waited.as_secs_f64(),
        )
    }
}

/// Shows progress until dropped: a line rewritten in place on a terminal (stderr), or a
/// structured log line every 10 seconds otherwise.
pub struct ProgressDisplay {
    task: tokio::task::JoinHandle<()>,
    on_terminal: bool,
}

impl ProgressDisplay {
    pub fn start(progress: Arc<Progress>, fleet: Arc<Fleet>) -> Self {
        let on_terminal = std::io::stderr().is_terminal();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let period = if on_terminal {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(10)
            };
            let mut ticker = tokio::time::interval(period);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let line = progress.line(fleet.stats(), started);
                if on_terminal {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{line}");
                    let _ = err.flush();
                } else {
                    tracing::info!(progress = %line.split_whitespace().collect::<Vec<_>>().join(" "), "sync progress");
                }
            }
        });
        Self { task, on_terminal }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.task.abort();
        if self.on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

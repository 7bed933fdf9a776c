//! What a running sync has done so far: counted by the engine, shown in place on a terminal,
//! logged periodically otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cognito::records::PoolDescription;
use crate::cognito::stats::CallStats;
use crate::cognito::{MAX_PAGE_SIZE, Operation};
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
    /// Listing pages the sync is known to need so far: the user pages the pools' estimated
    /// sizes take, then a page for each listing that starts and one more for each page that
    /// says more follow. What is left of them, at the pace pages come, is the time left.
    pub planned_pages: AtomicU64,
    /// Of `pages`, those a killed run read, which this run's pace does not count.
    pub resumed_pages: AtomicU64,
    /// How long the sync was expected to take once the pools were described (see
    /// [`Progress::forecast`]).
    forecast: OnceLock<Duration>,
    /// When listing started: the pace of pages is measured from then.
    listing_since: OnceLock<Instant>,
}

impl Progress {
    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        if phase == Phase::Listing {
            let _first = self.listing_since.set(Instant::now());
        }
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

    /// Records the forecast: `pages` planned, expected to take `duration` at the budget.
    pub fn forecast(&self, pages: u64, duration: Option<Duration>) {
        self.planned_pages.fetch_add(pages, Ordering::Relaxed);
        if let Some(duration) = duration {
            let _first = self.forecast.set(duration);
            tracing::info!(
                planned_pages = pages,
                forecast_s = duration.as_secs(),
                "sync forecast: the pools' estimated sizes at the API budget"
            );
        }
    }

    /// The forecast made once the pools were described, if their pace is known.
    pub fn forecast_made(&self) -> Option<Duration> {
        self.forecast.get().copied()
    }

    /// The time the listing has left: the pages still planned at the pace this run's pages
    /// have come (at the forecast's pace until enough have come to measure one). None once the
    /// plan is used up: the pool was larger than estimated, and the rest cannot be told.
    pub fn time_left(&self) -> Option<Duration> {
        let since = self.listing_since.get()?;
        let done = self.pages.load(Ordering::Relaxed);
        let planned = self.planned_pages.load(Ordering::Relaxed);
        let left = planned.checked_sub(done).filter(|left| *left > 0)?;
        let elapsed = since.elapsed().as_secs_f64();
        let this_run = done.saturating_sub(self.resumed_pages.load(Ordering::Relaxed));
        let pace = if this_run >= MEASURED_AFTER_PAGES && elapsed >= 1.0 {
            this_run as f64 / elapsed
        } else {
            let forecast = self.forecast.get()?.as_secs_f64();
            (forecast > 0.0).then(|| planned as f64 / forecast)?
        };
        (pace > 0.0).then(|| Duration::from_secs_f64(left as f64 / pace))
    }

    /// The progress in one line, the most telling first (a narrow terminal shows its start).
    fn line(&self, calls: &CallStats, started: Instant) -> String {
        let snapshot = calls.snapshot();
        let api_calls: u64 = snapshot.values().map(|s| s.calls).sum();
        let throttled: u64 = snapshot.values().map(|s| s.throttled).sum();
        let waited: Duration = snapshot.values().map(|s| s.pacing_wait).sum();
        let left = match (self.phase(), self.time_left()) {
            (Phase::Listing, Some(left)) => format!(", ~{} left", clock(left)),
            _ => String::new(),
        };
        format!(
            "{} {}{left} | {} resources, {} grants | {} calls, {} throttled, paced {}",
            self.phase().name(),
            clock(started.elapsed()),
            self.resources.load(Ordering::Relaxed),
            self.grants.load(Ordering::Relaxed),
            api_calls,
            throttled,
            clock(waited),
        )
    }
}

/// The user pages the pools' estimated sizes take, and how long the sync should take at the API
/// budget (none when a pace is unbounded or nothing is to be read). The pools of a Region share
/// its UserList quota (ListUsers, and ListUsersInGroup after it); reading each user's sign-in
/// history runs beside the listing at a quota of its own.
pub fn forecast_of(fleet: &Fleet, pools: &[PoolDescription]) -> (u64, Option<Duration>) {
    let mut regions: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut longest = 0.0_f64;
    let mut planned = 0;
    for (connector, pool) in fleet.pools().iter().zip(pools) {
        let client = connector.pool();
        let pages = pool.estimated_users.div_ceil(u64::from(MAX_PAGE_SIZE));
        planned += pages;
        let region = regions
            .entry(client.region())
            .or_insert((0.0, client.rate_of(Operation::ListUsers)));
        region.0 += pages as f64;
        if connector.reads_user_history() {
            let rate = client.rate_of(Operation::AdminListUserAuthEvents);
            longest = longest.max(pool.estimated_users as f64 / rate);
        }
    }
    for (pages, rate) in regions.values() {
        longest = longest.max(pages / rate);
    }
    let paced = regions.values().all(|(_, rate)| rate.is_finite());
    let forecast =
        (paced && longest.is_finite() && longest > 0.0).then(|| Duration::from_secs_f64(longest));
    (planned, forecast)
}

/// Pages after which their own pace predicts the rest better than the forecast.
const MEASURED_AFTER_PAGES: u64 = 5;

/// A duration as people read a clock: `42s`, `3m07s`, `1h02m`.
pub fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Shows progress until dropped: one line updated in place on a terminal (stderr), cut to the
/// terminal's width, or a structured log line every 10 seconds otherwise.
pub struct ProgressDisplay {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    pub fn start(progress: Arc<Progress>, fleet: Arc<Fleet>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        let started = Instant::now();
        let task = tokio::spawn({
            let bar = bar.clone();
            async move {
                let period = if bar.is_some() {
                    Duration::from_millis(250)
                } else {
                    Duration::from_secs(10)
                };
                let mut ticker = tokio::time::interval(period);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    let line = progress.line(fleet.stats(), started);
                    match &bar {
                        Some(bar) => {
                            bar.set_message(line);
                            bar.tick();
                        }
                        None => {
                            let left = progress.time_left().map(|left| left.as_secs());
                            tracing::info!(progress = %line, time_left_s = left, "sync progress");
                        }
                    }
                }
            }
        });
        Self { task, bar }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_clock() {
        assert_eq!(clock(Duration::from_secs(42)), "42s");
        assert_eq!(clock(Duration::from_secs(187)), "3m07s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn time_left_is_the_planned_pages_left_at_the_pace_they_come() {
        let progress = Progress::default();
        assert_eq!(progress.time_left(), None, "not listing yet");
        progress.forecast(100, Some(Duration::from_secs(50)));
        progress.enter(Phase::Listing);
        // Too few pages (or too soon) to measure: the forecast's pace, 2 pages a second.
        Progress::add(&progress.pages, 10);
        let left = progress.time_left().unwrap().as_secs_f64();
        assert!((left - 45.0).abs() < 0.01, "{left}");
        // The plan used up: no estimate rather than a wrong one.
        Progress::add(&progress.pages, 100);
        assert_eq!(progress.time_left(), None);
    }

    #[test]
    fn after_a_second_the_pages_own_pace_tells_the_time_left() {
        let progress = Progress::default();
        progress.forecast(130, Some(Duration::from_secs(1)));
        progress.enter(Phase::Listing);
        // A killed run's pages count as done but not towards this run's pace.
        Progress::add(&progress.pages, 30);
        Progress::add(&progress.resumed_pages, 30);
        Progress::add(&progress.pages, 50);
        std::thread::sleep(Duration::from_millis(1100));
        // 50 pages in about a second: 50 more take about as long, not the forecast's half.
        let left = progress.time_left().unwrap().as_secs_f64();
        assert!((0.8..1.2).contains(&left), "{left}");
    }
}

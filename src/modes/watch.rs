//! `watch`: a long-running change feed. On a cron schedule or an interval it takes a snapshot,
//! compares it with the last delivered one, and sends every change as a CloudEvent to the sink.
//! The state advances only after the sink accepted all of them, so a failed delivery, a crash or
//! a restart sends the same changes again (with the same ids) rather than losing any. The first
//! run only records the baseline. With several pools, each run goes through them in turn, each
//! with its own state (see [`pool_state`]); every event names its pool as its source.

use std::sync::Arc;
use std::time::Duration;

use super::{PoolSettings, RunError, Shutdown, pool_connectors, pool_state};
use crate::c1z::C1zReader;
use crate::changes::{FeedError, FeedMeta, FeedState, Previous, Taken, diff};
use crate::cloud_events::event::CloudEvent;
use crate::cloud_events::sink::Sink;
use crate::connector::Connector;
use crate::sync::SyncError;

/// When runs happen.
#[derive(Debug)]
pub enum Schedule {
    /// A five-field cron expression, in UTC.
    Cron(Box<croner::Cron>),
    Every(Duration),
}

impl Schedule {
    /// A cron schedule that fires: "0 0 30 2 *" (30 February) parses, and never runs.
    pub fn cron(expression: &str) -> Result<Schedule, RunError> {
        let cron = croner::Cron::new(expression).parse().map_err(|err| {
            RunError::Usage(format!(
                "--schedule {expression:?}: not a cron expression ({err}); e.g. \"*/15 * * * *\""
            ))
        })?;
        if cron
            .find_next_occurrence(&chrono::Utc::now(), false)
            .is_err()
        {
            return Err(RunError::Usage(format!(
                "--schedule {expression:?}: no date ever matches it, so it would never run"
            )));
        }
        Ok(Schedule::Cron(Box::new(cron)))
    }

    pub fn every(text: &str) -> Result<Schedule, RunError> {
        match humantime::parse_duration(text) {
            Ok(every) if every >= Duration::from_secs(1) => Ok(Schedule::Every(every)),
            _ => Err(RunError::Usage(format!(
                "--interval {text:?}: expected a duration of at least 1s, e.g. 30s, 15m or 1h"
            ))),
        }
    }

    /// How long until the next run.
    fn wait(&self) -> Duration {
        match self {
            Schedule::Every(every) => *every,
            Schedule::Cron(cron) => {
                let now = chrono::Utc::now();
                cron.find_next_occurrence(&now, false)
                    .ok()
                    .and_then(|next| (next - now).to_std().ok())
                    .unwrap_or(Duration::from_secs(60))
            }
        }
    }
}

pub struct WatchSettings {
    pub schedule: Schedule,
    pub sink: Sink,
    pub state: std::path::PathBuf,
    /// One run, then exit (for cron jobs and tests).
    pub once: bool,
}

pub async fn run(settings: &PoolSettings, watch: &WatchSettings) -> Result<(), RunError> {
    let shutdown = Shutdown::listen()?;
    let connectors = pool_connectors(settings).await;
    let pools = connectors
        .into_iter()
        .map(|connector| {
            let path = pool_state(
                &watch.state,
                connector.pool().pool_id(),
                settings.pools.len(),
            );
            Ok((FeedState::new(&path)?, connector))
        })
        .collect::<Result<Vec<_>, FeedError>>()?;
    // A state of another listing is refused before any pool's events go out.
    for (state, connector) in &pools {
        state.last(&FeedMeta::local(connector))?;
    }
    loop {
        // Each pool is a listing of its own, with its own state: one that fails is sent again
        // next run, and does not hold the others back.
        let mut failed = None;
        for (state, connector) in &pools {
            let pool_id = connector.pool().pool_id();
            let outcome = tokio::select! {
                outcome = run_once(connector, state, &watch.sink, &shutdown) => outcome,
                () = shutdown.requested() => Err(FeedError::Interrupted),
            };
            match outcome {
                Ok(delivered) => tracing::info!(pool_id, delivered, "watch run finished"),
                Err(FeedError::Interrupted) => {
                    tracing::info!("stopped; the state is where the last completed run left it");
                    return Ok(());
                }
                // A state of another listing would fail every run: stop.
                Err(err @ (FeedError::OtherListing { .. } | FeedError::NotState { .. })) => {
                    return Err(err.into());
                }
                Err(err) => {
                    tracing::error!(pool_id, error = %err, "watch run failed; its changes are sent again next run");
                    failed.get_or_insert(err);
                }
            }
        }
        if watch.once {
            return failed.map_or(Ok(()), |err| Err(err.into()));
        }
        let wait = watch.schedule.wait();
        tracing::debug!(
            next_run_in_s = wait.as_secs_f64(),
            "waiting for the next run"
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.requested() => return Ok(()),
        }
    }
}

/// How many changes wait between the diff and the sink: enough to keep the sink busy, few
/// enough that a slow sink holds the diff back instead of piling changes up in memory.
const CHANGES_IN_FLIGHT: usize = 256;

/// One run: snapshot, compare, deliver, advance. The number of events delivered.
async fn run_once(
    connector: &Arc<Connector>,
    state: &FeedState,
    sink: &Sink,
    shutdown: &Shutdown,
) -> Result<usize, FeedError> {
    let meta = FeedMeta::of(connector).await?;
    let last = state.last(&meta)?;
    let taken = state
        .take(
            connector.clone(),
            &meta,
            shutdown.requested_owned(),
            shutdown.token().clone(),
        )
        .await?;
    let Some(previous) = last else {
        tracing::info!(
            users = taken.users,
            groups = taken.groups,
            "baseline snapshot recorded; changes are sent from the next run on"
        );
        state.advance(taken)?;
        return Ok(0);
    };
    match deliver(previous, &taken, &meta, sink).await {
        Ok(delivered) => {
            state.advance(taken)?;
            Ok(delivered)
        }
        Err(err) => {
            taken.discard();
            Err(err)
        }
    }
}

/// Diffs `taken` against `previous` on a blocking thread and sends each change to the sink as
/// it comes. A failed delivery stops the diff.
async fn deliver(
    previous: Previous,
    taken: &Taken,
    meta: &FeedMeta,
    sink: &Sink,
) -> Result<usize, FeedError> {
    let (changes, mut incoming) = tokio::sync::mpsc::channel(CHANGES_IN_FLIGHT);
    let (pool, after) = (meta.pool_id.clone(), taken.file().to_path_buf());
    let differ = tokio::task::spawn_blocking(move || {
        let before = previous.open()?;
        let after = C1zReader::open(&after)?;
        diff(&pool, &previous.sync_id, &before, &after, |change| {
            // The receiver is gone only when delivery failed; that error is the one to report.
            changes
                .blocking_send(change)
                .map_err(|_| FeedError::Delivery("delivery stopped".into()))
        })
    });
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut delivered = 0;
    while let Some(change) = incoming.recv().await {
        let event = CloudEvent::from_change(&change, meta, &time);
        if let Err(err) = sink.deliver(&event).await {
            return Err(FeedError::Delivery(err.to_string()));
        }
        delivered += 1;
    }
    differ
        .await
        .map_err(|e| FeedError::Sync(SyncError::Task(e.to_string())))??;
    Ok(delivered)
}

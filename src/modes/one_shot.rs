//! The one-shot sync: the whole pool into a `.c1z` file, then a summary.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::table::Table;
use super::{PoolSettings, RunError, Shutdown, fleet};
use crate::fleet::Fleet;
use crate::sync::progress::{ProgressDisplay, clock};
use crate::sync::reach::Reach;
use crate::sync::{SyncEngine, SyncError, SyncScope, SyncSummary};
use tokio_util::sync::CancellationToken;

/// What a one-shot sync reads (the Baton SDK's scoping flags), and whether it starts over.
#[derive(Debug)]
pub struct OneShotSync {
    /// Start a new sync even where a killed one could be resumed (`--fresh`).
    pub fresh: bool,
    /// The whole pool, the resources of `--sync-resources` (a partial sync), or nothing
    /// (`--skip-full-sync`).
    pub reach: Reach,
    pub scope: SyncScope,
    /// Only these resource types (`--sync-resource-types`); empty for all.
    pub type_ids: Vec<String>,
}

pub async fn run(settings: &PoolSettings, file: &Path, sync: OneShotSync) -> Result<(), RunError> {
    let shutdown = Shutdown::listen()?;
    let fleet = fleet(settings).await?;
    super::check_sync_resource_types(&fleet, &sync.type_ids)?;
    let engine = SyncEngine::new(fleet.clone())
        .with_scope(sync.scope)
        .with_resource_types(sync.type_ids);
    // Fails before any Cognito call when the destination cannot be written. A full sync of the
    // same pools and filter to the same file that was killed is picked up where it stood, and
    // one interrupted (SIGINT, or SIGTERM as a pod is evicted) is kept for the next run.
    let interrupted = Arc::new(AtomicBool::new(false));
    let (engine, writer) =
        engine.writer_for(&sync.reach, file, "", sync.fresh, interrupted.clone())?;
    let resumable = sync.reach.resumable();
    tracing::info!(pool_id = %fleet.pool_ids(), file = %file.display(), "sync started");
    let display = ProgressDisplay::start(engine.progress(), fleet.clone());
    let stop = async {
        shutdown.requested().await;
        interrupted.store(true, Ordering::SeqCst);
    };
    let outcome = engine.run_reach(writer, &sync.reach, stop).await;
    let (writer, summary) = match outcome {
        Ok(done) => done,
        Err(SyncError::Cancelled) => {
            let next = match resumable {
                true => "; the next run to it resumes this sync (--fresh starts over)",
                false => "",
            };
            return Err(RunError::Interrupted(format!(
                "no file written; {} is unchanged{next}",
                file.display()
            )));
        }
        Err(err) => return Err(err.into()),
    };
    let cancel = CancellationToken::new();
    let interrupt = tokio::spawn({
        let (shutdown, cancel) = (shutdown.clone(), cancel.clone());
        async move {
            shutdown.requested().await;
            interrupted.store(true, Ordering::SeqCst);
            cancel.cancel();
        }
    });
    let written = tokio::task::spawn_blocking(move || writer.finish_unless(&cancel))
        .await
        .map_err(|e| RunError::Failed(format!("writing the file was aborted: {e}")))?;
    interrupt.abort();
    drop(display);
    let written = match written {
        Err(crate::c1z::C1zError::Cancelled { path }) => {
            return Err(RunError::Interrupted(format!(
                "no file written; {} is unchanged; the next run to it finishes this sync (--fresh starts over)",
                path.display()
            )));
        }
        other => other?,
    };
    tracing::info!(
        file = %written.path.display(),
        bytes = written.bytes,
        sync_id = %written.sync_id,
        resources = summary.resources_by_type.values().sum::<u64>(),
        entitlements = summary.entitlements,
        grants = summary.grants,
        warnings = summary.warnings,
        api_calls = summary.api_calls.values().map(|s| s.calls).sum::<u64>(),
        duration_s = summary.duration.as_secs_f64(),
        forecast_s = summary.forecast.map(|f| f.as_secs_f64()),
        "sync finished"
    );
    if sync.reach == Reach::Skipped {
        writeln!(
            std::io::stdout().lock(),
            "Skipped the full sync (--skip-full-sync): user pool{} {} can be read; {} holds an empty sync",
            if fleet.single().is_some() { "" } else { "s" },
            fleet.pool_ids(),
            written.path.display()
        )?;
        return Ok(());
    }
    print_summary(&fleet, &written.path, written.bytes, &summary)?;
    Ok(())
}

fn print_summary(
    fleet: &Fleet,
    path: &Path,
    bytes: u64,
    summary: &SyncSummary,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Synced user pool{} {} into {} ({}) in {:.1}s{}",
        if fleet.single().is_some() { "" } else { "s" },
        fleet.pool_ids(),
        path.display(),
        human_bytes(bytes),
        summary.duration.as_secs_f64(),
        summary
            .forecast
            .map(|f| forecast_note(f, summary.duration))
            .unwrap_or_default()
    )?;
    let mut counts = Table::counts(
        summary.resource_types,
        &summary.resources_by_type,
        summary.entitlements,
        summary.grants,
    );
    counts.row(["warnings".to_string(), summary.warnings.to_string()]);
    counts.print(&mut out)?;
    writeln!(out)?;
    let mut calls = Table::new([
        "Cognito operation",
        "calls",
        "throttled",
        "retries",
        "paced",
    ]);
    for (operation, stats) in &summary.api_calls {
        calls.row([
            operation.to_string(),
            stats.calls.to_string(),
            stats.throttled.to_string(),
            stats.retries.to_string(),
            format!("{:.1}s", stats.pacing_wait.as_secs_f64()),
        ]);
    }
    calls.print(&mut out)
}

/// How the forecast made at the start compared with the time the sync took.
fn forecast_note(forecast: Duration, took: Duration) -> String {
    let off = (took.as_secs_f64() - forecast.as_secs_f64()) / forecast.as_secs_f64().max(1.0);
    format!(
        " (forecast {}, {:.0}% {})",
        clock(forecast),
        off.abs() * 100.0,
        if off >= 0.0 { "over" } else { "under" }
    )
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_sizes_read_like_people_write_them() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}

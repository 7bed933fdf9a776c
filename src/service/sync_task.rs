//! The `sync_full` task: heartbeats while it runs, the whole pool into a temporary `.c1z`, the
//! upload, and the outcome. The platform can cancel it through a heartbeat, and its files are
//! removed. A worker shutting down (or killed) leaves a full sync's files in the task's own
//! directory: when the platform hands the task out again, the sync resumes from its
//! checkpoints (see `sync::resume`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::outcome::Outcome;
use super::platform::PlatformClient;
use crate::c1z::C1zError;
use crate::fleet::Fleet;
use crate::pb::baton::task::SyncFullTask;
use crate::pb::v2::ResourceId;
use crate::sync::reach::Reach;
use crate::sync::{SyncEngine, SyncError, SyncScope};
use crate::workfiles::{self, Held};

/// Sync tasks work in a temporary directory named like upstream's.
pub const SYNC_DIR_PREFIX: &str = "baton-sdk-sync-upload";
/// A task's own directory, kept for resuming: `baton-sdk-sync-upload-task-<task id>`.
pub const TASK_DIR_PREFIX: &str = "baton-sdk-sync-upload-task-";

/// Heartbeat interval when the platform names none, and the bounds on what it names.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
const MAX_HEARTBEAT: Duration = Duration::from_secs(300);
/// Consecutive failed heartbeats after which the task is given up: the platform has surely
/// handed it to another worker by then.
const MAX_HEARTBEAT_FAILURES: u32 = 10;
/// Attempts at uploading the finished file.
const UPLOAD_ATTEMPTS: u32 = 3;

/// The worker's shutdown, as every task sees it.
pub type Cancel = CancellationToken;

/// Why a sync stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Platform,
    HeartbeatsLost,
    Shutdown,
}

impl Stop {
    fn outcome(self) -> Outcome {
        let status = match self {
            Stop::Platform => Status::cancelled("the platform cancelled the task"),
            Stop::Shutdown => {
                Status::cancelled("the worker is shutting down; the sync was abandoned")
            }
            Stop::HeartbeatsLost => Status::aborted(format!(
                "{MAX_HEARTBEAT_FAILURES} heartbeats in a row failed; the task was given up"
            )),
        };
        Outcome::Failed {
            status,
            non_retryable: false,
        }
    }
}

pub fn heartbeat_interval(given: Option<&prost_types::Duration>) -> Duration {
    given
        .and_then(|d| Duration::try_from(*d).ok())
        .filter(|d| !d.is_zero())
        .map_or(DEFAULT_HEARTBEAT, |d| d.clamp(MIN_HEARTBEAT, MAX_HEARTBEAT))
}

/// What a sync task needs of the worker: the connector to sync, the platform to report to.
pub struct SyncContext<'a> {
    pub fleet: Arc<Fleet>,
    pub platform: Arc<PlatformClient>,
    pub options: &'a SyncOptions,
}

/// What the worker's flags say of every sync task: where it works (`--c1z-temp-dir`, else the
/// system's temporary directory), whether a full sync is skipped (`--skip-full-sync`: the pools
/// are checked and an empty sync uploaded), and the resource types synced when a task names
/// none (`--sync-resource-types`).
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub work_dir: PathBuf,
    pub skip_full_sync: bool,
    pub type_ids: Vec<String>,
}

pub async fn run(
    context: &SyncContext<'_>,
    task_id: &str,
    sync: SyncFullTask,
    shutdown: Cancel,
) -> Outcome {
    let targets: Vec<ResourceId> = sync
        .targeted_sync_resources
        .iter()
        .filter_map(|resource| resource.id.clone())
        .collect();
    if targets.len() != sync.targeted_sync_resources.len() {
        return Outcome::Failed {
            status: Status::invalid_argument("every targeted_sync_resources entry needs an id"),
            non_retryable: true,
        };
    }
    let known = context.fleet.resource_types();
    if let Some(unknown) = sync
        .sync_resource_type_ids
        .iter()
        .find(|id| !known.iter().any(|t| &t.id == *id))
    {
        return Outcome::Failed {
            status: Status::not_found(format!(
                "sync_resource_type_ids names {unknown:?}, which this connector does not have"
            )),
            non_retryable: true,
        };
    }
    let reach = if !targets.is_empty() {
        Reach::Targeted(targets)
    } else if context.options.skip_full_sync {
        Reach::Skipped
    } else {
        Reach::Full
    };
    let type_ids = match sync.sync_resource_type_ids.is_empty() {
        true => context.options.type_ids.clone(),
        false => sync.sync_resource_type_ids.clone(),
    };
    let scope = SyncScope {
        skip_entitlements_and_grants: sync.skip_entitlements_and_grants,
        skip_grants: sync.skip_grants,
    };
    let platform = context.platform.clone();
    let (stop_tx, mut stop) = watch::channel(None);
    // One heartbeat before any work, as the SDK does: a task the platform already cancelled
    // does not start.
    let every = match platform.heartbeat(task_id).await {
        Ok(answer) if answer.cancelled => return Stop::Platform.outcome(),
        Ok(answer) => heartbeat_interval(answer.next_heartbeat.as_ref()),
        Err(err) => {
            tracing::warn!(task_id, error = %err, "heartbeat failed");
            DEFAULT_HEARTBEAT
        }
    };
    let stop_tx = Arc::new(stop_tx);
    let beating = tokio::spawn(heartbeats(
        platform.clone(),
        task_id.to_string(),
        every,
        stop_tx.clone(),
    ));
    let stopping = tokio::spawn({
        let stop_tx = stop_tx.clone();
        async move {
            shutdown.cancelled().await;
            stop_tx.send_if_modified(|stop| stop.replace(Stop::Shutdown).is_none());
        }
    });
    let stopped = async move {
        let _ = stop.wait_for(Option::is_some).await;
    };
    let outcome = sync_and_upload(
        context,
        task_id,
        SyncRequest {
            scope,
            reach,
            type_ids,
        },
        stop_tx.subscribe(),
        stopped,
    )
    .await;
    beating.abort();
    stopping.abort();
    outcome
}

/// What a sync task asks for: what it leaves out, what it reads, and of which types.
struct SyncRequest {
    scope: SyncScope,
    reach: Reach,
    /// Only these resource types; empty for all.
    type_ids: Vec<String>,
}

async fn sync_and_upload(
    context: &SyncContext<'_>,
    task_id: &str,
    request: SyncRequest,
    stop: watch::Receiver<Option<Stop>>,
    stopped: impl std::future::Future<Output = ()>,
) -> Outcome {
    let stop_reason = || stop.borrow().unwrap_or(Stop::Shutdown);
    let failed = |status: Status| Outcome::Failed {
        status,
        non_retryable: false,
    };
    // A worker shutting down keeps a full sync for the run the task is handed to next.
    let keep = Arc::new(AtomicBool::new(false));
    let dir = match TaskDir::open(&context.options.work_dir, task_id, keep.clone()) {
        Ok(dir) => dir,
        Err(e) => {
            return failed(Status::internal(format!(
                "cannot make a directory for the sync: {e}"
            )));
        }
    };
    let path = dir.path.join("sync.c1z");
    let SyncRequest {
        scope,
        reach,
        type_ids,
    } = request;
    let engine = SyncEngine::new(context.fleet.clone())
        .with_scope(scope)
        .with_resource_types(type_ids);
    let (engine, writer) = match engine.writer_for(&reach, &path, task_id, false, keep.clone()) {
        Ok(created) => created,
        Err(e) => return failed(Status::internal(e.to_string())),
    };
    tracing::info!(task_id, file = %path.display(), "sync task started");
    let stopped = async {
        stopped.await;
        if stop.borrow().is_none_or(|reason| reason == Stop::Shutdown) {
            keep.store(true, Ordering::SeqCst);
        }
    };
    tokio::pin!(stopped);
    let ran = engine.run_reach(writer, &reach, &mut stopped).await;
    let (writer, summary) = match ran {
        Ok(done) => done,
        Err(SyncError::Cancelled) => return stop_reason().outcome(),
        Err(SyncError::Connector(err)) => return failed(Status::from(err)),
        Err(err) => return failed(Status::internal(err.to_string())),
    };
    let cancelled = CancellationToken::new();
    let finishing = tokio::task::spawn_blocking({
        let cancelled = cancelled.clone();
        move || writer.finish_unless(&cancelled)
    });
    tokio::pin!(finishing);
    let written = tokio::select! {
        written = &mut finishing => written,
        () = &mut stopped => {
            cancelled.cancel();
            let _ = finishing.await;
            return stop_reason().outcome();
        }
    };
    let written = match written {
        Ok(Ok(written)) => written,
        Ok(Err(C1zError::Cancelled { .. })) => return stop_reason().outcome(),
        Ok(Err(e)) => return failed(Status::internal(e.to_string())),
        Err(e) => return failed(Status::internal(format!("writing the sync failed: {e}"))),
    };
    tracing::info!(
        task_id,
        bytes = written.bytes,
        resources = summary.resources_by_type.values().sum::<u64>(),
        grants = summary.grants,
        duration_s = summary.duration.as_secs_f64(),
        "sync written; uploading"
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let upload = context.platform.upload(task_id, &written.path);
        let result = tokio::select! {
            result = upload => result,
            () = &mut stopped => return stop_reason().outcome(),
        };
        match result {
            Ok(bytes) => {
                tracing::info!(task_id, bytes, attempt, "sync uploaded");
                return Outcome::Success {
                    response: None,
                    annotations: Vec::new(),
                };
            }
            Err(err) if attempt < UPLOAD_ATTEMPTS => {
                tracing::warn!(task_id, attempt, error = %err, "upload failed; trying again");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(u64::from(attempt))) => {}
                    () = &mut stopped => return stop_reason().outcome(),
                }
            }
            Err(err) => {
                return failed(Status::unavailable(format!(
                    "the upload failed {UPLOAD_ATTEMPTS} times: {err}"
                )));
            }
        }
    }
}

/// A task's own directory, named by the task (so that a task handed out again finds what its
/// killed run stored), held while the task runs, and removed when it ends unless `keep` was
/// set (a full sync the worker stopped).
struct TaskDir {
    path: PathBuf,
    keep: Arc<AtomicBool>,
    _held: Held,
}

impl TaskDir {
    fn open(work_dir: &Path, task_id: &str, keep: Arc<AtomicBool>) -> std::io::Result<Self> {
        let name: String = task_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        let path = work_dir.join(format!("{TASK_DIR_PREFIX}{name}"));
        std::fs::create_dir_all(&path)?;
        let held = workfiles::hold(&path)?;
        Ok(Self {
            path,
            keep,
            _held: held,
        })
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        if self.keep.load(Ordering::SeqCst) {
            tracing::info!(dir = %self.path.display(), "the unfinished sync is kept for the task's next run");
            return;
        }
        if let Err(err) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(dir = %self.path.display(), error = %err, "cannot remove a sync task's directory");
        }
    }
}

/// Heartbeats every interval the platform names, until the task ends (this future is then
/// aborted), the platform cancels the task, or too many heartbeats fail in a row.
async fn heartbeats(
    platform: Arc<PlatformClient>,
    task_id: String,
    mut every: Duration,
    stop: Arc<watch::Sender<Option<Stop>>>,
) {
    let mut failures = 0;
    loop {
        tokio::time::sleep(every).await;
        match platform.heartbeat(&task_id).await {
            Ok(answer) if answer.cancelled => {
                tracing::info!(task_id, "the platform cancelled the task");
                stop.send_if_modified(|s| s.replace(Stop::Platform).is_none());
                return;
            }
            Ok(answer) => {
                failures = 0;
                every = heartbeat_interval(answer.next_heartbeat.as_ref());
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(task_id, failures, error = %err, "heartbeat failed");
                if failures >= MAX_HEARTBEAT_FAILURES {
                    stop.send_if_modified(|s| s.replace(Stop::HeartbeatsLost).is_none());
                    return;
                }
            }
        }
    }
}

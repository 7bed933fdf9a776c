//! The worker loop: Hello until the platform accepts it, then poll for tasks and run up to
//! `--task-concurrency` of them at once, until a shutdown is requested or the platform refuses
//! this worker for good.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::error::ServiceError;
use super::health::HealthState;
use super::outcome::Outcome;
use super::platform::PlatformClient;
use super::tasks::{TaskRunner, type_name};
use crate::pb::baton::task::TaskType;
use crate::pb::baton::{BatonServiceFinishTaskRequest, Task, baton_service_finish_task_request};
use crate::server::rpc_status;

/// Hello is retried with backoff from 1 s, doubling, up to 5 min, as the SDK does.
const HELLO_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));
/// The poll interval when the platform names none, and the most it may ask for.
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(300);
/// After n failed polls in a row, wait n² seconds, at most a minute.
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(60);
/// FinishTask attempts; a result the platform never hears of makes it run the task again.
const FINISH_ATTEMPTS: u32 = 5;
/// On shutdown, how long running tasks get to end (syncs stop at once and report).
const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

pub struct Worker {
    pub platform: Arc<PlatformClient>,
    pub runner: Arc<TaskRunner>,
    pub task_concurrency: usize,
    pub health: Arc<HealthState>,
}

impl Worker {
    /// Runs until `shutdown` completes (Ok) or the platform refuses this worker (Err).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        tokio::pin!(shutdown);
        let hello = tokio::select! {
            result = self.hello_until_accepted() => result,
            () = &mut shutdown => return Ok(()),
        };
        hello?;
        self.health.set_ready(true);
        tracing::info!(host_id = %self.platform.host_id(), concurrency = self.task_concurrency, "the platform accepted this worker; polling for tasks");

        let cancel = CancellationToken::new();
        let slots = Arc::new(Semaphore::new(self.task_concurrency));
        let mut running = JoinSet::new();
        let mut failed_polls: u32 = 0;
        let result = loop {
            while running.try_join_next().is_some() {}
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                () = &mut shutdown => break Ok(()),
            };
            let Ok(slot) = slot else { break Ok(()) };
            let polled = tokio::select! {
                polled = self.platform.get_task() => polled,
                () = &mut shutdown => break Ok(()),
            };
            let wait = match polled {
                Err(err) if err.is_permanent() => break Err(err),
                Err(err) => {
                    failed_polls += 1;
                    let wait =
                        Duration::from_secs(u64::from(failed_polls).pow(2)).min(MAX_POLL_BACKOFF);
                    tracing::warn!(error = %err, retry_in_s = wait.as_secs(), "polling for a task failed");
                    Some(wait)
                }
                Ok(answer) => {
                    failed_polls = 0;
                    match answer.task {
                        Some(task) if is_work(&task) => {
                            let runner = self.runner.clone();
                            let cancel = cancel.clone();
                            running.spawn(async move {
                                run_task(&runner, task, cancel).await;
                                drop(slot);
                            });
                            None
                        }
                        _ => Some(poll_interval(answer.next_poll.as_ref())),
                    }
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut shutdown => break Ok(()),
                }
            }
        };

        // Stop: no new tasks, not ready, running syncs abandoned (they report it), short tasks
        // get a deadline to end.
        self.health.set_ready(false);
        cancel.cancel();
        if !running.is_empty() {
            tracing::info!(tasks = running.len(), "waiting for running tasks to end");
            if tokio::time::timeout(DRAIN_DEADLINE, async {
                while running.join_next().await.is_some() {}
            })
            .await
            .is_err()
            {
                tracing::warn!(
                    tasks = running.len(),
                    "tasks still running at the deadline were abandoned"
                );
                running.shutdown().await;
            }
        }
        result
    }

    async fn hello_until_accepted(&self) -> Result<(), ServiceError> {
        let (mut wait, max) = HELLO_BACKOFF;
        loop {
            match self.platform.hello(self.runner.hello.clone()).await {
                Ok(()) => return Ok(()),
                Err(err) if err.is_permanent() => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_s = wait.as_secs(), "Hello failed");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(max);
                }
            }
        }
    }
}

/// `next_poll`, clamped to 0..5 min as the SDK does.
fn poll_interval(given: Option<&prost_types::Duration>) -> Duration {
    given
        .map_or(Some(DEFAULT_POLL), |d| Duration::try_from(*d).ok())
        .unwrap_or(Duration::ZERO)
        .min(MAX_POLL)
}

/// Runs one task and reports its outcome.
async fn run_task(runner: &TaskRunner, task: Task, cancel: CancellationToken) {
    let task_id = task.id.clone();
    let kind = type_name(task.task_type.as_ref());
    tracing::info!(task_id, task_type = kind, "task started");
    let outcome = runner.run(task, cancel).await;
    let (status, final_state) = match outcome {
        Outcome::Unreported => {
            tracing::info!(task_id, task_type = kind, "task done");
            return;
        }
        Outcome::Success {
            response,
            annotations,
        } => {
            tracing::info!(task_id, task_type = kind, "task succeeded");
            (
                None,
                baton_service_finish_task_request::FinalState::Success(
                    baton_service_finish_task_request::Success {
                        annotations,
                        response,
                    },
                ),
            )
        }
        Outcome::Failed {
            status,
            non_retryable,
        } => {
            tracing::warn!(task_id, task_type = kind, code = ?status.code(), error = status.message(), non_retryable, "task failed");
            (
                Some(rpc_status(&status)),
                baton_service_finish_task_request::FinalState::Error(
                    baton_service_finish_task_request::Error {
                        non_retryable,
                        annotations: Vec::new(),
                        response: None,
                    },
                ),
            )
        }
    };
    let finish = BatonServiceFinishTaskRequest {
        host_id: String::new(),
        task_id: task_id.clone(),
        status,
        final_state: Some(final_state),
    };
    for attempt in 1..=FINISH_ATTEMPTS {
        match runner.platform.finish_task(finish.clone()).await {
            Ok(()) => return,
            Err(err) if err.is_permanent() || attempt == FINISH_ATTEMPTS => {
                tracing::error!(task_id, error = %err, "the platform did not take the task's result");
                return;
            }
            Err(err) => {
                tracing::warn!(task_id, attempt, error = %err, "FinishTask failed; trying again");
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
    }
}

/// Whether a polled task is work to run and finish. The "none" type, or an empty task, means
/// nothing to do; a task with an id but no type is finished as unsupported, as upstream does,
/// so the platform is not left waiting on it.
fn is_work(task: &Task) -> bool {
    match &task.task_type {
        Some(TaskType::None(_)) => false,
        None => !task.id.is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_intervals_are_clamped_as_the_sdk_clamps_them() {
        let secs = |s| prost_types::Duration {
            seconds: s,
            nanos: 0,
        };
        assert_eq!(poll_interval(None), DEFAULT_POLL);
        assert_eq!(poll_interval(Some(&secs(7))), Duration::from_secs(7));
        assert_eq!(poll_interval(Some(&secs(3600))), MAX_POLL);
        assert_eq!(poll_interval(Some(&secs(-5))), Duration::ZERO);
    }
}

//! How a platform task ended, as FinishTask reports it: what the task runner and each task
//! handler (the sync task among them) return.

use prost_types::Any;
use tonic::Status;

/// How a task ended, as FinishTask reports it.
pub enum Outcome {
    Success {
        response: Option<Any>,
        annotations: Vec<Any>,
    },
    Failed {
        status: Status,
        non_retryable: bool,
    },
    /// Nothing to report: a `hello` task is answered with a Hello, not a FinishTask.
    Unreported,
}

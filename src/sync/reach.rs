//! What a sync reads, and the file it writes that into: the whole pool (resuming what a killed
//! run of the same sync left), the resources named (a partial sync), or nothing
//! (`--skip-full-sync`: an empty sync once the pools are checked). The one-shot sync and service
//! mode's sync tasks both go through here.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::resume::Resume;
use super::{SyncEngine, SyncError, SyncStore, SyncSummary};
use crate::c1z::{C1zError, C1zWriter};
use crate::pb::v2::ResourceId;

/// What a sync reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Full,
    Targeted(Vec<ResourceId>),
    Skipped,
}

impl Reach {
    /// Whether a killed run of it can be resumed (a full sync only).
    pub fn resumable(&self) -> bool {
        *self == Self::Full
    }
}

impl SyncEngine {
    /// The writer of a sync of `reach` into `path`, and the engine to run it. A full sync picks
    /// up the one a killed run of the same sync (`run`: what else tells it apart, a task id)
    /// left beside `path`, unless `fresh`, and keeps itself when dropped once `keep` is set; a
    /// partial or skipped sync starts anew.
    pub fn writer_for(
        self,
        reach: &Reach,
        path: &Path,
        run: &str,
        fresh: bool,
        keep: Arc<AtomicBool>,
    ) -> Result<(Self, C1zWriter), C1zError> {
        match reach {
            Reach::Full => {
                let (mut writer, rows) =
                    C1zWriter::create_or_resume(path, &self.resume_key(run), fresh)?;
                writer.keep_unfinished_when(keep);
                let engine = match rows {
                    Some(rows) => self.with_resume(Resume::of_unfinished(writer.sync_id(), rows)),
                    None => self,
                };
                Ok((engine, writer))
            }
            Reach::Targeted(_) => Ok((self, C1zWriter::create_partial(path)?)),
            Reach::Skipped => Ok((self, C1zWriter::create(path)?)),
        }
    }

    /// Runs a sync of `reach` into `store` (see [`run`](Self::run)).
    pub async fn run_reach<S: SyncStore>(
        &self,
        store: S,
        reach: &Reach,
        cancel: impl Future<Output = ()>,
    ) -> Result<(S, SyncSummary), SyncError> {
        match reach {
            Reach::Full => self.run(store, cancel).await,
            Reach::Targeted(targets) => self.run_targeted(store, targets, cancel).await,
            Reach::Skipped => {
                let check = |_| async {
                    self.fleet.validate().await?;
                    Ok(SyncSummary::default())
                };
                self.run_walk(store, cancel, check).await
            }
        }
    }
}

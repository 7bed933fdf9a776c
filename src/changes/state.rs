//! The feed's state: the snapshot the last run delivered, kept as a `.c1z` (so it is also a
//! Baton file) with which pool and filter it is of in the file's connector-session table.
//!
//! A run syncs into `<state>.next` beside it, compares, delivers, and only then renames the new
//! snapshot over the state. A run that fails or is killed before that leaves the state where it
//! was, so the next run computes the same changes again, with the same ids: at least once,
//! nothing lost.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::c1z::{C1zError, C1zReader, C1zWriter};
use crate::connector::{Connector, groups, users};
use crate::fleet::Fleet;
use crate::sync::{SyncEngine, SyncError};
use crate::workfiles;
use tokio_util::sync::CancellationToken;

/// Where the feed's own record lives in a snapshot's session table.
const META_KEY: &str = "baton-cognito.feed";

/// Which listing a snapshot is of: changes are only meaningful between snapshots of the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMeta {
    pub pool_id: String,
    #[serde(default)]
    pub pool_arn: Option<String>,
    /// The user filter, as Cognito sees it (`""` without one).
    pub user_filter: String,
}

impl FeedMeta {
    /// What a snapshot of `connector`'s listing is of, as far as the settings say (no ARN).
    pub fn local(connector: &Connector) -> FeedMeta {
        FeedMeta {
            pool_id: connector.pool().pool_id().to_string(),
            pool_arn: None,
            user_filter: connector.user_filter_text(),
        }
    }

    /// The same with the pool's ARN, from DescribeUserPool: CloudEvents name it as their source.
    pub async fn of(connector: &Connector) -> Result<FeedMeta, FeedError> {
        let pool = connector
            .pool()
            .describe_user_pool()
            .await
            .map_err(|err| SyncError::Connector(err.into()))?;
        Ok(FeedMeta {
            pool_arn: pool.arn,
            ..FeedMeta::local(connector)
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    File(#[from] C1zError),
    #[error("sync failed: {0}")]
    Sync(#[from] SyncError),
    #[error(
        "{}: this state is of pool {} with user filter {:?}, not pool {} with filter {:?}; use another --state file for this listing",
        path.display(), found.pool_id, found.user_filter, expected.pool_id, expected.user_filter
    )]
    OtherListing {
        path: PathBuf,
        expected: Box<FeedMeta>,
        found: Box<FeedMeta>,
    },
    #[error("{}: not a feed state (a .c1z this tool wrote with export or watch)", path.display())]
    NotState { path: PathBuf },
    #[error("{}: cannot move the new snapshot into place: {source}", path.display())]
    Advance {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: another run replaced this state while this one was running; runs sharing a --state file must not overlap",
        path.display()
    )]
    Replaced { path: PathBuf },
    #[error("--state {}: it {source}", path.display())]
    Destination {
        path: PathBuf,
        source: workfiles::DestinationError,
    },
    #[error("interrupted; the state is unchanged")]
    Interrupted,
    #[error("{0}; the state is unchanged")]
    Delivery(String),
}

/// A snapshot taken but not yet made the state.
pub struct Taken {
    /// The sync id of the new snapshot, the base of the next run's change ids.
    pub sync_id: String,
    /// How many users and groups it holds.
    pub users: u64,
    pub groups: u64,
    file: PathBuf,
}

impl Taken {
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Throws the snapshot away: the run failed before it could become the state.
    pub fn discard(self) {
        if let Err(err) = std::fs::remove_file(&self.file) {
            tracing::warn!(file = %self.file.display(), error = %err, "could not remove an undelivered snapshot");
        }
    }
}

/// The snapshot the last run delivered. It is checked before the new snapshot is taken (a state
/// of another listing should not cost a sync to find out), but only opened for comparing after:
/// an open snapshot is a decompressed copy on disk, and the sync needs that room.
pub struct Previous {
    file: PathBuf,
    /// Its sync id: the base of this run's change ids.
    pub sync_id: String,
}

impl Previous {
    /// Opens the snapshot for comparing; refused if the state was replaced since it was
    /// checked (another run with the same state file finished in the meantime).
    pub fn open(&self) -> Result<C1zReader, FeedError> {
        let reader = C1zReader::open(&self.file)?;
        if reader.sync_run().sync_id != self.sync_id {
            return Err(FeedError::Replaced {
                path: self.file.clone(),
            });
        }
        Ok(reader)
    }
}

pub struct FeedState {
    path: PathBuf,
}

impl FeedState {
    /// The state at `path`, which each run replaces: a new path or a regular file (a link means
    /// its target), refused before any work otherwise.
    pub fn new(path: &Path) -> Result<Self, FeedError> {
        let path = workfiles::destination(path).map_err(|source| FeedError::Destination {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last delivered snapshot; `None` before the first run. A state of another pool or
    /// filter is refused rather than compared.
    pub fn last(&self, expected: &FeedMeta) -> Result<Option<Previous>, FeedError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let reader = C1zReader::open(&self.path)?;
        let found: FeedMeta = reader
            .session_value(META_KEY)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| FeedError::NotState {
                path: self.path.clone(),
            })?;
        if found.pool_id != expected.pool_id || found.user_filter != expected.user_filter {
            return Err(FeedError::OtherListing {
                path: self.path.clone(),
                expected: Box::new(expected.clone()),
                found: Box::new(found),
            });
        }
        Ok(Some(Previous {
            file: self.path.clone(),
            sync_id: reader.sync_run().sync_id.clone(),
        }))
    }

    /// Syncs the pool into `<state>.next`, not yet the state.
    pub async fn take(
        &self,
        connector: Arc<Connector>,
        meta: &FeedMeta,
        stop: impl Future<Output = ()>,
        cancelled: CancellationToken,
    ) -> Result<Taken, FeedError> {
        take_into(&self.next_path(), connector, meta, stop, cancelled).await
    }

    /// Makes `taken` the state: after this, the next run compares against it.
    pub fn advance(&self, taken: Taken) -> Result<(), FeedError> {
        let advance_err = |source| FeedError::Advance {
            path: self.path.clone(),
            source,
        };
        workfiles::rename_durably(&taken.file, &self.path).map_err(advance_err)
    }

    fn next_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "feed-state.c1z".into());
        name.push(".next");
        self.path.with_file_name(name)
    }
}

/// Syncs the pool into a `.c1z` at `dest` (replaced atomically), marked with `meta`. Users'
/// records only: what a snapshot is compared on never includes their sign-in history.
pub async fn take_into(
    dest: &Path,
    connector: Arc<Connector>,
    meta: &FeedMeta,
    stop: impl Future<Output = ()>,
    cancelled: CancellationToken,
) -> Result<Taken, FeedError> {
    let writer = C1zWriter::create(dest)?;
    let engine = SyncEngine::new(Arc::new(Fleet::one(connector.records_only())));
    let (mut writer, summary) = match engine.run(writer, stop).await {
        Err(SyncError::Cancelled) => return Err(FeedError::Interrupted),
        other => other?,
    };
    let meta_json = serde_json::to_vec(meta).unwrap_or_default();
    writer.put_session_value(META_KEY, &meta_json)?;
    let written = tokio::task::spawn_blocking(move || writer.finish_unless(&cancelled))
        .await
        .map_err(|e| SyncError::Task(e.to_string()))?;
    let written = match written {
        Err(C1zError::Cancelled { .. }) => return Err(FeedError::Interrupted),
        other => other?,
    };
    let count = |type_id| {
        summary
            .resources_by_type
            .get(type_id)
            .copied()
            .unwrap_or_default()
    };
    let taken = Taken {
        sync_id: written.sync_id,
        users: count(users::TYPE_ID),
        groups: count(groups::TYPE_ID),
        file: written.path,
    };
    tracing::debug!(file = %taken.file.display(), users = taken.users, groups = taken.groups, "snapshot taken");
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pool: &str) -> FeedMeta {
        FeedMeta {
            pool_id: pool.to_string(),
            pool_arn: None,
            user_filter: String::new(),
        }
    }

    /// A state file at `path` as a run for `pool` leaves it; its sync id.
    fn write_state(path: &Path, pool: &str) -> String {
        let mut writer = C1zWriter::create(path).expect("create");
        let json = serde_json::to_vec(&meta(pool)).expect("json");
        writer.put_session_value(META_KEY, &json).expect("meta");
        writer.finish().expect("finish").sync_id
    }

    #[test]
    fn the_last_state_is_checked_first_and_opened_only_if_unchanged() {
        let dir = tempfile::tempdir().expect("dir");
        let state = FeedState::new(&dir.path().join("state.c1z")).unwrap();
        assert!(state.last(&meta("pool")).expect("no state").is_none());

        let first = write_state(state.path(), "pool");
        let previous = state.last(&meta("pool")).expect("read").expect("a state");
        assert_eq!(previous.sync_id, first);
        assert_eq!(previous.open().expect("open").sync_run().sync_id, first);
        assert!(matches!(
            state.last(&meta("other")),
            Err(FeedError::OtherListing { .. })
        ));

        // Another run replaces the state in the meantime: this run must not compare against it.
        write_state(state.path(), "pool");
        assert!(matches!(previous.open(), Err(FeedError::Replaced { .. })));
    }
}

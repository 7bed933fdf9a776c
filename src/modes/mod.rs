//! What the binary can be asked to do. Each mode takes validated settings, does its job, and
//! returns a [`RunError`] that knows its exit code.

pub mod compact;
pub mod export;
pub mod inspect;
pub mod one_shot;
pub mod provision;
pub mod read_events;
pub mod serve;
pub mod service_mode;
mod table;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::c1z::C1zError;
use tokio_util::sync::CancellationToken;

use crate::changes::FeedError;
use crate::cognito::settings::{ClientSettings, PoolRef};
use crate::cognito::{PoolClient, SharedCalls};
use crate::connector::pool_ids::PoolIds;
use crate::connector::{Connector, ConnectorOptions};
use crate::fleet::Fleet;
use crate::service::error::ServiceError;
use crate::sync::SyncError;

/// Exit codes: 0 success, 1 a failure while running, 2 a usage or configuration error,
/// 130 interrupted (as shells report SIGINT).
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    #[error("sync failed: {0}")]
    Sync(#[from] SyncError),
    #[error(transparent)]
    File(#[from] C1zError),
    #[error("{0}")]
    Provision(crate::connector::ConnectorError),
    #[error("{0}")]
    ActionFailed(String),
    #[error("interrupted; {0}")]
    Interrupted(String),
    #[error("cannot write to standard output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Unprintable(#[from] crate::pb::UnprintableRecord),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Service(#[from] crate::service::error::ServiceError),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::Service(
                ServiceError::Identity(_)
                | ServiceError::ApiHost(_)
                | ServiceError::CaFile { .. }
                | ServiceError::NoTrustedRoots,
            ) => EXIT_USAGE,
            Self::Interrupted(_) | Self::Sync(SyncError::Cancelled) => EXIT_INTERRUPTED,
            _ => EXIT_FAILURE,
        }
    }
}

/// Everything a mode that reads pools takes: how to reach each, and what the connector lists.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// The pools, in the order named; never empty.
    pub pools: Vec<ClientSettings>,
    pub options: ConnectorOptions,
}

impl PoolSettings {
    /// The one pool a mode that reads a single pool takes; several are refused, naming the mode.
    pub fn only_pool(&self, mode: &str) -> Result<&ClientSettings, RunError> {
        match self.pools.as_slice() {
            [only] => Ok(only),
            _ => Err(RunError::Usage(format!(
                "--user-pool-id: {mode} reads one user pool at a time, and {} are given",
                self.pools.len()
            ))),
        }
    }
}

/// Every pool's connector, as every mode that reads Cognito builds them: one client per pool,
/// pacing together per account and Region; each in `ids_of` its pool.
async fn connect_pools(
    settings: &PoolSettings,
    ids_of: impl Fn(&ClientSettings) -> PoolIds,
) -> Vec<Arc<Connector>> {
    let shared = SharedCalls::default();
    let mut pools = Vec::with_capacity(settings.pools.len());
    for client in &settings.pools {
        let pool = Arc::new(PoolClient::connect(client, &shared).await);
        let options = ConnectorOptions {
            ids: ids_of(client),
            ..settings.options.clone()
        };
        pools.push(Arc::new(Connector::new(pool, options)));
    }
    pools
}

/// The pools as one connector: with several, their ids are qualified by the pool.
pub async fn fleet(settings: &PoolSettings) -> Result<Arc<Fleet>, RunError> {
    let several = settings.pools.len() > 1;
    let pools = connect_pools(settings, |client| {
        if several {
            PoolIds::qualified(&client.pool.id)
        } else {
            PoolIds::default()
        }
    })
    .await;
    Fleet::new(pools)
        .map(Arc::new)
        .ok_or_else(|| RunError::Usage(PoolRef::missing().to_string()))
}

/// Each pool's connector in its own names, for the modes that take the pools one at a time
/// (`export` and `watch`: records in Cognito's own shape, a state per pool).
pub async fn pool_connectors(settings: &PoolSettings) -> Vec<Arc<Connector>> {
    connect_pools(settings, |_| PoolIds::default()).await
}

/// Where the state of one pool's feed lives (`export --since-last-run`, `watch`): `--state`
/// itself with one pool, as always; with several, one file per pool beside it, the pool id
/// before the extension (`cognito-feed.us-east-1_AbC123.c1z`).
pub fn pool_state(state: &Path, pool_id: &str, pools: usize) -> PathBuf {
    if pools <= 1 {
        return state.to_path_buf();
    }
    let stem = state
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cognito-feed".to_string());
    let name = match state.extension() {
        Some(ext) => format!("{stem}.{pool_id}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{pool_id}"),
    };
    state.with_file_name(name)
}

/// SIGINT or SIGTERM, listened for from the moment [`Shutdown::listen`] returns: a signal that
/// arrives while a mode sets up or finishes is not lost, and never kills the process midway.
#[derive(Clone)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// Starts listening (inside the runtime).
    pub fn listen() -> Result<Self, RunError> {
        let token = CancellationToken::new();
        let set = token.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            tokio::spawn(async move {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
                tracing::info!("shutdown requested");
                set.cancel();
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            set.cancel();
        });
        Ok(Self { token })
    }

    /// Completes once a shutdown is requested.
    pub async fn requested(&self) {
        self.token.cancelled().await;
    }

    /// [`requested`](Self::requested) as a future that owns what it waits on.
    pub fn requested_owned(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// The request as a token, for work that checks it as it goes (a blocking writer) or passes
    /// it on.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// Refuses `--sync-resource-types` when it names a type none of the pools has.
pub fn check_sync_resource_types(fleet: &Fleet, type_ids: &[String]) -> Result<(), RunError> {
    for id in type_ids {
        fleet
            .check_type(id)
            .map_err(|err| RunError::Usage(format!("--sync-resource-types: {err}")))?;
    }
    Ok(())
}

impl From<FeedError> for RunError {
    fn from(err: FeedError) -> Self {
        match err {
            FeedError::Interrupted => RunError::Interrupted("the state is unchanged".to_string()),
            FeedError::OtherListing { .. } | FeedError::NotState { .. } => {
                RunError::Usage(format!("--state {err}"))
            }
            FeedError::Sync(err) => RunError::Sync(err),
            FeedError::File(err) => RunError::File(err),
            other => RunError::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pool_keeps_its_state_file_and_several_get_one_each_beside_it() {
        let state = Path::new("/var/lib/feed/cognito-feed.c1z");
        assert_eq!(pool_state(state, "us-east-1_A", 1), state);
        assert_eq!(
            pool_state(state, "us-east-1_A", 2),
            Path::new("/var/lib/feed/cognito-feed.us-east-1_A.c1z")
        );
        assert_eq!(
            pool_state(Path::new("state"), "eu-west-1_B", 3),
            Path::new("state.eu-west-1_B")
        );
    }
}

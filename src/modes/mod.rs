//! What the binary can be asked to do. Each mode takes validated settings, does its job, and
//! returns a [`RunError`] that knows its exit code.

pub mod inspect;
pub mod metadata_files;
pub mod provision;
pub mod serve;
pub mod sync_file;
mod table;

use std::sync::Arc;

use crate::c1z::C1zError;
use crate::cognito::PoolClient;
use crate::config::PoolSettings;
use crate::connector::{Connector, ConnectorOptions};
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
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Interrupted(_) | Self::Sync(SyncError::Cancelled) => EXIT_INTERRUPTED,
            _ => EXIT_FAILURE,
        }
    }
}

/// The connector for a pool, as every mode that reads Cognito builds it.
pub async fn connector(settings: &PoolSettings) -> Arc<Connector> {
    let pool = Arc::new(PoolClient::connect(settings).await);
    Arc::new(Connector::new(
        pool,
        ConnectorOptions {
            user_filter: settings.user_filter.clone(),
            user_slicing: settings.user_slicing,
        },
    ))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown requested");
}

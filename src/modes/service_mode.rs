//! Service mode: with `--client-id` and `--client-secret`, the connector works for the
//! governance platform: it says Hello, polls for tasks and runs them until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::{PoolSettings, RunError, Shutdown, fleet};
use crate::connector::ConnectorError;
use crate::connector::metadata::{self, SDK_VERSION};
use crate::event_journal::event_feed::EventFeedSettings;
use crate::event_journal::pool_feeds::EventFeeds;
use crate::pb::baton::BatonServiceHelloRequest;
use crate::server::{ActionsApi, EventsApi};
use crate::service::error::ServiceError;
use crate::service::health::{self, HealthState};
use crate::service::identity::{ClientId, ClientSecret};
use crate::service::platform::PlatformClient;
use crate::service::platform_tls::PlatformTls;
use crate::service::sync_task::{self, SyncOptions};
use crate::service::system;
use crate::service::tasks::{self, TaskRunner};
use crate::service::token::TokenSource;
use crate::service::worker::Worker;
use crate::workfiles;

/// Everything service mode needs beyond the pool, checked before anything connects.
#[derive(Debug)]
pub struct ServiceSettings {
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    /// Where the token endpoint and the task API are: `host[:port]`.
    pub api_host: String,
    pub ca_file: Option<PathBuf>,
    pub host_id: String,
    pub task_concurrency: usize,
    pub health_check: Option<SocketAddr>,
    pub provisioning: bool,
    pub event_feed: EventFeedSettings,
    /// How long one request to the platform may take (`--http-timeout-seconds`).
    pub http_timeout: Option<std::time::Duration>,
    /// Where sync tasks work, and what they read unless a task says.
    pub syncs: SyncOptions,
}

/// The platform's `host[:port]`: `--c1-api-host` when given, else the client id's host.
pub fn platform_host(given: Option<&str>, client: &ClientId) -> Result<String, ServiceError> {
    match given.map(str::trim).filter(|h| !h.is_empty()) {
        Some(host) => {
            let valid = host
                .parse::<http::uri::Authority>()
                .is_ok_and(|a| a.as_str() == host && !host.contains('@'));
            if valid {
                Ok(host.to_string())
            } else {
                Err(ServiceError::ApiHost(host.to_string()))
            }
        }
        None => Ok(client.token_host().to_string()),
    }
}

/// How long an unfinished sync task's files wait for the task to come back.
const KEEP_TASK_SYNCS: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

pub async fn run(pool: &PoolSettings, settings: ServiceSettings) -> Result<(), RunError> {
    let shutdown = Shutdown::listen()?;
    let tls = PlatformTls::load(settings.ca_file.as_deref())?;
    // Sync directories of workers that were killed on this host (a restarted pod keeps /tmp
    // when it is a volume); those of live workers are held, and left alone. A task's own
    // directory is kept for a day, for the platform to hand the task out again and the sync
    // to resume.
    let temp = settings.syncs.work_dir.clone();
    workfiles::sweep(&temp, |name| {
        name.starts_with(sync_task::SYNC_DIR_PREFIX)
            && (!name.starts_with(sync_task::TASK_DIR_PREFIX)
                || workfiles::older_than(&temp.join(name), KEEP_TASK_SYNCS))
    });
    let fleet = fleet(pool).await?;
    super::check_sync_resource_types(&fleet, &settings.syncs.type_ids)?;
    // A pool that is missing or refuses these credentials would fail every task: stop now,
    // with the reason, rather than take tasks. A throttled or unreachable pool may recover.
    match fleet.validate().await {
        Ok(_) => {}
        Err(ConnectorError::Cognito(err)) if err.is_retryable() => {
            tracing::warn!(error = %err, "the pool is not reachable yet; starting anyway");
        }
        Err(err) => {
            return Err(RunError::Failed(format!("the pool cannot be used: {err}")));
        }
    }
    let health = HealthState::new(fleet.clone());
    if let Some(addr) = settings.health_check {
        let bound = health::start(addr, health.clone()).await?;
        tracing::info!(%bound, "health endpoint listening");
    }
    let user_agent = format!("{} baton-sdk/{SDK_VERSION}", settings.client_id.name());
    let tokens = TokenSource::new(
        settings.client_id,
        settings.client_secret,
        &settings.api_host,
        &tls,
        settings.http_timeout,
    );
    let platform = Arc::new(PlatformClient::new(
        &settings.api_host,
        &tls,
        tokens,
        settings.host_id,
        user_agent,
        settings.http_timeout,
    )?);
    let hello = BatonServiceHelloRequest {
        host_id: String::new(),
        task_id: String::new(),
        build_info: Some(system::build_info()),
        os_info: Some(system::os_info()),
        connector_metadata: Some(metadata::metadata(&fleet.places())),
        annotations: Vec::new(),
    };
    let runner = Arc::new(TaskRunner {
        platform: platform.clone(),
        actions: ActionsApi::new(fleet.clone(), settings.provisioning),
        provisioner: tasks::provisioner(&fleet, settings.provisioning),
        events: EventsApi::new(EventFeeds::new(fleet.in_own_names(), settings.event_feed)),
        hello,
        fleet: fleet.clone(),
        syncs: settings.syncs,
    });
    tracing::info!(
        platform = %settings.api_host,
        pool_id = %fleet.pool_ids(),
        provisioning = settings.provisioning,
        "service mode starting"
    );
    Worker {
        platform,
        runner,
        task_concurrency: settings.task_concurrency,
        health,
    }
    .run(async move { shutdown.requested().await })
    .await?;
    tracing::info!("service mode stopped");
    Ok(())
}

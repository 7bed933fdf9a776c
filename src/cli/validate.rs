//! Raw flags to validated settings: every check that needs more than clap (pool ids, regions,
//! credentials, filters, budgets, endpoints, tokens, schedules, one provisioning request at a
//! time) runs here, before any mode starts and before any call to AWS, and names the flag.

use std::net::SocketAddr;
use std::time::Duration;

use super::args::{EventFeedArgs, ExportArgs, OneShotArgs, ServeArgs, ServiceArgs, WatchArgs};
use super::pool_flags::PoolArgs;
use super::sdk_flags::{RuntimeArgs, SyncScopeArgs};
use crate::cloud_events::sink::Sink;
use crate::cognito::filter::UserFilter;
use crate::cognito::settings::{
    ApiBudget, AssumedQuota, ClientSettings, ConfigError, Credentials, DEFAULT_ATTEMPT_TIMEOUT,
    PoolRef, PoolRoles, parse_endpoint_url, resolve_region,
};
use crate::cognito::sign_in_logs::LogGroup;
use crate::connector::ConnectorOptions;
use crate::connector::pool_ids::PoolIds;
use crate::connector::user_activity::ActivityOptions;
use crate::event_journal::event_feed::{EventFeedSettings, REFRESH_WAIT};
use crate::event_journal::sign_ins::SignInSource;
use crate::modes::export::ExportSettings;
use crate::modes::provision::Request;
use crate::modes::serve::ServeSettings;
use crate::modes::service_mode::{self, ServiceSettings};
use crate::modes::watch::{Schedule, WatchSettings};
use crate::modes::{PoolSettings, RunError};
use crate::server::listen_tls::TlsFiles;
use crate::service::error::ServiceError;
use crate::service::identity::{ClientId, ClientSecret};
use crate::service::sync_task::SyncOptions;
use crate::service::system;

impl PoolArgs {
    /// Checks every flag and builds the settings, or names the first bad flag.
    pub fn settings(&self) -> Result<PoolSettings, ConfigError> {
        let pools = self.pool_refs()?;
        let roles = PoolRoles::from_flags(
            self.role_arn.as_deref(),
            &self.account_role,
            self.external_id.as_ref(),
        )?;
        roles.check_used(&pools)?;
        let credentials = Credentials::from_flags(
            self.aws_access_key_id.as_deref(),
            self.aws_secret_access_key.as_ref(),
            self.aws_session_token.as_ref(),
        )?;
        let endpoint_url = match self
            .endpoint_url
            .as_deref()
            .filter(|v| !v.trim().is_empty())
        {
            Some(flag) => Some(parse_endpoint_url(flag)?),
            None => {
                check_aws_endpoint_environment()?;
                None
            }
        };
        let user_filter = self
            .user_filter
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|f| {
                f.parse::<UserFilter>()
                    .map_err(|e| ConfigError::new("user-filter", e.to_string()))
            })
            .transpose()?;
        let api_budget = self
            .category_budget
            .iter()
            .try_fold(ApiBudget::new(self.api_budget)?, |budget, text| {
                budget.with_override(text)
            })?
            .with_assumed_quota(AssumedQuota::parse(&self.quota_scale)?);
        let pools = pools
            .into_iter()
            .map(|pool| {
                Ok(ClientSettings {
                    region: resolve_region(&pool, self.region.as_deref())?,
                    assume_role: roles.for_pool(&pool)?,
                    pool,
                    credentials: credentials.clone(),
                    endpoint_url: endpoint_url.clone(),
                    api_budget: api_budget.clone(),
                    attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let options = ConnectorOptions {
            user_filter,
            user_slicing: self.user_slicing,
            activity: ActivityOptions {
                last_login: self.last_login,
                mfa_status: self.mfa_status,
            },
            ids: PoolIds::default(),
        };
        Ok(PoolSettings { pools, options })
    }

    /// The pools named, each once: the same pool twice (by id and by ARN, say) is refused.
    fn pool_refs(&self) -> Result<Vec<PoolRef>, ConfigError> {
        let given: Vec<&str> = self
            .user_pool_id
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if given.is_empty() {
            return Err(PoolRef::missing());
        }
        let mut pools: Vec<PoolRef> = Vec::with_capacity(given.len());
        for value in &given {
            let pool = PoolRef::parse(value)?;
            if let Some(first) = pools.iter().position(|p| p.id == pool.id) {
                return Err(ConfigError::new(
                    "user-pool-id",
                    format!(
                        "the user pool {} is given twice ({:?} and {value:?}); name each pool once",
                        pool.id, given[first]
                    ),
                ));
            }
            pools.push(pool);
        }
        Ok(pools)
    }
}

/// Checks the endpoints the AWS SDK takes from its own environment variables as the flag is
/// checked: read by the SDK alone, a bad one failed only after six retries, and a password in it
/// reached the logs. The SDK still applies them itself, each to the services it names.
fn check_aws_endpoint_environment() -> Result<(), ConfigError> {
    let ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored {
        return Ok(());
    }
    for variable in [
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        "AWS_ENDPOINT_URL",
    ] {
        let Ok(value) = std::env::var(variable) else {
            continue;
        };
        if !value.trim().is_empty() {
            parse_endpoint_url(&value).map_err(|err| {
                ConfigError::new(err.flag, format!("{variable}: {}", err.problem))
            })?;
        }
    }
    Ok(())
}

fn usage(err: ConfigError) -> RunError {
    RunError::Usage(err.to_string())
}

pub fn pool_settings(pool: &PoolArgs, runtime: &RuntimeArgs) -> Result<PoolSettings, RunError> {
    let mut settings = pool.settings().map_err(usage)?;
    if let Some(timeout) = runtime.http_timeout() {
        for client in &mut settings.pools {
            client.attempt_timeout = timeout;
        }
    }
    tracing::debug!(?settings, "configuration");
    Ok(settings)
}

pub fn service_settings(
    args: &ServiceArgs,
    runtime: &RuntimeArgs,
    scope: &SyncScopeArgs,
    provisioning: bool,
    event_feed: EventFeedSettings,
) -> Result<ServiceSettings, RunError> {
    let for_tasks = [
        ("--sync-resources", !scope.sync_resources.is_empty()),
        (
            "--skip-entitlements-and-grants",
            scope.skip_entitlements_and_grants,
        ),
        ("--skip-grants", scope.skip_grants),
    ];
    if let Some((flag, _)) = for_tasks.iter().find(|(_, given)| *given) {
        return Err(RunError::Usage(format!(
            "{flag} applies to a one-shot sync; in service mode each sync task says which resources it reads and what it skips"
        )));
    }
    let (Some(client_id), Some(client_secret)) = (&args.client_id, &args.client_secret) else {
        return Err(RunError::Usage(
            "service mode needs both --client-id and --client-secret".to_string(),
        ));
    };
    let usage = |err: ServiceError| RunError::Usage(err.to_string());
    let client_id = ClientId::parse(client_id).map_err(|e| usage(e.into()))?;
    let settings = ServiceSettings {
        client_secret: ClientSecret::parse(client_secret).map_err(|e| usage(e.into()))?,
        api_host: service_mode::platform_host(args.c1_api_host.as_deref(), &client_id)
            .map_err(usage)?,
        client_id,
        ca_file: args.c1_api_ca_file.clone(),
        host_id: system::host_id(args.host_id.as_deref()),
        task_concurrency: usize::from(args.task_concurrency),
        health_check: args.health_check.then_some(SocketAddr::new(
            args.health_check_bind_address,
            args.health_check_port,
        )),
        provisioning,
        event_feed,
        http_timeout: runtime.http_timeout(),
        syncs: SyncOptions {
            work_dir: match &runtime.c1z_temp_dir {
                Some(dir) => writable_dir(dir)?,
                None => std::env::temp_dir(),
            },
            skip_full_sync: scope.skip_full_sync,
            type_ids: scope.sync_resource_types.clone(),
        },
    };
    tracing::debug!(?settings, "service configuration");
    Ok(settings)
}

/// `--c1z-temp-dir` as given, once it is known to be a directory this process can write in.
fn writable_dir(dir: &std::path::Path) -> Result<std::path::PathBuf, RunError> {
    let refused =
        |why: String| RunError::Usage(format!("--c1z-temp-dir: {}: {why}", dir.display()));
    if !dir.is_dir() {
        return Err(refused("not an existing directory".to_string()));
    }
    tempfile::tempfile_in(dir).map_err(|err| refused(format!("cannot write in it: {err}")))?;
    Ok(dir.to_path_buf())
}

impl OneShotArgs {
    /// The one provisioning request the flags ask for, if any.
    pub fn request(&self) -> Result<Option<Request>, RunError> {
        let given: Vec<&str> = [
            ("--grant-entitlement", self.grant_entitlement.is_some()),
            ("--revoke-grant", self.revoke_grant.is_some()),
            (
                "--create-account-login",
                self.create_account_login.is_some(),
            ),
            ("--delete-resource", self.delete_resource.is_some()),
            ("--invoke-action", self.invoke_action.is_some()),
            ("--list-action-schemas", self.list_action_schemas),
        ]
        .into_iter()
        .filter_map(|(flag, set)| set.then_some(flag))
        .collect();
        if given.len() > 1 {
            return Err(RunError::Usage(format!(
                "{} cannot be used together",
                given.join(" and ")
            )));
        }
        if self.grant_principal.is_some() && self.grant_entitlement.is_none() {
            return Err(RunError::Usage(
                "--grant-principal needs --grant-entitlement".to_string(),
            ));
        }
        if self.create_account_email.is_some() && self.create_account_login.is_none() {
            return Err(RunError::Usage(
                "--create-account-email needs --create-account-login".to_string(),
            ));
        }
        let request = if let Some(entitlement) = &self.grant_entitlement {
            let principal = self.grant_principal.clone().ok_or_else(|| {
                RunError::Usage("--grant-entitlement needs --grant-principal".to_string())
            })?;
            Request::Grant {
                entitlement: entitlement.clone(),
                principal,
                principal_type: self.grant_principal_type.clone(),
            }
        } else if let Some(grant) = &self.revoke_grant {
            Request::Revoke {
                grant: grant.clone(),
            }
        } else if let Some(login) = &self.create_account_login {
            Request::CreateAccount {
                login: login.clone(),
                email: self.create_account_email.clone(),
                profile: self.create_account_profile.clone(),
                resource_type: self.create_account_resource_type.clone(),
            }
        } else if let Some(resource) = &self.delete_resource {
            let resource_type = self.delete_resource_type.clone().ok_or_else(|| {
                RunError::Usage(
                    "--delete-resource needs --delete-resource-type (e.g. user)".to_string(),
                )
            })?;
            Request::Delete {
                resource: resource.clone(),
                resource_type,
            }
        } else if let Some(name) = &self.invoke_action {
            Request::InvokeAction {
                name: name.clone(),
                args: self.invoke_action_args.clone(),
                resource_type: self.invoke_action_resource_type.clone(),
            }
        } else if self.list_action_schemas {
            Request::ListActionSchemas {
                resource_type: self.list_action_schemas_resource_type.clone(),
            }
        } else {
            return Ok(None);
        };
        Ok(Some(request))
    }
}

impl EventFeedArgs {
    /// The feeds' settings for a pool: a sign-in log group must be in the pool's region, and
    /// cannot be combined with a user filter (the log tells of every user's sign-ins, and no
    /// call could tell which of them the filter lets through).
    pub fn settings(&self, pool: &PoolSettings) -> Result<EventFeedSettings, RunError> {
        const FLAG: &str = "sign-in-log-group";
        let sign_ins = match self.sign_in_log_group.as_deref() {
            None => SignInSource::History,
            Some(_) if pool.options.user_filter.is_some() => {
                return Err(usage(ConfigError::new(
                    FLAG,
                    "cannot be used with --user-filter: the log holds every user's sign-ins, and it cannot tell which users the filter lets through",
                )));
            }
            Some(group) => SignInSource::LogGroup(
                LogGroup::parse(group, &pool.only_pool("--sign-in-log-group")?.region)
                    .map_err(|problem| usage(ConfigError::new(FLAG, problem)))?,
            ),
        };
        Ok(EventFeedSettings {
            dir: self.event_feed_dir.clone(),
            interval: self.event_feed_interval,
            retention: self.event_feed_retention,
            wait: Some(REFRESH_WAIT),
            sign_ins,
            sign_in_interval: self.event_feed_interval,
        })
    }
}

impl ServeArgs {
    pub fn settings(
        self,
        provisioning: bool,
        event_feed: EventFeedSettings,
    ) -> Result<ServeSettings, RunError> {
        // A token no client can send would lock every client out.
        if let Some(token) = &self.auth_token
            && !crate::http::is_header_safe(token.expose())
        {
            return Err(RunError::Usage(
                "--auth-token: cannot be sent in an HTTP header (only printable ASCII can: no line \
                 breaks, tabs or other characters), so no client could authenticate"
                    .to_string(),
            ));
        }
        Ok(ServeSettings {
            listen: self.listen,
            provisioning: provisioning || self.provisioning,
            tls: self.tls_cert.zip(self.tls_key).map(|(cert, key)| TlsFiles {
                cert,
                key,
                client_ca: self.tls_client_ca,
            }),
            insecure: self.insecure,
            auth_token: self.auth_token,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            event_feed,
        })
    }
}

impl ExportArgs {
    pub fn settings(self) -> ExportSettings {
        ExportSettings {
            output: self.output,
            with_groups: self.with_groups,
            since_last_run: self.since_last_run,
            state: self.state.state,
        }
    }
}

impl WatchArgs {
    pub fn settings(self) -> Result<WatchSettings, RunError> {
        let schedule = match &self.schedule {
            Some(cron) => Schedule::cron(cron)?,
            None => Schedule::every(&self.interval)?,
        };
        let sink = Sink::new(&self.sink, self.sink_mode, self.sink_attempts)
            .map_err(|err| RunError::Usage(err.to_string()))?;
        Ok(WatchSettings {
            schedule,
            sink,
            state: self.state.state,
            once: self.once,
        })
    }
}

//! The command line: flags (each also read from `BATON_<FLAG>`), mode selection, exit codes.

mod metadata_files;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};

use crate::c1z::C1zError;
use crate::cloud_events::sink::{Sink, SinkMode};
use crate::cognito::filter::UserFilter;
use crate::cognito::settings::{
    ApiBudget, AssumeRole, AssumedQuota, ClientSettings, ConfigError, Credentials, PoolRef,
    parse_endpoint_url, resolve_region,
};
use crate::connector::{ConnectorOptions, UserSlicing};
use crate::event_journal::event_feed::{EventFeedSettings, REFRESH_WAIT};
use crate::logging::{self, LogFormat, LogLevel};
use crate::modes::export::{self, ExportSettings};
use crate::modes::inspect::{self, OutputFormat};
use crate::modes::provision::{self, Request};
use crate::modes::read_events::{self, EventFeedRun};
use crate::modes::serve::{self, ServeSettings};
use crate::modes::service_mode::{self, ServiceSettings};
use crate::modes::watch::{self, Schedule, WatchSettings};
use crate::modes::{PoolSettings, RunError, one_shot};
use crate::secret::Secret;
use crate::server::listen_tls::TlsFiles;
use crate::service::error::ServiceError;
use crate::service::identity::{ClientId, ClientSecret};
use crate::service::system;

#[derive(Debug, Parser)]
#[command(
    name = "baton-cognito",
    version,
    about = "Baton connector for an AWS Cognito user pool: users, groups and group memberships.",
    long_about = "Baton connector for an AWS Cognito user pool.\n\n\
        It reads the pool's users, groups and group memberships and writes them to a Baton \
        .c1z file (the default, without a command) or serves them over the ConductorOne Baton \
        protocol (c1.connector.v2, `serve`).\n\n\
        Every flag can also be set in the environment as BATON_<FLAG>, e.g. \
        BATON_USER_POOL_ID for --user-pool-id."
)]
pub struct Cli {
    #[command(flatten)]
    pub pool: PoolArgs,

    #[command(flatten)]
    pub log: LogArgs,

    /// Enable provisioning: group membership grants and revokes, account creation and deletion,
    /// enabling and disabling users. Off, those requests are refused.
    #[arg(short = 'p', long, env = "BATON_PROVISIONING")]
    pub provisioning: bool,

    #[command(flatten)]
    pub one_shot: OneShotArgs,

    #[command(flatten)]
    pub service: ServiceArgs,

    /// The .c1z file a sync writes and the listing commands read.
    #[arg(
        short = 'f',
        long,
        env = "BATON_FILE",
        global = true,
        default_value = "sync.c1z"
    )]
    pub file: PathBuf,

    // Last: the heading it opens would take the flags after it.
    #[command(flatten)]
    pub event_feed: EventFeedArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Without a command, the whole pool is synced into --file.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the c1.connector.v2 gRPC services (and grpc.health.v1) on a TCP address.
    Serve(ServeArgs),
    /// Print the pool's user records as JSON lines, or what changed since the last run.
    ///
    /// Each line is a user in Cognito's own shape (Username, Attributes, Enabled, UserStatus,
    /// UserCreateDate, UserLastModifiedDate, MFAOptions), as `aws cognito-idp list-users`
    /// shows it.
    Export(ExportArgs),
    /// Send every change in the pool as a CloudEvent, on a schedule (a change feed).
    ///
    /// Each run compares the pool with the last delivered snapshot (--state) and sends what
    /// changed; the state advances only once the sink accepted every event. The first run
    /// records the baseline.
    Watch(WatchArgs),
    /// List the resource types in --file.
    ResourceTypes(OutputArgs),
    /// List the resources in --file.
    Resources {
        /// Only resources of this type (e.g. user, group).
        #[arg(short = 't', long)]
        resource_type: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List the entitlements in --file.
    Entitlements {
        /// Only entitlements of this resource, as TYPE:ID (e.g. group:admins).
        #[arg(short = 'r', long, value_name = "TYPE:ID")]
        resource: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List the grants in --file.
    Grants {
        /// Only grants of this entitlement (e.g. group:admins:member).
        #[arg(short = 'e', long, conflicts_with = "principal")]
        entitlement: Option<String>,
        /// Only grants to this principal, as TYPE:ID (e.g. user:ann).
        #[arg(short = 'p', long, value_name = "TYPE:ID")]
        principal: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Summarise --file: its sync and the number of records of each kind.
    Stats(OutputArgs),
    /// Print the connector's capabilities (baton_capabilities.json).
    Capabilities,
    /// Print the connector's configuration schema (config_schema.json).
    Config,
}

/// Baton's one-shot provisioning flags (hidden, as in every Baton connector). Each implies
/// `--provisioning`; at most one may be given.
#[derive(Debug, Args)]
pub struct OneShotArgs {
    /// Grant this entitlement (id from --file, e.g. group:admins:member) to --grant-principal.
    #[arg(long, env = "BATON_GRANT_ENTITLEMENT", global = true, hide = true)]
    pub grant_entitlement: Option<String>,
    /// The principal's resource id (e.g. a username).
    #[arg(long, env = "BATON_GRANT_PRINCIPAL", global = true, hide = true)]
    pub grant_principal: Option<String>,
    /// The principal's resource type.
    #[arg(
        long,
        env = "BATON_GRANT_PRINCIPAL_TYPE",
        global = true,
        hide = true,
        default_value = "user"
    )]
    pub grant_principal_type: String,
    /// Revoke this grant (id from --file, e.g. group:admins:member:user:ann).
    #[arg(long, env = "BATON_REVOKE_GRANT", global = true, hide = true)]
    pub revoke_grant: Option<String>,
    /// Create a user with this username.
    #[arg(long, env = "BATON_CREATE_ACCOUNT_LOGIN", global = true, hide = true)]
    pub create_account_login: Option<String>,
    #[arg(long, env = "BATON_CREATE_ACCOUNT_EMAIL", global = true, hide = true)]
    pub create_account_email: Option<String>,
    /// Profile of the new user as a JSON object (attributes, send_invite_email).
    #[arg(
        long,
        env = "BATON_CREATE_ACCOUNT_PROFILE",
        global = true,
        hide = true,
        value_name = "JSON"
    )]
    pub create_account_profile: Option<String>,
    #[arg(
        long,
        env = "BATON_CREATE_ACCOUNT_RESOURCE_TYPE",
        global = true,
        hide = true
    )]
    pub create_account_resource_type: Option<String>,
    /// Delete this resource (a username with --delete-resource-type user).
    #[arg(long, env = "BATON_DELETE_RESOURCE", global = true, hide = true)]
    pub delete_resource: Option<String>,
    #[arg(long, env = "BATON_DELETE_RESOURCE_TYPE", global = true, hide = true)]
    pub delete_resource_type: Option<String>,
    /// Invoke this action (enable_user, disable_user).
    #[arg(long, env = "BATON_INVOKE_ACTION", global = true, hide = true)]
    pub invoke_action: Option<String>,
    /// The action's arguments as a JSON object, e.g. {"user_id":"ann"}.
    #[arg(
        long,
        env = "BATON_INVOKE_ACTION_ARGS",
        global = true,
        hide = true,
        default_value = "{}",
        value_name = "JSON"
    )]
    pub invoke_action_args: String,
    #[arg(
        long,
        env = "BATON_INVOKE_ACTION_RESOURCE_TYPE",
        global = true,
        hide = true
    )]
    pub invoke_action_resource_type: Option<String>,
    /// List the action schemas.
    #[arg(long, env = "BATON_LIST_ACTION_SCHEMAS", global = true, hide = true)]
    pub list_action_schemas: bool,
    #[arg(
        long,
        env = "BATON_LIST_ACTION_SCHEMAS_RESOURCE_TYPE",
        global = true,
        hide = true
    )]
    pub list_action_schemas_resource_type: Option<String>,
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

/// The Baton event feed (EventService): where its journal lives, how often it looks at the
/// pool, and the one-shot reader (`--event-feed`), which prints events as JSON lines.
///
/// The journal's flags are global because `serve` uses them as much as service mode and the
/// one-shot reader do; they are grouped under their own heading in every command's help. The
/// one-shot reader's own flags are the top level's only: `export --event-feed` is an error.
#[derive(Debug, Args)]
#[command(next_help_heading = "Event feed (serve, service mode, --event-feed)")]
pub struct EventFeedArgs {
    /// Directory of the event feed's journal and latest snapshot (serve and service mode, and
    /// --event-feed). Keep it on a persistent volume: cursors point into it.
    #[arg(
        long,
        env = "BATON_EVENT_FEED_DIR",
        global = true,
        default_value = "cognito-events",
        value_name = "DIR"
    )]
    pub event_feed_dir: PathBuf,

    /// A caller who has read every event gets a new snapshot of the pool (a sync) only once
    /// the newest is this old (e.g. 5m, 1h).
    #[arg(long, env = "BATON_EVENT_FEED_INTERVAL", global = true, default_value = "5m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub event_feed_interval: Duration,

    /// Events observed longer ago than this are dropped from the journal (e.g. 7d).
    #[arg(long, env = "BATON_EVENT_FEED_RETENTION", global = true, default_value = "7d", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub event_feed_retention: Duration,

    /// Print the pool's events since --event-feed-start-at (or --event-feed-cursor) as JSON
    /// lines, taking a new snapshot first, and log the cursor to continue from.
    #[arg(long, env = "BATON_EVENT_FEED")]
    pub event_feed: bool,

    /// The feed to read (this connector has one, cognito_user_pool_changes).
    #[arg(long, env = "BATON_EVENT_FEED_ID", value_name = "ID")]
    pub event_feed_id: Option<String>,

    /// With --event-feed: events observed at or after this time (RFC 3339); default one day ago.
    #[arg(long, env = "BATON_EVENT_FEED_START_AT", value_parser = parse_rfc3339, value_name = "TIME")]
    pub event_feed_start_at: Option<SystemTime>,

    /// With --event-feed: continue after this cursor (as logged by the previous run).
    #[arg(long, env = "BATON_EVENT_FEED_CURSOR", value_name = "CURSOR")]
    pub event_feed_cursor: Option<String>,
}

impl EventFeedArgs {
    pub fn settings(&self) -> EventFeedSettings {
        EventFeedSettings {
            dir: self.event_feed_dir.clone(),
            interval: self.event_feed_interval,
            retention: self.event_feed_retention,
            wait: Some(REFRESH_WAIT),
        }
    }
}

fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(SystemTime::from)
        .map_err(|err| format!("not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z): {err}"))
}

/// Service mode: with a client id and secret, the connector polls the governance platform for
/// tasks instead of syncing once.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The client id the governance platform issued (name@host/rest); with --client-secret it
    /// selects service mode.
    #[arg(long, env = "BATON_CLIENT_ID", requires = "client_secret")]
    pub client_id: Option<String>,

    /// The client secret the governance platform issued.
    #[arg(
        long,
        env = "BATON_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET",
        requires = "client_id"
    )]
    pub client_secret: Option<Secret>,

    /// How many platform tasks run at once, 1 to 100.
    #[arg(long, env = "BATON_TASK_CONCURRENCY", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100), allow_negative_numbers = true)]
    pub task_concurrency: u16,

    /// Serve /health, /ready and /live over HTTP for probes (service mode).
    #[arg(long, env = "BATON_HEALTH_CHECK")]
    pub health_check: bool,

    /// Port of the health endpoint.
    #[arg(
        long,
        env = "BATON_HEALTH_CHECK_PORT",
        default_value_t = 8081,
        allow_negative_numbers = true
    )]
    pub health_check_port: u16,

    /// Address the health endpoint binds to (0.0.0.0 in a Kubernetes pod, so the kubelet reaches it).
    #[arg(
        long,
        env = "BATON_HEALTH_CHECK_BIND_ADDRESS",
        default_value = "127.0.0.1",
        value_name = "IP"
    )]
    pub health_check_bind_address: std::net::IpAddr,

    /// This worker's name to the platform; defaults to the host name.
    #[arg(long, env = "BATON_HOST_ID", hide = true)]
    pub host_id: Option<String>,

    /// The platform's host[:port], instead of the host in the client id.
    #[arg(
        long,
        env = "BATON_C1_API_HOST",
        hide = true,
        value_name = "HOST[:PORT]"
    )]
    pub c1_api_host: Option<String>,

    /// A PEM file of extra CA certificates to trust for the platform, besides the system's
    /// (private deployments, tests).
    #[arg(long, env = "BATON_C1_API_CA_FILE", value_name = "PEM")]
    pub c1_api_ca_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Console)]
    pub output_format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Enable provisioning (as the top-level --provisioning).
    #[arg(short = 'p', long, env = "BATON_PROVISIONING")]
    pub provisioning: bool,

    /// Address to listen on. Loopback by default; any other address needs --tls-cert, or
    /// --insecure to serve plaintext on purpose.
    #[arg(
        long,
        env = "BATON_LISTEN",
        default_value = "127.0.0.1:50051",
        value_name = "HOST:PORT"
    )]
    pub listen: SocketAddr,

    /// Serve TLS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "BATON_TLS_CERT", requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "BATON_TLS_KEY", requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: refuse clients without a certificate signed by this PEM CA (needs --tls-cert).
    #[arg(
        long,
        env = "BATON_TLS_CLIENT_CA",
        requires = "tls_cert",
        value_name = "PEM"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// Allow plaintext gRPC on a non-loopback --listen address (logged as a warning).
    #[arg(long, env = "BATON_INSECURE")]
    pub insecure: bool,

    /// Require every call (health checks excepted) to carry `authorization: Bearer <TOKEN>`.
    /// Prefer the environment variable: a flag's value shows in the process list.
    #[arg(
        long,
        env = "BATON_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<Secret>,

    /// Seconds that in-flight calls get to finish after SIGINT or SIGTERM.
    #[arg(
        long,
        env = "BATON_SHUTDOWN_TIMEOUT",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub shutdown_timeout: u64,
}

impl ServeArgs {
    fn settings(
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

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the lines to this file (replaced only once complete) instead of standard output.
    #[arg(long, env = "BATON_EXPORT_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Add each user's groups to its record, as "Groups": [names].
    #[arg(long, env = "BATON_EXPORT_WITH_GROUPS")]
    pub with_groups: bool,

    /// Only users created or changed since the last run with the same --state, plus
    /// {"Username": ..., "Deleted": true} for each user deleted since. The first run prints
    /// every user.
    #[arg(long, env = "BATON_SINCE_LAST_RUN")]
    pub since_last_run: bool,

    #[command(flatten)]
    pub state: StateArgs,
}

/// Where `export --since-last-run` and `watch` keep what they last delivered.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The last delivered snapshot of the pool, as a .c1z: what the next run compares with.
    #[arg(
        long,
        env = "BATON_STATE",
        default_value = "cognito-feed.c1z",
        value_name = "FILE"
    )]
    pub state: PathBuf,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Where events go: an http:// or https:// URL (CloudEvents HTTP binding), or - for one
    /// JSON event per line on standard output.
    #[arg(long, env = "BATON_SINK", value_name = "URL|-")]
    pub sink: String,

    /// How events are sent over HTTP: the whole event as JSON, or attributes as ce-* headers.
    #[arg(long, env = "BATON_SINK_MODE", value_enum, default_value_t = SinkMode::Structured)]
    pub sink_mode: SinkMode,

    /// Attempts per event (backing off from 0.5 s to 30 s) before a run gives up; the next run
    /// sends it again.
    #[arg(
        long,
        env = "BATON_SINK_ATTEMPTS",
        default_value_t = 6,
        value_parser = clap::value_parser!(u32).range(1..=100),
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub sink_attempts: u32,

    /// Run on this cron schedule (five fields, UTC), e.g. "*/15 * * * *".
    #[arg(
        long,
        env = "BATON_SCHEDULE",
        conflicts_with = "interval",
        value_name = "CRON"
    )]
    pub schedule: Option<String>,

    /// Run this long after the previous run ended (30s, 15m, 1h).
    #[arg(
        long,
        env = "BATON_INTERVAL",
        default_value = "15m",
        value_name = "DURATION"
    )]
    pub interval: String,

    #[command(flatten)]
    pub state: StateArgs,

    /// Run once and exit (for cron jobs): exit 1 if the sink did not take every event.
    #[arg(long, env = "BATON_ONCE")]
    pub once: bool,
}

/// Which pool to read, where, and with which credentials.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// The user pool: an id (us-east-1_AbC123) or an ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID).
    #[arg(long, env = "BATON_USER_POOL_ID", global = true, value_name = "ID|ARN")]
    pub user_pool_id: Option<String>,

    /// AWS region; defaults to the region in the pool id, and must agree with it.
    #[arg(long, env = "BATON_REGION", global = true)]
    pub region: Option<String>,

    /// AWS access key id (with --aws-secret-access-key); otherwise the AWS default credential chain.
    #[arg(
        long,
        env = "BATON_AWS_ACCESS_KEY_ID",
        global = true,
        hide_env_values = true
    )]
    pub aws_access_key_id: Option<String>,

    /// AWS secret access key.
    #[arg(
        long,
        env = "BATON_AWS_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub aws_secret_access_key: Option<Secret>,

    /// AWS session token, for temporary credentials.
    #[arg(
        long,
        env = "BATON_AWS_SESSION_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub aws_session_token: Option<Secret>,

    /// IAM role to assume (STS AssumeRole) on top of the base credentials.
    #[arg(long, env = "BATON_ROLE_ARN", global = true, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// External id required by the role's trust policy.
    #[arg(long, env = "BATON_EXTERNAL_ID", global = true, hide_env_values = true)]
    pub external_id: Option<Secret>,

    /// Cognito endpoint override, for emulators and private endpoints (AWS_ENDPOINT_URL is honoured too).
    #[arg(long, env = "BATON_ENDPOINT_URL", global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Only users matching this ListUsers filter, e.g. 'email ^= "a"' or 'status = "Enabled"'.
    #[arg(long, env = "BATON_USER_FILTER", global = true, value_name = "FILTER")]
    pub user_filter: Option<String>,

    /// Whether a sync lists users in 16 parallel `sub` slices: auto = pools large enough that it
    /// costs under 1% more calls, and smaller ones whose first pages show slices finish sooner.
    #[arg(long, env = "BATON_USER_SLICING", global = true, value_enum, default_value_t = UserSlicing::Auto, hide = true)]
    pub user_slicing: UserSlicing,

    /// Share of each Cognito request-rate quota this connector may use, from 0.001 to 1.
    #[arg(long, env = "BATON_API_BUDGET", global = true, default_value_t = ApiBudget::DEFAULT, value_name = "SHARE", allow_negative_numbers = true)]
    pub api_budget: f64,

    /// A different share for one quota category, as CATEGORY=SHARE (repeatable; e.g.
    /// user-list=0.2). Categories: user-list, user-read, user-resource-read,
    /// user-pool-resource-read, user-pool-read, user-update, user-creation.
    #[arg(
        long,
        env = "BATON_CATEGORY_BUDGET",
        global = true,
        value_delimiter = ',',
        value_name = "CATEGORY=SHARE"
    )]
    pub category_budget: Vec<String>,

    /// The quotas the shares are taken of: AWS's defaults times this factor, or `unlimited` (no
    /// pacing). Only for emulators that compress time, and for measuring the connector alone.
    #[arg(
        long,
        env = "BATON_QUOTA_SCALE",
        global = true,
        default_value = "1",
        value_name = "FACTOR|unlimited",
        hide = true
    )]
    pub quota_scale: String,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log level.
    #[arg(long, env = "BATON_LOG_LEVEL", global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log format; console on a terminal, json otherwise.
    #[arg(long, env = "BATON_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
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

impl PoolArgs {
    /// Checks every flag and builds the settings, or names the first bad flag.
    pub fn settings(&self) -> Result<PoolSettings, ConfigError> {
        let pool = PoolRef::parse(self.user_pool_id.as_deref().unwrap_or_default())?;
        let region = resolve_region(&pool, self.region.as_deref())?;
        let credentials = Credentials::from_flags(
            self.aws_access_key_id.as_deref(),
            self.aws_secret_access_key.as_ref(),
            self.aws_session_token.as_ref(),
        )?;
        let assume_role =
            AssumeRole::from_flags(self.role_arn.as_deref(), self.external_id.as_ref())?;
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
        let client = ClientSettings {
            pool,
            region,
            credentials,
            assume_role,
            endpoint_url,
            api_budget: self
                .category_budget
                .iter()
                .try_fold(ApiBudget::new(self.api_budget)?, |budget, text| {
                    budget.with_override(text)
                })?
                .with_assumed_quota(AssumedQuota::parse(&self.quota_scale)?),
        };
        let options = ConnectorOptions {
            user_filter,
            user_slicing: self.user_slicing,
        };
        Ok(PoolSettings { client, options })
    }
}

/// Parses the command line, runs the chosen mode, and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log.log_level, cli.log.log_format);
    exit_on_panic();
    match run_mode(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not a failure.
        Err(RunError::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(RunError::File(C1zError::Output(err)))
            if err.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "exiting");
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// A panic anywhere, in a background task too, ends the program with an error. A task that died
/// would otherwise leave whatever waits on it waiting forever: a sync that never ends.
pub fn exit_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        tracing::error!(panic = %info, "internal error: exiting");
        std::process::exit(i32::from(crate::modes::EXIT_FAILURE));
    }));
}

fn run_mode(cli: Cli) -> Result<(), RunError> {
    let file = cli.file.as_path();
    match cli.command {
        Some(Command::Capabilities) => print(&metadata_files::capabilities_json()?),
        Some(Command::Config) => print(&metadata_files::config_schema_json()),
        Some(Command::ResourceTypes(out)) => inspect::resource_types(file, out.output_format),
        Some(Command::Resources { resource_type, out }) => {
            inspect::resources(file, resource_type.as_deref(), out.output_format)
        }
        Some(Command::Entitlements { resource, out }) => {
            inspect::entitlements(file, resource.as_deref(), out.output_format)
        }
        Some(Command::Grants {
            entitlement,
            principal,
            out,
        }) => inspect::grants(
            file,
            entitlement.as_deref(),
            principal.as_deref(),
            out.output_format,
        ),
        Some(Command::Stats(out)) => inspect::stats(file, out.output_format),
        Some(Command::Export(args)) => {
            let settings = settings(&cli.pool)?;
            let export = ExportSettings {
                output: args.output,
                with_groups: args.with_groups,
                since_last_run: args.since_last_run,
                state: args.state.state,
            };
            runtime()?.block_on(export::run(&settings, &export))
        }
        Some(Command::Watch(args)) => {
            let schedule = match &args.schedule {
                Some(cron) => Schedule::cron(cron)?,
                None => Schedule::every(&args.interval)?,
            };
            let sink = Sink::new(&args.sink, args.sink_mode, args.sink_attempts)
                .map_err(|err| RunError::Usage(err.to_string()))?;
            let settings = settings(&cli.pool)?;
            let watch = WatchSettings {
                schedule,
                sink,
                state: args.state.state,
                once: args.once,
            };
            runtime()?.block_on(watch::run(&settings, &watch))
        }
        Some(Command::Serve(args)) => {
            let settings = settings(&cli.pool)?;
            let serve = args.settings(cli.provisioning, cli.event_feed.settings())?;
            tracing::debug!(?serve, "server configuration");
            runtime()?.block_on(serve::run(&settings, &serve))
        }
        None if cli.service.client_id.is_some() => {
            let event_feed = cli.event_feed.event_feed.then_some("--event-feed");
            if let Some(flag) = cli
                .one_shot
                .request()?
                .map(|_| "a one-shot provisioning flag")
                .or(event_feed)
            {
                return Err(RunError::Usage(format!(
                    "{flag} cannot be used in service mode (--client-id); the platform sends that work as tasks"
                )));
            }
            let service =
                service_settings(&cli.service, cli.provisioning, cli.event_feed.settings())?;
            let settings = settings(&cli.pool)?;
            runtime()?.block_on(service_mode::run(&settings, service))
        }
        None if cli.event_feed.event_feed => {
            if cli.one_shot.request()?.is_some() {
                return Err(RunError::Usage(
                    "--event-feed cannot be used with a one-shot provisioning flag".to_string(),
                ));
            }
            let settings = settings(&cli.pool)?;
            let run = EventFeedRun {
                settings: cli.event_feed.settings(),
                feed_id: cli.event_feed.event_feed_id,
                start_at: cli.event_feed.event_feed_start_at,
                cursor: cli.event_feed.event_feed_cursor,
            };
            runtime()?.block_on(read_events::run(&settings, run))
        }
        None => {
            let one_shot = cli.one_shot.request()?;
            let settings = settings(&cli.pool)?;
            match one_shot {
                Some(request) => runtime()?.block_on(provision::run(&settings, file, request)),
                None => runtime()?.block_on(one_shot::run(&settings, file)),
            }
        }
    }
}

fn settings(pool: &PoolArgs) -> Result<PoolSettings, RunError> {
    let settings = pool
        .settings()
        .map_err(|err| RunError::Usage(err.to_string()))?;
    tracing::debug!(?settings, "configuration");
    Ok(settings)
}

fn service_settings(
    args: &ServiceArgs,
    provisioning: bool,
    event_feed: EventFeedSettings,
) -> Result<ServiceSettings, RunError> {
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
    };
    tracing::debug!(?settings, "service configuration");
    Ok(settings)
}

fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Runtime::new()
        .map_err(|e| RunError::Failed(format!("cannot start the async runtime: {e}")))
}

fn print(text: &str) -> Result<(), RunError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

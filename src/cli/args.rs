//! The command line as clap parses it: one struct of raw flags per mode, each flag also read
//! from `BATON_<FLAG>`. Nothing here checks more than clap can; `validate.rs` turns these into
//! the settings each mode takes, and `pool_flags.rs` holds the connector's own flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};

use super::pool_flags::PoolArgs;
use super::sdk_flags::{CompactArgs, OtelArgs, RuntimeArgs, SyncScopeArgs, parse_rfc3339};
use crate::cloud_events::sink::SinkMode;
use crate::logging::{LogFormat, LogLevel, LogSettings};
use crate::modes::inspect::OutputFormat;
use crate::secret::Secret;
use crate::telemetry::OtelSettings;

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

    /// Start a new one-shot sync even if a killed one to the same file could be resumed.
    #[arg(long, env = "BATON_FRESH")]
    pub fresh: bool,

    #[command(flatten)]
    pub runtime: RuntimeArgs,

    #[command(flatten)]
    pub scope: SyncScopeArgs,

    #[command(flatten)]
    pub otel: OtelArgs,

    #[command(flatten)]
    pub compact: CompactArgs,

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
    /// Invoke this action (enable_user, disable_user, sign_out_user).
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

    /// Read the sign-in feed from the user-activity log the pool exports to CloudWatch Logs (a
    /// log group name or ARN), with FilterLogEvents: the cost grows with sign-ins, not users.
    /// Without it, each user's history is read (one call per user per pass).
    #[arg(
        long,
        env = "BATON_SIGN_IN_LOG_GROUP",
        global = true,
        value_name = "NAME|ARN"
    )]
    pub sign_in_log_group: Option<String>,

    /// Print the pool's events since --event-feed-start-at (or --event-feed-cursor) as JSON
    /// lines, taking a new snapshot first, and log the cursor to continue from.
    #[arg(long, env = "BATON_EVENT_FEED")]
    pub event_feed: bool,

    /// The feed to read: cognito_user_pool_changes (the default) or cognito_user_pool_sign_ins.
    #[arg(long, env = "BATON_EVENT_FEED_ID", value_name = "ID")]
    pub event_feed_id: Option<String>,

    /// With --event-feed: events observed at or after this time (RFC 3339); default one day ago.
    #[arg(long, env = "BATON_EVENT_FEED_START_AT", value_parser = parse_rfc3339, value_name = "TIME")]
    pub event_feed_start_at: Option<SystemTime>,

    /// With --event-feed: continue after this cursor (as logged by the previous run).
    #[arg(long, env = "BATON_EVENT_FEED_CURSOR", value_name = "CURSOR")]
    pub event_feed_cursor: Option<String>,
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

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log level.
    #[arg(long, env = "BATON_LOG_LEVEL", global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log format; console on a terminal, json otherwise.
    #[arg(long, env = "BATON_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Also write the logs to these files (appended to), in the log format without colours.
    #[arg(
        long,
        env = "BATON_LOG_PATH",
        global = true,
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub log_path: Vec<PathBuf>,

    /// Debug logging ends at this time (RFC 3339): from then on, --log-level debug or trace
    /// logs at info.
    #[arg(long, env = "BATON_LOG_LEVEL_DEBUG_EXPIRES_AT", global = true, value_parser = parse_rfc3339, value_name = "TIME")]
    pub log_level_debug_expires_at: Option<SystemTime>,
}

impl LogArgs {
    pub fn settings(&self, otel: Option<OtelSettings>) -> LogSettings {
        LogSettings {
            level: self.log_level,
            format: self.log_format,
            files: self.log_path.clone(),
            debug_expires_at: self.log_level_debug_expires_at,
            otel,
        }
    }
}

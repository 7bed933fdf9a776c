//! The command line: flags (each also read from `BATON_<FLAG>`), mode selection, exit codes.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::cognito::PoolClient;
use crate::cognito::filter::UserFilter;
use crate::config::{
    ApiBudget, AssumeRole, ConfigError, Credentials, PoolRef, PoolSettings, parse_endpoint_url,
    resolve_region,
};
use crate::connector::{Connector, ConnectorOptions};
use crate::logging::{self, LogFormat, LogLevel};
use crate::secret::Secret;

/// Exit codes: 0 success, 1 a failure while running, 2 a usage or configuration error.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "baton-cognito",
    version,
    about = "Baton connector for an AWS Cognito user pool: users, groups and group memberships.",
    long_about = "Baton connector for an AWS Cognito user pool.\n\n\
        It reads the pool's users, groups and group memberships and serves them over the \
        ConductorOne Baton protocol (c1.connector.v2).\n\n\
        Every flag can also be set in the environment as BATON_<FLAG>, e.g. \
        BATON_USER_POOL_ID for --user-pool-id."
)]
pub struct Cli {
    #[command(flatten)]
    pub pool: PoolArgs,

    #[command(flatten)]
    pub log: LogArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the c1.connector.v2 gRPC services (and grpc.health.v1) on a TCP address.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it deliberately.
    #[arg(
        long,
        env = "BATON_LISTEN",
        default_value = "127.0.0.1:50051",
        value_name = "HOST:PORT"
    )]
    pub listen: SocketAddr,
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

    /// Share of each Cognito request-rate quota this connector may use, in (0, 1].
    #[arg(long, env = "BATON_API_BUDGET", global = true, default_value_t = ApiBudget::DEFAULT, value_name = "SHARE")]
    pub api_budget: f64,
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
        let endpoint_url = self
            .endpoint_url
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(parse_endpoint_url)
            .transpose()?;
        let user_filter = self
            .user_filter
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|f| {
                f.parse::<UserFilter>()
                    .map_err(|e| ConfigError::new("user-filter", e.to_string()))
            })
            .transpose()?;
        Ok(PoolSettings {
            pool,
            region,
            credentials,
            assume_role,
            endpoint_url,
            user_filter,
            api_budget: ApiBudget::new(self.api_budget)?,
        })
    }
}

/// Parses the command line, runs the chosen mode, and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log.log_level, cli.log.log_format);
    let settings = match cli.pool.settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    tracing::debug!(?settings, "configuration");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Some(Command::Serve(args)) => serve(&settings, &args).await,
            None => Err(RunError::Usage(
                "no mode given: run `baton-cognito serve` to serve the gRPC connector".to_string(),
            )),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "exiting");
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

impl RunError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Listen { .. } | Self::Serve(_) => EXIT_FAILURE,
        }
    }
}

async fn connector(settings: &PoolSettings) -> Arc<Connector> {
    let pool = Arc::new(PoolClient::connect(settings).await);
    Arc::new(Connector::new(
        pool,
        ConnectorOptions {
            user_filter: settings.user_filter.clone(),
        },
    ))
}

async fn serve(settings: &PoolSettings, args: &ServeArgs) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: args.listen,
        source,
    })?;
    let connector = connector(settings).await;
    tracing::info!(%addr, pool_id = %settings.pool.id, region = %settings.region, "serving c1.connector.v2");
    // The bound address on stdout, for whoever started the server with port 0.
    println!("listening on {addr}");
    crate::server::serve(
        listener,
        connector,
        settings.region.clone(),
        shutdown_signal(),
    )
    .await?;
    tracing::info!("server stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown requested");
}

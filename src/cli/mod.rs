//! The command line: raw flags (`args.rs`, and the connector's own in `pool_flags.rs`),
//! validated into each mode's settings (`validate.rs`), the mode chosen and run here, and its
//! exit code. The metadata files (`capabilities`, `config`) are printed from the same
//! declarations (`metadata_files.rs`).

mod args;
mod metadata_files;
mod pool_flags;
mod sdk_flags;
mod validate;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::c1z::C1zError;
use crate::logging;
use crate::modes::inspect;
use crate::modes::read_events::{self, EventFeedRun};
use crate::modes::{RunError, compact, export, one_shot, provision, serve, service_mode, watch};
pub use args::Cli;
use args::Command;
use validate::{pool_settings, service_settings};

/// Parses the command line, runs the chosen mode, and returns the process exit code.
pub fn run() -> ExitCode {
    let matches = sdk_flags::with_unsupported(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    let logging = cli
        .otel
        .settings()
        .map(|otel| cli.log.settings(otel))
        .and_then(|settings| logging::init(&settings).map_err(|err| err.to_string()));
    let _telemetry = match logging {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(crate::modes::EXIT_USAGE);
        }
    };
    exit_on_panic();
    let ran = sdk_flags::refuse_unsupported(&matches).and_then(|()| run_mode(cli));
    match ran {
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
    // The SDK's sync scoping flags are for syncs this program starts itself.
    let compact = cli.compact.request()?;
    let syncs_itself = cli.command.is_none()
        && cli.one_shot.request()?.is_none()
        && !cli.event_feed.event_feed
        && compact.is_none();
    if compact.is_some() && cli.command.is_some() {
        return Err(RunError::Usage(
            "--compact-syncs is a task of its own: give it without a command".to_string(),
        ));
    }
    let one_shot_sync = syncs_itself && cli.service.client_id.is_none();
    if one_shot_sync && cli.runtime.c1z_temp_dir.is_some() {
        return Err(RunError::Usage(
            "--c1z-temp-dir applies to service mode's sync directories; a one-shot sync builds its file beside the destination, so that the finished file is renamed into place on one filesystem".to_string(),
        ));
    }
    if !syncs_itself && let Some(flag) = cli.scope.first_given() {
        return Err(RunError::Usage(format!(
            "{flag} scopes the one-shot sync (and service mode); it means nothing here"
        )));
    }
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
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            runtime()?.block_on(export::run(&settings, &args.settings()))
        }
        Some(Command::Watch(args)) => {
            let watch = args.settings()?;
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            runtime()?.block_on(watch::run(&settings, &watch))
        }
        Some(Command::Serve(args)) => {
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            let serve = args.settings(cli.provisioning, cli.event_feed.settings(&settings)?)?;
            tracing::debug!(?serve, "server configuration");
            runtime()?.block_on(serve::run(&settings, &serve))
        }
        None if compact.is_some() => match compact {
            Some(request)
                if cli.service.client_id.is_none()
                    && cli.one_shot.request()?.is_none()
                    && !cli.event_feed.event_feed =>
            {
                compact::run(&request)
            }
            _ => Err(RunError::Usage(
                "--compact-syncs is a task of its own: not with service mode (--client-id), --event-feed or a one-shot provisioning flag".to_string(),
            )),
        },
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
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            let service = service_settings(
                &cli.service,
                &cli.runtime,
                &cli.scope,
                cli.provisioning,
                cli.event_feed.settings(&settings)?,
            )?;
            runtime()?.block_on(service_mode::run(&settings, service))
        }
        None if cli.event_feed.event_feed => {
            if cli.one_shot.request()?.is_some() {
                return Err(RunError::Usage(
                    "--event-feed cannot be used with a one-shot provisioning flag".to_string(),
                ));
            }
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            let run = EventFeedRun {
                settings: cli.event_feed.settings(&settings)?,
                feed_id: cli.event_feed.event_feed_id,
                start_at: cli.event_feed.event_feed_start_at,
                cursor: cli.event_feed.event_feed_cursor,
            };
            runtime()?.block_on(read_events::run(&settings, run))
        }
        None => {
            let one_shot = cli.one_shot.request()?;
            let settings = pool_settings(&cli.pool, &cli.runtime)?;
            match one_shot {
                Some(request) => runtime()?.block_on(provision::run(&settings, file, request)),
                None => {
                    let sync = cli.scope.one_shot(cli.fresh)?;
                    runtime()?.block_on(one_shot::run(&settings, file, sync))
                }
            }
        }
    }
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

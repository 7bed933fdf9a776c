//! Logging: human-readable on a terminal, JSON lines otherwise, always on stderr so that
//! stdout stays for data.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use clap::ValueEnum;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{EnvFilter, reload};

use crate::telemetry::{OtelSettings, RegistryLayer, Telemetry, TelemetryError};
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::fmt::{self};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Console,
    Json,
}

impl LogFormat {
    /// Console on a terminal, JSON for machines.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Console
        } else {
            Self::Json
        }
    }
}

impl LogLevel {
    /// This crate's events at this level; libraries' warnings and worse.
    fn filter(self) -> EnvFilter {
        EnvFilter::new(format!("warn,baton_cognito={}", self.directive()))
    }

    fn directive(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// Stderr for console logs on a terminal: each event first clears the current line, so a log
/// line never lands in the middle of the sync's in-place progress line (which the next tick
/// redraws below it).
struct LineClearingStderr {
    cleared: bool,
}

impl std::io::Write for LineClearingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if !self.cleared {
            err.write_all(b"\r\x1b[2K")?;
            self.cleared = true;
        }
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Where and how to log: the level, the format on stderr, files that get the same lines too
/// (`--log-path`), and when debug logging ends (`--log-level-debug-expires-at`).
#[derive(Clone, Debug)]
pub struct LogSettings {
    pub level: LogLevel,
    pub format: Option<LogFormat>,
    pub files: Vec<PathBuf>,
    pub debug_expires_at: Option<SystemTime>,
    /// Where spans and logs are exported over OTLP, if anywhere.
    pub otel: Option<OtelSettings>,
}

impl LogSettings {
    /// The level in force now: debug and trace fall back to info once they expired.
    fn level_now(&self) -> LogLevel {
        let expired = self
            .debug_expires_at
            .is_some_and(|at| at <= SystemTime::now());
        match self.level {
            LogLevel::Debug | LogLevel::Trace if expired => LogLevel::Info,
            level => level,
        }
    }
}

/// Logging that cannot start as configured.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    #[error("--log-path: cannot open {path} for appending: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
}

/// Installs the global subscriber. This crate logs at the level; libraries (AWS SDK, hyper, h2)
/// only warnings, so that the most verbose setting stays about this connector's own work.
/// The returned [`Telemetry`] exports spans and logs until it is dropped (then flushed).
pub fn init(settings: &LogSettings) -> Result<Telemetry, LogInitError> {
    let level = settings.level_now();
    let (filter, filter_handle) = reload::Layer::new(level.filter());
    let format = settings.format.unwrap_or_else(LogFormat::detect);
    let on_stderr = match format {
        LogFormat::Json => lines(json_lines().with_writer(std::io::stderr)),
        LogFormat::Console if std::io::stderr().is_terminal() => lines(
            fmt::layer()
                .with_target(false)
                .with_writer(|| LineClearingStderr { cleared: false }),
        ),
        LogFormat::Console => lines(fmt::layer().with_target(false).with_writer(std::io::stderr)),
    };
    let mut files = Vec::new();
    for path in &settings.files {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| LogInitError::File {
                path: path.display().to_string(),
                source,
            })?;
        files.push(BoxMakeWriter::new(Arc::new(file)));
    }
    let in_files = files
        .into_iter()
        .reduce(|all, one| BoxMakeWriter::new(all.and(one)))
        .map(|writer| match format {
            LogFormat::Json => lines(json_lines().with_writer(writer)),
            LogFormat::Console => lines(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(writer),
            ),
        });
    let (telemetry, mut layers) = match &settings.otel {
        Some(otel) => Telemetry::start(otel)?,
        None => (Telemetry::off(), Vec::new()),
    };
    layers.push(on_stderr);
    layers.extend(in_files);
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
    if level != settings.level {
        tracing::info!("debug logging expired (--log-level-debug-expires-at): logging at info");
    } else if let (LogLevel::Debug | LogLevel::Trace, Some(at)) = (level, settings.debug_expires_at)
    {
        // A long run (service mode, serve, watch) drops to info when the time comes.
        std::thread::spawn(move || {
            if let Ok(wait) = at.duration_since(SystemTime::now()) {
                std::thread::sleep(wait);
            }
            if filter_handle.reload(LogLevel::Info.filter()).is_ok() {
                tracing::info!(
                    "debug logging expired (--log-level-debug-expires-at): logging at info"
                );
            }
        });
    }
    Ok(telemetry)
}

/// A layer of log lines, which are the events alone: the spans (syncs, listings, Cognito calls)
/// are for the OpenTelemetry export, and a line keeps the shape it had without them.
fn lines<L>(layer: L) -> RegistryLayer
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    layer
        .with_filter(filter_fn(|metadata| metadata.is_event()))
        .boxed()
}

/// JSON lines: one object per event, its fields at the top level.
fn json_lines<S>() -> fmt::Layer<S, JsonFields, fmt::format::Format<fmt::format::Json>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_logging_falls_back_to_info_once_expired() {
        let settings = |level, at: Option<SystemTime>| LogSettings {
            level,
            format: None,
            files: Vec::new(),
            debug_expires_at: at,
            otel: None,
        };
        let past = SystemTime::now() - std::time::Duration::from_secs(60);
        let future = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert_eq!(
            settings(LogLevel::Debug, Some(past)).level_now(),
            LogLevel::Info
        );
        assert_eq!(
            settings(LogLevel::Trace, Some(past)).level_now(),
            LogLevel::Info
        );
        assert_eq!(
            settings(LogLevel::Debug, Some(future)).level_now(),
            LogLevel::Debug
        );
        assert_eq!(settings(LogLevel::Debug, None).level_now(), LogLevel::Debug);
        assert_eq!(
            settings(LogLevel::Warn, Some(past)).level_now(),
            LogLevel::Warn
        );
    }
}

//! Logging: human-readable on a terminal, JSON lines otherwise, always on stderr so that
//! stdout stays for data.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber. This crate logs at `level`; libraries (AWS SDK, hyper, h2)
/// only warnings, so that the most verbose setting stays about this connector's own work.
pub fn init(level: LogLevel, format: Option<LogFormat>) {
    let filter = EnvFilter::new(format!("warn,baton_cognito={}", level.directive()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = match format.unwrap_or_else(LogFormat::detect) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Console if std::io::stderr().is_terminal() => builder
            .with_target(false)
            .with_writer(|| LineClearingStderr { cleared: false })
            .try_init(),
        LogFormat::Console => builder.with_target(false).try_init(),
    };
}

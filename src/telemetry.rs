//! OpenTelemetry: the spans of syncs, listings, Cognito calls and service-mode tasks, and the
//! log lines, exported over OTLP/gRPC to a collector (`--otel-collector-endpoint`), as every
//! Baton SDK connector does: TLS with the system's roots unless a CA is given, plaintext only
//! when asked, service name `baton-cognito`.
//!
//! Export runs on a small runtime of its own, so that it outlives every mode's and the last
//! spans and logs are flushed when the program ends ([`Telemetry`] on drop).

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::transport::{Certificate, ClientTlsConfig};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{Layer, Registry};

/// The service name spans and logs carry.
const SERVICE_NAME: &str = "baton-cognito";
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the last export may take when the program ends.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where to export to, and what (from the SDK's `--otel-*` flags, validated).
#[derive(Clone, Debug)]
pub struct OtelSettings {
    /// The collector's `host:port`.
    pub endpoint: String,
    pub transport: OtelTransport,
    pub traces: bool,
    pub logs: bool,
}

/// How the collector is reached.
#[derive(Clone, Debug)]
pub enum OtelTransport {
    /// TLS, trusting the system's roots.
    SystemRoots,
    /// TLS, trusting this CA (PEM).
    Ca(String),
    /// Plaintext (`--otel-collector-endpoint-tls-insecure`).
    Plaintext,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("--otel-collector-endpoint {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
    #[error("cannot start the OpenTelemetry export: {0}")]
    Runtime(std::io::Error),
}

/// A layer of the subscriber (one that exports spans or logs, or writes log lines).
pub type RegistryLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Exports spans and logs while it lives; flushes and stops the export when dropped.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    logs: Option<SdkLoggerProvider>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Telemetry {
    /// Nothing exported (no collector given).
    pub fn off() -> Self {
        Self {
            traces: None,
            logs: None,
            runtime: None,
        }
    }

    /// Starts exporting to the collector; the layers that feed it.
    pub fn start(settings: &OtelSettings) -> Result<(Self, Vec<RegistryLayer>), TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-export")
            .enable_all()
            .build()
            .map_err(TelemetryError::Runtime)?;
        // The exporters' gRPC channels live on this runtime.
        let _inside = runtime.enter();
        let failed = |err: &dyn std::fmt::Display| TelemetryError::Exporter {
            endpoint: settings.endpoint.clone(),
            reason: err.to_string(),
        };
        let resource = Resource::builder().with_service_name(SERVICE_NAME).build();
        let mut layers: Vec<RegistryLayer> = Vec::new();
        let traces = if settings.traces {
            let exporter = settings
                .configure(SpanExporter::builder().with_tonic())
                .build()
                .map_err(|err| failed(&err))?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource.clone())
                .build();
            let tracer = provider.tracer(SERVICE_NAME);
            layers.push(Box::new(tracing_opentelemetry::layer().with_tracer(tracer)));
            Some(provider)
        } else {
            None
        };
        let logs = if settings.logs {
            let exporter = settings
                .configure(LogExporter::builder().with_tonic())
                .build()
                .map_err(|err| failed(&err))?;
            let provider = SdkLoggerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build();
            // This connector's own log lines: the export's own (tonic, hyper) would feed back.
            let own = filter_fn(|metadata| metadata.target().starts_with("baton_cognito"));
            layers.push(Box::new(
                OpenTelemetryTracingBridge::new(&provider).with_filter(own),
            ));
            Some(provider)
        } else {
            None
        };
        drop(_inside);
        Ok((
            Self {
                traces,
                logs,
                runtime: Some(runtime),
            },
            layers,
        ))
    }
}

impl OtelSettings {
    /// The exporter's URL: `https://` unless plaintext was asked for.
    fn url(&self) -> String {
        match self.transport {
            OtelTransport::Plaintext => format!("http://{}", self.endpoint),
            _ => format!("https://{}", self.endpoint),
        }
    }

    /// An exporter (of spans or of logs) sending to the collector as configured.
    fn configure<B: WithExportConfig + WithTonicConfig>(&self, builder: B) -> B {
        let builder = builder
            .with_endpoint(self.url())
            .with_timeout(EXPORT_TIMEOUT);
        match &self.transport {
            OtelTransport::Plaintext => builder,
            OtelTransport::SystemRoots => {
                builder.with_tls_config(ClientTlsConfig::new().with_native_roots())
            }
            OtelTransport::Ca(pem) => builder
                .with_tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))),
        }
    }
}

impl Drop for Telemetry {
    /// Sends what is still queued, within [`FLUSH_TIMEOUT`], then stops.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        // Shutting down exports what is queued.
        if let Some(traces) = self.traces.take() {
            let _ = traces.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
        if let Some(logs) = self.logs.take() {
            let _ = logs.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
        runtime.shutdown_timeout(FLUSH_TIMEOUT);
    }
}

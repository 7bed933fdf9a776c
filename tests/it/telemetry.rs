//! OpenTelemetry (#22): a one-shot sync exports its spans (the sync, its listings, every
//! Cognito call with its operation, quota category, attempts and throttling) and its log lines
//! over OTLP/gRPC to a collector, here a small OTLP receiver on a real socket; no secret is in
//! anything it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::support::*;

/// What the receiver got.
#[derive(Clone, Default)]
pub struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Received {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.logs.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver (plaintext) on a free port of its own runtime.
fn receiver() -> (SocketAddr, Received, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr, received) = runtime.block_on(receiver_here());
    (addr, received, runtime)
}

/// An OTLP/gRPC receiver (plaintext) on a free port, served by the current runtime.
pub async fn receiver_here() -> (SocketAddr, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = received.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(service.clone()))
            .add_service(LogsServiceServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (addr, received)
}

/// A one-shot sync exporting to a fresh receiver (plaintext), with `extra` flags: what the
/// receiver got once the program ended, and how it ended.
fn sync_exporting(env: &[(String, String)], extra: &[&str]) -> (Received, std::process::Output) {
    let (addr, received, _runtime) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let endpoint = addr.to_string();
    let out = base_command(env)
        .args(["-f", file.to_str().unwrap()])
        .args(["--otel-collector-endpoint", &endpoint])
        .args(["--otel-collector-endpoint-tls-insecure"])
        .args(extra)
        .output()
        .unwrap();
    (received, out)
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(n)) => n.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| text(&a.value))
}

pub fn spans(received: &Received) -> Vec<Span> {
    let traces = received.traces.lock().unwrap();
    let mut spans = Vec::new();
    for request in traces.iter() {
        for resource in &request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"));
            assert_eq!(service.as_deref(), Some("baton-cognito"));
            for scope in &resource.scope_spans {
                spans.extend(scope.spans.iter().cloned());
            }
        }
    }
    spans
}

fn log_bodies(received: &Received) -> Vec<String> {
    let logs = received.logs.lock().unwrap();
    logs.iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|record| text(&record.body))
        .collect()
}

#[test]
fn a_sync_exports_its_spans_and_logs_to_an_otlp_collector_without_secrets() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("otel"));
    // One throttled ListUsers call: its span says so.
    emulator.inject(json!([{
        "operation": "ListUsers", "kind": "error", "status": 400, "count": 1,
        "error_type": "TooManyRequestsException", "message": "Rate exceeded", "pool_id": pool.id,
    }]));
    let env = pool_env(emulator, &pool);
    let secret = env
        .iter()
        .find(|(k, _)| k == "BATON_AWS_SECRET_ACCESS_KEY")
        .map(|(_, v)| v.clone())
        .unwrap();
    let (received, out) = sync_exporting(&env, &[]);
    emulator.clear_faults(&pool);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let spans = spans(&received);
    let names: std::collections::BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for name in ["sync", "listing", "grants listing", "cognito call"] {
        assert!(names.contains(name), "no {name:?} span among {names:?}");
    }
    let sync = spans.iter().find(|s| s.name == "sync").unwrap();
    let calls: Vec<&Span> = spans.iter().filter(|s| s.name == "cognito call").collect();
    let outside: Vec<String> = calls
        .iter()
        .filter(|c| c.trace_id != sync.trace_id)
        .filter_map(|c| attribute(&c.attributes, "operation"))
        .collect();
    assert!(
        outside.is_empty(),
        "Cognito calls outside the sync's trace: {outside:?}"
    );
    let list_users = calls
        .iter()
        .find(|c| attribute(&c.attributes, "operation").as_deref() == Some("ListUsers"))
        .expect("a ListUsers span");
    assert_eq!(
        attribute(&list_users.attributes, "quota_category").as_deref(),
        Some("UserList")
    );
    let throttled = calls
        .iter()
        .find(|c| attribute(&c.attributes, "throttled").as_deref() == Some("1"))
        .unwrap_or_else(|| panic!("a throttled call's span: {calls:#?}"));
    assert_eq!(
        attribute(&throttled.attributes, "attempts").as_deref(),
        Some("2")
    );

    let bodies = log_bodies(&received);
    assert!(
        bodies.iter().any(|b| b == "sync finished"),
        "the log lines are exported: {bodies:?}"
    );

    let mut everything = Vec::new();
    for request in received.traces.lock().unwrap().iter() {
        everything.extend(request.encode_to_vec());
    }
    for request in received.logs.lock().unwrap().iter() {
        everything.extend(request.encode_to_vec());
    }
    let everything = String::from_utf8_lossy(&everything);
    assert!(!everything.contains(&secret), "a secret was exported");
}

#[test]
fn the_otel_flags_turn_tracing_or_logging_off_and_bad_ones_are_refused() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("otel-off"));
    let env = pool_env(emulator, &pool);
    let (received, out) = sync_exporting(&env, &["--otel-tracing-disabled"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(spans(&received).is_empty(), "tracing is off");
    assert!(!log_bodies(&received).is_empty(), "logging is not");

    for (args, says) in [
        (
            vec!["--otel-collector-endpoint", "http://collector:4317"],
            "is not HOST:PORT",
        ),
        (
            vec!["--otel-collector-endpoint", "collector"],
            "is not HOST:PORT",
        ),
        (
            vec![
                "--otel-collector-endpoint",
                "collector:4317",
                "--otel-collector-endpoint-tls-cert-path",
                "/nonexistent/ca.pem",
            ],
            "cannot read /nonexistent/ca.pem",
        ),
        (
            vec![
                "--otel-collector-endpoint",
                "collector:4317",
                "--otel-collector-endpoint-tls-cert",
                "bm90IGEgY2VydA",
            ],
            "holds no PEM certificate",
        ),
        (
            vec!["--otel-tracing-disabled"],
            "--otel-tracing-disabled needs --otel-collector-endpoint",
        ),
    ] {
        let out = base_command(&env).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

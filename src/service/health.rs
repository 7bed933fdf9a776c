//! The health endpoint for Kubernetes probes (`--health-check`): plain HTTP on its own port.
//!
//! - `/live`: the worker process is up and its poll loop is running.
//! - `/ready`: the platform accepted this worker's Hello; until then, and after a shutdown
//!   starts, it answers 503.
//! - `/health`: readiness plus a live check that the pool is reachable with the configured
//!   credentials (one DescribeUserPool call), as Baton's `/health` validates the connector.

/// Liveness probe path.
pub const LIVE_PATH: &str = "/live";
/// Readiness probe path.
pub const READY_PATH: &str = "/ready";
/// Deep health check path.
pub const HEALTH_PATH: &str = "/health";

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::error::ServiceError;
use crate::fleet::Fleet;

/// The `/health` check's own time limit, so a stuck Cognito call fails the probe instead of
/// hanging it.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

/// What the probes report on.
pub struct HealthState {
    ready: AtomicBool,
    fleet: Arc<Fleet>,
}

impl HealthState {
    pub fn new(fleet: Arc<Fleet>) -> Arc<Self> {
        Arc::new(Self {
            ready: AtomicBool::new(false),
            fleet,
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    async fn answer(&self, request: &Request<Incoming>) -> (StatusCode, serde_json::Value) {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"status": "error", "error": "use GET"}),
            );
        }
        let not_ready = || {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "not ready", "error": "the platform has not accepted this worker's Hello yet, or it is shutting down"}),
            )
        };
        match request.uri().path() {
            LIVE_PATH => (StatusCode::OK, json!({"status": "alive"})),
            READY_PATH if self.is_ready() => (StatusCode::OK, json!({"status": "ready"})),
            READY_PATH => not_ready(),
            HEALTH_PATH if !self.is_ready() => not_ready(),
            HEALTH_PATH => {
                match tokio::time::timeout(HEALTH_TIMEOUT, self.fleet.validate()).await {
                    Ok(Ok(_)) => (StatusCode::OK, json!({"status": "healthy"})),
                    Ok(Err(err)) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"status": "unhealthy", "error": err.to_string()}),
                    ),
                    Err(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"status": "unhealthy", "error": "the pool did not answer in time"}),
                    ),
                }
            }
            _ => (
                StatusCode::NOT_FOUND,
                json!({"status": "error", "error": "no such endpoint; try /live, /ready or /health"}),
            ),
        }
    }
}

/// Binds the health endpoint (so a taken port fails at start, not later) and serves it in
/// the background until the process ends.
pub async fn start(addr: SocketAddr, state: Arc<HealthState>) -> Result<SocketAddr, ServiceError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Health { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServiceError::Health { addr, source })?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, most likely: let some close before trying again.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        let (status, body) = state.answer(&request).await;
                        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
                        *response.status_mut() = status;
                        response.headers_mut().insert(
                            header::CONTENT_TYPE,
                            header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

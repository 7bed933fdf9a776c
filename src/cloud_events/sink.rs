//! Where `watch` delivers events: an HTTP endpoint (CloudEvents HTTP binding, structured or
//! binary mode), or standard output as JSON lines. An event counts as delivered only when the
//! endpoint answers 2xx; refusals that may pass later (connection failures, 408, 429, 5xx) are
//! retried with backoff, others fail at once.

use std::io::Write;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::event::CloudEvent;
use crate::http::{error_chain, is_transient_status};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one attempt may take, answer included: a sink that takes the connection and never
/// answers is retried, then given up on, instead of holding the feed forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a refusal's body an error repeats.
const SHOWN_BODY: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkMode {
    /// The whole event as JSON (`application/cloudevents+json`).
    Structured,
    /// Attributes as `ce-*` headers, the data as the body.
    Binary,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("--sink {0}: not an http:// or https:// URL, or - for standard output")]
    BadUrl(String),
    #[error("the sink refused event {id} with HTTP {status}: {body}")]
    Refused {
        id: String,
        status: u16,
        body: String,
    },
    #[error("the sink did not accept event {id} after {attempts} attempts: {reason}")]
    GaveUp {
        id: String,
        attempts: u32,
        reason: String,
    },
    #[error("cannot make a request of event {id}: {reason}")]
    Request { id: String, reason: String },
    #[error("cannot write to standard output: {0}")]
    Stdout(#[from] std::io::Error),
}

enum Target {
    Stdout,
    Http {
        url: http::Uri,
        client: Box<HttpClient>,
    },
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct Sink {
    target: Target,
    mode: SinkMode,
    /// Attempts per event before the run gives up (and the next run sends it again).
    attempts: u32,
}

impl Sink {
    /// `url` is an http(s) URL, or `-` for standard output (always structured).
    pub fn new(url: &str, mode: SinkMode, attempts: u32) -> Result<Sink, SinkError> {
        if url == "-" {
            return Ok(Sink {
                target: Target::Stdout,
                mode: SinkMode::Structured,
                attempts,
            });
        }
        let parsed: http::Uri = url
            .parse()
            .map_err(|_| SinkError::BadUrl(url.to_string()))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(SinkError::BadUrl(url.to_string()));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|_| SinkError::BadUrl(url.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Sink {
            target: Target::Http {
                url: parsed,
                client: Box::new(Client::builder(TokioExecutor::new()).build(https)),
            },
            mode,
            attempts,
        })
    }

    /// Delivers one event, retrying what may pass later.
    pub async fn deliver(&self, event: &CloudEvent) -> Result<(), SinkError> {
        let (url, client) = match &self.target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", event.structured())?;
                out.flush()?;
                return Ok(());
            }
            Target::Http { url, client } => (url, client),
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let request = self.request(url, event)?;
            let answer = async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|err| error_chain(&err))?;
                let status = response.status();
                if status.is_success() {
                    return Ok(None);
                }
                Ok(Some((
                    status.as_u16(),
                    shown_body(response.into_body()).await,
                )))
            };
            let reason = match tokio::time::timeout(SEND_TIMEOUT, answer).await {
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some((status, body)))) if !is_transient_status(status) => {
                    return Err(SinkError::Refused {
                        id: event.id.clone(),
                        status,
                        body,
                    });
                }
                Ok(Ok(Some((status, body)))) => format!("HTTP {status}: {body}"),
                Ok(Err(reason)) => reason,
                Err(_) => format!("no answer within {SEND_TIMEOUT:?}"),
            };
            if attempt >= self.attempts {
                return Err(SinkError::GaveUp {
                    id: event.id.clone(),
                    attempts: attempt,
                    reason,
                });
            }
            tracing::warn!(event = %event.id, attempt, %reason, retry_in_ms = backoff.as_millis() as u64, "the sink did not accept an event; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    fn request(
        &self,
        url: &http::Uri,
        event: &CloudEvent,
    ) -> Result<http::Request<Full<Bytes>>, SinkError> {
        let builder = http::Request::post(url.clone());
        let (builder, body) = match self.mode {
            SinkMode::Structured => (
                builder.header(http::header::CONTENT_TYPE, "application/cloudevents+json"),
                event.structured().to_string(),
            ),
            SinkMode::Binary => (
                event.binary_headers().into_iter().fold(
                    builder.header(http::header::CONTENT_TYPE, "application/json"),
                    |builder, (name, value)| builder.header(name, value),
                ),
                event.data.to_string(),
            ),
        };
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|err| SinkError::Request {
                id: event.id.clone(),
                reason: err.to_string(),
            })
    }
}

async fn shown_body(body: hyper::body::Incoming) -> String {
    match Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => {
            let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
            crate::text::truncate(text.trim(), SHOWN_BODY)
        }
        Err(_) => String::from("(unreadable body)"),
    }
}

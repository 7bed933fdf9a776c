//! The access token: the signed client assertion exchanged at `https://<host>/auth/v1/token`
//! (OAuth 2 client credentials with a JWT bearer assertion), cached until shortly before it
//! expires so that every gRPC call reuses one token.

use std::time::{Duration, Instant, SystemTime};

use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::error::ServiceError;
use super::identity::{ClientId, ClientSecret};
use super::platform_tls::PlatformTls;
use crate::http::{error_chain, is_transient_status};
use crate::secret::Secret;

/// A token is renewed this long before it expires, so no call goes out with one that expires
/// on the way (as Go's oauth2 does).
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The whole token exchange, connection included.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// A token response is a small JSON object; anything much larger is not one.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct TokenSource {
    client: ClientId,
    secret: ClientSecret,
    url: String,
    http: HttpsClient,
    cached: tokio::sync::Mutex<Option<Token>>,
    /// How long one exchange may take.
    timeout: Duration,
}

struct Token {
    /// The `authorization` header value: `<type> <access token>`.
    authorization: Secret,
    expires_at: Option<Instant>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenSource {
    /// `host` is the platform host (with a port, perhaps) the token endpoint lives on.
    /// `timeout` bounds one exchange (`--http-timeout-seconds`; 30 seconds without it).
    pub fn new(
        client: ClientId,
        secret: ClientSecret,
        host: &str,
        tls: &PlatformTls,
        timeout: Option<Duration>,
    ) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.rustls_config())
            .https_only()
            .enable_http1()
            .build();
        Self {
            client,
            secret,
            url: format!("https://{host}/auth/v1/token"),
            http: Client::builder(TokioExecutor::new()).build(https),
            cached: tokio::sync::Mutex::new(None),
            timeout: timeout.unwrap_or(TOKEN_TIMEOUT),
        }
    }

    /// The `authorization` metadata value for the next call: the cached token while it is
    /// fresh, else a new one.
    pub async fn authorization(&self) -> Result<Secret, ServiceError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.authorization.clone());
        }
        let token = self.exchange().await?;
        let authorization = token.authorization.clone();
        *cached = Some(token);
        Ok(authorization)
    }

    /// Forgets the cached token, after the platform refused it (it may have been revoked
    /// before its expiry); the next call exchanges a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn exchange(&self) -> Result<Token, ServiceError> {
        let unreachable = |reason: String| ServiceError::TokenUnreachable {
            url: self.url.clone(),
            reason,
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client.as_str())
            .append_pair("grant_type", "client_credentials")
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair(
                "client_assertion",
                &self.secret.assertion(&self.client, SystemTime::now()),
            )
            .finish();
        let request = Request::post(&self.url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| unreachable(e.to_string()))?;
        let requested = Instant::now();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(error_chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, ServiceError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))??;
        if is_transient_status(status.as_u16()) {
            // Busy, throttled or down: that says nothing about the credentials; try again.
            return Err(unreachable(format!(
                "HTTP {}: {}",
                status.as_u16(),
                refusal_reason(&body)
            )));
        }
        if status != StatusCode::OK {
            return Err(ServiceError::TokenRefused {
                url: self.url.clone(),
                status: status.as_u16(),
                reason: refusal_reason(&body),
            });
        }
        let answer: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| ServiceError::TokenResponse {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        if answer.access_token.is_empty() {
            return Err(ServiceError::TokenResponse {
                url: self.url.clone(),
                reason: "access_token is empty".to_string(),
            });
        }
        tracing::debug!(expires_in = ?answer.expires_in, "got a platform access token");
        Ok(Token {
            authorization: Secret::new(format!(
                "{} {}",
                token_type(&answer.token_type),
                answer.access_token
            )),
            expires_at: expiry(requested, answer.expires_in),
        })
    }
}

/// When a token requested at `requested` expires. As oauth2: no (or a zero) lifetime means it
/// does not; nor does one beyond what the clock can hold (u64::MAX seconds panicked here).
fn expiry(requested: Instant, expires_in: Option<u64>) -> Option<Instant> {
    expires_in
        .filter(|secs| *secs > 0)
        .and_then(|secs| requested.checked_add(Duration::from_secs(secs)))
}

impl Token {
    fn is_fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| Instant::now() + EXPIRY_MARGIN < at)
    }
}

/// `bearer` in any case is sent as `Bearer`, as Go's oauth2 normalises it.
fn token_type(given: &str) -> &str {
    if given.is_empty() || given.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        given
    }
}

/// The OAuth error and its description when the body is one, else the start of the body.
fn refusal_reason(body: &[u8]) -> String {
    match serde_json::from_slice::<TokenErrorResponse>(body) {
        Ok(error) => match error.error_description {
            Some(description) if !description.is_empty() => {
                format!("{}: {description}", error.error)
            }
            _ => error.error,
        },
        Err(_) => {
            let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
            if text.trim().is_empty() {
                "no reason given".to_string()
            } else {
                text.trim().to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types_and_refusals_read_as_oauth2_has_them() {
        assert_eq!(token_type("bearer"), "Bearer");
        assert_eq!(token_type(""), "Bearer");
        assert_eq!(token_type("DPoP"), "DPoP");
        assert_eq!(
            refusal_reason(br#"{"error":"invalid_client","error_description":"bad signature"}"#),
            "invalid_client: bad signature"
        );
        assert_eq!(refusal_reason(b"  "), "no reason given");
        assert_eq!(refusal_reason(b"<html>nope</html>"), "<html>nope</html>");
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let token = |secs: Option<u64>| Token {
            authorization: Secret::new("Bearer t"),
            expires_at: secs.map(|s| Instant::now() + Duration::from_secs(s)),
        };
        assert!(token(Some(3600)).is_fresh());
        assert!(!token(Some(5)).is_fresh());
        assert!(token(None).is_fresh());
        let now = Instant::now();
        assert_eq!(expiry(now, Some(60)), Some(now + Duration::from_secs(60)));
        assert_eq!(expiry(now, Some(0)), None);
        assert_eq!(expiry(now, None), None);
        assert_eq!(expiry(now, Some(u64::MAX)), None, "no panic, no expiry");
    }
}

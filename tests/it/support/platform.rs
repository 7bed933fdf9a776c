//! A test double of the governance platform that service mode talks to: the OAuth token
//! endpoint (`POST /auth/v1/token`, RFC 7523 client assertions) and the gRPC
//! `c1.connectorapi.baton.v1.BatonService`, both over TLS on one loopback port, as the real
//! platform serves them on one host (protocol spec §6).
//!
//! It is strict where the platform is: it verifies the client assertion the way the platform
//! must (signature, claims, replayed nonces), demands a live bearer token on every RPC, and checks
//! the request rules of §6.2. Tests script it (`push_task`, `cancel`, [`PlatformOptions`]) and
//! read what the connector did through the observation methods, which never block on the server.
//!
//! Tests use it as `crate::support::platform`.

#![allow(dead_code)]

pub use super::pki;

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use baton_cognito::pb::baton::baton_service_finish_task_request::FinalState;
use baton_cognito::pb::baton::baton_service_server::{BatonService, BatonServiceServer};
use baton_cognito::pb::baton::baton_service_upload_asset_request::Msg;
use baton_cognito::pb::baton::*;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::RngCore;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};
use tonic::codegen::Service;
use tonic::{Request, Response, Status, Streaming};

/// The token endpoint's path (spec §6.1).
pub const TOKEN_PATH: &str = "/auth/v1/token";
/// The largest `data` chunk an upload may carry (spec §6.2).
pub const MAX_CHUNK: usize = 1024 * 1024;
/// The host in the client id, and so the audience every assertion must name.
const TOKEN_HOST: &str = "localhost";
/// A token request body larger than this is refused unread (an assertion is well under 2 KiB).
const MAX_FORM_BYTES: usize = 64 * 1024;
/// The status message of an upload the double meant to cut off: a client that ever sees it
/// got a gRPC answer instead of a dead connection, so the cut-off did not work.
pub const DROP_MARKER: &str = "platform double: this connection should have been dropped";

/// How the double behaves; `PlatformOptions::default()` is a well-behaved platform.
#[derive(Clone, Debug)]
pub struct PlatformOptions {
    /// `expires_in` of issued tokens, and how long they are accepted.
    pub token_lifetime_secs: u64,
    /// Refuse every token request with 401 (to test how the connector reports bad credentials).
    pub refuse_tokens: bool,
    /// Answer the first this-many token requests with 503, as a busy endpoint would.
    pub busy_token_requests: usize,
    /// `next_poll` in GetTask/GetTasks answers.
    pub next_poll: Duration,
    /// `next_heartbeat` in GetTask/GetTasks/Heartbeat answers.
    pub next_heartbeat: Duration,
    /// Cut off the first this-many upload attempts (streams that open with `metadata`) by
    /// closing the TCP connection once their first data chunk arrives, to test upload retries.
    /// An attempt that sends no data is counted but not cut off.
    pub drop_uploads: usize,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 3600,
            refuse_tokens: false,
            busy_token_requests: 0,
            next_poll: Duration::from_millis(100),
            next_heartbeat: Duration::from_millis(200),
            drop_uploads: 0,
        }
    }
}

/// One upload attempt, recorded however it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub task_id: String,
    pub host_id: String,
    /// Every data byte received, in order.
    pub bytes: Vec<u8>,
    pub chunk_sizes: Vec<usize>,
    /// The `eof` checksum is the SHA-256 of `bytes` (false until an `eof` arrives).
    pub checksum_ok: bool,
    /// The stream reached a well-formed `eof` (whatever the checksum said).
    pub completed: bool,
}

/// One GetTask or GetTasks call.
#[derive(Clone, Debug)]
pub struct Poll {
    pub host_id: String,
    /// `Some(page_size)` for GetTasks, `None` for GetTask.
    pub page_size: Option<u32>,
    pub at: Instant,
}

/// What the double has seen; behind one mutex, held only for short, non-async sections.
#[derive(Default)]
struct Record {
    tasks: VecDeque<Task>,
    cancelled: HashSet<String>,
    tokens: HashMap<String, Instant>,
    nonces: HashSet<String>,
    tokens_accepted: usize,
    token_refusals: Vec<String>,
    user_agents: Vec<String>,
    unauthenticated: Vec<(String, String)>,
    rejections: Vec<(String, String)>,
    hellos: Vec<BatonServiceHelloRequest>,
    polls: Vec<Poll>,
    heartbeats: HashMap<String, Vec<Instant>>,
    finished: HashMap<String, Vec<BatonServiceFinishTaskRequest>>,
    uploads: HashMap<String, Vec<Upload>>,
    upload_attempts: usize,
    dropped_connections: usize,
}

struct State {
    options: PlatformOptions,
    client_id: String,
    public_key: VerifyingKey,
    record: Mutex<Record>,
    /// Bumped on every change to `record`, so waiters re-check without polling.
    changes: watch::Sender<u64>,
}

impl State {
    fn read(&self) -> MutexGuard<'_, Record> {
        // A test that panicked while holding the lock must not hide what was recorded.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(&self, change: impl FnOnce(&mut Record) -> T) -> T {
        let out = change(&mut self.read());
        self.changes.send_modify(|n| *n += 1);
        out
    }

    /// Records a rule violation and returns the INVALID_ARGUMENT status for it.
    fn reject(&self, rpc: &str, why: impl Into<String>) -> Status {
        let why = why.into();
        self.update(|r| r.rejections.push((rpc.to_string(), why.clone())));
        Status::invalid_argument(why)
    }
}

/// A running double. Dropping it stops the server and closes every connection.
pub struct Platform {
    state: Arc<State>,
    addr: SocketAddr,
    client_secret: String,
    ca_pem: String,
    /// The CA certificate for `BATON_C1_API_CA_FILE`; removed when the platform is dropped.
    ca_file: tempfile::NamedTempFile,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a JoinSet), so this aborts them all.
        self.server.abort();
    }
}

/// A fresh task id: 27 ASCII alphanumerics, the shape of Baton's KSUID task ids.
pub fn new_task_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 27)
}

/// A pending task of the given type with a fresh id.
pub fn task(task_type: task::TaskType) -> Task {
    Task {
        id: new_task_id(),
        status: task::Status::Pending as i32,
        debug: false,
        task_type: Some(task_type),
    }
}

/// A client secret in the platform's format for `key` (an Ed25519 private JWK, base64url).
pub fn client_secret_for(key: &SigningKey) -> String {
    let jwk = json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "d": URL_SAFE_NO_PAD.encode(key.to_bytes()),
        "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
    });
    format!(
        "secret-token:conductorone.com:v1:{}",
        URL_SAFE_NO_PAD.encode(jwk.to_string())
    )
}

impl Platform {
    /// Generates a CA, a server certificate and client credentials, and starts serving on
    /// 127.0.0.1 on the current tokio runtime. Setup failures panic: they are the test's.
    pub async fn start(options: PlatformOptions) -> Platform {
        let ca = pki::TestCa::new("baton-cognito test platform CA");
        let leaf = ca.issue(&[TOKEN_HOST, "127.0.0.1"]);

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.cert_der],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf.key_der.into()),
            )
            .expect("server TLS config");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let ca_pem = ca.pem();
        let ca_file = tempfile::Builder::new()
            .prefix("platform-ca-")
            .suffix(".pem")
            .tempfile()
            .expect("CA file");
        std::fs::write(ca_file.path(), &ca_pem).expect("write CA file");

        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let client_secret = client_secret_for(&key);
        let client_id = format!(
            "baton-test@{TOKEN_HOST}/{}",
            Alphanumeric.sample_string(&mut rand::rng(), 12)
        );

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State {
            options,
            client_id,
            public_key: key.verifying_key(),
            record: Mutex::default(),
            changes: watch::channel(0).0,
        });
        let router = Router {
            grpc: BatonServiceServer::new(Double {
                state: state.clone(),
            }),
            state: state.clone(),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let server = tokio::spawn(serve(listener, acceptor, router));
        Platform {
            state,
            addr,
            client_secret,
            ca_pem,
            ca_file,
            server,
        }
    }

    /// The environment that points the connector's service mode at this double.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("BATON_CLIENT_ID".into(), self.client_id().into()),
            ("BATON_CLIENT_SECRET".into(), self.client_secret.clone()),
            ("BATON_C1_API_HOST".into(), self.host()),
            (
                "BATON_C1_API_CA_FILE".into(),
                self.ca_file.path().display().to_string(),
            ),
        ]
    }

    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// `localhost:<port>`, the value of `BATON_C1_API_HOST`.
    pub fn host(&self) -> String {
        format!("{TOKEN_HOST}:{}", self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn ca_file(&self) -> &std::path::Path {
        self.ca_file.path()
    }

    /// Queues a task for GetTask/GetTasks, first in first out.
    pub fn push_task(&self, task: Task) {
        self.state.update(|r| r.tasks.push_back(task));
    }

    /// Tasks still queued.
    pub fn queued_tasks(&self) -> usize {
        self.state.read().tasks.len()
    }

    /// From now on, heartbeats for `task_id` answer `cancelled = true`.
    pub fn cancel(&self, task_id: &str) {
        self.state
            .update(|r| r.cancelled.insert(task_id.to_string()));
    }

    /// Forgets every issued token, so the next RPC is UNAUTHENTICATED until a new token is
    /// fetched (what a token revoked or expired on the platform's side looks like).
    pub fn expire_tokens(&self) {
        self.state.update(|r| r.tokens.clear());
    }

    /// Accepted Hello requests, in order.
    pub fn hellos(&self) -> Vec<BatonServiceHelloRequest> {
        self.state.read().hellos.clone()
    }

    /// Authenticated GetTask and GetTasks calls, in order.
    pub fn get_task_calls(&self) -> Vec<Poll> {
        self.state.read().polls.clone()
    }

    /// When each heartbeat naming `task_id` (in `task_id` or `task_ids`) arrived.
    pub fn heartbeats(&self, task_id: &str) -> Vec<Instant> {
        self.state
            .read()
            .heartbeats
            .get(task_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every accepted FinishTask for `task_id`, in order (more than one is a client bug).
    pub fn finished(&self, task_id: &str) -> Vec<BatonServiceFinishTaskRequest> {
        self.state
            .read()
            .finished
            .get(task_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every upload attempt for `task_id`, in order, however it ended.
    pub fn uploads(&self, task_id: &str) -> Vec<Upload> {
        self.state
            .read()
            .uploads
            .get(task_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Token requests so far: (accepted, refused).
    pub fn token_requests(&self) -> (usize, usize) {
        let r = self.state.read();
        (r.tokens_accepted, r.token_refusals.len())
    }

    /// The access tokens issued so far and still accepted (`expire_tokens` forgets them), for
    /// tests that check a token never reaches the connector's output.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.read().tokens.keys().cloned().collect()
    }

    /// Why each refused token request was refused, in order.
    pub fn token_refusals(&self) -> Vec<String> {
        self.state.read().token_refusals.clone()
    }

    /// The `user-agent` of every gRPC call, authenticated or not, in order.
    pub fn user_agents(&self) -> Vec<String> {
        self.state.read().user_agents.clone()
    }

    /// gRPC calls refused UNAUTHENTICATED: (path, reason).
    pub fn unauthenticated_calls(&self) -> Vec<(String, String)> {
        self.state.read().unauthenticated.clone()
    }

    /// Authenticated calls refused INVALID_ARGUMENT by the §6.2 rules: (RPC, reason).
    pub fn rejections(&self) -> Vec<(String, String)> {
        self.state.read().rejections.clone()
    }

    /// Connections closed on purpose by `drop_uploads`.
    pub fn dropped_connections(&self) -> usize {
        self.state.read().dropped_connections
    }

    /// Waits until `check` returns `Some`, re-checking after every recorded event; `None` on
    /// timeout. Observation methods may be called from `check`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.state.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Mark the current version seen before checking, so no change slips between.
            changes.borrow_and_update();
            if let Some(found) = check(self) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return check(self),
            }
        }
    }

    /// The first accepted FinishTask for `task_id`, waiting up to `timeout` for it.
    pub async fn wait_finished(
        &self,
        task_id: &str,
        timeout: Duration,
    ) -> Option<BatonServiceFinishTaskRequest> {
        self.wait_until(timeout, |p| p.finished(task_id).into_iter().next())
            .await
    }

    /// The first accepted Hello, waiting up to `timeout` for it.
    pub async fn wait_hello(&self, timeout: Duration) -> Option<BatonServiceHelloRequest> {
        self.wait_until(timeout, |p| p.hellos().into_iter().next())
            .await
    }
}

/// Asks a connection's serving task to close its socket, and tells when it has (inserted into
/// every request's extensions, so the upload handler can reach the connection it arrived on).
#[derive(Clone)]
struct Hangup {
    request: Arc<Notify>,
    closed: watch::Receiver<bool>,
}

/// Accepts connections until aborted; each is served in a task of `connections`, which the
/// abort drops (and so aborts) with this future.
async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Router,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        connections.spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let (closed, closed_rx) = watch::channel(false);
            let hangup = Hangup {
                request: Arc::new(Notify::new()),
                closed: closed_rx,
            };
            let on_request = {
                let hangup = hangup.clone();
                hyper::service::service_fn(move |request| {
                    let (router, hangup) = (router.clone(), hangup.clone());
                    async move { Ok::<_, Infallible>(router.route(request, hangup).await) }
                })
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), on_request);
            // On a hangup, `select!` drops the connection future, and with it the TLS stream
            // and the TCP socket: the client sees the connection die, not a gRPC status. Only
            // then is the handler told, so no answer of its own can slip out first.
            let hung_up = tokio::select! {
                _ = connection => false,
                () = hangup.request.notified() => true,
            };
            if hung_up {
                let _ = closed.send(true);
            }
        });
    }
}

/// Sends each request to the token endpoint or, authenticated, to the gRPC service.
#[derive(Clone)]
struct Router {
    state: Arc<State>,
    grpc: BatonServiceServer<Double>,
}

type HttpResponse = http::Response<tonic::body::Body>;

impl Router {
    async fn route(self, mut request: http::Request<Incoming>, hangup: Hangup) -> HttpResponse {
        if request.uri().path() == TOKEN_PATH {
            return self.token(request).await;
        }
        let path = request.uri().path().to_string();
        let header_text = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let user_agent = header_text(header::USER_AGENT).unwrap_or_default();
        let authorization = header_text(header::AUTHORIZATION);
        let refusal = {
            let mut r = self.state.read();
            r.user_agents.push(user_agent);
            let refusal = match authorization.as_deref().map(|a| a.split_once(' ')) {
                None => Some("no authorization metadata"),
                Some(None) => Some("authorization is not `Bearer <token>`"),
                Some(Some((scheme, _))) if !scheme.eq_ignore_ascii_case("bearer") => {
                    Some("authorization is not `Bearer <token>`")
                }
                Some(Some((_, token))) => match r.tokens.get(token.trim()) {
                    None => Some("the token was never issued (or was expired by the test)"),
                    Some(expiry) if *expiry <= Instant::now() => Some("the token has expired"),
                    Some(_) => None,
                },
            };
            if let Some(why) = refusal {
                r.unauthenticated.push((path, why.to_string()));
            }
            refusal
        };
        self.state.changes.send_modify(|n| *n += 1);
        if let Some(why) = refusal {
            return Status::unauthenticated(why).into_http();
        }
        request.extensions_mut().insert(hangup);
        let mut grpc = self.grpc.clone();
        match grpc.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// The token endpoint: checks the form and the client assertion, issues a token.
    async fn token(&self, request: http::Request<Incoming>) -> HttpResponse {
        let outcome = self.check_token_request(request).await;
        let state = &self.state;
        match outcome {
            Ok(()) => {
                let token = Alphanumeric.sample_string(&mut rand::rng(), 40);
                let lifetime = Duration::from_secs(state.options.token_lifetime_secs);
                state.update(|r| {
                    r.tokens_accepted += 1;
                    r.tokens.insert(token.clone(), Instant::now() + lifetime);
                });
                json_response(
                    StatusCode::OK,
                    &json!({
                        "access_token": token,
                        "token_type": "bearer",
                        "expires_in": state.options.token_lifetime_secs,
                    }),
                )
            }
            Err((status, why)) => {
                state.update(|r| r.token_refusals.push(why.clone()));
                json_response(
                    status,
                    &json!({"error": "invalid_client", "error_description": why}),
                )
            }
        }
    }

    async fn check_token_request(
        &self,
        request: http::Request<Incoming>,
    ) -> Result<(), (StatusCode, String)> {
        let bad = |why: &str| (StatusCode::BAD_REQUEST, why.to_string());
        let denied = |why: String| (StatusCode::UNAUTHORIZED, why);
        if self.state.read().token_refusals.len() < self.state.options.busy_token_requests {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the token endpoint is busy (busy_token_requests)".into(),
            ));
        }
        if self.state.options.refuse_tokens {
            return Err(denied(
                "the platform refuses all tokens (refuse_tokens)".into(),
            ));
        }
        if request.method() != Method::POST {
            return Err(bad("the token endpoint takes POST"));
        }
        let form_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if !form_type.is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
            return Err(bad("Content-Type is not application/x-www-form-urlencoded"));
        }
        let body = Limited::new(request.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
            .map_err(|_| bad("the body could not be read or is too large"))?
            .to_bytes();
        let mut form = HashMap::new();
        for (name, value) in form_urlencoded::parse(&body) {
            if form.insert(name.to_string(), value.to_string()).is_some() {
                return Err(bad(&format!("form field {name} appears twice")));
            }
        }
        let field = |name: &str| form.get(name).map(String::as_str);
        let expect = |name: &str, want: &str| match field(name) {
            Some(got) if got == want => Ok(()),
            Some(got) => Err(bad(&format!("{name} is {got:?}, expected {want:?}"))),
            None => Err(bad(&format!("form field {name} is missing"))),
        };
        expect("grant_type", "client_credentials")?;
        expect(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )?;
        if field("client_id") != Some(self.state.client_id.as_str()) {
            return Err(denied(format!(
                "client_id {:?} is not this platform's client",
                field("client_id")
            )));
        }
        let assertion = field("client_assertion").ok_or_else(|| bad("no client_assertion"))?;
        let nonce = self.verify_assertion(assertion).map_err(denied)?;
        // Only a verified assertion may use up its nonce, or anyone could burn nonces.
        if !self.state.update(|r| r.nonces.insert(nonce)) {
            return Err(denied(
                "the assertion's nonce was used before (replay)".into(),
            ));
        }
        Ok(())
    }

    /// Verifies a compact JWS client assertion; returns its nonce.
    fn verify_assertion(&self, jws: &str) -> Result<String, String> {
        let [header_b64, claims_b64, signature_b64] = jws.split('.').collect::<Vec<_>>()[..] else {
            return Err("client_assertion is not a compact JWS (three parts)".into());
        };
        let object = |part: &str, what: &str| -> Result<serde_json::Map<String, Value>, String> {
            let raw = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| format!("the {what} is not base64url without padding"))?;
            match serde_json::from_slice(&raw) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(format!("the {what} is not a JSON object")),
            }
        };
        let jose = object(header_b64, "JWS header")?;
        let claims = object(claims_b64, "JWS payload")?;
        if jose.get("alg").and_then(Value::as_str) != Some("EdDSA") {
            return Err(format!("alg is {:?}, expected EdDSA", jose.get("alg")));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .ok()
            .and_then(|raw| Signature::from_slice(&raw).ok())
            .ok_or("the signature is not 64 base64url bytes")?;
        self.state
            .public_key
            .verify_strict(format!("{header_b64}.{claims_b64}").as_bytes(), &signature)
            .map_err(|_| "the signature does not verify with the client's public key")?;

        let client = self.state.client_id.as_str();
        for name in ["iss", "sub"] {
            if claims.get(name).and_then(Value::as_str) != Some(client) {
                return Err(format!(
                    "{name} is {:?}, expected the client id",
                    claims.get(name)
                ));
            }
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == TOKEN_HOST,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(TOKEN_HOST)),
            _ => false,
        };
        if !audience_ok {
            return Err(format!(
                "aud is {:?}, expected {TOKEN_HOST:?}",
                claims.get("aud")
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as f64;
        let time = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_f64)
                .ok_or(format!("claim {name} is missing or not a number"))
        };
        let (nbf, exp) = (time("nbf")?, time("exp")?);
        time("iat")?;
        if now < nbf || now > exp {
            return Err(format!("not valid now ({now:.0}): nbf {nbf}, exp {exp}"));
        }
        match jose.get("nonce").and_then(Value::as_str) {
            Some(nonce) if !nonce.is_empty() => Ok(nonce.to_string()),
            _ => Err("the JWS header has no nonce".into()),
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = http::Response::new(tonic::body::Body::new(Full::new(Bytes::from(
        body.to_string(),
    ))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or_default()
}

/// The BatonService implementation; authentication happened in [`Router::route`].
struct Double {
    state: Arc<State>,
}

#[tonic::async_trait]
impl BatonService for Double {
    async fn hello(
        &self,
        request: Request<BatonServiceHelloRequest>,
    ) -> Result<Response<BatonServiceHelloResponse>, Status> {
        let hello = request.into_inner();
        let rule = |ok: bool, why: &str| {
            if ok {
                Ok(())
            } else {
                Err(self.state.reject("Hello", why))
            }
        };
        rule(!hello.host_id.is_empty(), "host_id is empty")?;
        rule(
            hello.host_id.chars().count() <= 256,
            "host_id is longer than 256",
        )?;
        rule(
            hello.connector_metadata.is_some(),
            "connector_metadata is missing",
        )?;
        rule(hello.annotations.len() <= 16, "more than 16 annotations")?;
        self.state.update(|r| r.hellos.push(hello));
        Ok(Response::new(BatonServiceHelloResponse::default()))
    }

    async fn get_task(
        &self,
        request: Request<BatonServiceGetTaskRequest>,
    ) -> Result<Response<BatonServiceGetTaskResponse>, Status> {
        let host_id = request.into_inner().host_id;
        let task = self.state.update(|r| {
            r.polls.push(Poll {
                host_id,
                page_size: None,
                at: Instant::now(),
            });
            r.tasks.pop_front()
        });
        Ok(Response::new(BatonServiceGetTaskResponse {
            task,
            next_poll: Some(duration(self.state.options.next_poll)),
            next_heartbeat: Some(duration(self.state.options.next_heartbeat)),
            annotations: vec![],
        }))
    }

    async fn get_tasks(
        &self,
        request: Request<BatonServiceGetTasksRequest>,
    ) -> Result<Response<BatonServiceGetTasksResponse>, Status> {
        let request = request.into_inner();
        if !(1..=100).contains(&request.page_size) {
            return Err(self
                .state
                .reject("GetTasks", "page_size is not within 1..=100"));
        }
        let tasks = self.state.update(|r| {
            r.polls.push(Poll {
                host_id: request.host_id,
                page_size: Some(request.page_size),
                at: Instant::now(),
            });
            let take = r.tasks.len().min(request.page_size as usize);
            r.tasks.drain(..take).collect()
        });
        Ok(Response::new(BatonServiceGetTasksResponse {
            tasks,
            next_poll: Some(duration(self.state.options.next_poll)),
            next_heartbeat: Some(duration(self.state.options.next_heartbeat)),
            annotations: vec![],
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<BatonServiceHeartbeatRequest>,
    ) -> Result<Response<BatonServiceHeartbeatResponse>, Status> {
        let request = request.into_inner();
        if request.task_id.is_empty() && request.task_ids.is_empty() {
            return Err(self
                .state
                .reject("Heartbeat", "neither task_id nor task_ids"));
        }
        if request.task_ids.len() > 100 {
            return Err(self.state.reject("Heartbeat", "more than 100 task_ids"));
        }
        let now = Instant::now();
        let (cancelled, cancelled_task_ids) = self.state.update(|r| {
            let mut ids: Vec<&String> = request.task_ids.iter().collect();
            if !request.task_id.is_empty() && !ids.contains(&&request.task_id) {
                ids.push(&request.task_id);
            }
            for id in ids {
                r.heartbeats.entry(id.clone()).or_default().push(now);
            }
            let batch = request.task_ids.iter();
            (
                r.cancelled.contains(&request.task_id),
                batch
                    .filter(|id| r.cancelled.contains(*id))
                    .cloned()
                    .collect(),
            )
        });
        Ok(Response::new(BatonServiceHeartbeatResponse {
            next_heartbeat: Some(duration(self.state.options.next_heartbeat)),
            cancelled,
            annotations: vec![],
            cancelled_task_ids,
        }))
    }

    async fn finish_task(
        &self,
        request: Request<BatonServiceFinishTaskRequest>,
    ) -> Result<Response<BatonServiceFinishTaskResponse>, Status> {
        let request = request.into_inner();
        if request.task_id.is_empty() {
            return Err(self.state.reject("FinishTask", "task_id is empty"));
        }
        if request.final_state.is_none() {
            return Err(self
                .state
                .reject("FinishTask", "neither error nor success is set"));
        }
        self.state.update(|r| {
            let id = request.task_id.clone();
            r.finished.entry(id).or_default().push(request);
        });
        Ok(Response::new(BatonServiceFinishTaskResponse::default()))
    }

    async fn upload_asset(
        &self,
        request: Request<Streaming<BatonServiceUploadAssetRequest>>,
    ) -> Result<Response<BatonServiceUploadAssetResponse>, Status> {
        let hangup = request.extensions().get::<Hangup>().cloned();
        let mut stream = request.into_inner();
        let metadata = match stream.message().await? {
            Some(BatonServiceUploadAssetRequest {
                msg: Some(Msg::Metadata(metadata)),
            }) => metadata,
            _ => {
                return Err(self
                    .state
                    .reject("UploadAsset", "the first message is not metadata"));
            }
        };
        let drop_it = self.state.update(|r| {
            r.upload_attempts += 1;
            r.upload_attempts <= self.state.options.drop_uploads
        });
        let mut upload = Upload {
            task_id: metadata.task_id,
            host_id: metadata.host_id,
            bytes: vec![],
            chunk_sizes: vec![],
            checksum_ok: false,
            completed: false,
        };
        let outcome = receive(&mut stream, &mut upload, drop_it).await;
        let dropping = matches!(&outcome, Err(status) if status.message() == DROP_MARKER);
        if let Err(status) = &outcome
            && status.code() == tonic::Code::InvalidArgument
        {
            let why = status.message().to_string();
            self.state
                .update(|r| r.rejections.push(("UploadAsset".into(), why)));
        }
        self.state.update(|r| {
            let id = upload.task_id.clone();
            r.uploads.entry(id).or_default().push(upload);
            r.dropped_connections += usize::from(dropping);
        });
        if dropping && let Some(mut hangup) = hangup {
            hangup.request.notify_one();
            // Answer only once the socket is closed, so the answer (whose DROP_MARKER would
            // reveal a failed cut-off) cannot reach the client; usually hyper drops this
            // handler before that.
            let closed = hangup.closed.wait_for(|closed| *closed);
            let _ = tokio::time::timeout(Duration::from_secs(5), closed).await;
        }
        outcome.map(|()| Response::new(BatonServiceUploadAssetResponse::default()))
    }

    async fn start_debugging(
        &self,
        _request: Request<StartDebuggingRequest>,
    ) -> Result<Response<StartDebuggingResponse>, Status> {
        Ok(Response::new(StartDebuggingResponse { status: false }))
    }
}

/// Reads an upload after its metadata into `upload`. With `drop_it`, stops after the first
/// data chunk with [`DROP_MARKER`] (the caller then closes the connection).
async fn receive(
    stream: &mut Streaming<BatonServiceUploadAssetRequest>,
    upload: &mut Upload,
    drop_it: bool,
) -> Result<(), Status> {
    loop {
        let Some(message) = stream.message().await? else {
            return Err(Status::invalid_argument("the stream ended before eof"));
        };
        match message.msg {
            Some(Msg::Data(data)) => {
                let size = data.data.len();
                if size == 0 || size > MAX_CHUNK {
                    let why = format!("a data chunk of {size} bytes (allowed: 1..={MAX_CHUNK})");
                    return Err(Status::invalid_argument(why));
                }
                upload.chunk_sizes.push(size);
                upload.bytes.extend_from_slice(&data.data);
                if drop_it {
                    return Err(Status::unavailable(DROP_MARKER));
                }
            }
            Some(Msg::Eof(eof)) => {
                if eof.sha256_checksum.len() != 32 {
                    return Err(Status::invalid_argument("sha256_checksum is not 32 bytes"));
                }
                upload.completed = true;
                upload.checksum_ok = Sha256::digest(&upload.bytes)[..] == eof.sha256_checksum[..];
                return match stream.message().await? {
                    None if upload.checksum_ok => Ok(()),
                    None => Err(Status::data_loss("sha256_checksum does not match the data")),
                    Some(_) => Err(Status::invalid_argument("a message after eof")),
                };
            }
            Some(Msg::Metadata(_)) => return Err(Status::invalid_argument("metadata sent twice")),
            None => return Err(Status::invalid_argument("a message with no msg set")),
        }
    }
}

/// The success response of a finished task, decoded as `M`; panics with the error otherwise.
pub fn success<M: prost::Message + Default + prost::Name>(
    finish: &BatonServiceFinishTaskRequest,
) -> (M, Vec<prost_types::Any>) {
    match &finish.final_state {
        Some(FinalState::Success(success)) => {
            let any = success
                .response
                .as_ref()
                .expect("a success carries the connector response");
            assert_eq!(
                any.type_url,
                M::type_url(),
                "packed as Any with the connector's type"
            );
            (
                M::decode(any.value.as_slice()).unwrap(),
                success.annotations.clone(),
            )
        }
        other => panic!(
            "expected success, got {other:?} with status {:?}",
            finish.status
        ),
    }
}

/// The status code, message and non_retryable flag of a failed task.
pub fn failure(finish: &BatonServiceFinishTaskRequest) -> (tonic::Code, String, bool) {
    let status = finish.status.clone().expect("a failed task has a status");
    match &finish.final_state {
        Some(FinalState::Error(error)) => (
            tonic::Code::from(status.code),
            status.message,
            error.non_retryable,
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

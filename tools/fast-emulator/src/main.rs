//! A fast AWS Cognito user-pool emulator for benchmarks: the moto-based emulator's process
//! contract and control API (`tests/emulator/`), without its O(pool) pages.
//!
//! ```sh
//! cargo run --release --manifest-path tools/fast-emulator/Cargo.toml -- --users 1000000 --groups 200 --seed 7
//! ```
//!
//! It answers the AWS JSON 1.1 protocol for the Cognito operations the connector calls, enforces
//! Cognito's default request-rate quotas (scalable, or off), and serves synthetic pools of
//! millions of users that cost no memory per user: see `tools/fast-emulator/README.md`.
//!
//! stdout: `LISTENING http://127.0.0.1:<port>` once bound, then `SAMPLE_POOL <id> <region>` when
//! a synthetic pool was asked for on the command line, and nothing else. It exits on stdin EOF
//! (unless `--no-stdin-watch`), SIGTERM and SIGINT.

mod auth_events;
mod aws;
mod control;
mod filter;
mod pool;
mod quota;
mod schema;
mod stats;
mod synth;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use pool::Pool;
use quota::Quotas;
use stats::Stats;

/// The account id in ARNs, as moto's default.
const ACCOUNT: &str = "123456789012";

/// Command line. The `--sample-*` aliases accept the Python emulator's flag names.
#[derive(Parser, Debug)]
#[command(
    name = "fast_emulator",
    about = "A fast AWS Cognito user-pool emulator for benchmarks"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Users of the synthetic pool created at start (any of --users/--groups creates one).
    #[arg(long, alias = "sample-users")]
    users: Option<u64>,
    /// Groups of the synthetic pool (default 40 when --users is given).
    #[arg(long, alias = "sample-groups")]
    groups: Option<u64>,
    /// Average group memberships per user in the synthetic pool.
    #[arg(long, default_value_t = 1.5)]
    memberships_per_user: f64,
    #[arg(long, alias = "sample-seed", default_value_t = 42)]
    seed: u64,
    #[arg(long, alias = "sample-region", default_value = "us-east-1")]
    region: String,
    /// Id of the synthetic pool (default: derived from seed, users and groups).
    #[arg(long)]
    pool_id: Option<String>,
    /// Multiplies every Cognito quota (10 = ten times AWS's default rates).
    #[arg(long, default_value_t = 1.0)]
    quota_scale: f64,
    /// Do not enforce Cognito's request-rate quotas at all.
    #[arg(long)]
    no_quota: bool,
    /// A fixed delay added to every AWS call (an async sleep).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The synthetic pool is on the Plus plan with threat protection (AUDIT), and every user
    /// has a synthetic sign-in history for AdminListUserAuthEvents.
    #[arg(long)]
    sign_ins: bool,
    /// Tokio worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not exit when stdin reaches EOF (for running it by hand in the background).
    #[arg(long)]
    no_stdin_watch: bool,
}

/// Everything the handlers share.
pub struct State {
    pub pools: RwLock<HashMap<String, Arc<RwLock<Pool>>>>,
    pub stats: Mutex<Stats>,
    pub quotas: Quotas,
    pub latency: Duration,
    pub account: String,
}

impl State {
    /// The configured per-call latency.
    pub async fn pause(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

/// Locks that survive a panicked holder: the data is still consistent enough for an emulator.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Now, in epoch seconds with millisecond precision (moto's resolution).
pub fn epoch_now() -> f64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    ms as f64 / 1000.0
}

/// One HTTP answer.
pub struct Reply {
    pub status: u16,
    content_type: &'static str,
    error_type: Option<String>,
    body: Bytes,
}

impl Reply {
    pub fn aws_ok(body: String) -> Self {
        Self {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            error_type: None,
            body: Bytes::from(body),
        }
    }

    /// An awsJson1_1 error: the `x-amzn-ErrorType` header and `{"__type", "message"}`.
    pub fn aws_error(status: u16, code: &str, message: &str) -> Self {
        let mut body = String::with_capacity(message.len() + code.len() + 32);
        body.push_str("{\"__type\":");
        aws::push_json_str(&mut body, code);
        body.push_str(",\"message\":");
        aws::push_json_str(&mut body, message);
        body.push('}');
        Self {
            status,
            content_type: "application/x-amz-json-1.1",
            error_type: Some(code.to_string()),
            body: Bytes::from(body),
        }
    }

    pub fn plain(status: u16, text: String) -> Self {
        Self {
            status,
            content_type: "text/plain",
            error_type: None,
            body: Bytes::from(text),
        }
    }

    fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            error_type: None,
            body: Bytes::from(value.to_string()),
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);
        let n = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
        let id = synth::mix(0x5eed, n);
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("Content-Type", self.content_type)
            .header(
                "x-amzn-RequestId",
                format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    id >> 32,
                    (id >> 16) & 0xffff,
                    id & 0xffff,
                    n & 0xffff,
                    n & 0xffff_ffff_ffff
                ),
            );
        if let Some(code) = &self.error_type {
            builder = builder.header("x-amzn-ErrorType", code.as_str());
        }
        builder
            .body(Full::new(self.body))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// What a request turns into: an answer, or a dropped connection (the `reset` fault).
pub enum Outcome {
    Reply(Reply),
    Reset,
}

/// The error a handler returns to make hyper drop the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection reset on request (fault injection)")]
struct ResetConnection;

/// A TCP stream that closes with an RST instead of a FIN once `reset` is set, the way the Python
/// emulator's `reset` fault drops a connection (the SDK then sees a DispatchFailure).
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl ResettableStream {
    fn arm(&self) {
        let _ = self.inner.set_zero_linger();
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            self.arm();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            // No FIN: the close in Drop sends the RST.
            self.arm();
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `a%2Fb` -> `a/b`, byte-wise; invalid escapes are kept as they are.
fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

/// The region of a SigV4 `Authorization` header's credential scope.
fn region_from_auth(auth: &str) -> Option<String> {
    let scope = auth.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    let (_key, _date, region) = (parts.next()?, parts.next()?, parts.next()?);
    (!region.is_empty()).then(|| region.to_string())
}

async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
    reset: Arc<AtomicBool>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ResetConnection),
    };
    let path = parts.uri.path();
    let outcome = if path == "/_emulator" || path.starts_with("/_emulator/") {
        Outcome::Reply(control_request(&state, &parts, &body))
    } else if path.starts_with("/moto-api/reset") {
        Outcome::Reply(control_request_at(
            &state,
            "POST",
            &["reset".into()],
            &[],
            &[],
        ))
    } else if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        let region = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(region_from_auth);
        aws::handle(&state, &op, region, &body).await
    } else {
        Outcome::Reply(Reply::json(
            404,
            &serde_json::json!({"error": "expected POST / with X-Amz-Target, or /_emulator/..."}),
        ))
    };
    match outcome {
        Outcome::Reply(reply) => Ok(reply.into_response()),
        Outcome::Reset => {
            reset.store(true, Ordering::Relaxed);
            Err(ResetConnection)
        }
    }
}

fn control_request(state: &State, parts: &hyper::http::request::Parts, body: &[u8]) -> Reply {
    let segs: Result<Vec<String>, _> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .skip(1)
        .map(percent_decode)
        .collect();
    let Ok(segs) = segs else {
        return Reply::json(
            400,
            &serde_json::json!({"error": "path is not valid UTF-8"}),
        );
    };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .filter_map(|(k, v)| {
            let v = v.replace('+', " ");
            Some((percent_decode(k).ok()?, percent_decode(&v).ok()?))
        })
        .collect();
    control_request_at(state, parts.method.as_str(), &segs, body, &query)
}

fn control_request_at(
    state: &State,
    method: &str,
    segs: &[String],
    body: &[u8],
    query: &[(String, String)],
) -> Reply {
    match control::route(state, method, segs, body, query) {
        Ok((status, value)) => Reply::json(status, &value),
        Err(e) => Reply::json(e.status, &serde_json::json!({ "error": e.message })),
    }
}

/// Exits (status 0) when stdin reaches EOF, so a dead parent never leaves the emulator running.
fn watch_stdin() {
    std::thread::spawn(|| {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 65536];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

async fn exit_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::exit(0);
}

fn main() {
    let cli = Cli::parse();
    if !(cli.quota_scale > 0.0 && cli.quota_scale.is_finite()) {
        eprintln!("fast_emulator: --quota-scale must be a positive number");
        std::process::exit(2);
    }
    if cli.users.is_some_and(|u| u > synth::Synth::MAX_USERS) {
        eprintln!(
            "fast_emulator: --users must be at most {}",
            synth::Synth::MAX_USERS
        );
        std::process::exit(2);
    }
    if cli.groups.is_some_and(|g| g > 10_000) {
        eprintln!("fast_emulator: --groups must be at most 10000 (Cognito's limit per pool)");
        std::process::exit(2);
    }
    if !(cli.memberships_per_user >= 0.0 && cli.memberships_per_user.is_finite()) {
        eprintln!("fast_emulator: --memberships-per-user must be a non-negative number");
        std::process::exit(2);
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = cli.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fast_emulator: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("fast_emulator: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> std::io::Result<()> {
    let state = Arc::new(State {
        pools: RwLock::new(HashMap::new()),
        stats: Mutex::new(Stats::default()),
        quotas: Quotas::new(cli.quota_scale, cli.no_quota),
        latency: Duration::from_millis(cli.latency_ms),
        account: ACCOUNT.to_string(),
    });
    let listener = TcpListener::bind((cli.host.as_str(), cli.port)).await?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    let host = if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    writeln!(out, "LISTENING http://{host}:{}", addr.port())?;
    out.flush()?;

    if cli.users.is_some() || cli.groups.is_some() {
        let users = cli.users.unwrap_or(3000);
        let groups = cli.groups.unwrap_or(40);
        let id = match &cli.pool_id {
            Some(id) => id.clone(),
            None => control::synthetic_pool_id(&state, &cli.region, cli.seed, users, groups),
        };
        let spec = control::SampleSpec {
            users,
            groups,
            per_user: cli.memberships_per_user,
            seed: cli.seed,
            sign_ins: cli.sign_ins,
        };
        let pool = control::synthetic_pool(&state, id.clone(), &cli.region, &spec);
        let memberships: u64 = pool.groups().map(|g| pool.member_count(g)).sum();
        eprintln!(
            "fast_emulator: synthetic pool {id} in {}: {users} users, {} groups, {memberships} memberships{}",
            cli.region,
            pool.group_count(),
            if cli.sign_ins {
                ", PLUS with threat protection (AUDIT) and synthetic sign-ins"
            } else {
                ""
            }
        );
        write(&state.pools).insert(id.clone(), Arc::new(RwLock::new(pool)));
        writeln!(out, "SAMPLE_POOL {id} {}", cli.region)?;
        out.flush()?;
    }
    drop(out);

    if !cli.no_stdin_watch {
        watch_stdin();
    }
    tokio::spawn(exit_on_signal());

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("fast_emulator: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let io = TokioIo::new(ResettableStream {
                inner: stream,
                reset: reset.clone(),
            });
            let service = service_fn(move |req| serve(state.clone(), req, reset.clone()));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
        });
    }
}

//! Shared test support: the Cognito emulator (moto behind our control API), the connector
//! binary as a real gRPC server on a real socket, and a client that walks it like a syncer.

#![allow(dead_code)]

pub mod changes;
pub mod hostile;
pub mod pki;
pub mod platform;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use baton_cognito::c1z::{C1zReader, GrantFilter};
use baton_cognito::pb::v2::entitlements_service_client::EntitlementsServiceClient;
use baton_cognito::pb::v2::grants_service_client::GrantsServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use serde_json::Value;
use tonic::transport::Channel;

pub const REGION: &str = "us-east-1";
pub const BIN: &str = env!("CARGO_BIN_EXE_baton-cognito");

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fast emulator's binary (`tools/fast-emulator`, a package of its own), built on first use
/// into its own target dir (or `CARGO_TARGET_DIR`).
pub fn fast_emulator() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let manifest = repo_root().join("tools/fast-emulator/Cargo.toml");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--locked", "--manifest-path"])
            .arg(&manifest)
            .status()
            .expect("cannot run cargo to build tools/fast-emulator");
        assert!(status.success(), "building tools/fast-emulator failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("tools/fast-emulator/target"));
        target.join("debug/fast-emulator")
    })
}

/// The emulator's Python, installed on first use by `scripts/ensure-emulator`.
pub fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/ensure-emulator"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run scripts/ensure-emulator (needs bash and python3)");
        assert!(
            out.status.success(),
            "scripts/ensure-emulator failed; it needs python3 with venv and access to PyPI"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("ensure-emulator printed no python path")
                .trim(),
        )
    })
}

/// A running emulator process. It exits when its stdin closes, so it never outlives the tests.
pub struct Emulator {
    pub url: String,
    addr: String,
    child: Child,
    _stdin: ChildStdin,
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pool seeded in the emulator.
#[derive(Clone, Debug)]
pub struct Pool {
    pub id: String,
    pub arn: String,
}

impl Emulator {
    /// The emulator shared by the tests of one test binary (pools are unique per test).
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(Emulator::start)
    }

    /// A dedicated emulator, for tests that count calls or inject faults.
    ///
    /// moto by default; `BATON_TEST_EMULATOR=fast` runs the same tests against the project's
    /// fast emulator (`tools/fast-emulator`, built here on first use), which is how its fidelity
    /// to moto is checked.
    pub fn start() -> Emulator {
        let mut command = match std::env::var("BATON_TEST_EMULATOR").as_deref() {
            Ok("fast") => {
                let mut command = Command::new(fast_emulator());
                command.arg("--no-quota");
                command
            }
            Ok("moto") | Err(_) => {
                let mut command = Command::new(python());
                command.arg(repo_root().join("tests/emulator/cognito_emulator.py"));
                command
            }
            Ok(other) => panic!("BATON_TEST_EMULATOR={other:?}: use moto or fast"),
        };
        let mut child = command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the Cognito emulator");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("emulator stdout");
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("emulator did not start: {line:?}"))
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        Emulator {
            url,
            addr,
            child,
            _stdin: stdin,
            _stdout: stdout,
        }
    }

    /// One JSON request to the control API.
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, text) = http(&self.addr, method, path, body.map(|b| b.to_string()));
        assert!(status < 300, "{method} {path} -> {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        }
    }

    pub fn create_pool(&self, spec: Value) -> Pool {
        self.create_pool_in(REGION, spec)
    }

    /// A pool seeded in another Region.
    pub fn create_pool_in(&self, region: &str, spec: Value) -> Pool {
        let mut spec = spec;
        spec["region"] = Value::from(region);
        let out = self.control("POST", "/_emulator/pools", Some(&spec));
        Pool {
            id: out["pool_id"].as_str().expect("pool_id").to_string(),
            arn: out["arn"].as_str().unwrap_or_default().to_string(),
        }
    }

    pub fn inject(&self, rules: Value) {
        self.control(
            "POST",
            "/_emulator/faults",
            Some(&serde_json::json!({ "rules": rules })),
        );
    }

    /// AWS operations received since the last reset of the counters.
    pub fn calls(&self) -> Value {
        self.control("GET", "/_emulator/calls", None)
    }

    /// AWS operations received for `pool` since the last reset, by operation.
    pub fn pool_calls(&self, pool: &Pool) -> BTreeMap<String, u64> {
        let calls = self.control(
            "GET",
            &format!("/_emulator/calls?pool_id={}", pool.id),
            None,
        );
        calls
            .as_object()
            .expect("the emulator answers with an object")
            .iter()
            .map(|(op, n)| (op.clone(), n.as_u64().expect("counts are numbers")))
            .collect()
    }

    /// The operations received for `pool` since `before` (an earlier [`pool_calls`](Self::pool_calls)),
    /// those with none left out.
    pub fn pool_calls_since(
        &self,
        pool: &Pool,
        before: &BTreeMap<String, u64>,
    ) -> BTreeMap<String, u64> {
        self.pool_calls(pool)
            .into_iter()
            .map(|(op, n)| {
                let spent = n - before.get(&op).copied().unwrap_or(0);
                (op, spent)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Removes the fault rules scoped to `pool`, leaving other tests' rules in place (the
    /// shared emulator serves tests running in parallel).
    pub fn clear_faults(&self, pool: &Pool) -> Value {
        self.control(
            "DELETE",
            &format!("/_emulator/faults?pool_id={}", pool.id),
            None,
        )
    }

    pub fn reset_calls(&self) {
        self.control("DELETE", "/_emulator/calls", None);
    }
}

/// A minimal HTTP/1.1 client for the control API (one request per connection).
fn http(addr: &str, method: &str, path: &str, body: Option<String>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to emulator");
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8_lossy(&raw);
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, rest.to_string())
}

/// Environment for the connector binary pointing at an emulator pool with dummy credentials.
pub fn pool_env(emulator: &Emulator, pool: &Pool) -> Vec<(String, String)> {
    vec![
        ("BATON_USER_POOL_ID".into(), pool.id.clone()),
        ("BATON_ENDPOINT_URL".into(), emulator.url.clone()),
        (
            "BATON_AWS_ACCESS_KEY_ID".into(),
            "AKIAIOSFODNN7EXAMPLE".into(),
        ),
        (
            "BATON_AWS_SECRET_ACCESS_KEY".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
    ]
}

/// Borrowed views of owned arguments, for the helpers that take `&[&str]`.
/// The names in `dir`.
pub fn dir_entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The cursor the one-shot event reader logged ("event feed read"), to continue from.
pub fn logged_cursor(logs: &str) -> String {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line["cursor"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no cursor logged: {logs}"))
}

/// The `UserTrait` a user resource carries.
pub fn user_trait(resource: &Resource) -> UserTrait {
    use prost::Message;
    let any = resource
        .annotations
        .iter()
        .find(|a| a.type_url == "type.googleapis.com/c1.connector.v2.UserTrait")
        .expect("a user carries a UserTrait");
    UserTrait::decode(any.value.as_slice()).expect("a UserTrait")
}

/// A profile value of a resource as text (strings as they are, booleans and numbers printed).
pub fn profile_text(resource: &Resource, key: &str) -> Option<String> {
    match resource.profile.as_ref()?.fields.get(key)?.kind.as_ref()? {
        prost_types::value::Kind::StringValue(s) => Some(s.clone()),
        prost_types::value::Kind::BoolValue(b) => Some(b.to_string()),
        prost_types::value::Kind::NumberValue(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Runs the binary to completion with a clean AWS environment.
pub fn run_binary(args: &[&str], env: &[(String, String)]) -> Output {
    base_command(env)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run baton-cognito")
}

/// Runs the binary with `first` then `args`, for commands that print JSON lines: the exit code,
/// the lines parsed, and stderr.
pub fn run_json_lines(
    first: &str,
    args: &[&str],
    env: &[(String, String)],
) -> (Option<i32>, Vec<Value>, String) {
    let mut all = vec![first];
    all.extend_from_slice(args);
    let out = run_binary(&all, env);
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What one run of the binary did.
pub struct BoundedRun {
    /// None when it had to be killed at the deadline: the input was not refused.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl BoundedRun {
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn read_all(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `command` to its end, killing it at `deadline` (then `code` is None): a hang is a
/// failure to report, not a test that never ends.
pub fn run_until(mut command: Command, deadline: Duration) -> BoundedRun {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run baton-cognito");
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for baton-cognito") {
            break status.code();
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    BoundedRun {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// The connector binary with a clean AWS and BATON_ environment plus `env`.
pub fn base_command(env: &[(String, String)]) -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("BATON_") || key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("BATON_LOG_FORMAT", "json");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Appends every line `stream` yields to `sink` (invalid UTF-8 replaced, not the end of the
/// reading), on a thread of its own, until the stream ends; join the handle to know it has.
pub fn collect_lines(
    stream: impl Read + Send + 'static,
    sink: &Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    let sink = sink.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader
            .read_until(b'\n', &mut line)
            .is_ok_and(|read| read > 0)
        {
            let mut logs = sink.lock().unwrap();
            logs.push_str(String::from_utf8_lossy(&line).trim_end_matches('\n'));
            logs.push('\n');
            line.clear();
        }
    })
}

/// The connector binary serving gRPC on an ephemeral loopback port.
pub struct Server {
    pub addr: String,
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, ...) to a process, as `kill -SIGNAL pid` would.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

impl Server {
    /// `serve` on an ephemeral loopback port, with `extra_args`.
    pub fn start(env: &[(String, String)], extra_args: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        Server::launch(env, &args)
    }

    /// The binary with exactly `args`, once it has printed the address it listens on.
    pub fn launch(env: &[(String, String)], args: &[&str]) -> Server {
        let mut child = base_command(env)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start baton-cognito serve");
        let logs = Arc::new(Mutex::new(String::new()));
        collect_lines(child.stderr.take().expect("piped stderr"), &logs);
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("server stdout");
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.wait();
            panic!(
                "server did not start: {line:?}; logs: {}",
                logs.lock().unwrap()
            );
        };
        Server {
            addr: addr.to_string(),
            child,
            logs,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the connector")
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }

    /// The exit status, waiting at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// The connector running in service mode (its `TMPDIR` a directory of its own), its logs
/// collected as they come.
pub struct Worker {
    pub child: Child,
    logs: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// The health endpoint's base URL, once a test has chosen one.
    pub health: Option<String>,
    _tmp: Option<tempfile::TempDir>,
    pub tmp: std::path::PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    pub fn start(env: &[(String, String)], args: &[&str]) -> Worker {
        let tmp = tempfile::tempdir().unwrap();
        let mut worker = Self::start_in(env, args, tmp.path());
        worker._tmp = Some(tmp);
        worker
    }

    /// A worker whose `TMPDIR` is `tmp` (another worker's, which the caller keeps): a worker
    /// started again on the same host.
    pub fn start_in(env: &[(String, String)], args: &[&str], tmp: &Path) -> Worker {
        let mut command = base_command(env);
        command
            .env("TMPDIR", tmp)
            .env("BATON_LOG_LEVEL", "debug")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .expect("start baton-cognito in service mode");
        let logs = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect_lines(child.stdout.take().unwrap(), &logs),
            collect_lines(child.stderr.take().unwrap(), &logs),
        ];
        Worker {
            child,
            logs,
            readers,
            health: None,
            tmp: tmp.to_path_buf(),
            _tmp: None,
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn terminate(&self) {
        send_signal(self.child.id(), "TERM");
    }

    /// The exit status, waiting at most `timeout`.
    pub async fn exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Sends SIGTERM (when `terminate`), waits up to `timeout` for the exit (killing the
    /// process after that), and returns the exit status and everything it wrote.
    pub async fn stop(
        &mut self,
        terminate: bool,
        timeout: Duration,
    ) -> (Option<ExitStatus>, String) {
        if terminate {
            self.terminate();
        }
        let status = self.exit(timeout).await;
        if status.is_none() {
            let _ = self.child.kill();
        }
        let readers = std::mem::take(&mut self.readers);
        tokio::task::spawn_blocking(move || {
            for reader in readers {
                let _ = reader.join();
            }
        })
        .await
        .unwrap();
        (status, self.logs())
    }

    /// What is left in the worker's temporary directory.
    pub fn temp_entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect()
    }
}

impl Worker {
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the worker").is_none()
    }
}

/// Every page of a resource listing at a page size.
pub async fn list_all_resources(channel: &Channel, type_id: &str, page_size: u32) -> Vec<Resource> {
    let mut client = ResourcesServiceClient::new(channel.clone());
    let mut token = String::new();
    let mut all = Vec::new();
    loop {
        let page = client
            .list_resources(ResourcesServiceListResourcesRequest {
                resource_type_id: type_id.into(),
                page_size,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list_resources")
            .into_inner();
        assert!(page.list.len() <= page_size.clamp(1, 60) as usize || page_size == 0);
        all.extend(page.list);
        if page.next_page_token.is_empty() {
            return all;
        }
        assert_ne!(page.next_page_token, token, "the next token must move");
        token = page.next_page_token;
    }
}

/// Every grant of a resource at a page size.
pub async fn list_all_grants(channel: &Channel, resource: &Resource, page_size: u32) -> Vec<Grant> {
    let mut client = GrantsServiceClient::new(channel.clone());
    let mut token = String::new();
    let mut all = Vec::new();
    loop {
        let page = client
            .list_grants(GrantsServiceListGrantsRequest {
                resource: Some(resource.clone()),
                page_size,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list_grants")
            .into_inner();
        all.extend(page.list);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

pub async fn list_entitlements(channel: &Channel, resource: &Resource) -> Vec<Entitlement> {
    EntitlementsServiceClient::new(channel.clone())
        .list_entitlements(EntitlementsServiceListEntitlementsRequest {
            resource: Some(resource.clone()),
            ..Default::default()
        })
        .await
        .expect("list_entitlements")
        .into_inner()
        .list
}

/// A resource reference as a platform sends it: type and id only.
pub fn resource(type_id: &str, id: &str) -> Resource {
    Resource {
        id: Some(ResourceId {
            resource_type: type_id.into(),
            resource: id.into(),
            baton_resource: false,
        }),
        ..Resource::default()
    }
}

/// The entitlement as a sync stored it: `group:<name>:member` on the group resource.
pub fn member_of(group: &str) -> Entitlement {
    Entitlement {
        resource: Some(resource("group", group)),
        id: format!("group:{group}:member"),
        slug: "member".into(),
        ..Entitlement::default()
    }
}

/// The ids of a file's resources of one type.
pub fn resource_ids(reader: &C1zReader, resource_type: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    reader
        .resources(Some(resource_type), |r| {
            ids.insert(r.id.expect("a stored resource has an id").resource);
            Ok(())
        })
        .unwrap();
    ids
}

/// The ids of every grant in a file.
pub fn grant_ids(reader: &C1zReader) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    reader
        .grants(&GrantFilter::default(), |g| {
            ids.insert(g.id);
            Ok(())
        })
        .unwrap();
    ids
}

/// Every record of a `.c1z`'s sync, decoded and keyed by id, for comparing two syncs by content
/// (their sync ids, timestamps and bytes differ).
#[derive(Debug, Default, PartialEq)]
pub struct C1zContents {
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Keyed `<type>:<id>`.
    pub resources: BTreeMap<String, Resource>,
    pub entitlements: BTreeMap<String, Entitlement>,
    pub grants: BTreeMap<String, Grant>,
}

/// Reads every resource type, resource, entitlement and grant of a file; an id stored twice
/// fails the test.
pub fn c1z_contents(path: &Path) -> C1zContents {
    fn put<T>(map: &mut BTreeMap<String, T>, key: String, value: T, what: &str) {
        assert!(
            map.insert(key.clone(), value).is_none(),
            "{what} {key:?} is stored twice"
        );
    }
    let reader = C1zReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = C1zContents::default();
    for rt in reader.resource_types().unwrap() {
        put(&mut out.resource_types, rt.id.clone(), rt, "resource type");
    }
    reader
        .resources(None, |r| {
            let id = r.id.clone().expect("a stored resource has an id");
            let key = format!("{}:{}", id.resource_type, id.resource);
            put(&mut out.resources, key, r, "resource");
            Ok(())
        })
        .unwrap();
    reader
        .entitlements(None, |e| {
            put(&mut out.entitlements, e.id.clone(), e, "entitlement");
            Ok(())
        })
        .unwrap();
    reader
        .grants(&GrantFilter::default(), |g| {
            put(&mut out.grants, g.id.clone(), g, "grant");
            Ok(())
        })
        .unwrap();
    out
}

/// The small pool the provisioning, service-mode and secrets tests start from: three users
/// (one with `:` in its name), two groups (one with odd characters), one membership.
pub fn small_pool(name: &str) -> Value {
    serde_json::json!({
        "name": unique(name),
        "users": [
            {"username": "ann", "attributes": {"email": "ann@example.com"}},
            {"username": "bob:smith", "attributes": {"email": "bob@example.com"}},
            {"username": "cara"},
        ],
        "groups": [{"name": "admins"}, {"name": "team: red/blue"}],
        "memberships": [["admins", "bob:smith"]],
    })
}

/// A request to add `principal` to `group`.
pub fn grant_request(group: &str, principal: Resource) -> GrantManagerServiceGrantRequest {
    GrantManagerServiceGrantRequest {
        entitlement: Some(member_of(group)),
        principal: Some(principal),
        annotations: vec![],
    }
}

/// A request to take `user` out of `group`.
pub fn revoke_request(group: &str, user: &str) -> GrantManagerServiceRevokeRequest {
    GrantManagerServiceRevokeRequest {
        grant: Some(Grant {
            id: format!("group:{group}:member:user:{user}"),
            entitlement: Some(member_of(group)),
            principal: Some(resource("user", user)),
            ..Grant::default()
        }),
        annotations: vec![],
    }
}

/// Whether `annotations` hold a message of type `M`.
pub fn has_annotation<M: prost::Name>(annotations: &[prost_types::Any]) -> bool {
    annotations.iter().any(|a| a.type_url == M::type_url())
}

/// The upstream id of a resource.
pub fn rid(resource: &Resource) -> String {
    resource.id.as_ref().expect("resource id").resource.clone()
}

/// A unique pool name per test.
pub fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Cognito client of the library's own, for reading a pool back through the AWS API.
pub async fn aws_client(emulator: &Emulator, pool: &Pool) -> baton_cognito::cognito::PoolClient {
    use baton_cognito::cognito::settings::{ApiBudget, ClientSettings, Credentials, PoolRef};
    use baton_cognito::secret::Secret;
    let settings = ClientSettings {
        pool: PoolRef::parse(&pool.id).expect("a pool id"),
        region: REGION.to_string(),
        credentials: Credentials::Static {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Secret::new("verify-secret"),
            session_token: None,
        },
        assume_role: None,
        endpoint_url: Some(emulator.url.clone()),
        api_budget: ApiBudget::new(1.0).expect("a budget"),
        attempt_timeout: baton_cognito::cognito::settings::DEFAULT_ATTEMPT_TIMEOUT,
    };
    let shared = baton_cognito::cognito::SharedCalls::default();
    baton_cognito::cognito::PoolClient::connect(&settings, &shared).await
}

/// Runs the independent age decryptor (`tests/it/support/age_decrypt.py ARGS`, Python's
/// `cryptography` only) with `input` on stdin: Ok(plaintext) or Err(its complaint).
pub fn age_decrypt(args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/it/support/age_decrypt.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start age_decrypt.py");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("age_decrypt.py output");
    writer
        .join()
        .expect("writer thread")
        .expect("write to age_decrypt.py");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A user signed in with a password through an app client of the pool, as an app would.
pub struct SignedIn {
    pub sdk: aws_sdk_cognitoidentityprovider::Client,
    pub app_id: String,
    pub refresh_token: String,
}

impl SignedIn {
    /// A Cognito SDK client of the emulator, as an app (or an administrator) would use.
    pub fn sdk_client(emulator: &Emulator) -> aws_sdk_cognitoidentityprovider::Client {
        use aws_sdk_cognitoidentityprovider::config::{Credentials, Region};
        aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::Config::builder()
                .behavior_version_latest()
                .region(Region::new(REGION))
                .endpoint_url(&emulator.url)
                .credentials_provider(Credentials::new(
                    "AKIAIOSFODNN7EXAMPLE",
                    "verify-secret",
                    None,
                    None,
                    "test",
                ))
                .build(),
        )
    }
}

/// Gives `username` a permanent password and signs them in (AdminInitiateAuth with
/// ADMIN_USER_PASSWORD_AUTH) through a new app client.
pub async fn sign_in_with_password(emulator: &Emulator, pool: &Pool, username: &str) -> SignedIn {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
    const PASSWORD: &str = "Sign-1n-Test!";
    let sdk = SignedIn::sdk_client(emulator);
    let app = sdk
        .create_user_pool_client()
        .user_pool_id(&pool.id)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .expect("an app client");
    let app_id = app
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("a client id")
        .to_string();
    sdk.admin_set_user_password()
        .user_pool_id(&pool.id)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("a password");
    let signed_in = sdk
        .admin_initiate_auth()
        .user_pool_id(&pool.id)
        .client_id(&app_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .expect("the user signs in");
    let refresh_token = signed_in
        .authentication_result()
        .and_then(|r| r.refresh_token())
        .expect("a refresh token")
        .to_string();
    SignedIn {
        sdk,
        app_id,
        refresh_token,
    }
}

//! The change feed against the emulator: `export` prints user records in Cognito's own shape;
//! with `--since-last-run` it prints exactly what a sequence of pool mutations changed, and a run
//! that fails on the way leaves its state where it was, so nothing is lost or doubled. `watch`
//! sends the same changes as CloudEvents to a real HTTP sink that fails and recovers.

use crate::support::changes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use changes::{mutate, seed};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// Runs `export` with `args`; the exit code and the JSON lines it printed.
fn export(env: &[(String, String)], args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    run_json_lines("export", args, env)
}

fn by_username(lines: &[Value]) -> BTreeMap<String, Value> {
    lines
        .iter()
        .map(|l| {
            (
                l["Username"].as_str().expect("Username").to_string(),
                l.clone(),
            )
        })
        .collect()
}

fn state_arg(dir: &Path) -> String {
    dir.join("state.c1z").display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_prints_every_user_as_cognito_lists_it() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let (code, lines, stderr) = export(&env, &["--with-groups"]);
    assert_eq!(code, Some(0), "{stderr}");
    let users = by_username(&lines);

    // The same records as ListUsers gives, field by field.
    let aws = aws_client(emulator, &pool).await;
    let listed = aws
        .list_users(None, None, 60)
        .await
        .expect("ListUsers")
        .items;
    assert_eq!(
        users.keys().cloned().collect::<BTreeSet<_>>(),
        listed.iter().map(|u| u.username.clone()).collect()
    );
    for user in &listed {
        let line = &users[&user.username];
        let attributes: BTreeMap<String, String> = line["Attributes"]
            .as_array()
            .expect("Attributes")
            .iter()
            .map(|a| {
                (
                    a["Name"].as_str().unwrap().to_string(),
                    a["Value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            attributes,
            user.attributes.iter().cloned().collect::<BTreeMap<_, _>>(),
            "{}",
            user.username
        );
        assert_eq!(line["Enabled"], json!(user.enabled));
        assert_eq!(line["UserStatus"], json!(user.status));
        assert!(
            line["UserCreateDate"]
                .as_str()
                .is_some_and(|d| d.contains('T'))
        );
        assert!(line["UserLastModifiedDate"].is_string());
    }
    assert_eq!(users["cara"]["Enabled"], json!(false));
    assert_eq!(users["cara"]["UserStatus"], json!("FORCE_CHANGE_PASSWORD"));
    assert_eq!(users["ann"]["Groups"], json!(["admins", "team: red/blue"]));
    assert_eq!(users["bob:smith"]["Groups"], json!(["retired"]));

    // A filter limits the users, validated as everywhere else.
    let (code, lines, _) = export(&env, &["--user-filter", "username ^= \"a\""]);
    assert_eq!(code, Some(0));
    assert_eq!(by_username(&lines).keys().collect::<Vec<_>>(), ["ann"]);
    assert!(lines[0].get("Groups").is_none());
    let (code, _, stderr) = export(&env, &["--user-filter", "custom:team = \"red\""]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--user-filter"), "{stderr}");
}

#[test]
fn since_last_run_prints_exactly_what_changed_and_a_failed_run_loses_nothing() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let state = state_arg(dir.path());
    let since = [
        "--since-last-run",
        "--with-groups",
        "--state",
        state.as_str(),
    ];

    // The first run has nothing to compare with: every user.
    let (code, lines, stderr) = export(&env, &since);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.len(), 4);
    // Nothing changed: nothing printed.
    let (code, lines, _) = export(&env, &since);
    assert_eq!((code, lines), (Some(0), vec![]));

    // One of each kind of change.
    mutate(emulator, &pool);

    // A run that cannot write its output is refused before it syncs, and its state stays where
    // it was.
    let unwritable = dir.path().join("no-such-dir").join("out.jsonl");
    let mut failing = since.to_vec();
    let unwritable = unwritable.display().to_string();
    failing.extend(["--output", unwritable.as_str()]);
    let (code, _, stderr) = export(&env, &failing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--output"), "{stderr}");
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["state.c1z".to_string()]),
        "nothing left over"
    );

    let output = dir.path().join("changes.jsonl").display().to_string();
    let mut to_file = since.to_vec();
    to_file.extend(["--output", output.as_str()]);
    let (code, printed, stderr) = export(&env, &to_file);
    assert_eq!((code, printed.len()), (Some(0), 0), "{stderr}");
    let lines: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let changed = by_username(&lines);
    assert_eq!(
        changed.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ann", "bob:smith", "cara", "dan", "eve"]
    );
    assert_eq!(
        changed["cara"],
        json!({"Username": "cara", "Deleted": true})
    );
    let team = changed["ann"]["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["Name"] == "custom:team")
        .cloned();
    assert_eq!(team, Some(json!({"Name": "custom:team", "Value": "blue"})));
    assert_eq!(changed["bob:smith"]["Enabled"], json!(false));
    assert_eq!(
        changed["bob:smith"]["Groups"],
        json!([]),
        "bob's group was deleted"
    );
    assert_eq!(changed["dan"]["Groups"], json!([]), "dan left a group");
    assert_eq!(changed["eve"]["Groups"], json!(["new"]));

    // And the state advanced: the same changes are not printed twice.
    let (code, lines, _) = export(&env, &since);
    assert_eq!((code, lines), (Some(0), vec![]));

    // A state is tied to its pool and filter.
    let mut filtered = since.to_vec();
    filtered.extend(["--user-filter", "username ^= \"a\""]);
    let (code, _, stderr) = export(&env, &filtered);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("use another --state file"), "{stderr}");
}

#[test]
fn without_groups_membership_changes_are_not_record_changes() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let state = state_arg(dir.path());
    let since = ["--since-last-run", "--state", state.as_str()];
    assert_eq!(export(&env, &since).0, Some(0));
    emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/memberships", pool.id),
        Some(&json!({"memberships": [["admins", "dan"]]})),
    );
    let (code, lines, _) = export(&env, &since);
    assert_eq!((code, lines), (Some(0), vec![]));
}

/// A CloudEvents HTTP sink on a real socket: records every request, and answers 503 while it
/// is down or for the next `fail_next` requests.
struct TestSink {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
    fail_next: Arc<AtomicUsize>,
}

#[derive(Clone, Debug)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Value,
    accepted: bool,
}

impl TestSink {
    async fn start() -> TestSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let sink = TestSink {
            url,
            log: Arc::default(),
            down: Arc::default(),
            fail_next: Arc::default(),
        };
        let (log, down, fail_next) = (sink.log.clone(), sink.down.clone(), sink.fail_next.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (log, down, fail_next) = (log.clone(), down.clone(), fail_next.clone());
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let (log, down, fail_next) = (log.clone(), down.clone(), fail_next.clone());
                        async move {
                            let headers = request
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), v.to_str().unwrap_or_default().to_string())
                                })
                                .collect();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let failing = down.load(Ordering::SeqCst)
                                || fail_next
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    })
                                    .is_ok();
                            log.lock().unwrap().push(Received {
                                headers,
                                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                                accepted: !failing,
                            });
                            let status = if failing { 503 } else { 202 };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(http_body_util::Full::new(hyper::body::Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    },
                );
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        sink
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

/// `watch --once` in a blocking thread: exit code and stderr.
async fn watch_once(env: &[(String, String)], args: Vec<String>) -> (Option<i32>, String, String) {
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut all = vec!["watch".to_string(), "--once".to_string()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = run_binary(&all, &env);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// What an event says happened: (type, changetype, who).
fn summary(event: &Value) -> (String, String, String) {
    let who = match (
        event["data"]["GroupName"].as_str(),
        event["data"]["Username"].as_str(),
    ) {
        (Some(group), Some(user)) => format!("{group}/{user}"),
        (Some(group), None) => group.to_string(),
        (None, Some(user)) => user.to_string(),
        (None, None) => String::new(),
    };
    (
        event["type"].as_str().unwrap_or_default().to_string(),
        event["changetype"].as_str().unwrap_or_default().to_string(),
        who,
    )
}

fn expected_changes() -> BTreeSet<(String, String, String)> {
    let trigger = "com.amazon.cognito-idp.sync_trigger";
    [
        (trigger, "user.created", "eve"),
        (trigger, "user.updated", "ann"),
        (trigger, "user.disabled", "bob:smith"),
        (
            "com.amazon.cognito-idp.user.deleted",
            "user.deleted",
            "cara",
        ),
        (
            "com.amazon.cognito-idp.group.created",
            "group.created",
            "new",
        ),
        (
            "com.amazon.cognito-idp.membership.added",
            "membership.added",
            "new/eve",
        ),
        (
            "com.amazon.cognito-idp.membership.removed",
            "membership.removed",
            "team: red/blue/dan",
        ),
        (
            "com.amazon.cognito-idp.group.deleted",
            "group.deleted",
            "retired",
        ),
        (
            "com.amazon.cognito-idp.membership.removed",
            "membership.removed",
            "retired/bob:smith",
        ),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_delivers_every_change_once_to_a_sink_that_fails_and_recovers() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let sink = TestSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["--sink", &sink.url, "--state", &state_arg(dir.path())]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // The baseline sends nothing.
    let (code, _, stderr) = watch_once(&env, args(&[])).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sink.received().is_empty());
    assert!(stderr.contains("baseline snapshot recorded"), "{stderr}");

    mutate(emulator, &pool);

    // The sink is down: the run gives up after its attempts, and the state stays.
    sink.down.store(true, Ordering::SeqCst);
    let (code, _, stderr) = watch_once(&env, args(&["--sink-attempts", "2"])).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("did not accept event"), "{stderr}");
    let refused = sink.received();
    assert_eq!(refused.len(), 2, "two attempts at the first event");
    assert!(refused.iter().all(|r| !r.accepted));
    let first_id = refused[0].body["id"].clone();

    // Back up, but the first request still fails: retried, then everything goes through.
    sink.down.store(false, Ordering::SeqCst);
    sink.fail_next.store(1, Ordering::SeqCst);
    let (code, _, stderr) = watch_once(&env, args(&[])).await;
    assert_eq!(code, Some(0), "{stderr}");
    let received = sink.received();
    let accepted: Vec<&Received> = received.iter().filter(|r| r.accepted).collect();
    assert_eq!(
        accepted
            .iter()
            .map(|r| summary(&r.body))
            .collect::<BTreeSet<_>>(),
        expected_changes()
    );
    assert_eq!(
        accepted.len(),
        expected_changes().len(),
        "each change accepted once"
    );
    // The event the dead sink never took is sent again under the same id.
    assert!(accepted.iter().any(|r| r.body["id"] == first_id));
    for event in &accepted {
        assert_eq!(
            event.headers["content-type"],
            "application/cloudevents+json"
        );
        assert_eq!(event.body["specversion"], "1.0");
        assert_eq!(event.body["subject"], json!(pool.id));
        assert_eq!(event.body["source"], json!(pool.arn));
        assert!(
            event.body["time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }
    let ann = accepted
        .iter()
        .find(|r| r.body["changetype"] == "user.updated")
        .unwrap();
    assert!(
        ann.body["changedfields"]
            .as_str()
            .unwrap()
            .split(',')
            .any(|f| f == "custom:team")
    );
    assert_eq!(ann.body["data"]["Username"], "ann");

    // Delivered means done: the next run has nothing to send.
    let before = sink.received().len();
    let (code, _, _) = watch_once(&env, args(&[])).await;
    assert_eq!(code, Some(0));
    assert_eq!(sink.received().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_on_an_interval_sends_binary_events_and_stops_on_sigterm() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let sink = TestSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = state_arg(dir.path());
    let mut child = base_command(&env)
        .args(["watch", "--sink", &sink.url, "--sink-mode", "binary"])
        .args(["--interval", "1s", "--state", &state])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    collect_lines(child.stderr.take().unwrap(), &logs);
    let waited = std::time::Instant::now();
    while !logs.lock().unwrap().contains("baseline snapshot recorded") {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "{}",
            logs.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mutate(emulator, &pool);
    while sink.received().len() < expected_changes().len() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "{:?}",
            sink.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", logs.lock().unwrap());
    let received = sink.received();
    let as_events: BTreeSet<_> = received
        .iter()
        .map(|r| {
            let header = |name: &str| r.headers.get(name).cloned().unwrap_or_default();
            (
                header("ce-type"),
                header("ce-changetype"),
                summary(&json!({"data": r.body})).2,
            )
        })
        .collect();
    assert_eq!(as_events, expected_changes());
    assert!(
        received
            .iter()
            .all(|r| r.headers["content-type"] == "application/json"
                && r.headers["ce-specversion"] == "1.0"
                && r.headers["ce-subject"] == pool.id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_to_stdout_and_bad_watch_flags() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let args = || -> Vec<String> {
        ["--sink", "-", "--state", &state_arg(dir.path())]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    assert_eq!(watch_once(&env, args()).await.0, Some(0));
    mutate(emulator, &pool);
    let (code, stdout, stderr) = watch_once(&env, args()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let events: BTreeSet<_> = stdout
        .lines()
        .map(|l| summary(&serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(events, expected_changes());

    for (bad, expected) in [
        (vec!["--sink", "ftp://x"], "--sink ftp://x: not an http"),
        (
            vec!["--sink", "-", "--interval", "soon"],
            "--interval \"soon\"",
        ),
        (
            vec!["--sink", "-", "--schedule", "every day"],
            "--schedule \"every day\"",
        ),
        (
            vec!["--sink", "-", "--sink-attempts", "0"],
            "--sink-attempts",
        ),
    ] {
        let mut all = vec!["watch"];
        all.extend(&bad);
        let out = run_binary(&all, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains(expected), "{bad:?}: {stderr}");
    }
}

//! Faults during a one-shot sync (issue 7, items 1 to 3), against the real emulator over HTTP
//! and the real binary.
//!
//! - Transient faults within the retry budget (throttling, 500, 503, dropped connections, slow
//!   calls, a stale page token): the sync succeeds and its file holds exactly what a clean run's
//!   holds, record for record.
//! - Faults that outlast the budget, refused credentials, denied access, a missing pool: the sync
//!   exits 1 naming the operation and the cause, and the previous file stays byte-identical with
//!   nothing left beside it.
//! - Deletions racing the listings: a user deleted under a page token (the listing starts
//!   over), a group deleted while its members are listed (a warning, its grants skipped), the
//!   pool deleted mid-sync (exit 1).
//!
//! Every run checks the emulator's request log, so no test passes without its faults having been
//! served. The tests print their fault tables (`cargo test --test it faults:: -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;
use serde_json::{Value, json};

/// Users in the seeded pool: 5 pages of ListUsers.
const USERS: usize = 300;
/// `everyone` (3 pages of ListUsersInGroup), `admins` (2 pages), then one-page groups.
const GROUPS: [(&str, usize); 6] = [
    ("everyone", 130),
    ("admins", 61),
    ("team: red/blue", 20),
    ("ops:oncall", 5),
    ("Ünïcødé", 3),
    ("empty", 0),
];

fn username(i: usize) -> String {
    match i {
        0 => "ann lee".to_string(),
        1 => "ops:oncall".to_string(),
        2 => "quote\"d".to_string(),
        3 => "zoë".to_string(),
        _ => format!("user-{i:03}"),
    }
}

/// A pool of a few hundred users with varied statuses and attributes, and groups of which two
/// take several pages to list.
fn seed_pool(emulator: &Emulator, name: &str) -> Pool {
    let users: Vec<Value> = (0..USERS)
        .map(|i| {
            json!({
                "username": username(i),
                "enabled": i % 20 != 7,
                "status": if i % 13 == 5 { "UNCONFIRMED" } else { "CONFIRMED" },
                "attributes": {
                    "email": format!("u{i}@example.com"),
                    "given_name": format!("Given{i}"),
                    "custom:team": format!("t{}", i % 4),
                },
            })
        })
        .collect();
    let groups: Vec<Value> = GROUPS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            json!({"name": name, "description": format!("group {i}"), "precedence": i})
        })
        .collect();
    let memberships: Vec<Value> = GROUPS
        .iter()
        .enumerate()
        .flat_map(|(g, (name, members))| {
            // Spread each group over the pool so that groups overlap differently.
            (0..*members).map(move |m| json!([name, username((m * (g + 1) * 7 + g) % USERS)]))
        })
        .collect();
    emulator.create_pool(json!({
        "name": unique(name),
        "users": users,
        "groups": groups,
        "memberships": memberships,
    }))
}

fn expected_grants() -> usize {
    GROUPS.iter().map(|(_, n)| n).sum()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Label → count from the summary's first table (`resources: user  300`, `grants  219`, ...).
fn summary_counts(stdout: &str) -> BTreeMap<String, u64> {
    stdout
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let (label, count) = line.trim_end().rsplit_once(char::is_whitespace)?;
            Some((label.trim().to_string(), count.parse().ok()?))
        })
        .collect()
}

/// The connector's JSON log lines.
fn log_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.is_object())
        .collect()
}

/// The binary's final `error: ...` line on stderr (empty if none).
fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default()
        .to_string()
}

/// Where a pool's syncs write, with a clean run to compare against.
struct Fixture {
    pool: Pool,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    clean: C1zContents,
    clean_counts: BTreeMap<String, u64>,
    clean_bytes: Vec<u8>,
}

impl Fixture {
    fn new(emulator: &Emulator, name: &str) -> Fixture {
        let pool = seed_pool(emulator, name);
        let env = pool_env(emulator, &pool);
        let dir = tempfile::tempdir().unwrap();
        let mut fixture = Fixture {
            pool,
            env,
            dir,
            clean: C1zContents::default(),
            clean_counts: BTreeMap::new(),
            clean_bytes: Vec::new(),
        };
        let first = fixture.run(emulator, "clean", json!([]), None);
        assert_eq!(
            first.code,
            Some(0),
            "the clean run failed: {}",
            first.stderr
        );
        let clean = c1z_contents(&first.file);
        assert_eq!(
            clean.resources.len(),
            USERS + GROUPS.len(),
            "the clean run holds the seeded pool"
        );
        assert_eq!(clean.entitlements.len(), GROUPS.len());
        assert_eq!(clean.grants.len(), expected_grants());
        // Two clean runs agree record for record: the comparison is meaningful.
        let second = fixture.run(emulator, "clean again", json!([]), None);
        assert_eq!(second.code, Some(0), "{}", second.stderr);
        assert_eq!(c1z_contents(&second.file), clean, "two clean runs differ");
        assert_eq!(
            summary_counts(&second.stdout),
            summary_counts(&first.stdout)
        );
        fixture.clean_counts = summary_counts(&first.stdout);
        assert_eq!(
            fixture.clean_counts.get("grants"),
            Some(&(expected_grants() as u64)),
            "{}",
            first.stdout
        );
        fixture.clean_bytes = std::fs::read(&first.file).unwrap();
        fixture.clean = clean;
        fixture
    }

    /// A fresh directory holding a copy of the clean file as `sync.c1z`.
    fn previous_file(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("sync.c1z");
        std::fs::write(&file, &self.clean_bytes).unwrap();
        file
    }

    /// Injects `rules` (scoped to the pool), runs one sync into `file` (a fresh directory when
    /// `None`), and gathers what the emulator saw of it. Rules left over are removed.
    fn run(&self, emulator: &Emulator, name: &str, rules: Value, file: Option<PathBuf>) -> Run {
        let file = file.unwrap_or_else(|| {
            let dir = self.dir.path().join(format!("run-{}", unique("r")));
            std::fs::create_dir(&dir).unwrap();
            dir.join("sync.c1z")
        });
        let injected = Injected::new(emulator, &self.pool, &rules);
        let out = base_command(&self.env)
            .args(["-f", file.to_str().unwrap(), "--api-budget", "1"])
            .stdin(Stdio::null())
            .output()
            .expect("run baton-cognito");
        injected.finish(emulator, &self.pool, name, out, file)
    }
}

/// Each rule with the pool's id, so that tests sharing the emulator never see each other's.
fn scoped(rules: &Value, pool: &Pool) -> Value {
    Value::Array(
        rules
            .as_array()
            .expect("rules are a JSON array")
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["pool_id"] = json!(pool.id);
                r
            })
            .collect(),
    )
}

/// Removes the pool's remaining fault rules; those rules.
fn clear_faults(emulator: &Emulator, pool: &Pool) -> Vec<Value> {
    let mine = |v: Value| -> Vec<Value> {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["pool_id"] == json!(pool.id))
            .cloned()
            .collect()
    };
    let left = mine(emulator.control("GET", "/_emulator/faults", None));
    let after = emulator.clear_faults(pool);
    assert!(mine(after).is_empty(), "the pool's rules are gone");
    left
}

/// One sync and what the emulator and the logs tell of it.
struct Run {
    name: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    file: PathBuf,
    secs: f64,
    /// The rules injected, and those left unused.
    rules: Value,
    left: Vec<Value>,
    /// AWS calls the emulator received for the pool during the run, per operation.
    calls: BTreeMap<String, u64>,
    /// The pool's requests logged during the run.
    requests: Vec<Value>,
    /// "retrying Cognito call" warnings, per operation.
    retries: BTreeMap<String, u64>,
}

/// Fault rules injected for a run, and where the emulator's counters stood before it.
struct Injected {
    rules: Value,
    before: BTreeMap<String, u64>,
    t0: f64,
    started: Instant,
}

impl Injected {
    /// Injects `rules`, each scoped to the pool.
    fn new(emulator: &Emulator, pool: &Pool, rules: &Value) -> Injected {
        let rules = scoped(rules, pool);
        let before = emulator.pool_calls(pool);
        let t0 = now();
        if !rules.as_array().unwrap().is_empty() {
            emulator.inject(rules.clone());
        }
        Injected {
            rules,
            before,
            t0,
            started: Instant::now(),
        }
    }

    /// After the sync ended: removes the rules left over and gathers what the emulator and the
    /// logs tell of the run.
    fn finish(
        self,
        emulator: &Emulator,
        pool: &Pool,
        name: &str,
        out: Output,
        file: PathBuf,
    ) -> Run {
        let secs = self.started.elapsed().as_secs_f64();
        let left = clear_faults(emulator, pool);
        let Injected {
            rules, before, t0, ..
        } = self;
        let calls = emulator.pool_calls_since(pool, &before);
        // Requests are logged as they end: calls a failed sync left in flight (held up by a
        // delay rule) come in a little later.
        let total: u64 = calls.values().sum();
        let deadline = Instant::now() + Duration::from_secs(5);
        let requests = loop {
            let requests: Vec<Value> =
                emulator.control("GET", "/_emulator/requests", None)["requests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["pool_id"] == json!(pool.id) && r["t"].as_f64().unwrap() >= t0)
                    .cloned()
                    .collect();
            if requests.len() as u64 >= total || Instant::now() > deadline {
                break requests;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let mut retries = BTreeMap::new();
        for line in log_lines(&stderr) {
            if line["message"] == "retrying Cognito call" {
                let op = line["operation"].as_str().unwrap_or("?").to_string();
                *retries.entry(op).or_insert(0) += 1;
            }
        }
        Run {
            name: name.to_string(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr,
            file,
            secs,
            rules,
            left,
            calls,
            requests,
            retries,
        }
    }
}

impl Run {
    /// Faults the emulator served during the run, per kind (`throttle`, `delay`, ...).
    fn served(&self) -> BTreeMap<String, u64> {
        let mut served = BTreeMap::new();
        for r in &self.requests {
            if let Some(kind) = r["fault"].as_str() {
                *served.entry(kind.to_string()).or_insert(0) += 1;
            }
        }
        served
    }

    /// Faults of a kind served to an operation.
    fn served_to(&self, op: &str, kind: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r["operation"] == op && r["fault"] == kind)
            .count() as u64
    }

    /// What the injected rules add up to, per kind (the faults a run must be served when all
    /// its rules are used up).
    fn injected(&self) -> BTreeMap<String, u64> {
        let mut injected = BTreeMap::new();
        for rule in self.rules.as_array().unwrap() {
            let count = rule["count"].as_i64().unwrap_or(1);
            assert!(count > 0, "only finite rules add up");
            *injected
                .entry(rule["kind"].as_str().unwrap().to_string())
                .or_insert(0) += count as u64;
        }
        injected
    }

    /// Requests of an operation that carried no page token: the starts of its listing chains.
    fn first_pages(&self, op: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r["operation"] == op && r["token"] != json!(true))
            .count() as u64
    }

    fn total_retries(&self) -> u64 {
        self.retries.values().sum()
    }
}

fn abbreviate(op: &str) -> &str {
    match op {
        "DescribeUserPool" => "Desc",
        "ListUsers" => "LU",
        "ListGroups" => "LG",
        "ListUsersInGroup" => "LUiG",
        other => other,
    }
}

fn compact(map: &BTreeMap<String, u64>, short: bool) -> String {
    if map.is_empty() {
        return "-".to_string();
    }
    map.iter()
        .map(|(k, v)| {
            let k = if short { abbreviate(k) } else { k };
            format!("{k} {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One table row.
fn row(run: &Run, expect: &str, verdict: &str) -> [String; 7] {
    let outcome = match run.code {
        Some(0) => "exit 0".to_string(),
        Some(code) => {
            let err = error_line(&run.stderr);
            let err = err.trim_start_matches("error: ");
            let short: String = err.chars().take(90).collect();
            format!(
                "exit {code}: {short}{}",
                if err.len() > 90 { "…" } else { "" }
            )
        }
        None => "killed".to_string(),
    };
    [
        run.name.clone(),
        expect.to_string(),
        if verdict.is_empty() {
            outcome
        } else {
            format!("{verdict} {outcome}")
        },
        compact(&run.served(), false),
        format!(
            "{} ({})",
            run.calls.values().sum::<u64>(),
            compact(&run.calls, true)
        ),
        run.total_retries().to_string(),
        format!("{:.1}s", run.secs),
    ]
}

fn print_table(title: &str, rows: &[[String; 7]]) {
    let header = [
        "fault mix",
        "expected",
        "outcome",
        "faults served",
        "calls (by op)",
        "retries",
        "time",
    ];
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (cell, w) in cells.iter().zip(widths) {
            let pad = w - cell.chars().count();
            let _ = write!(s, " {cell}{} |", " ".repeat(pad));
        }
        s
    };
    let mut out = format!("\n{title}\n");
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    println!("{out}");
}

/// The differences between a clean run and another, record by record (empty: identical).
fn differences(clean: &C1zContents, other: &C1zContents) -> Vec<String> {
    fn diff<T: PartialEq + std::fmt::Debug>(
        what: &str,
        a: &BTreeMap<String, T>,
        b: &BTreeMap<String, T>,
        out: &mut Vec<String>,
    ) {
        for (id, x) in a {
            match b.get(id) {
                None => out.push(format!("{what} {id:?} missing")),
                Some(y) if x != y => out.push(format!(
                    "{what} {id:?} differs:\n  clean: {x:?}\n  this:  {y:?}"
                )),
                Some(_) => {}
            }
        }
        for id in b.keys().filter(|id| !a.contains_key(*id)) {
            out.push(format!("{what} {id:?} extra"));
        }
    }
    let mut out = Vec::new();
    diff(
        "resource type",
        &clean.resource_types,
        &other.resource_types,
        &mut out,
    );
    diff("resource", &clean.resources, &other.resources, &mut out);
    diff(
        "entitlement",
        &clean.entitlements,
        &other.entitlements,
        &mut out,
    );
    diff("grant", &clean.grants, &other.grants, &mut out);
    out
}

/// The faults a successful run must have been served, and how it must have ended: exit 0, the
/// clean run's records and counts, one retry per transient fault, every rule used up.
fn check_identical(fixture: &Fixture, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if run.code != Some(0) {
        problems.push(format!("exit {:?}: {}", run.code, error_line(&run.stderr)));
        return problems;
    }
    let diffs = differences(&fixture.clean, &c1z_contents(&run.file));
    if !diffs.is_empty() {
        problems.push(format!(
            "{} differences from the clean run, first: {}",
            diffs.len(),
            diffs.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        ));
    }
    let counts = summary_counts(&run.stdout);
    if counts != fixture.clean_counts {
        problems.push(format!(
            "summary counts {counts:?} differ from the clean run's {:?}",
            fixture.clean_counts
        ));
    }
    let dir = run.file.parent().unwrap();
    if dir_entries(dir) != BTreeSet::from(["sync.c1z".to_string()]) {
        problems.push(format!("files left: {:?}", dir_entries(dir)));
    }
    if !run.left.is_empty() {
        problems.push(format!("rules not (fully) served: {:?}", run.left));
    }
    if run.served() != run.injected() {
        problems.push(format!(
            "served {:?}, injected {:?}",
            run.served(),
            run.injected()
        ));
    }
    // Each transient fault costs exactly one retry of its call: no call gave up, none was
    // retried without cause.
    let transient: u64 = ["throttle", "internal", "unavailable", "reset"]
        .iter()
        .map(|k| run.served().get(*k).copied().unwrap_or(0))
        .sum();
    if run.total_retries() != transient {
        problems.push(format!(
            "{} retries for {transient} transient faults: {:?}",
            run.total_retries(),
            run.retries
        ));
    }
    problems
}

/// How a failed run must have ended: exit 1 with a message naming the operation and the cause,
/// the previous file byte-identical, nothing else in the directory.
fn check_failed(fixture: &Fixture, run: &Run, op: &str, causes: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let err = error_line(&run.stderr);
    if run.code != Some(1) {
        problems.push(format!("exit {:?} (want 1): {err}", run.code));
    }
    if !err.contains(op) {
        problems.push(format!("the error does not name {op}: {err:?}"));
    }
    for cause in causes {
        if !err.to_lowercase().contains(&cause.to_lowercase()) {
            problems.push(format!("the error does not say {cause:?}: {err:?}"));
        }
    }
    if err.contains("panicked") || run.stderr.contains("panicked") {
        problems.push("a panic".to_string());
    }
    match std::fs::read(&run.file) {
        Ok(bytes) if bytes == fixture.clean_bytes => {}
        Ok(_) => problems.push("the previous file changed".to_string()),
        Err(e) => problems.push(format!("the previous file is gone: {e}")),
    }
    let dir = run.file.parent().unwrap();
    if dir_entries(dir) != BTreeSet::from(["sync.c1z".to_string()]) {
        problems.push(format!("files left: {:?}", dir_entries(dir)));
    }
    if !run.stdout.is_empty() {
        problems.push(format!("a summary was printed: {}", run.stdout));
    }
    problems
}

/// Fails with every mix's problems at once, after the table is printed.
fn assert_no_problems(failures: &[(String, Vec<String>)]) {
    let failed: Vec<String> = failures
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(name, p)| format!("{name}:\n  - {}", p.join("\n  - ")))
        .collect();
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

fn throttle(op: &str, count: i64, skip: i64) -> Value {
    json!({"operation": op, "kind": "throttle", "count": count, "skip": skip})
}
fn internal(op: &str, count: i64, skip: i64) -> Value {
    json!({"operation": op, "kind": "internal", "count": count, "skip": skip})
}
fn unavailable(op: &str, count: i64, skip: i64) -> Value {
    json!({"operation": op, "kind": "unavailable", "count": count, "skip": skip})
}
fn reset(op: &str, count: i64, skip: i64) -> Value {
    json!({"operation": op, "kind": "reset", "count": count, "skip": skip})
}
fn delay(op: &str, ms: u64, count: i64) -> Value {
    json!({"operation": op, "kind": "delay", "delay_ms": ms, "count": count})
}
/// A continuation request's page token gone stale, as real Cognito answers it.
fn stale_token(op: &str, count: i64, skip: i64) -> Value {
    json!({"operation": op, "kind": "error", "status": 400, "continuation": true,
           "error_type": "InvalidParameterException", "count": count, "skip": skip,
           "message": "Paging marker 0a1b2c3d is invalid for request 6f1c2b8e-3d4a-4b5c-9e7f-0123456789ab"})
}

const DESC: &str = "DescribeUserPool";
const LU: &str = "ListUsers";
const LG: &str = "ListGroups";
const LUIG: &str = "ListUsersInGroup";

/// Item 1: bursts of every transient fault on every operation the sync uses, each mix within
/// the retry budget (at most 5 failed attempts per operation, so no call can make 6): the file
/// holds exactly what a clean run's holds.
#[test]
fn transient_faults_within_the_retry_budget_leave_the_output_identical_to_a_clean_run() {
    let emulator = Emulator::shared();
    let fixture = Fixture::new(emulator, "transient");
    let mixes: Vec<(&str, Value)> = vec![
        (
            "throttle bursts (TooManyRequestsException)",
            json!([
                throttle(DESC, 2, 0),
                throttle(LU, 3, 2),
                throttle(LG, 2, 0),
                throttle(LUIG, 5, 2)
            ]),
        ),
        (
            "HTTP 500 InternalErrorException",
            json!([
                internal(DESC, 1, 0),
                internal(LU, 2, 1),
                internal(LG, 1, 0),
                internal(LUIG, 4, 3)
            ]),
        ),
        (
            "HTTP 503 (text body)",
            json!([
                unavailable(DESC, 1, 0),
                unavailable(LU, 2, 3),
                unavailable(LG, 2, 0),
                unavailable(LUIG, 3, 5)
            ]),
        ),
        (
            "connection resets",
            json!([
                reset(DESC, 1, 0),
                reset(LU, 2, 1),
                reset(LG, 1, 0),
                reset(LUIG, 4, 2)
            ]),
        ),
        (
            // DescribeUserPool's slow round trip makes the user listing latency-bound: it is
            // planned as 16 `sub` slices, a different listing with the same result.
            "slow calls (0.3-2 s)",
            json!([
                delay(DESC, 1200, 1),
                delay(LU, 300, 4),
                delay(LG, 2000, 1),
                delay(LUIG, 800, 6)
            ]),
        ),
        (
            "all transient kinds at once",
            json!([
                throttle(DESC, 1, 0),
                unavailable(DESC, 1, 0),
                delay(DESC, 300, 1),
                throttle(LU, 1, 1),
                reset(LU, 1, 2),
                internal(LU, 1, 3),
                delay(LU, 500, 2),
                unavailable(LG, 1, 0),
                throttle(LG, 1, 0),
                delay(LG, 700, 1),
                throttle(LUIG, 2, 1),
                internal(LUIG, 1, 3),
                unavailable(LUIG, 1, 5),
                reset(LUIG, 1, 6),
                delay(LUIG, 400, 4)
            ]),
        ),
    ];
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, rules) in mixes {
        let run = fixture.run(emulator, name, rules, None);
        let problems = check_identical(&fixture, &run);
        rows.push(row(
            &run,
            "identical",
            if problems.is_empty() { "OK" } else { "FAIL" },
        ));
        failures.push((name.to_string(), problems));
    }
    print_table(
        "Transient faults within the retry budget (6 attempts) -> output identical to a clean run",
        &rows,
    );
    assert_no_problems(&failures);
}

/// Item 1: a fault that outlasts the retry budget fails the sync with the operation and the
/// cause, after exactly the budget's 6 attempts, and keeps the previous file.
#[test]
fn faults_outlasting_the_retry_budget_fail_the_sync_and_keep_the_previous_file() {
    let emulator = Emulator::shared();
    let fixture = Fixture::new(emulator, "outlast");
    // (mix, rules, operation that gives up, fault kind it gives up on, words of the cause)
    let mixes: Vec<(&str, Value, &str, &str, Vec<&str>)> = vec![
        (
            "throttled forever: ListUsersInGroup",
            json!([throttle(LUIG, -1, 0)]),
            LUIG,
            "throttle",
            vec!["throttled", "after 6 attempts"],
        ),
        (
            "connection reset forever: ListUsers",
            json!([reset(LU, -1, 0)]),
            LU,
            "reset",
            vec!["unavailable after 6 attempts"],
        ),
        (
            "HTTP 500 forever: ListGroups",
            json!([internal(LG, -1, 0)]),
            LG,
            "internal",
            vec!["InternalErrorException", "after 6 attempts"],
        ),
        (
            "HTTP 503 forever: DescribeUserPool",
            json!([unavailable(DESC, -1, 0)]),
            DESC,
            "unavailable",
            vec!["503", "after 6 attempts"],
        ),
        (
            "transient mix + 500 forever on ListUsers page 3",
            json!([throttle(LUIG, 3, 0), delay(LG, 500, 1), internal(LU, -1, 2)]),
            LU,
            "internal",
            vec!["InternalErrorException", "after 6 attempts"],
        ),
    ];
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, rules, op, kind, causes) in mixes {
        let file = fixture.previous_file(&unique("outlast"));
        let run = fixture.run(emulator, name, rules, Some(file));
        let mut problems = check_failed(&fixture, &run, op, &causes);
        // The call that gave up made the whole budget of attempts, each one served the fault.
        if run.served_to(op, kind) < 6 {
            problems.push(format!(
                "only {} {kind} faults served to {op}",
                run.served_to(op, kind)
            ));
        }
        if run.retries.get(op).copied().unwrap_or(0) < 5 {
            problems.push(format!(
                "{op} retried fewer than 5 times: {:?}",
                run.retries
            ));
        }
        rows.push(row(
            &run,
            "exit 1, file kept",
            if problems.is_empty() { "OK" } else { "FAIL" },
        ));
        failures.push((name.to_string(), problems));
    }
    print_table(
        "Faults outlasting the retry budget -> exit 1, previous file byte-identical, no temporary files",
        &rows,
    );
    assert_no_problems(&failures);
}

/// Items 1 and 3: a page token that went stale mid-listing (Cognito: 400
/// InvalidParameterException "Paging marker ... is invalid") restarts that listing from its
/// first page, with a warning, and the output is identical to a clean run; a token stale on
/// every restart fails the sync after 3 restarts (4 first pages), keeping the previous file.
#[test]
fn stale_page_tokens_restart_the_listing_and_fail_after_three_restarts() {
    let emulator = Emulator::shared();
    let fixture = Fixture::new(emulator, "stale");
    let mut rows = Vec::new();
    let mut failures = Vec::new();

    // (mix, rules, first pages an operation must see: one more than a clean run per restart)
    type Mix<'a> = (&'a str, Value, Vec<(&'a str, u64)>);
    let succeeding: Vec<Mix> = vec![
        (
            "stale page token once: ListUsers page 3",
            json!([stale_token(LU, 1, 1)]),
            vec![(LU, 2)],
        ),
        (
            "stale page token once: ListUsersInGroup",
            json!([stale_token(LUIG, 1, 0)]),
            vec![(LUIG, GROUPS.len() as u64 + 1)],
        ),
        (
            "everything at once, stale tokens included",
            json!([
                throttle(DESC, 1, 0),
                unavailable(DESC, 1, 0),
                stale_token(LU, 1, 0),
                throttle(LU, 1, 1),
                reset(LU, 1, 2),
                delay(LU, 400, 2),
                internal(LG, 1, 0),
                delay(LG, 600, 1),
                stale_token(LUIG, 1, 1),
                throttle(LUIG, 2, 1),
                unavailable(LUIG, 1, 3),
                reset(LUIG, 1, 4),
                delay(LUIG, 300, 3)
            ]),
            vec![],
        ),
    ];
    for (name, rules, first_pages) in succeeding {
        let run = fixture.run(emulator, name, rules, None);
        let mut problems = check_identical(&fixture, &run);
        // The listing started over: one more first page than a clean run makes.
        for (op, want) in first_pages {
            if run.first_pages(op) != want {
                problems.push(format!(
                    "{op}: {} first pages, want {want} (one restart)",
                    run.first_pages(op)
                ));
            }
        }
        // One warning per restart, besides the retries' (whatever its wording).
        let stale = run.served().get("error").copied().unwrap_or(0);
        if run.code == Some(0) && connector_warnings(&run).len() as u64 != stale {
            problems.push(format!(
                "{stale} restarts but these warnings: {:?}",
                connector_warnings(&run)
            ));
        }
        rows.push(row(
            &run,
            "identical",
            if problems.is_empty() { "OK" } else { "FAIL" },
        ));
        failures.push((name.to_string(), problems));
    }

    let failing: Vec<(&str, Value, &str)> = vec![
        (
            "stale page token every time: ListUsers",
            json!([stale_token(LU, -1, 0)]),
            LU,
        ),
        (
            "stale page token every time: ListUsersInGroup",
            json!([stale_token(LUIG, -1, 0)]),
            LUIG,
        ),
    ];
    for (name, rules, op) in failing {
        let file = fixture.previous_file(&unique("stale"));
        let run = fixture.run(emulator, name, rules, Some(file));
        let mut problems = check_failed(&fixture, &run, op, &[]);
        let err = error_line(&run.stderr);
        if !err.contains("Paging marker") && !err.to_lowercase().contains("token") {
            problems.push(format!("the error does not name the stale token: {err:?}"));
        }
        // The chain that failed started 4 times: the first try and 3 restarts; none more.
        let mut starts: BTreeMap<String, u64> = BTreeMap::new();
        for r in run.requests.iter().filter(|r| r["operation"] == op) {
            if r["token"] != json!(true) {
                let chain = r["group"].as_str().unwrap_or("").to_string();
                *starts.entry(chain).or_insert(0) += 1;
            }
        }
        let most = starts.values().copied().max().unwrap_or(0);
        if most != 4 {
            problems.push(format!(
                "the failing {op} chain started {most} times, want 4 (3 restarts): {starts:?}"
            ));
        }
        if run.served_to(op, "error") < 4 {
            problems.push(format!(
                "{} stale tokens served, want >= 4",
                run.served_to(op, "error")
            ));
        }
        rows.push(row(
            &run,
            "exit 1 after 3 restarts",
            if problems.is_empty() { "OK" } else { "FAIL" },
        ));
        failures.push((name.to_string(), problems));
    }
    print_table(
        "Stale page tokens (400 InvalidParameterException on a continuation request)",
        &rows,
    );
    assert_no_problems(&failures);
}

/// Item 2: where a partial picture would read as revoked access downstream, the sync fails
/// loudly and writes nothing: refused or expired credentials (also on a later page), access
/// denied on a membership listing mid-sync, a missing pool. None of them is retried.
#[test]
fn refused_credentials_denied_access_and_a_missing_pool_fail_loudly_and_keep_the_previous_file() {
    let emulator = Emulator::shared();
    let fixture = Fixture::new(emulator, "loud");
    let expired = json!({"operation": LU, "kind": "error", "status": 400, "count": -1, "skip": 2,
        "error_type": "ExpiredTokenException",
        "message": "The security token included in the request is expired"});
    // (mix, rules, operation, words of the cause, calls the operation may receive)
    let cases: Vec<(&str, Value, &str, Vec<&str>, u64)> = vec![
        (
            "credentials refused (NotAuthorizedException)",
            json!([{"operation": DESC, "kind": "not_authorized", "count": -1}]),
            DESC,
            vec!["credentials", "NotAuthorizedException"],
            1,
        ),
        (
            "credentials expire on ListUsers page 3 (ExpiredTokenException)",
            json!([expired]),
            LU,
            vec!["credentials", "ExpiredTokenException", "expired"],
            3,
        ),
        (
            "access denied on ListUsersInGroup mid-sync",
            json!([{"operation": LUIG, "kind": "access_denied", "count": -1, "skip": 3}]),
            LUIG,
            vec![
                "access denied",
                "AccessDeniedException",
                "not authorized to perform",
            ],
            // 3 answered, then the denied one; calls already in flight may be denied too,
            // but none is retried (checked below).
            u64::MAX,
        ),
    ];
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, rules, op, causes, max_calls) in cases {
        let file = fixture.previous_file(&unique("loud"));
        let run = fixture.run(emulator, name, rules, Some(file));
        let mut problems = check_failed(&fixture, &run, op, &causes);
        let served = run.served();
        if served.values().sum::<u64>() == 0 {
            problems.push("no fault was served".to_string());
        }
        if run.total_retries() != 0 {
            problems.push(format!("retried: {:?}", run.retries));
        }
        let calls = run.calls.get(op).copied().unwrap_or(0);
        if max_calls != u64::MAX && calls != max_calls {
            problems.push(format!("{calls} {op} calls, want exactly {max_calls}"));
        }
        rows.push(row(
            &run,
            "exit 1, file kept",
            if problems.is_empty() { "OK" } else { "FAIL" },
        ));
        failures.push((name.to_string(), problems));
    }

    // A pool that does not exist: one DescribeUserPool, then exit 1.
    let missing_pool = Pool {
        id: "us-east-1_NoSuchPool7".to_string(),
        arn: String::new(),
    };
    let missing = Fixture {
        pool: missing_pool.clone(),
        env: pool_env(emulator, &missing_pool),
        dir: tempfile::tempdir().unwrap(),
        clean: C1zContents::default(),
        clean_counts: BTreeMap::new(),
        clean_bytes: fixture.clean_bytes.clone(),
    };
    let file = missing.previous_file("missing");
    let run = missing.run(
        emulator,
        "missing pool (ResourceNotFoundException)",
        json!([]),
        Some(file),
    );
    let mut problems = check_failed(&missing, &run, &missing_pool.id, &["does not exist", DESC]);
    if run.calls != BTreeMap::from([(DESC.to_string(), 1)]) || run.total_retries() != 0 {
        problems.push(format!(
            "calls {:?}, retries {:?}: want one DescribeUserPool",
            run.calls, run.retries
        ));
    }
    rows.push(row(
        &run,
        "exit 1, file kept",
        if problems.is_empty() { "OK" } else { "FAIL" },
    ));
    failures.push((run.name.clone(), problems));

    print_table(
        "Failing loudly where a partial picture would lie -> exit 1, previous file byte-identical",
        &rows,
    );
    assert_no_problems(&failures);
}

/// Escapes a name for a control API path.
fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Starts a sync with `rules` injected, waits until the emulator has received `calls` more
/// requests of `op` for the pool (the last of them held up by a delay rule), deletes `delete`
/// through the control API meanwhile, and waits for the sync to end.
fn race(
    emulator: &Emulator,
    fixture: &Fixture,
    name: &str,
    file: &Path,
    rules: Value,
    (op, calls): (&str, u64),
    delete: &[String],
) -> Run {
    let injected = Injected::new(emulator, &fixture.pool, &rules);
    let mut child = base_command(&fixture.env)
        .args(["-f", file.to_str().unwrap(), "--api-budget", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let target = injected.before.get(op).copied().unwrap_or(0) + calls;
    let deadline = Instant::now() + Duration::from_secs(30);
    while emulator
        .pool_calls(&fixture.pool)
        .get(op)
        .copied()
        .unwrap_or(0)
        < target
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{name}: the sync ended ({status}) before {calls} {op} calls");
        }
        assert!(Instant::now() < deadline, "{name}: no {op} call in 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    for path in delete {
        emulator.control("DELETE", path, None);
    }
    let out = child.wait_with_output().unwrap();
    injected.finish(emulator, &fixture.pool, name, out, file.to_path_buf())
}

/// The raw log lines at WARN level from the connector itself (not the AWS SDK's).
fn connector_warnings(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["level"] == "WARN"
                    && v["target"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("baton_cognito"))
                    && v["message"] != "retrying Cognito call"
            })
        })
        .map(str::to_string)
        .collect()
}

/// Items 2 and 3 with real deletions racing the listings, one after the other on one pool:
///
/// 1. A user deleted while the next ListUsers page is in flight: the page token names that
///    user, so Cognito (moto) refuses it with its own InvalidToken: the user listing starts over
///    and the file is the clean run's without that user. A user of the first page, stored
///    before the restart, is deleted at the same time: the restarted listing does not find it
///    again, and it goes from the file with its memberships.
/// 2. A group deleted while its member listing is in flight (after the group itself was
///    listed): a warning naming the group, counted in the summary, its grants skipped,
///    everything else as before, exit 0.
/// 3. The whole pool deleted while member listings are in flight: exit 1, the file kept.
///
/// (`a_vanished_group_is_a_warning_but_a_vanished_pool_fails_the_sync` in sync_file.rs covers
/// an injected ResourceNotFound; these race real deletions with the listings.)
#[test]
fn deletions_racing_the_listings_restart_warn_or_fail_as_they_should() {
    let emulator = Emulator::shared();
    let fixture = Fixture::new(emulator, "race");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let only_the_file = BTreeSet::from(["sync.c1z".to_string()]);
    let pool_path = format!("/_emulator/pools/{}", fixture.pool.id);

    // 1. The second page of users starts with user 60 (moto's token names the next page's
    // first user), who is in no group; the first continuation waits 1.5 s in the emulator.
    let anchor = username(60);
    assert!(
        !fixture
            .clean
            .grants
            .keys()
            .any(|g| g.ends_with(&format!(":user:{anchor}"))),
        "{anchor} is in no group"
    );
    // With it goes a member of a group from the first page, stored before the listing
    // started over.
    let early = (0..60)
        .map(username)
        .find(|name| {
            let held = format!(":user:{name}");
            fixture.clean.grants.keys().any(|g| g.ends_with(&held))
        })
        .expect("a group member on the first page");
    let mut slow_page = delay(LU, 1500, 1);
    slow_page["continuation"] = json!(true);
    let user_race = race(
        emulator,
        &fixture,
        "users deleted while the next ListUsers page is in flight",
        &file,
        json!([slow_page]),
        (LU, 2),
        &[&anchor, &early].map(|name| format!("{pool_path}/users/{}", path_segment(name))),
    );
    let after_user_race = (user_race.code == Some(0)).then(|| c1z_contents(&file));

    // 2. Every group's first member page waits 1.5 s in the emulator (all groups' listings run
    // at once), so the deletion lands while the victim's call is in flight.
    let victim = "team: red/blue";
    let slow = json!([delay(LUIG, 1500, GROUPS.len() as i64)]);
    let group_race = race(
        emulator,
        &fixture,
        "group deleted while its members are listed",
        &file,
        slow.clone(),
        (LUIG, 1),
        &[format!("{pool_path}/groups/{}", path_segment(victim))],
    );
    let after_group_race = std::fs::read(&file).ok();

    // 3. The whole pool goes while member listings are in flight.
    let pool_race = race(
        emulator,
        &fixture,
        "pool deleted while members are listed",
        &file,
        slow,
        (LUIG, 1),
        std::slice::from_ref(&pool_path),
    );
    print_table(
        "Deletions racing the listings (control API deletes while a call is held up)",
        &[
            row(&user_race, "exit 0, listing restarted", ""),
            row(&group_race, "exit 0, 1 warning", ""),
            row(&pool_race, "exit 1, file kept", ""),
        ],
    );

    // 1: moto itself refused the delayed continuation, the user listing started over once, a
    // warning said so, and the file is the clean run's without the deleted user.
    let run = &user_race;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let refused: Vec<&Value> = run
        .requests
        .iter()
        .filter(|r| r["operation"] == LU && r["status"] == 400)
        .collect();
    assert!(
        refused.len() == 1 && refused[0]["fault"] == "delay" && refused[0]["token"] == true,
        "moto itself refused the delayed continuation: {refused:?}"
    );
    assert_eq!(run.first_pages(LU), 2, "the user listing started over once");
    assert!(
        connector_warnings(run)
            .iter()
            .any(|w| w.contains("first page") && w.contains(LU)),
        "a warning tells of the restart: {}",
        run.stderr
    );
    let mut expected = C1zContents {
        resource_types: fixture.clean.resource_types.clone(),
        resources: fixture.clean.resources.clone(),
        entitlements: fixture.clean.entitlements.clone(),
        grants: fixture.clean.grants.clone(),
    };
    // Neither user is in the file: the one the first pass stored is removed with its
    // memberships once the second pass ends without it.
    for name in [&anchor, &early] {
        assert!(expected.resources.remove(&format!("user:{name}")).is_some());
    }
    let held = format!(":user:{early}");
    let grants_before = expected.grants.len();
    expected.grants.retain(|id, _| !id.ends_with(&held));
    assert!(expected.grants.len() < grants_before);
    let diffs = differences(&expected, after_user_race.as_ref().unwrap());
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let counts = summary_counts(&run.stdout);
    assert_eq!(counts.get("resources: user"), Some(&(USERS as u64 - 2)));
    assert_eq!(counts.get("warnings"), Some(&0), "{}", run.stdout);

    // 2: the victim's listing was in flight (delayed) when the group went, and Cognito said
    // so; one warning names the group and what was skipped, the summary counts it, and the
    // file holds what it held before without the victim's grants (the group and its
    // entitlement stay: the group was listed before it went).
    let run = &group_race;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let victim_calls: Vec<&Value> = run
        .requests
        .iter()
        .filter(|r| r["operation"] == LUIG && r["group"] == victim)
        .collect();
    assert_eq!(victim_calls.len(), 1, "{victim_calls:?}");
    assert_eq!(
        victim_calls[0]["fault"], "delay",
        "the call raced the deletion"
    );
    assert_eq!(victim_calls[0]["status"], 400, "{:?}", victim_calls[0]);
    assert_eq!(run.served().get("delay"), Some(&(GROUPS.len() as u64)));
    let warnings = connector_warnings(run);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(victim) && warnings[0].contains("grants are skipped"),
        "{}",
        warnings[0]
    );
    let counts = summary_counts(&run.stdout);
    assert_eq!(counts.get("warnings"), Some(&1), "{}", run.stdout);
    let prefix = format!("group:{victim}:member:");
    let grants_before = expected.grants.len();
    expected.grants.retain(|id, _| !id.starts_with(&prefix));
    let victim_grants = GROUPS.iter().find(|(g, _)| *g == victim).unwrap().1;
    assert_eq!(expected.grants.len(), grants_before - victim_grants);
    assert_eq!(
        counts.get("grants"),
        Some(&(expected.grants.len() as u64)),
        "{}",
        run.stdout
    );
    let diffs = differences(&expected, &c1z_contents(&file));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    // 3: the sync fails naming the missing pool, and the file from run 2 stays as it was.
    let run = &pool_race;
    let err = error_line(&run.stderr);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        err.contains("does not exist") && err.contains(&fixture.pool.id),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).ok(),
        after_group_race,
        "the file is kept"
    );
    assert_eq!(dir_entries(dir.path()), only_the_file);
    assert!(
        run.calls.get(LUIG).copied().unwrap_or(0) >= 1,
        "member listings were under way when the pool went"
    );
}

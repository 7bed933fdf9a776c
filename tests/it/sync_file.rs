//! The one-shot sync: the binary reads a pool from the emulator and writes a `.c1z`; the file is
//! read back with the inspect commands, the library reader and tools outside this project.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use baton_cognito::c1z::C1zReader;
use serde_json::{Value, json};
use test_case::test_case;

/// A pool with odd names, statuses, attributes, an empty group and one with >60 members.
fn seed(emulator: &Emulator) -> (Pool, BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let mut users: Vec<Value> = (0..150)
        .map(|i| {
            json!({"username": format!("user-{i:03}"), "enabled": i % 10 != 0,
                   "status": if i % 7 == 0 { "UNCONFIRMED" } else { "CONFIRMED" },
                   "attributes": {"email": format!("u{i}@example.com"), "custom:team": format!("t{}", i % 3)}})
        })
        .collect();
    for odd in ["ann lee", "ops:oncall", "a/b", "quote\"d", "zoë"] {
        users.push(json!({"username": odd}));
    }
    let groups = ["everyone", "team: red/blue", "Ünïcødé", "empty"];
    let mut memberships: Vec<Value> = (0..150)
        .map(|i| json!(["everyone", format!("user-{i:03}")]))
        .collect();
    for odd in ["ann lee", "ops:oncall", "a/b", "quote\"d", "zoë"] {
        memberships.push(json!(["team: red/blue", odd]));
        memberships.push(json!(["Ünïcødé", odd]));
    }
    let user_ids: BTreeSet<String> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    let group_ids: BTreeSet<String> = groups.iter().map(|g| g.to_string()).collect();
    let grant_ids: BTreeSet<String> = memberships
        .iter()
        .map(|m| {
            format!(
                "group:{}:member:user:{}",
                m[0].as_str().unwrap(),
                m[1].as_str().unwrap()
            )
        })
        .collect();
    let pool = emulator.create_pool(json!({
        "name": unique("sync"),
        "users": users,
        "groups": groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
        "memberships": memberships,
    }));
    (pool, user_ids, group_ids, grant_ids)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// The destination holds exactly its earlier bytes, and nothing else was left beside it.
fn assert_untouched(file: &Path, before: &[u8]) {
    assert_eq!(
        std::fs::read(file).unwrap(),
        before,
        "the previous file is byte-identical"
    );
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        dir_entries(file.parent().unwrap()),
        BTreeSet::from([name]),
        "no temporary files remain"
    );
}

#[test]
fn a_synced_pool_reads_back_exactly_as_seeded() {
    let emulator = Emulator::shared();
    let (pool, users, groups, grants) = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");
    let out = run_binary(&["-f", file.to_str().unwrap()], &pool_env(emulator, &pool));
    assert!(out.status.success(), "sync failed: {}", stderr(&out));
    let summary = stdout(&out);
    let count_of = |label: &str| -> Option<usize> {
        summary
            .lines()
            .find(|line| line.starts_with(label))
            .and_then(|line| line.split_whitespace().last()?.parse().ok())
    };
    assert_eq!(count_of("resources: user"), Some(users.len()), "{summary}");
    assert_eq!(
        count_of("resources: group"),
        Some(groups.len()),
        "{summary}"
    );
    assert_eq!(count_of("grants"), Some(grants.len()), "{summary}");
    assert!(
        summary.contains("ListUsers"),
        "the summary lists API calls: {summary}"
    );
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["pool.c1z".to_string()]),
        "no temporary files remain"
    );

    let reader = C1zReader::open(&file).unwrap();
    assert_eq!(reader.sync_run().sync_type, "full");
    assert!(reader.sync_run().ended_at.is_some());
    let types: BTreeSet<String> = reader
        .resource_types()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["user".to_string(), "group".to_string()])
    );
    assert_eq!(resource_ids(&reader, "user"), users);
    assert_eq!(resource_ids(&reader, "group"), groups);
    let mut entitlements = BTreeSet::new();
    reader
        .entitlements(None, |e| {
            entitlements.insert(e.id);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        entitlements,
        groups.iter().map(|g| format!("group:{g}:member")).collect()
    );
    assert_eq!(grant_ids(&reader), grants);

    // The same file through tools that are not this project's Rust code.
    let script = r#"
import sqlite3, sys, zstandard, tempfile, json
raw = open(sys.argv[1], "rb").read()
assert raw[:5] == b"C1ZF\x00", raw[:5]
db = zstandard.ZstdDecompressor().decompress(raw[5:])
path = tempfile.mktemp()
open(path, "wb").write(db)
c = sqlite3.connect(path)
counts = {t: c.execute(f"select count(*) from v1_{t}").fetchone()[0]
          for t in ["resource_types", "resources", "entitlements", "grants", "sync_runs", "assets", "connector_sessions"]}
runs = c.execute("select sync_type, ended_at is not null from v1_sync_runs").fetchall()
print(json.dumps({"counts": counts, "runs": runs}))
"#;
    let decoded = Command::new(python())
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "python could not read the file: {}",
        stderr(&decoded)
    );
    let decoded: Value = serde_json::from_str(&stdout(&decoded)).unwrap();
    assert_eq!(decoded["counts"]["resource_types"], json!(2));
    assert_eq!(
        decoded["counts"]["resources"],
        json!(users.len() + groups.len())
    );
    assert_eq!(decoded["counts"]["entitlements"], json!(groups.len()));
    assert_eq!(decoded["counts"]["grants"], json!(grants.len()));
    assert_eq!(decoded["runs"], json!([["full", 1]]));
}

#[test]
fn inspect_commands_print_tables_and_json() {
    let emulator = Emulator::shared();
    let (pool, users, groups, _) = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    let out = run_binary(&["-f", f], &pool_env(emulator, &pool));
    assert!(out.status.success(), "{}", stderr(&out));

    let inspect = |args: &[&str]| {
        let mut argv = vec!["-f", f];
        argv.extend(args);
        let out = run_binary(&argv, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let types = inspect(&["resource-types"]);
    assert!(types.starts_with("ID"), "{types}");
    assert!(types.contains("user") && types.contains("group"));

    let json: Value =
        serde_json::from_str(&inspect(&["resources", "-t", "user", "-o", "json"])).unwrap();
    let listed: BTreeSet<String> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"]["resource"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, users);
    assert_eq!(
        json["resources"][0]["annotations"][0]["@type"],
        "type.googleapis.com/c1.connector.v2.UserTrait"
    );

    let table = inspect(&["resources", "-t", "group"]);
    assert_eq!(table.lines().count(), groups.len() + 1, "{table}");

    let entitlements = inspect(&["entitlements", "-r", "group:team: red/blue"]);
    assert!(
        entitlements.contains("group:team: red/blue:member"),
        "{entitlements}"
    );
    assert_eq!(entitlements.lines().count(), 2);

    let grants: Value = serde_json::from_str(&inspect(&[
        "grants",
        "-e",
        "group:everyone:member",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(grants["grants"].as_array().unwrap().len(), 150);
    let by_principal = inspect(&["grants", "-p", "user:ops:oncall"]);
    assert_eq!(
        by_principal.lines().count(),
        3,
        "two groups: {by_principal}"
    );
    assert!(by_principal.contains("ops:oncall"));

    let stats: Value = serde_json::from_str(&inspect(&["stats", "-o", "json"])).unwrap();
    assert_eq!(stats["grants"], json!(160));
    let human = inspect(&["stats"]);
    assert!(human.contains("full"), "{human}");

    let bad = run_binary(&["-f", f, "entitlements", "-r", "nocolon"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--resource"), "{}", stderr(&bad));
}

/// A file that is no `.c1z`: exit 1, naming the file and what is wrong with it.
#[test_case("empty.c1z", b"", "empty" ; "empty file")]
#[test_case("text.c1z", b"hello, this is not a c1z file", "not a .c1z" ; "text file")]
#[test_case("v3.c1z", b"C1Z3\x00\x00\x00\x00\x10rest", "v3" ; "a v3 file")]
#[test_case("truncated.c1z", b"C1ZF\x00\x28\xb5\x2f\xfd\x04\x58", "" ; "truncated file")]
fn bad_files_get_a_clear_error(name: &str, bytes: &[u8], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = run_binary(&["-f", path.to_str().unwrap(), "stats"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert!(
        err.contains(name),
        "{name}: the error names the file: {err}"
    );
    assert!(err.to_lowercase().contains(expected), "{name}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = run_binary(
        &[
            "-f",
            dir.path().join("nope.c1z").to_str().unwrap(),
            "resources",
        ],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn a_failed_sync_leaves_the_previous_file_untouched() {
    let emulator = Emulator::shared();
    let (pool, ..) = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    assert!(run_binary(&["-f", f], &env).status.success());
    let before = std::fs::read(&file).unwrap();

    // Credentials refused half-way (after the user listing started): a partial file would read
    // as revoked access downstream, so nothing may be written.
    emulator.inject(json!([{"operation": "ListUsersInGroup", "kind": "not_authorized", "count": -1, "pool_id": pool.id}]));
    let out = run_binary(&["-f", f], &env);
    emulator.clear_faults(&pool);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
    assert_untouched(&file, &before);

    // A missing pool fails loudly too.
    let missing = Pool {
        id: "us-east-1_Missing42".into(),
        arn: String::new(),
    };
    let out = run_binary(&["-f", f], &pool_env(emulator, &missing));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // An unwritable destination is refused before any Cognito call.
    let out = run_binary(
        &["-f", dir.path().join("no/such/dir/x.c1z").to_str().unwrap()],
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
}

#[test]
fn an_interrupted_sync_leaves_the_previous_file_untouched() {
    let emulator = Emulator::shared();
    let (pool, ..) = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    assert!(run_binary(&["-f", f], &env).status.success());
    let before = std::fs::read(&file).unwrap();

    // Every call slowed down: the sync needs several seconds, so the signal lands mid-sync.
    emulator.inject(json!([{"operation": "*", "kind": "delay", "delay_ms": 400, "count": -1, "pool_id": pool.id}]));
    let child = base_command(&env)
        .args(["-f", f, "--api-budget", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it get going, then interrupt as a person at the terminal would.
    std::thread::sleep(Duration::from_millis(1200));
    send_signal(child.id(), "INT");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    emulator.clear_faults(&pool);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stops promptly"
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("resumes this sync"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the previous file is byte-identical"
    );
    // What the sync stored stays, hidden beside the file, for the next run to resume.
    let left: Vec<String> = dir_entries(dir.path())
        .into_iter()
        .filter(|name| name != "sync.c1z")
        .collect();
    assert!(
        left.len() == 1 && left[0].starts_with(".sync.c1z.") && left[0].ends_with(".db.tmp"),
        "{left:?}"
    );
}

#[test]
fn capabilities_and_config_print_the_committed_metadata_files() {
    for (command, file) in [
        ("capabilities", "baton_capabilities.json"),
        ("config", "config_schema.json"),
    ] {
        let out = run_binary(&[command], &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let committed = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert_eq!(
            stdout(&out),
            committed,
            "{file} drifted from `baton-cognito {command}`"
        );
        let _: Value = serde_json::from_str(&committed).unwrap();
    }
}

/// Sliced by `sub`, a listing still returns every user once, for exactly the calls its slices
/// need: `ceil(n/60)` per slice, one for an empty slice.
#[test]
fn a_sliced_listing_returns_every_user_once_at_the_slices_minimum() {
    let emulator = Emulator::start();
    let users: Vec<Value> = (0..400)
        .map(|i| json!({"username": format!("s{i:03}")}))
        .collect();
    let pool = emulator.create_pool(json!({"name": unique("sliced"), "users": users}));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sliced.c1z");
    emulator.reset_calls();
    let out = run_binary(
        &[
            "-f",
            file.to_str().unwrap(),
            "--user-slicing",
            "always",
            "--api-budget",
            "1",
        ],
        &pool_env(&emulator, &pool),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let reader = C1zReader::open(&file).unwrap();
    let mut ids = Vec::new();
    let mut per_slice = std::collections::BTreeMap::new();
    reader
        .resources(Some("user"), |r| {
            let sub = match r
                .profile
                .as_ref()
                .and_then(|p| p.fields.get("sub"))
                .and_then(|v| v.kind.clone())
            {
                Some(prost_types::value::Kind::StringValue(sub)) => sub,
                other => panic!("no sub: {other:?}"),
            };
            *per_slice
                .entry(sub.chars().next().unwrap())
                .or_insert(0usize) += 1;
            ids.push(r.id.unwrap().resource);
            Ok(())
        })
        .unwrap();
    let unique_ids: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), 400, "no duplicates");
    assert_eq!(unique_ids.len(), 400, "no losses");
    let expected: u64 = "0123456789abcdef"
        .chars()
        .map(|d| per_slice.get(&d).copied().unwrap_or(0).div_ceil(60).max(1) as u64)
        .sum();
    assert_eq!(
        emulator.calls()["ListUsers"],
        json!(expected),
        "slices: {per_slice:?}"
    );
}

/// A pool shape for the call-count test: how many users, and which users each group holds.
struct Shape {
    name: &'static str,
    users: usize,
    members: Vec<Vec<usize>>,
}

impl Shape {
    /// The fewest calls a full sync can make (issue #5): one DescribeUserPool, every listing
    /// paged by 60 (an empty listing still takes one call), and memberships from the side with
    /// fewer resources, per group unless there are more groups than users.
    fn minimum_calls(&self) -> Value {
        let pages = |n: usize| n.div_ceil(60).max(1);
        let mut calls = serde_json::Map::new();
        calls.insert("DescribeUserPool".into(), json!(1));
        calls.insert("ListUsers".into(), json!(pages(self.users)));
        calls.insert("ListGroups".into(), json!(pages(self.members.len())));
        if self.users < self.members.len() {
            let per_user: usize = (0..self.users)
                .map(|u| pages(self.members.iter().filter(|m| m.contains(&u)).count()))
                .sum();
            if per_user > 0 {
                calls.insert("AdminListGroupsForUser".into(), json!(per_user));
            }
        } else {
            let per_group: usize = self.members.iter().map(|m| pages(m.len())).sum();
            if per_group > 0 {
                calls.insert("ListUsersInGroup".into(), json!(per_group));
            }
        }
        Value::Object(calls)
    }
}

/// Deliverable 1 of issue #5: a full sync issues exactly the minimum number of calls per
/// operation, for pools of several shapes, and gets every membership.
#[test]
fn full_syncs_make_exactly_the_minimum_calls_for_each_pool_shape() {
    let shapes = [
        Shape {
            name: "empty pool",
            users: 0,
            members: vec![],
        },
        Shape {
            name: "groups of 130, 61, 60, 1 and 0 members (pages of 60 end exactly and not)",
            users: 130,
            members: vec![
                (0..130).collect(),
                (0..61).collect(),
                (10..70).collect(),
                vec![129],
                vec![],
            ],
        },
        Shape {
            name: "more groups than users: one user in 65 groups, one in none",
            users: 12,
            members: (0..70)
                .map(|g| {
                    let mut m = vec![0];
                    m.extend((2..12).filter(|u| (u + g) % 4 == 0));
                    if g >= 65 {
                        m.remove(0);
                    }
                    m
                })
                .collect(),
        },
        Shape {
            name: "as many users as groups, 121 users over 3 pages",
            users: 121,
            members: (0..121).map(|g| vec![g, (g + 1) % 121]).collect(),
        },
    ];
    let emulator = Emulator::start();
    for shape in &shapes {
        let users: Vec<String> = (0..shape.users).map(|i| format!("u{i:03}")).collect();
        let groups: Vec<String> = (0..shape.members.len())
            .map(|g| format!("g{g:03}"))
            .collect();
        let memberships: Vec<(String, String)> = shape
            .members
            .iter()
            .enumerate()
            .flat_map(|(g, m)| m.iter().map(move |u| (g, *u)))
            .map(|(g, u)| (groups[g].clone(), users[u].clone()))
            .collect();
        let pool = emulator.create_pool(json!({
            "name": unique("shape"),
            "users": users.iter().map(|u| json!({"username": u})).collect::<Vec<_>>(),
            "groups": groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
            "memberships": memberships.iter().map(|(g, u)| json!([g, u])).collect::<Vec<_>>(),
        }));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shape.c1z");
        emulator.reset_calls();
        let out = run_binary(
            &["-f", file.to_str().unwrap(), "--api-budget", "1"],
            &pool_env(&emulator, &pool),
        );
        assert!(out.status.success(), "{}: {}", shape.name, stderr(&out));

        let grants = grant_ids(&C1zReader::open(&file).unwrap());
        let expected: BTreeSet<String> = memberships
            .iter()
            .map(|(g, u)| format!("group:{g}:member:user:{u}"))
            .collect();
        assert_eq!(grants, expected, "{}", shape.name);
        assert_eq!(emulator.calls(), shape.minimum_calls(), "{}", shape.name);
    }
}

/// Cognito says ResourceNotFound for a missing group and for a missing pool alike. A group
/// gone mid-sync is a warning (its grants skipped); a pool gone mid-sync fails the sync.
#[test]
fn a_vanished_group_is_a_warning_but_a_vanished_pool_fails_the_sync() {
    let emulator = Emulator::shared();
    let (pool, ..) = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    let not_found = |operation: &str, count: i64, skip: i64| {
        json!({"operation": operation, "kind": "error", "error_type": "ResourceNotFoundException",
               "status": 400, "message": "not found", "count": count, "skip": skip, "pool_id": pool.id})
    };

    emulator.inject(json!([not_found("ListUsersInGroup", 1, 0)]));
    let out = run_binary(&["-f", f], &env);
    emulator.clear_faults(&pool);
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings = stdout(&out)
        .lines()
        .find(|l| l.starts_with("warnings"))
        .map(|l| l.split_whitespace().last().unwrap().to_string());
    assert_eq!(warnings.as_deref(), Some("1"), "{}", stdout(&out));
    let before = std::fs::read(&file).unwrap();

    // Every group listing and every pool check after Validate now says "not found".
    emulator.inject(json!([
        not_found("ListUsersInGroup", -1, 0),
        not_found("DescribeUserPool", -1, 1)
    ]));
    let out = run_binary(&["-f", f], &env);
    emulator.clear_faults(&pool);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert_untouched(&file, &before);
}

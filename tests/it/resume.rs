//! A one-shot sync killed midway (SIGKILL) is resumed by the next run to the same file from
//! its checkpoints (#21): the result equals a clean run's, record by record; the listings it
//! had finished cost no call again; `--fresh`, or another listing of the pool, starts over.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

/// A pool whose listings take many pages: 900 users (15 pages), four groups, one of them
/// everyone's (15 pages of members), every call held 30 ms.
fn paged_pool(emulator: &Emulator) -> (Pool, Vec<(String, String)>) {
    let users: Vec<Value> = (0..900)
        .map(|i| json!({"username": format!("u{i:03}"), "attributes": {"email": format!("u{i}@example.com")}}))
        .collect();
    let mut memberships: Vec<Value> = (0..900)
        .map(|i| json!(["all", format!("u{i:03}")]))
        .collect();
    memberships.extend((0..300).map(|i| json!(["third", format!("u{i:03}")])));
    let groups: Vec<Value> = ["all", "third", "few", "none"]
        .iter()
        .map(|g| json!({"name": g}))
        .collect();
    let pool = emulator.create_pool(json!({
        "name": unique("resume"),
        "users": users,
        "groups": groups,
        "memberships": memberships,
    }));
    emulator.inject(json!([{
        "operation": "*", "kind": "delay", "delay_ms": 30, "count": -1, "pool_id": pool.id,
    }]));
    let env = pool_env(emulator, &pool);
    (pool, env)
}

/// Runs a sync to the end with `extra` flags: its stderr (JSON log lines).
fn sync(env: &[(String, String)], file: &Path, extra: &[&str]) -> String {
    let out = base_command(env)
        .args(["-f", file.to_str().unwrap(), "--api-budget", "1"])
        .args(extra)
        .env("BATON_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Starts a sync, quietly.
fn start_sync(env: &[(String, String)], file: &Path) -> std::process::Child {
    base_command(env)
        .args(["-f", file.to_str().unwrap(), "--api-budget", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts a sync and kills it (SIGKILL) once it has been running `after`.
fn kill_after(env: &[(String, String)], file: &Path, after: Duration) {
    let mut child = start_sync(env, file);
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync must still be running when it is killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The log line saying a sync was resumed, if one was.
fn resumed_line(stderr: &str) -> Option<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("resuming the sync"))
        })
}

/// The file holds a clean run's records, and nothing else is left in its directory.
fn assert_clean_result(dir: &Path, file: &Path, reference: &C1zContents) {
    assert_eq!(
        &c1z_contents(file),
        reference,
        "the same records as a clean run"
    );
    assert_eq!(
        dir_entries(dir),
        std::collections::BTreeSet::from(["pool.c1z".to_string()]),
        "no working file left"
    );
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

#[test]
fn a_killed_sync_resumes_from_its_checkpoints_to_the_same_result() {
    let emulator = Emulator::shared();
    let (pool, env) = paged_pool(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");

    let before = emulator.pool_calls(&pool);
    let started = Instant::now();
    let clean_log = sync(&env, &file, &[]);
    let clean_time = started.elapsed();
    let clean_calls = total(&emulator.pool_calls_since(&pool, &before));
    assert!(resumed_line(&clean_log).is_none(), "nothing to resume");
    let reference = c1z_contents(&file);
    assert_eq!(reference.grants.len(), 1200);
    std::fs::remove_file(&file).unwrap();

    // Killed at two thirds: the next run picks up where it stood.
    kill_after(&env, &file, clean_time.mul_f64(0.66));
    assert!(!file.exists(), "a killed sync writes no file");
    let before = emulator.pool_calls(&pool);
    let log = sync(&env, &file, &[]);
    let resumed_calls = total(&emulator.pool_calls_since(&pool, &before));
    let line = resumed_line(&log).unwrap_or_else(|| panic!("not resumed:\n{log}"));
    let saved = line["calls_saved"].as_u64().unwrap();
    assert!(saved > 0, "{line}");
    assert!(
        resumed_calls < clean_calls,
        "resumed: {resumed_calls} calls, a clean run {clean_calls}"
    );
    assert_clean_result(dir.path(), &file, &reference);

    // --fresh starts over, and so does another listing of the pool (a user filter).
    for extra in [
        &["--fresh"][..],
        &["--user-filter", "username ^= \"u\""][..],
    ] {
        kill_after(&env, &file, clean_time.mul_f64(0.5));
        let before = emulator.pool_calls(&pool);
        let log = sync(&env, &file, extra);
        assert!(resumed_line(&log).is_none(), "{extra:?} resumed:\n{log}");
        let calls = total(&emulator.pool_calls_since(&pool, &before));
        assert!(
            calls >= clean_calls,
            "{extra:?}: {calls} calls, a clean run {clean_calls}"
        );
        assert_eq!(c1z_contents(&file), reference, "{extra:?}");
    }
    emulator.clear_faults(&pool);
}

/// A sync killed (SIGKILL) while its file was being written, its listings all done, is
/// finished by the next run without listing anything again: the same records as a clean run,
/// and no working file left.
#[test]
fn a_sync_killed_while_its_file_is_written_is_finished_by_the_next_run_without_listing_again() {
    let emulator = Emulator::shared();
    let (pool, env) = paged_pool(emulator);
    emulator.clear_faults(&pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");
    sync(&env, &file, &[]);
    let reference = c1z_contents(&file);
    std::fs::remove_file(&file).unwrap();

    // The resume record appears beside the working database when finishing starts, and goes
    // once the file is in place: a kill while it is there stops the sync mid-finish. The
    // window is short, so a run that slips through is tried again.
    let finishing = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with("-finishing"))
    };
    let mut caught = false;
    for _ in 0..10 {
        let mut child = start_sync(&env, &file);
        while child.try_wait().unwrap().is_none() && !finishing(dir.path()) {
            std::thread::yield_now();
        }
        let _ = child.kill();
        child.wait().unwrap();
        if finishing(dir.path()) && !file.exists() {
            caught = true;
            break;
        }
        let _ = std::fs::remove_file(&file);
    }
    assert!(caught, "no run was killed while its file was written");

    let before = emulator.pool_calls(&pool);
    let log = sync(&env, &file, &[]);
    let calls = emulator.pool_calls_since(&pool, &before);
    let line = resumed_line(&log).unwrap_or_else(|| panic!("not resumed:\n{log}"));
    assert_eq!(line["listings_under_way"], 0, "{line}");
    assert!(line["listings_done"].as_u64().unwrap() > 0, "{line}");
    let listed: Vec<_> = calls.keys().filter(|op| op.starts_with("List")).collect();
    assert!(listed.is_empty(), "listed again: {calls:?}");
    assert_clean_result(dir.path(), &file, &reference);
}

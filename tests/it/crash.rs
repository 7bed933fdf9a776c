//! A sync killed at random points (SIGKILL: no handler runs, nothing is cleaned up) never leaves
//! a corrupt or partial file at its destination; the next run resumes what the killed one
//! stored (or sweeps it, when it had nothing to resume) and writes the same pool, record for
//! record. SIGTERM stops a sync cleanly and keeps it for the next run. All with the real binary
//! against the emulator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

/// A pool whose sync takes a second or so: every call is held 40 ms, and the listings take
/// several pages (users, and a group with more than a page of members).
fn slow_pool(emulator: &Emulator) -> (Pool, Vec<(String, String)>) {
    let users: Vec<Value> = (0..400)
        .map(|i| json!({"username": format!("u{i:03}"), "attributes": {"email": format!("u{i}@example.com")}}))
        .collect();
    let groups = ["all", "half", "few", "none"];
    let mut memberships: Vec<Value> = (0..400)
        .map(|i| json!(["all", format!("u{i:03}")]))
        .collect();
    memberships.extend((0..200).map(|i| json!(["half", format!("u{i:03}")])));
    memberships.extend((0..5).map(|i| json!(["few", format!("u{i:03}")])));
    let pool = emulator.create_pool(json!({
        "name": unique("crash"),
        "users": users,
        "groups": groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
        "memberships": memberships,
    }));
    emulator.inject(json!([{
        "operation": "*", "kind": "delay", "delay_ms": 40, "count": -1, "pool_id": pool.id,
    }]));
    let env = pool_env(emulator, &pool);
    (pool, env)
}

fn start_sync(env: &[(String, String)], file: &Path) -> Child {
    base_command(env)
        .args(["-f", file.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a sync")
}

/// A run to completion; panics with its stderr unless it succeeds.
fn sync(env: &[(String, String)], file: &Path) -> Duration {
    let started = Instant::now();
    let out = start_sync(env, file).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// xorshift64*, so each seed gives the same kill times on every run of the test.
fn kill_delays(seed: u64, count: usize, longest: Duration) -> Vec<Duration> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit =
                (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            longest.mul_f64(unit)
        })
        .collect()
}

#[test]
fn a_sync_killed_at_random_points_never_corrupts_the_file_and_the_next_run_recovers() {
    let emulator = Emulator::shared();
    let (_pool, env) = slow_pool(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("pool.c1z");

    // The reference: a clean run, whose file is also the "previous file" every killed run must
    // leave alone.
    let clean = sync(&env, &file);
    let reference = c1z_contents(&file);
    assert_eq!(reference.resources.len(), 404, "400 users and 4 groups");
    let previous = std::fs::read(&file).unwrap();

    let mut killed_midway = 0;
    let mut left_behind = 0;
    let mut replaced = 0;
    let mut resumed = 0;
    for seed in 1..=6u64 {
        for delay in kill_delays(seed, 2, clean.mul_f64(1.15)) {
            let mut child = start_sync(&env, &file);
            std::thread::sleep(delay);
            let finished_first = child.try_wait().unwrap().is_some();
            let _ = child.kill();
            child.wait().unwrap();

            let now = std::fs::read(&file).expect("the destination is always there");
            if now == previous {
                killed_midway += usize::from(!finished_first);
            } else {
                // Only a complete sync is ever moved into place.
                assert_eq!(
                    c1z_contents(&file),
                    reference,
                    "seed {seed}, killed after {delay:?}: a changed file must be a whole sync"
                );
                replaced += 1;
            }
            let leftovers: Vec<_> = dir_entries(dir.path())
                .into_iter()
                .filter(|name| name != "pool.c1z")
                .collect();
            // Working files: the database, its log, the resume record of a sync killed while
            // its file was written, and that file, unfinished.
            assert!(
                leftovers.iter().all(|name| name.starts_with(".pool.c1z.")
                    && [".tmp", ".tmp-wal", ".tmp-finishing"]
                        .iter()
                        .any(|end| name.ends_with(end))),
                "seed {seed}: unexpected files {leftovers:?}"
            );
            left_behind += leftovers.len();

            // The next run resumes the killed run's sync from its checkpoints (or sweeps its
            // working files when it had none yet) and writes the same pool.
            let out = start_sync(&env, &file).wait_with_output().unwrap();
            let log = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "seed {seed}: {log}");
            resumed += usize::from(log.contains("resuming the sync"));
            assert_eq!(
                dir_entries(dir.path()),
                BTreeSet::from(["pool.c1z".to_string()]),
                "seed {seed}: working files left after a complete run"
            );
            assert_eq!(c1z_contents(&file), reference, "seed {seed}");
            std::fs::write(&file, &previous).unwrap();
        }
    }
    println!(
        "12 kills: {killed_midway} mid-sync, {replaced} after the rename, {left_behind} working files left, {resumed} resumed"
    );
    assert!(
        killed_midway >= 5,
        "most kills land mid-sync ({killed_midway})"
    );
    assert!(
        left_behind >= 5,
        "kills left working files to resume ({left_behind})"
    );
    assert!(
        resumed >= 5,
        "the runs after most kills resume ({resumed} of {killed_midway} mid-sync)"
    );
}

#[test]
fn a_sweep_leaves_the_working_files_of_a_live_sync_alone() {
    let emulator = Emulator::shared();
    let (_pool, env) = slow_pool(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");
    let stale = dir.path().join(".pool.c1z.crashed.db.tmp");
    std::fs::write(&stale, b"what a killed sync left").unwrap();
    let unrelated = dir.path().join(".other.c1z.abc.tmp");
    std::fs::write(&unrelated, b"another destination's").unwrap();

    // The first sync sweeps the stale file and holds its own working database.
    let mut first = start_sync(&env, &file);
    let working_databases = || -> BTreeSet<String> {
        dir_entries(dir.path())
            .into_iter()
            .filter(|n| {
                n.starts_with(".pool.c1z.") && n.ends_with(".db.tmp") && !n.contains("crashed")
            })
            .collect()
    };
    let wait_for = |count: usize| {
        let started = Instant::now();
        while working_databases().len() < count {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                dir_entries(dir.path())
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        working_databases()
    };
    let working = wait_for(1);
    assert!(!stale.exists(), "the stale working file is swept");

    // A second sync to the same destination, started while the first runs, has swept by the
    // time its own working database exists: the first one's is still there.
    let second = start_sync(&env, &file);
    let both = wait_for(2);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first sync is still running"
    );
    assert!(
        both.is_superset(&working),
        "a live sync's working file was swept: {both:?}"
    );
    let second = second.wait_with_output().unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let first = first.wait().unwrap();
    assert!(first.success());
    assert!(
        unrelated.exists(),
        "another destination's files are not ours"
    );
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["pool.c1z".to_string(), ".other.c1z.abc.tmp".to_string()])
    );
}

#[test]
fn sigterm_stops_a_sync_cleanly_with_a_clear_message() {
    let emulator = Emulator::shared();
    let (_pool, env) = slow_pool(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");
    std::fs::write(&file, b"").unwrap();
    let before = sync_to_bytes(&env, &file);

    let child = start_sync(&env, &file);
    std::thread::sleep(Duration::from_millis(400));
    send_signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted; no file written; {} is unchanged",
            file.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // The stopped sync is kept, closed (no log beside it), for the next run to resume.
    let kept: Vec<String> = dir_entries(dir.path())
        .into_iter()
        .filter(|name| name != "pool.c1z")
        .collect();
    assert!(
        kept.len() == 1 && kept[0].starts_with(".pool.c1z.") && kept[0].ends_with(".db.tmp"),
        "{kept:?}"
    );
    let resumed = start_sync(&env, &file).wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{log}");
    assert!(log.contains("resuming the sync"), "{log}");
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["pool.c1z".to_string()])
    );
}

/// Syncs into `file` and returns its bytes.
fn sync_to_bytes(env: &[(String, String)], file: &Path) -> Vec<u8> {
    sync(env, file);
    std::fs::read(file).unwrap()
}

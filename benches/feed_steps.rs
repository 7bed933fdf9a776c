//! What the change feed's steps cost after their sync, without Cognito, for a pool of N users
//! (each in 1 or 2 of 100 groups) where, between two snapshots, 1% of users changed an
//! attribute, 0.5% were deleted, 0.5% created and 1% left a group:
//!
//! - an event-feed refresh: open the previous and the new snapshot, diff them, build the Baton
//!   events and append them to the journal (`watch` and `export --since-last-run` diff alike);
//! - `export --since-last-run --with-groups`: the changed users' lines;
//! - `export --with-groups`: every user's line.
//!
//! Each step reports its time and its own peak memory.
//!
//!     cargo bench --bench feed_steps                   # 200,000 users
//!     FEED_BENCH_USERS=1000000 cargo bench --bench feed_steps

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

#[path = "common/pool_file.rs"]
mod pool_file;

use baton_cognito::c1z::C1zReader;
use baton_cognito::changes::diff;
use baton_cognito::cloud_events::export_lines::Lines;
use baton_cognito::cognito::records::CognitoUser;
use baton_cognito::connector::{groups, users};
use baton_cognito::event_journal::baton_events::{Snapshots, event};
use baton_cognito::event_journal::journal::{Journal, JournalError};
use prost::Message;

/// Which version of the pool a snapshot is.
#[derive(Clone, Copy, PartialEq)]
enum Version {
    Before,
    After,
}

fn user(i: usize, version: Version) -> CognitoUser {
    let team = if version == Version::After && i % 100 == 7 {
        "blue"
    } else {
        "red"
    };
    CognitoUser {
        username: format!("user-{i:07}"),
        attributes: vec![
            ("sub".into(), format!("{i:08x}-0000-4000-8000-000000000000")),
            ("email".into(), format!("user{i}@example.com")),
            ("custom:team".into(), team.into()),
        ],
        enabled: true,
        status: "CONFIRMED".into(),
        ..CognitoUser::default()
    }
}

/// The users of a version: after, every 200th is gone and 0.5% more exist.
fn present(i: usize, n: usize, version: Version) -> bool {
    match version {
        Version::Before => i < n,
        Version::After => i % 200 != 3 && i < n + n / 200,
    }
}

fn write(dir: &Path, n: usize, version: Version) -> PathBuf {
    let path = dir.join(if version == Version::Before {
        "before.c1z"
    } else {
        "after.c1z"
    });
    let (mut writer, entitlements) = pool_file::with_groups(&path, 100);
    let ids: Vec<usize> = (0..n + n / 200)
        .filter(|&i| present(i, n, version))
        .collect();
    for page in ids.chunks(60) {
        let resources: Vec<_> = page
            .iter()
            .map(|&i| users::resource(&user(i, version)))
            .collect();
        writer.put_resources(&resources).expect("users");
        let mut grants = Vec::new();
        for &i in page {
            let username = format!("user-{i:07}");
            grants.push(groups::member_grant(&entitlements[i % 100], &username));
            let left = version == Version::After && i % 100 == 11;
            if i % 2 == 0 && !left {
                grants.push(groups::member_grant(
                    &entitlements[(i / 2) % 100],
                    &username,
                ));
            }
        }
        writer.put_grants(&grants).expect("grants");
    }
    writer.finish().expect("finish").path
}

/// A memory figure of this process from /proc/self/status (`VmHWM` peak, `VmRSS` now), in MB.
fn memory_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs `step`, then prints what it says of itself, its time and its peak RSS (the process's
/// peak is reset before it).
fn measure<T>(label: &str, step: impl FnOnce() -> (T, String)) -> T {
    let before = memory_mb("VmRSS");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let (out, detail) = step();
    println!(
        "  {label}: {detail}{:.2}s, peak RSS {:.0} MB (before the step {before:.0} MB)",
        started.elapsed().as_secs_f64(),
        memory_mb("VmHWM"),
    );
    out
}

fn main() {
    let n: usize = std::env::var("FEED_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let before_file = write(dir.path(), n, Version::Before);
    let after_file = write(dir.path(), n, Version::After);
    let memberships = C1zReader::open(&before_file)
        .and_then(|r| r.stats())
        .expect("stats")
        .grants;
    println!("users {n}, memberships {memberships}");
    let pool = "us-east-1_Bench";
    let journal = Journal::open(&dir.path().join("events"), pool, "").expect("journal");
    let mut recorder = journal.recorder().expect("recorder");
    let next = journal.next_snapshot_path();
    std::fs::copy(&before_file, &next).expect("copy");
    recorder
        .record(&next, "BASE", SystemTime::now(), |_| {
            Ok::<_, JournalError>(())
        })
        .expect("baseline");
    let latest = journal.latest().expect("latest").expect("a baseline");
    std::fs::copy(&after_file, &next).expect("copy");

    let (before, after) = measure("open both snapshots", || {
        let before = C1zReader::open(&latest.file).expect("open before");
        let after = C1zReader::open(&next).expect("open after");
        ((before, after), String::new())
    });
    measure("refresh: diff, build and journal the events", || {
        let snapshots = Snapshots {
            before: &before,
            after: &after,
        };
        let now = SystemTime::now();
        let (mut count, mut bytes) = (0usize, 0usize);
        recorder
            .record(&next, "AFTER", now, |appender| {
                diff(pool, &latest.sync_id, &before, &after, |change| {
                    let encoded = event(&change, now, &snapshots)?.encode_to_vec();
                    appender.append(&encoded)?;
                    count += 1;
                    bytes += encoded.len();
                    Ok::<_, Box<dyn std::error::Error>>(())
                })
            })
            .expect("refresh");
        (
            (),
            format!("{count} events ({:.1} MB), ", bytes as f64 / 1e6),
        )
    });
    let mut sink = std::io::sink();
    measure("export --since-last-run --with-groups", || {
        let lines = Lines::new(&mut sink, &after, true)
            .changed(pool, &latest.sync_id, &before)
            .expect("export");
        ((), format!("{lines} lines, "))
    });
    measure("export --with-groups", || {
        let lines = Lines::new(&mut sink, &after, true).all().expect("export");
        ((), format!("{lines} lines, "))
    });
}

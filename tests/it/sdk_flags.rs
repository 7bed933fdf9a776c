//! The Baton SDK's standard flags (#22), under their SDK names and `BATON_*` variables, on the
//! one-shot sync: its scope, extra log files, the per-call timeout; and the SDK flags this
//! connector does not support, refused by name with the reason.

use std::collections::BTreeSet;

use crate::support::*;
use serde_json::{Value, json};

/// Runs the binary; its exit code, stdout and stderr.
fn run(env: &[(String, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = base_command(env).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keys<T>(map: &std::collections::BTreeMap<String, T>) -> BTreeSet<String> {
    map.keys().cloned().collect()
}

#[test]
fn the_scope_flags_narrow_a_one_shot_sync_as_the_sdk_does() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("scope"));
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let path = file.to_str().unwrap();
    let sync = |extra: &[&str]| {
        let args: Vec<&str> = ["-f", path].iter().chain(extra).copied().collect();
        let (code, stdout, stderr) = run(&env, &args);
        assert_eq!(code, Some(0), "{extra:?}: {stderr}");
        (c1z_contents(&file), stdout)
    };
    let (all, _) = sync(&[]);
    assert_eq!((all.resources.len(), all.grants.len()), (5, 1));

    let (groups, _) = sync(&["--sync-resource-types", "group"]);
    assert_eq!(
        keys(&groups.resources),
        BTreeSet::from([
            "group:admins".to_string(),
            "group:team: red/blue".to_string()
        ])
    );
    assert_eq!(
        keys(&groups.grants),
        keys(&all.grants),
        "memberships are the groups'"
    );

    let (bare, _) = sync(&["--skip-entitlements-and-grants"]);
    assert_eq!(keys(&bare.resources), keys(&all.resources));
    assert!(bare.entitlements.is_empty() && bare.grants.is_empty());

    let (admins, _) = sync(&["--sync-resources", "bid:r:group/admins"]);
    assert!(admins.resources.contains_key("group:admins"));
    assert!(!admins.resources.contains_key("group:team: red/blue"));
    assert_eq!(keys(&admins.grants), keys(&all.grants));
    let (no_grants, _) = sync(&["--sync-resources", "bid:r:group/admins", "--skip-grants"]);
    assert!(no_grants.grants.is_empty());
    assert!(no_grants.entitlements.contains_key("group:admins:member"));

    let (skipped, stdout) = sync(&["--skip-full-sync"]);
    assert!(stdout.contains("Skipped the full sync"), "{stdout}");
    assert!(skipped.resources.is_empty() && skipped.grants.is_empty());
    let mut missing = env.clone();
    missing.push(("BATON_USER_POOL_ID".into(), "us-east-1_Missing1".into()));
    let (code, _, stderr) = run(&missing, &["-f", path, "--skip-full-sync"]);
    assert_eq!(
        code,
        Some(1),
        "a skipped sync still checks the pool: {stderr}"
    );

    for (args, says) in [
        (
            &["--sync-resources", "group:admins"][..],
            "--sync-resources",
        ),
        (
            &["--sync-resource-types", "app"][..],
            "--sync-resource-types",
        ),
        (&["--skip-grants"][..], "--sync-resources"),
        (
            &["--skip-full-sync", "--sync-resource-types", "user"][..],
            "cannot be used together",
        ),
        (&["--c1z-temp-dir", "/tmp"][..], "--c1z-temp-dir"),
        (
            &["--fresh", "--sync-resources", "bid:r:group/admins"][..],
            "--fresh starts a full sync over",
        ),
    ] {
        let all: Vec<&str> = ["-f", path].iter().chain(args).copied().collect();
        let (code, _, stderr) = run(&env, &all);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn log_path_files_get_the_log_lines_too_and_one_that_cannot_be_opened_is_refused() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("log-path"));
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, "kept\n").unwrap();
    let paths = format!("{},{}", a.display(), b.display());
    let (code, _, stderr) = run(&env, &["-f", file.to_str().unwrap(), "--log-path", &paths]);
    assert_eq!(code, Some(0), "{stderr}");
    for log in [&a, &b] {
        let text = std::fs::read_to_string(log).unwrap();
        let finished = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| l["message"] == "sync finished");
        assert!(finished, "{}: {text}", log.display());
        assert!(stderr.contains("sync finished"), "and on stderr as before");
    }
    assert!(
        std::fs::read_to_string(&a).unwrap().starts_with("kept\n"),
        "appended to"
    );

    let (code, _, stderr) = run(
        &env,
        &[
            "-f",
            file.to_str().unwrap(),
            "--log-path",
            "/nonexistent/x.log",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--log-path: cannot open /nonexistent/x.log"),
        "{stderr}"
    );
}

/// `--http-timeout-seconds` bounds each Cognito call: a call held 2.5 seconds is cut off at 1
/// and tried again; without it, the call is waited for.
#[test]
fn http_timeout_seconds_bounds_each_cognito_call() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("timeout"));
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let slow_once = json!([{
        "operation": "ListGroups", "kind": "delay", "delay_ms": 2500, "count": 1, "pool_id": pool.id,
    }]);
    let retried = |stderr: &str| {
        stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| l["message"] == "retrying Cognito call" && l["operation"] == "ListGroups")
    };
    for (extra, cut_off) in [
        (&["--http-timeout-seconds", "1"][..], true),
        (&[][..], false),
    ] {
        emulator.inject(slow_once.clone());
        let args: Vec<&str> = ["-f", file.to_str().unwrap()]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        let (code, _, stderr) = run(&env, &args);
        emulator.clear_faults(&pool);
        assert_eq!(code, Some(0), "{extra:?}: {stderr}");
        assert_eq!(retried(&stderr), cut_off, "{extra:?}: {stderr}");
    }
    let (code, _, stderr) = run(&env, &["--http-timeout-seconds", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
}

/// An SDK flag this connector does not support is refused, by name and with the reason, from
/// the command line or the environment: never silently ignored.
#[test]
fn unsupported_sdk_flags_are_refused_by_name_with_the_reason() {
    let env = vec![(
        "BATON_USER_POOL_ID".to_string(),
        "us-east-1_Example1".to_string(),
    )];
    for (args, extra_env, says) in [
        (
            &["--ticketing"][..],
            None,
            "--ticketing: not supported by baton-cognito: Cognito has no tickets",
        ),
        (
            &[][..],
            Some(("BATON_WORKERS", "4")),
            "--workers: not supported by baton-cognito",
        ),
        (
            &["--storage-engine", "pebble"][..],
            None,
            "does not write pebble",
        ),
        (
            &["--diff-syncs"][..],
            None,
            "--diff-syncs: not supported by baton-cognito",
        ),
    ] {
        let mut env = env.clone();
        env.extend(extra_env.map(|(k, v)| (k.to_string(), v.to_string())));
        let (code, _, stderr) = run(&env, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let help = run(&env, &["--help"]).1;
    assert!(!help.contains("--ticketing"), "hidden from --help");
    assert!(help.contains("--skip-entitlements-and-grants"), "{help}");
}

/// `--compact-syncs` folds a full sync and a later partial one (the targeted sync of a group
/// whose members changed) into one full file, the later sync's records standing; bad requests
/// are refused before anything is written.
#[test]
fn compact_syncs_lays_later_syncs_over_earlier_ones_in_a_new_file() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("compact"));
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let (full, partial) = (dir.path().join("full.c1z"), dir.path().join("partial.c1z"));
    let ok = |args: &[&str]| {
        let (code, stdout, stderr) = run(&env, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        stdout
    };
    ok(&["-f", full.to_str().unwrap()]);
    let grant = "group:admins:member:user:ann";
    ok(&[
        "-f",
        full.to_str().unwrap(),
        "--grant-entitlement",
        "group:admins:member",
        "--grant-principal",
        "ann",
    ]);
    ok(&[
        "-f",
        partial.to_str().unwrap(),
        "--sync-resources",
        "bid:r:group/admins",
    ]);
    let sync_id = |path: &std::path::Path| {
        baton_cognito::c1z::C1zReader::open(path)
            .unwrap()
            .sync_run()
            .sync_id
            .clone()
    };
    let (base, later) = (c1z_contents(&full), c1z_contents(&partial));
    assert!(!base.grants.contains_key(grant) && later.grants.contains_key(grant));

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let files = format!("{},{}", full.display(), partial.display());
    let ids = format!("{},{}", sync_id(&full), sync_id(&partial));
    let compact = [
        "--compact-syncs",
        "--compact-output-path",
        out.to_str().unwrap(),
    ];
    let stdout = ok(&[
        &compact[..],
        &["--compact-file-paths", &files, "--compact-sync-ids", &ids],
    ]
    .concat());
    let written: Vec<String> = dir_entries(&out).into_iter().collect();
    assert!(
        written.len() == 1 && written[0].starts_with("compacted-") && written[0].ends_with(".c1z"),
        "{written:?}"
    );
    let compacted = out.join(&written[0]);
    assert!(stdout.contains(&written[0]), "{stdout}");
    let reader = baton_cognito::c1z::C1zReader::open(&compacted).unwrap();
    assert_eq!(reader.sync_run().sync_type, "full");
    assert_eq!(
        written[0],
        format!("compacted-{}.c1z", reader.sync_run().sync_id)
    );
    let merged = c1z_contents(&compacted);
    let mut want = keys(&base.grants);
    want.extend(keys(&later.grants));
    assert_eq!(keys(&merged.grants), want);
    let mut want = keys(&base.resources);
    want.extend(keys(&later.resources));
    assert_eq!(keys(&merged.resources), want);

    for (args, code, says) in [
        (
            vec![
                "--compact-file-paths",
                files.as_str(),
                "--compact-sync-ids",
                "one",
            ],
            2,
            "exactly one sync id",
        ),
        (
            vec![
                "--compact-file-paths",
                full.to_str().unwrap(),
                "--compact-sync-ids",
                "one",
            ],
            2,
            "two syncs or more",
        ),
        (
            vec![
                "--compact-file-paths",
                files.as_str(),
                "--compact-sync-ids",
                "x,y",
            ],
            1,
            "holds no finished sync x",
        ),
    ] {
        let (got, _, stderr) = run(&env, &[&compact[..], &args[..]].concat());
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let (got, _, stderr) = run(&env, &["--compact-file-paths", files.as_str()]);
    assert_eq!(got, Some(2), "{stderr}");
    assert_eq!(dir_entries(&out).len(), 1, "nothing more written");
}

/// `--log-level-debug-expires-at` ends debug logging when the time comes, in a long run too.
#[test]
fn debug_logging_ends_at_its_expiry_in_a_running_server() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("debug-expiry"));
    let mut env = pool_env(emulator, &pool);
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    env.push(("BATON_LOG_LEVEL".into(), "debug".into()));
    env.push((
        "BATON_LOG_LEVEL_DEBUG_EXPIRES_AT".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ));
    let mut server = Server::start(&env, &[]);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    server.signal("TERM");
    server.wait_exit(std::time::Duration::from_secs(20));
    let logs = server.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let expired = lines
        .iter()
        .position(|l| {
            l["message"] == "debug logging expired (--log-level-debug-expires-at): logging at info"
        })
        .unwrap_or_else(|| panic!("debug logging never expired: {logs}"));
    assert!(
        lines[..expired].iter().any(|l| l["level"] == "DEBUG"),
        "debug lines before the expiry: {logs}"
    );
    assert!(
        lines[expired..].iter().all(|l| l["level"] != "DEBUG"),
        "none after it: {logs}"
    );
}

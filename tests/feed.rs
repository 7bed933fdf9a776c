//! The change feed against the emulator: `export` prints user records in Cognito's own shape;
//! with `--since-last-run` it prints exactly what a sequence of pool mutations changed, and a run
//! that fails on the way leaves its state where it was, so nothing is lost or doubled.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use support::*;

fn seed(emulator: &Emulator) -> Pool {
    emulator.create_pool(json!({
        "name": unique("feed"),
        "users": [
            {"username": "ann", "attributes": {"email": "ann@example.com", "custom:team": "red"}},
            {"username": "bob:smith", "attributes": {"email": "bob@example.com"}},
            {"username": "cara", "enabled": false, "status": "FORCE_CHANGE_PASSWORD"},
            {"username": "dan"},
        ],
        "groups": [{"name": "admins", "description": "Admins", "precedence": 1}, {"name": "team: red/blue"}],
        "memberships": [["admins", "ann"], ["team: red/blue", "ann"], ["team: red/blue", "dan"]],
    }))
}

/// Runs `export` with `args`; the exit code and the JSON lines it printed.
fn export(env: &[(String, String)], args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let mut all = vec!["export"];
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
    assert_eq!(users["bob:smith"]["Groups"], json!([]));

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
    let users = format!("/_emulator/pools/{}/users", pool.id);
    emulator.control(
        "POST",
        &users,
        Some(&json!({"users": [{"username": "eve"}]})),
    );
    emulator.control(
        "PATCH",
        &format!("{users}/ann"),
        Some(&json!({"attributes": {"custom:team": "blue"}})),
    );
    emulator.control(
        "PATCH",
        &format!("{users}/bob%3Asmith"),
        Some(&json!({"enabled": false})),
    );
    emulator.control("DELETE", &format!("{users}/cara"), None);
    emulator.control(
        "DELETE",
        &format!("/_emulator/pools/{}/memberships", pool.id),
        Some(&json!({"memberships": [["team: red/blue", "dan"]]})),
    );
    emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/groups", pool.id),
        Some(&json!({"groups": [{"name": "new"}]})),
    );
    emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/memberships", pool.id),
        Some(&json!({"memberships": [["new", "eve"]]})),
    );

    // A run that cannot write its output fails, and its state stays where it was.
    let unwritable = dir.path().join("no-such-dir").join("out.jsonl");
    let mut failing = since.to_vec();
    let unwritable = unwritable.display().to_string();
    failing.extend(["--output", unwritable.as_str()]);
    let (code, _, stderr) = export(&env, &failing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--output"), "{stderr}");
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
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

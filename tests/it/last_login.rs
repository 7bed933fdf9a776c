//! Last login and MFA status: read from the sign-in history of pools that record one (Plus with
//! threat protection), never called for where there is none, and never a failed sync.

use std::collections::BTreeMap;

use crate::support::*;
use baton_cognito::c1z::C1zReader;
use baton_cognito::pb::v2::resource_getter_service_client::ResourceGetterServiceClient;
use baton_cognito::pb::v2::*;
use serde_json::{Value, json};

const OPERATION: &str = "AdminListUserAuthEvents";
/// 2025-03-01T10:00:00Z and later: sign-in dates the tests seed.
const T0: i64 = 1_740_823_200;

/// A pool on the Plus plan with threat protection in AUDIT mode, and `mfa` as its MFA setting.
fn plus_pool(emulator: &Emulator, name: &str, mfa: &str) -> Pool {
    let users: Vec<Value> = ["ann", "bob", "cara"]
        .map(|u| json!({"username": u}))
        .to_vec();
    emulator.create_pool(json!({
        "name": unique(name),
        "users": users,
        "config": {
            "UserPoolTier": "PLUS",
            "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"},
            "MfaConfiguration": mfa,
        },
    }))
}

/// ann signed in twice (the second with MFA) and then failed once; bob only failed; cara never
/// signed in.
fn seed_sign_ins(emulator: &Emulator, pool: &Pool) {
    let events = json!({"events": [
        {"username": "ann", "at": T0, "challenges": [["Password", "Success"]]},
        {"username": "ann", "at": T0 + 3600, "challenges": [["Password", "Success"], ["Mfa", "Success"]]},
        {"username": "ann", "at": T0 + 7200, "response": "Fail", "challenges": [["Password", "Failure"]]},
        {"username": "bob", "at": T0 + 60, "response": "Fail", "challenges": [["Password", "Failure"]]},
        {"username": "bob", "at": T0 + 120, "type": "PasswordChange"},
    ]});
    let added = emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/auth-events", pool.id),
        Some(&events),
    );
    assert_eq!(added["added"], 5, "{added}");
}

fn sync(emulator: &Emulator, pool: &Pool, args: &[&str]) -> (C1zReader, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.c1z");
    let mut all = vec!["-f", file.to_str().unwrap()];
    all.extend(args);
    let out = run_binary(&all, &pool_env(emulator, pool));
    let logs = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "sync failed: {logs}");
    (C1zReader::open(&file).unwrap(), logs, dir)
}

fn user(reader: &C1zReader, name: &str) -> Resource {
    reader
        .resource("user", name)
        .unwrap()
        .expect("the user is synced")
}

fn last_login(resource: &Resource) -> Option<i64> {
    user_trait(resource).last_login.map(|at| at.seconds)
}

fn mfa(resource: &Resource) -> Option<bool> {
    user_trait(resource).mfa_status.map(|s| s.mfa_enabled)
}

fn history_reads(emulator: &Emulator, pool: &Pool) -> u64 {
    emulator
        .pool_calls(pool)
        .get(OPERATION)
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_plus_pool_shows_each_users_last_successful_sign_in() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, "last-login", "OFF");
    seed_sign_ins(emulator, &pool);
    let (reader, _, _dir) = sync(emulator, &pool, &[]);
    let ann = user(&reader, "ann");
    assert_eq!(
        last_login(&ann),
        Some(T0 + 3600),
        "the newest sign-in that passed"
    );
    assert_eq!(
        profile_text(&ann, "cognito:last_login").as_deref(),
        Some("2025-03-01T11:00:00Z")
    );
    assert_eq!(
        last_login(&user(&reader, "bob")),
        None,
        "failed sign-ins are no login"
    );
    assert_eq!(last_login(&user(&reader, "cara")), None);
    assert_eq!(
        profile_text(&user(&reader, "cara"), "cognito:last_login"),
        None
    );
    assert_eq!(mfa(&ann), None, "MFA status is opt-in");
    assert_eq!(history_reads(emulator, &pool), 3, "one call per user");
}

#[tokio::test(flavor = "multi_thread")]
async fn last_login_is_served_over_grpc_by_listings_and_targeted_reads() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, "last-login-grpc", "OFF");
    seed_sign_ins(emulator, &pool);
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;
    let listed: BTreeMap<String, Option<i64>> = list_all_resources(&channel, "user", 2)
        .await
        .iter()
        .map(|r| (r.id.as_ref().unwrap().resource.clone(), last_login(r)))
        .collect();
    assert_eq!(
        listed,
        BTreeMap::from([
            ("ann".to_string(), Some(T0 + 3600)),
            ("bob".to_string(), None),
            ("cara".to_string(), None),
        ])
    );
    let before = emulator.pool_calls(&pool);
    let got = ResourceGetterServiceClient::new(channel)
        .get_resource(ResourceGetterServiceGetResourceRequest {
            resource_id: Some(resource("user", "ann").id.unwrap()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(last_login(&got), Some(T0 + 3600));
    assert_eq!(
        emulator.pool_calls_since(&pool, &before),
        BTreeMap::from([("ListUsers".to_string(), 1), (OPERATION.to_string(), 1)]),
        "a targeted read: one exact listing and the user's history"
    );
}

#[test]
fn a_pool_without_sign_in_history_costs_no_extra_call_and_says_why() {
    let emulator = Emulator::shared();
    let essentials = emulator.create_pool(json!({
        "name": unique("essentials"),
        "users": [{"username": "ann"}],
    }));
    let (reader, logs, _dir) = sync(emulator, &essentials, &[]);
    assert_eq!(last_login(&user(&reader, "ann")), None);
    assert_eq!(history_reads(emulator, &essentials), 0);
    assert!(
        logs.contains("sign-in history is not read") && logs.contains("ESSENTIALS"),
        "one line says why: {logs}"
    );

    let plus = plus_pool(emulator, "last-login-off", "OFF");
    seed_sign_ins(emulator, &plus);
    let (reader, _, _dir) = sync(emulator, &plus, &["--last-login", "off"]);
    assert_eq!(last_login(&user(&reader, "ann")), None);
    assert_eq!(
        history_reads(emulator, &plus),
        0,
        "--last-login off makes no call"
    );
}

#[test]
fn a_refused_history_turns_last_login_off_with_a_warning_not_a_failed_sync() {
    let emulator = Emulator::shared();
    let refusals = [
        json!({"kind": "access_denied"}),
        json!({"kind": "error", "status": 400, "error_type": "UserPoolAddOnNotEnabledException",
               "message": "Threat protection is not enabled"}),
    ];
    for refusal in refusals {
        let pool = plus_pool(emulator, "refused", "OFF");
        seed_sign_ins(emulator, &pool);
        let mut rule = refusal.clone();
        rule["operation"] = Value::from(OPERATION);
        rule["pool_id"] = Value::from(pool.id.clone());
        rule["count"] = Value::from(-1);
        emulator.inject(json!([rule]));
        let (reader, logs, _dir) = sync(emulator, &pool, &[]);
        emulator.clear_faults(&pool);
        assert_eq!(
            resource_ids(&reader, "user").len(),
            3,
            "{refusal}: every user synced"
        );
        assert_eq!(last_login(&user(&reader, "ann")), None);
        assert_eq!(
            logs.matches("Cognito refused the sign-in history").count(),
            1,
            "{refusal}: one warning: {logs}"
        );
    }
}

#[test]
fn mfa_status_follows_the_pool_setting_then_each_users_sign_ins() {
    let emulator = Emulator::shared();
    let mfa_of = |reader: &C1zReader| -> Vec<Option<bool>> {
        ["ann", "bob", "cara"]
            .map(|u| mfa(&user(reader, u)))
            .to_vec()
    };
    for (setting, expected) in [
        ("OFF", [Some(false); 3]),
        ("ON", [Some(true); 3]),
        // ann's last sign-in answered MFA, bob never signed in, cara did without MFA.
        ("OPTIONAL", [Some(true), None, Some(false)]),
    ] {
        let pool = plus_pool(emulator, "mfa", setting);
        seed_sign_ins(emulator, &pool);
        let without_mfa = json!({"events": [{"username": "cara", "at": T0}]});
        let path = format!("/_emulator/pools/{}/auth-events", pool.id);
        emulator.control("POST", &path, Some(&without_mfa));
        let (reader, _, _dir) = sync(emulator, &pool, &["--mfa-status", "--last-login", "off"]);
        assert_eq!(mfa_of(&reader), expected, "MfaConfiguration {setting}");
        assert_eq!(
            last_login(&user(&reader, "ann")),
            None,
            "last login stays off"
        );
        let reads = history_reads(emulator, &pool);
        let per_user = setting == "OPTIONAL";
        assert_eq!(
            reads,
            if per_user { 3 } else { 0 },
            "{setting}: history read only when MFA is per user"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_password_sign_in_becomes_the_users_last_login() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, "real-sign-in", "OFF");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    sign_in_with_password(emulator, &pool, "bob").await;
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let users = list_all_resources(&server.channel().await, "user", 0).await;
    let bob = users
        .iter()
        .find(|u| u.id.as_ref().unwrap().resource == "bob")
        .unwrap();
    let at = last_login(bob).expect("bob signed in");
    assert!((before - 1..before + 120).contains(&at), "{at} vs {before}");
    let others = users.iter().filter(|u| last_login(u).is_some()).count();
    assert_eq!(others, 1, "only bob signed in");
}

#[test]
fn snapshots_of_the_change_features_read_no_sign_in_history() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, "snapshots", "OPTIONAL");
    seed_sign_ins(emulator, &pool);
    let (code, lines, logs) =
        run_json_lines("export", &["--mfa-status"], &pool_env(emulator, &pool));
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(lines.len(), 3, "every user exported");
    assert_eq!(
        history_reads(emulator, &pool),
        0,
        "export compares records only"
    );
}

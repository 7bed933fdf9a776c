//! The sign-in feed (#19): each successful sign-in as one Baton usage event, read in passes over
//! the pool's users, over gRPC and through the one-shot reader.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::*;
use baton_cognito::pb::v2::event::Event as EventKind;
use baton_cognito::pb::v2::event_service_client::EventServiceClient;
use baton_cognito::pb::v2::*;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

const FEED_ID: &str = "cognito_user_pool_sign_ins";
const HISTORY: &str = "AdminListUserAuthEvents";
/// 2025-03-01T10:00:00Z: the seeded sign-ins are after it.
const T0: i64 = 1_740_823_200;

fn plus_pool(emulator: &Emulator, users: usize) -> Pool {
    let users: Vec<Value> = (0..users)
        .map(|i| json!({"username": format!("user-{i:03}")}))
        .collect();
    emulator.create_pool(json!({
        "name": unique("sign-ins"),
        "users": users,
        "config": {"UserPoolTier": "PLUS", "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}},
    }))
}

fn add_events(emulator: &Emulator, pool: &Pool, events: Value) {
    let path = format!("/_emulator/pools/{}/auth-events", pool.id);
    emulator.control("POST", &path, Some(&json!({ "events": events })));
}

/// The ids of the pool's successful sign-ins at or after `since` (epoch seconds), by user.
fn expected_sign_ins(emulator: &Emulator, pool: &Pool, since: i64) -> BTreeMap<String, String> {
    let path = format!("/_emulator/pools/{}/auth-events", pool.id);
    let all = emulator.control("GET", &path, None);
    all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["EventType"] == "SignIn" && e["EventResponse"] == "Pass")
        .filter(|e| e["CreationDate"].as_f64().unwrap() >= since as f64)
        .map(|e| {
            (
                e["EventId"].as_str().unwrap().to_string(),
                e["Username"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn request(cursor: &str, start_at: Option<i64>, page_size: u32) -> ListEventsRequest {
    ListEventsRequest {
        cursor: cursor.to_string(),
        start_at: start_at.map(|secs| prost_types::Timestamp {
            seconds: secs,
            nanos: 0,
        }),
        page_size,
        annotations: Vec::new(),
        event_feed_id: FEED_ID.to_string(),
    }
}

/// Every event of the feed from `cursor` (or `start_at`) until a page says there is no more.
async fn read_all(
    client: &mut EventServiceClient<Channel>,
    cursor: &str,
    start_at: Option<i64>,
    page_size: u32,
) -> (Vec<Event>, String) {
    let mut events = Vec::new();
    let mut cursor = cursor.to_string();
    loop {
        let page = client
            .list_events(request(&cursor, start_at, page_size))
            .await
            .unwrap_or_else(|status| panic!("ListEvents: {status:?}"))
            .into_inner();
        if page_size > 0 {
            assert!(
                page.events.len() <= page_size as usize,
                "a page holds at most its size"
            );
        }
        events.extend(page.events);
        cursor = page.cursor;
        if !page.has_more {
            return (events, cursor);
        }
    }
}

/// Each event's id and the user it names, checked to be a usage event with the user as both
/// actor and target.
fn sign_ins_of(events: &[Event]) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    for event in events {
        let Some(EventKind::UsageEvent(usage)) = &event.event else {
            panic!("a sign-in is a usage event: {event:?}");
        };
        let actor = usage.actor_resource.as_ref().unwrap().id.clone().unwrap();
        let target = usage.target_resource.as_ref().unwrap().id.clone().unwrap();
        assert_eq!((actor.resource_type.as_str(), &target), ("user", &actor));
        assert!(event.occurred_at.is_some());
        let again = seen.insert(event.id.clone(), actor.resource);
        assert!(again.is_none(), "event {} came twice", event.id);
    }
    seen
}

fn feed_env(
    emulator: &Emulator,
    pool: &Pool,
    dir: &std::path::Path,
    interval: &str,
) -> Vec<(String, String)> {
    let mut env = pool_env(emulator, pool);
    env.push(("BATON_EVENT_FEED_DIR".into(), dir.display().to_string()));
    env.push(("BATON_EVENT_FEED_INTERVAL".into(), interval.into()));
    env
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn every_successful_sign_in_comes_once_and_a_later_pass_brings_only_new_ones() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 130);
    add_events(
        emulator,
        &pool,
        json!([
            {"username": "user-000", "at": T0},
            {"username": "user-000", "at": T0 + 60, "challenges": [["Password", "Success"], ["Mfa", "Success"]]},
            {"username": "user-000", "at": T0 + 120, "response": "Fail", "challenges": [["Password", "Failure"]]},
            {"username": "user-001", "at": T0 + 30},
            {"username": "user-001", "at": T0 - 7200},
            {"username": "user-002", "at": T0 + 40, "type": "ForgotPassword"},
            {"username": "user-129", "at": T0 + 50},
        ]),
    );
    let expected = expected_sign_ins(emulator, &pool, T0 - 3600);
    assert_eq!(expected.len(), 4, "the sign-ins since an hour before T0");
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_secs(10);
    let server = Server::start(&feed_env(emulator, &pool, dir.path(), "10s"), &[]);
    let mut client = EventServiceClient::new(server.channel().await);

    let before = emulator.pool_calls(&pool);
    let pass_began = std::time::Instant::now();
    let (events, cursor) = read_all(&mut client, "", Some(T0 - 3600), 0).await;
    assert_eq!(sign_ins_of(&events), expected);
    let spent = emulator.pool_calls_since(&pool, &before);
    assert_eq!(
        spent.get(HISTORY),
        Some(&130),
        "one history read per user: {spent:?}"
    );
    assert_eq!(spent.get("ListUsers"), Some(&3), "{spent:?}");

    // Straight after a pass, the next waits for the interval: nothing is read.
    let before = emulator.pool_calls(&pool);
    let (none, waiting) = read_all(&mut client, &cursor, None, 0).await;
    assert!(none.is_empty());
    assert_eq!(emulator.pool_calls_since(&pool, &before), BTreeMap::new());
    assert!(
        pass_began.elapsed() < interval,
        "the test checked within the interval"
    );

    // One event per page: the same sign-ins, none twice, none lost between pages.
    let (paged, _) = read_all(&mut client, "", Some(T0 - 3600), 1).await;
    assert_eq!(sign_ins_of(&paged), expected);

    add_events(
        emulator,
        &pool,
        json!([{"username": "user-064", "at": now_secs()}]),
    );
    tokio::time::sleep(interval.saturating_sub(pass_began.elapsed())).await;
    let (later, _) = read_all(&mut client, &waiting, None, 0).await;
    let fresh: BTreeSet<String> = sign_ins_of(&later).into_values().collect();
    assert_eq!(
        fresh,
        BTreeSet::from(["user-064".to_string()]),
        "only the new sign-in"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_essentials_pool_has_an_empty_feed_and_foreign_cursors_are_refused() {
    let emulator = Emulator::shared();
    let essentials = emulator
        .create_pool(json!({"name": unique("no-sign-ins"), "users": [{"username": "ann"}]}));
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&feed_env(emulator, &essentials, dir.path(), "1h"), &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let (events, cursor) = read_all(&mut client, "", None, 0).await;
    assert!(events.is_empty());
    assert!(!cursor.is_empty());
    assert_eq!(
        emulator.pool_calls(&essentials).get(HISTORY),
        None,
        "no history call"
    );

    for bad in ["garbage".to_string(), cursor.replace('.', "x")] {
        let refused = client
            .list_events(request(&bad, None, 0))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{bad}");
    }
    let mut changes = request("", None, 0);
    changes.event_feed_id = "cognito_user_pool_changes".into();
    let change_cursor = client
        .list_events(changes)
        .await
        .unwrap()
        .into_inner()
        .cursor;
    let refused = client
        .list_events(request(&change_cursor, None, 0))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::InvalidArgument,
        "a change-feed cursor is not a sign-in cursor"
    );
    let refused = client
        .list_events(request("", None, 1001))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_history_read_fails_the_call_and_the_retry_loses_nothing() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 5);
    add_events(emulator, &pool, json!([{"username": "user-003", "at": T0}]));
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&feed_env(emulator, &pool, dir.path(), "1h"), &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    emulator.inject(
        json!([{"operation": HISTORY, "kind": "access_denied", "count": 1, "pool_id": pool.id}]),
    );
    let refused = client
        .list_events(request("", Some(T0 - 60), 0))
        .await
        .unwrap_err();
    emulator.clear_faults(&pool);
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let (events, _) = read_all(&mut client, "", Some(T0 - 60), 0).await;
    let users: Vec<String> = sign_ins_of(&events).into_values().collect();
    assert_eq!(users, ["user-003"]);
}

#[test]
fn the_one_shot_reader_prints_sign_ins_as_protojson_lines() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 3);
    add_events(emulator, &pool, json!([{"username": "user-001", "at": T0}]));
    let dir = tempfile::tempdir().unwrap();
    let start = "2025-03-01T09:00:00Z";
    let (code, lines, logs) = run_json_lines(
        "--event-feed",
        &["--event-feed-id", FEED_ID, "--event-feed-start-at", start],
        &feed_env(emulator, &pool, dir.path(), "1h"),
    );
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(lines.len(), 1, "{logs}");
    // A later run goes on from the logged cursor once the interval has passed: the new sign-in
    // only (a reader that turns the journal's refreshes off keeps the feed's interval).
    add_events(
        emulator,
        &pool,
        json!([{"username": "user-002", "at": now_secs()}]),
    );
    let cursor = logged_cursor(&logs);
    let (code, later, logs) = run_json_lines(
        "--event-feed",
        &["--event-feed-id", FEED_ID, "--event-feed-cursor", &cursor],
        &feed_env(emulator, &pool, dir.path(), "0s"),
    );
    assert_eq!(code, Some(0), "{logs}");
    let users: Vec<&str> = later
        .iter()
        .map(|l| {
            l["usageEvent"]["actorResource"]["id"]["resource"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(users, ["user-002"], "{logs}");
    assert_eq!(
        lines[0]["usageEvent"]["actorResource"]["id"]["resource"], "user-001",
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["occurredAt"], "2025-03-01T10:00:00Z");
}

/// A Plus pool exporting its sign-in logs to a new CloudWatch Logs group; the group's name.
async fn exporting_pool(emulator: &Emulator, users: usize) -> (Pool, String) {
    use aws_sdk_cognitoidentityprovider::types::{
        CloudWatchLogsConfigurationType, EventSourceName, LogConfigurationType, LogLevel,
    };
    let pool = plus_pool(emulator, users);
    let group = unique("/aws/cognito/sign-ins");
    let logs = logs_client(emulator);
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .expect("a log group");
    let cognito = SignedIn::sdk_client(emulator);
    cognito
        .set_log_delivery_configuration()
        .user_pool_id(&pool.id)
        .log_configurations(
            LogConfigurationType::builder()
                .event_source(EventSourceName::UserAuthEvents)
                .log_level(LogLevel::Info)
                .cloud_watch_logs_configuration(
                    CloudWatchLogsConfigurationType::builder()
                        .log_group_arn(format!(
                            "arn:aws:logs:{REGION}:123456789012:log-group:{group}"
                        ))
                        .build(),
                )
                .build()
                .expect("a log configuration"),
        )
        .send()
        .await
        .expect("the pool exports its sign-ins");
    (pool, group)
}

/// FilterLogEvents calls the emulator received for `group`.
fn log_reads(emulator: &Emulator, group: &str) -> usize {
    let log = emulator.control("GET", "/_emulator/requests?operation=FilterLogEvents", None);
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["log_group"] == group)
        .count()
}

fn logs_client(emulator: &Emulator) -> aws_sdk_cloudwatchlogs::Client {
    use aws_sdk_cloudwatchlogs::config::{Credentials, Region};
    aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version_latest()
            .region(Region::new(REGION))
            .endpoint_url(&emulator.url)
            .credentials_provider(Credentials::new(
                "AKIAIOSFODNN7EXAMPLE",
                "x",
                None,
                None,
                "test",
            ))
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exported_log_gives_the_same_sign_ins_at_a_cost_that_grows_with_sign_ins_only() {
    let emulator = Emulator::shared();
    let (pool, group) = exporting_pool(emulator, 130).await;
    add_events(
        emulator,
        &pool,
        json!([
            {"username": "user-000", "at": T0},
            {"username": "user-000", "at": T0 + 60},
            {"username": "user-000", "at": T0 + 120, "response": "Fail", "challenges": [["Password", "Failure"]]},
            {"username": "user-001", "at": T0 + 60},
            {"username": "user-002", "at": T0 + 40, "type": "ForgotPassword"},
            {"username": "user-129", "at": T0 + 50},
            {"username": "user-001", "at": T0 - 7200},
        ]),
    );
    let expected = expected_sign_ins(emulator, &pool, T0 - 3600);
    assert_eq!(expected.len(), 4);
    let dir = tempfile::tempdir().unwrap();
    let mut env = feed_env(emulator, &pool, dir.path(), "1h");
    env.push(("BATON_SIGN_IN_LOG_GROUP".into(), group.clone()));
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);

    let before = emulator.pool_calls(&pool);
    let (events, cursor) = read_all(&mut client, "", Some(T0 - 3600), 0).await;
    assert_eq!(
        sign_ins_of(&events),
        expected,
        "the same ids as the history"
    );
    let spent = emulator.pool_calls_since(&pool, &before);
    assert_eq!(spent.get(HISTORY), None, "no history call: {spent:?}");
    assert_eq!(spent.get("ListUsers"), None, "no listing: {spent:?}");
    let times: Vec<i64> = events
        .iter()
        .map(|e| e.occurred_at.unwrap().seconds)
        .collect();
    assert_eq!(times, [T0, T0 + 50, T0 + 60, T0 + 60], "oldest first");
    assert_eq!(
        log_reads(emulator, &group),
        1,
        "one FilterLogEvents call for a page of sign-ins"
    );

    let (paged, _) = read_all(&mut client, "", Some(T0 - 3600), 1).await;
    assert_eq!(
        sign_ins_of(&paged),
        expected,
        "one per page, none twice or lost"
    );

    // Up to date: the next read finds nothing new, then only what happened since.
    let reads = log_reads(emulator, &group);
    let (none, cursor) = read_all(&mut client, &cursor, None, 0).await;
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(
        log_reads(emulator, &group),
        reads + 1,
        "an up-to-date reader costs one call"
    );
    add_events(
        emulator,
        &pool,
        json!([{"username": "user-064", "at": T0 + 60}, {"username": "user-065", "at": now_secs()}]),
    );
    let (later, _) = read_all(&mut client, &cursor, None, 0).await;
    let fresh: BTreeSet<String> = sign_ins_of(&later).into_values().collect();
    assert_eq!(
        fresh,
        BTreeSet::from(["user-064".to_string(), "user-065".to_string()]),
        "a new sign-in at the last one's very millisecond is not skipped"
    );
}

#[test]
fn a_sign_in_log_group_is_refused_with_a_user_filter_or_in_another_region() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 1);
    for (args, expected) in [
        (
            vec![
                "--sign-in-log-group",
                "group",
                "--user-filter",
                "email ^= \"a\"",
            ],
            "--sign-in-log-group: cannot be used with --user-filter",
        ),
        (
            vec![
                "--sign-in-log-group",
                "arn:aws:logs:eu-west-1:123456789012:log-group:g",
            ],
            "eu-west-1",
        ),
        (
            vec!["--sign-in-log-group", "has space"],
            "not a log group name",
        ),
    ] {
        let mut all = vec!["--event-feed", "--event-feed-id", FEED_ID];
        all.extend(args);
        let out = run_binary(&all, &pool_env(emulator, &pool));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_mode_list_events_tasks_read_the_sign_in_feed() {
    use crate::support::platform::{self, Platform, PlatformOptions, success};
    use baton_cognito::pb::baton::task::{self, TaskType};
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 3);
    add_events(
        emulator,
        &pool,
        json!([{"username": "user-000", "at": T0}, {"username": "user-002", "at": T0 + 5}]),
    );
    let expected = expected_sign_ins(emulator, &pool, T0 - 3600);
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::start(PlatformOptions::default()).await;
    let mut env = feed_env(emulator, &pool, dir.path(), "1h");
    env.extend(platform.env());
    let _worker = Worker::start(&env, &[]);
    let task = platform::task(TaskType::ListEvents(task::ListEventsTask {
        annotations: Vec::new(),
        cursor: String::new(),
        start_at: Some(prost_types::Timestamp {
            seconds: T0 - 3600,
            nanos: 0,
        }),
        event_feed_id: FEED_ID.to_string(),
        page_size: 0,
    }));
    platform.push_task(task.clone());
    let finished = platform
        .wait_finished(&task.id, Duration::from_secs(90))
        .await
        .expect("the task finishes");
    let (page, _) = success::<ListEventsResponse>(&finished);
    assert!(!page.has_more);
    assert_eq!(sign_ins_of(&page.events), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_sign_in_log_group_is_a_failed_precondition_naming_it() {
    let emulator = Emulator::shared();
    let pool = plus_pool(emulator, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut env = feed_env(emulator, &pool, dir.path(), "1h");
    env.push(("BATON_SIGN_IN_LOG_GROUP".into(), "no-such-group".into()));
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let refused = client.list_events(request("", None, 0)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("--sign-in-log-group no-such-group"),
        "{}",
        refused.message()
    );
}

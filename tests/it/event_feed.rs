//! The Baton event feed (`EventService`) against the emulator, through every way it is reached:
//! gRPC on a real socket, the one-shot `--event-feed` reader, and service-mode `list_events`
//! tasks from the platform double. The same sequence of pool mutations (`support/changes.rs`)
//! must come out as exactly the expected resource-change, grant and revoke events, once each,
//! with servers and workers restarted between (and in the middle of) reads.

use crate::support::changes;
use crate::support::platform;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::support::*;
use baton_cognito::pb::baton::task::{self, TaskType};
use baton_cognito::pb::v2::event::Event as EventKind;
use baton_cognito::pb::v2::event_service_client::EventServiceClient;
use baton_cognito::pb::v2::*;
use changes::{mutate, seed};
use platform::{Platform, PlatformOptions, failure, success};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

const FEED_ID: &str = "cognito_user_pool_changes";
const TASK_TIMEOUT: Duration = Duration::from_secs(90);

/// What an event says happened, e.g. ("revoke", "group:retired:member user:bob:smith").
fn summary(event: &Event) -> (String, String) {
    let id = |id: Option<&ResourceId>| {
        id.map(|id| format!("{}:{}", id.resource_type, id.resource))
            .unwrap_or_default()
    };
    let grant = |entitlement: &Option<Entitlement>, principal: &Option<Resource>| {
        format!(
            "{} {}",
            entitlement
                .as_ref()
                .map(|e| e.id.as_str())
                .unwrap_or_default(),
            id(principal.as_ref().and_then(|p| p.id.as_ref()))
        )
    };
    match event.event.as_ref().expect("every event has a kind") {
        EventKind::ResourceChangeEvent(change) => {
            ("resource".into(), id(change.resource_id.as_ref()))
        }
        EventKind::CreateGrantEvent(g) => ("grant".into(), grant(&g.entitlement, &g.principal)),
        EventKind::CreateRevokeEvent(r) => ("revoke".into(), grant(&r.entitlement, &r.principal)),
        other => panic!("unexpected event kind {other:?}"),
    }
}

/// The events `changes::mutate` must produce: one per change, sorted.
fn expected() -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = [
        ("resource", "user:eve"),
        ("resource", "user:ann"),
        ("resource", "user:bob:smith"),
        ("resource", "user:cara"),
        ("resource", "group:new"),
        ("resource", "group:retired"),
        ("grant", "group:new:member user:eve"),
        ("revoke", "group:team: red/blue:member user:dan"),
        ("revoke", "group:retired:member user:bob:smith"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    expected.sort();
    expected
}

fn sorted_summaries(events: &[Event]) -> Vec<(String, String)> {
    let mut summaries: Vec<_> = events.iter().map(summary).collect();
    summaries.sort();
    summaries
}

fn feed_env(emulator: &Emulator, pool: &Pool, dir: &std::path::Path) -> Vec<(String, String)> {
    let mut env = pool_env(emulator, pool);
    env.extend([
        (
            "BATON_EVENT_FEED_DIR".to_string(),
            dir.display().to_string(),
        ),
        ("BATON_EVENT_FEED_INTERVAL".to_string(), "0s".to_string()),
    ]);
    env
}

fn request(cursor: &str, start_at: Option<SystemTime>, page_size: u32) -> ListEventsRequest {
    ListEventsRequest {
        cursor: cursor.to_string(),
        start_at: start_at.map(prost_types::Timestamp::from),
        page_size,
        annotations: Vec::new(),
        event_feed_id: FEED_ID.to_string(),
    }
}

async fn list(
    client: &mut EventServiceClient<Channel>,
    request: ListEventsRequest,
) -> ListEventsResponse {
    client
        .list_events(request)
        .await
        .unwrap_or_else(|status| panic!("ListEvents: {status:?}"))
        .into_inner()
}

/// Every event after `cursor`, page by page; and the cursor after the last.
async fn read_all(
    client: &mut EventServiceClient<Channel>,
    cursor: &str,
    start_at: Option<SystemTime>,
    page_size: u32,
) -> (Vec<Event>, String) {
    let mut events = Vec::new();
    let mut cursor = cursor.to_string();
    loop {
        let page = list(client, request(&cursor, start_at, page_size)).await;
        assert!(!page.cursor.is_empty(), "every answer carries a cursor");
        events.extend(page.events);
        cursor = page.cursor;
        if !page.has_more {
            return (events, cursor);
        }
    }
}

fn carried_resource(event: &Event) -> Option<Resource> {
    event.annotations.iter().find_map(|a| a.to_msg().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_feed_serves_each_change_once_across_restarts() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let env = feed_env(emulator, &pool, dir.path());

    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let feeds = client
        .list_event_feeds(ListEventFeedsRequest::default())
        .await
        .expect("ListEventFeeds")
        .into_inner();
    assert_eq!(
        feeds.list,
        [
            EventFeedMetadata {
                id: FEED_ID.into(),
                supported_event_types: vec![
                    EventType::ResourceChange as i32,
                    EventType::CreateGrant as i32,
                    EventType::CreateRevoke as i32,
                ],
            },
            EventFeedMetadata {
                id: "cognito_user_pool_sign_ins".into(),
                supported_event_types: vec![EventType::Usage as i32],
            }
        ]
    );

    // The first read records the baseline: nothing happened yet.
    let baseline = list(&mut client, request("", None, 0)).await;
    assert!(baseline.events.is_empty(), "{:?}", baseline.events);
    assert!(!baseline.has_more);

    mutate(emulator, &pool);
    // A new process finds the baseline on disk.
    drop(server);
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let first = list(&mut client, request(&baseline.cursor, None, 4)).await;
    assert_eq!(first.events.len(), 4);
    assert!(first.has_more);

    // Restarted in the middle of the pages, the reader carries on from its cursor.
    drop(server);
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let (rest, end) = read_all(&mut client, &first.cursor, None, 4).await;
    let mut events = first.events.clone();
    events.extend(rest);
    assert_eq!(
        sorted_summaries(&events),
        expected(),
        "exactly one event per change"
    );
    let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "ids are unique");
    assert!(events.iter().all(|e| e.occurred_at.is_some()));

    // Reading from an old cursor again gives the same events with the same ids, in order.
    let (replayed, replay_end) = read_all(&mut client, &baseline.cursor, None, 1000).await;
    assert_eq!(replayed, events);
    assert_eq!(replay_end, end);
    // So does reading by time from before the change; from after it, nothing.
    let hour = Duration::from_secs(3600);
    let (by_time, _) = read_all(&mut client, "", Some(SystemTime::now() - hour), 3).await;
    assert_eq!(by_time, events);
    let later = list(&mut client, request("", Some(SystemTime::now() + hour), 0)).await;
    assert!(later.events.is_empty());

    // Caught up, a new look at the pool finds nothing more.
    let caught_up = list(&mut client, request(&end, None, 0)).await;
    assert!(
        caught_up.events.is_empty(),
        "{:?}",
        sorted_summaries(&caught_up.events)
    );
    assert!(!caught_up.has_more);

    // What the events carry.
    let by_subject = |kind: &str, subject: &str| {
        events
            .iter()
            .find(|e| summary(e) == (kind.to_string(), subject.to_string()))
            .unwrap_or_else(|| panic!("no {kind} event for {subject}"))
    };
    let ann = carried_resource(by_subject("resource", "user:ann")).expect("ann rides along");
    assert_eq!(profile_text(&ann, "custom:team").as_deref(), Some("blue"));
    assert_eq!(carried_resource(by_subject("resource", "user:cara")), None);
    assert_eq!(
        carried_resource(by_subject("resource", "group:retired")),
        None
    );
    assert!(carried_resource(by_subject("resource", "group:new")).is_some());
    let Some(EventKind::CreateGrantEvent(grant)) =
        &by_subject("grant", "group:new:member user:eve").event
    else {
        unreachable!()
    };
    let entitlement = grant.entitlement.as_ref().unwrap();
    assert_eq!(entitlement.slug, "member");
    assert_eq!(
        entitlement.resource.as_ref().unwrap().display_name,
        "new",
        "the entitlement carries its group"
    );
    let Some(EventKind::CreateRevokeEvent(revoke)) =
        &by_subject("revoke", "group:retired:member user:bob:smith").event
    else {
        unreachable!()
    };
    let bob = revoke.principal.as_ref().unwrap();
    assert_eq!(
        profile_text(bob, "email").as_deref(),
        Some("bob@example.com"),
        "the revoked principal as it was"
    );

    // Requests the feed cannot answer.
    let mut tampered = end.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        (request(&tampered, None, 0), Code::InvalidArgument, "cursor"),
        (request("garbage", None, 0), Code::InvalidArgument, "cursor"),
        (
            request(&end, None, 1001),
            Code::InvalidArgument,
            "page_size 1001",
        ),
        (
            ListEventsRequest {
                event_feed_id: "nope".into(),
                ..request("", None, 0)
            },
            Code::NotFound,
            "event feed id nope not found",
        ),
    ];
    for (bad, code, text) in cases {
        let status = client.list_events(bad).await.expect_err("refused");
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(text), "{status:?}");
    }
    // No feed id means this connector's one feed.
    let unnamed = list(
        &mut client,
        ListEventsRequest {
            event_feed_id: String::new(),
            ..request(&end, None, 0)
        },
    )
    .await;
    assert!(unnamed.events.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_keeps_its_interval_its_pool_and_one_process() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let mut env = feed_env(emulator, &pool, dir.path());
    env.retain(|(key, _)| key != "BATON_EVENT_FEED_INTERVAL");

    // At the default interval (5 minutes), a reader who is caught up gets no new snapshot yet.
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let baseline = list(&mut client, request("", None, 0)).await;
    mutate(emulator, &pool);
    let too_soon = list(&mut client, request(&baseline.cursor, None, 0)).await;
    assert!(too_soon.events.is_empty());
    assert_eq!(
        too_soon.cursor, baseline.cursor,
        "still at the same position"
    );

    // A second process on the same directory is refused, not allowed to interleave.
    let second = Server::start(&env, &[]);
    let mut second_client = EventServiceClient::new(second.channel().await);
    let status = second_client
        .list_events(request("", None, 0))
        .await
        .expect_err("the journal is in use");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("held by another process"),
        "{status:?}"
    );
    drop(second);
    drop(server);

    // A journal belongs to one pool.
    let other = emulator.create_pool(small_pool("other"));
    let other_env = feed_env(emulator, &other, dir.path());
    let server = Server::start(&other_env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let status = client
        .list_events(request("", None, 0))
        .await
        .expect_err("another pool's journal");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("use another --event-feed-dir"),
        "{status:?}"
    );

    // And a cursor belongs to one journal: the same pool with a fresh directory refuses it.
    let fresh = tempfile::tempdir().unwrap();
    let server = Server::start(&feed_env(emulator, &pool, fresh.path()), &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let status = client
        .list_events(request(&baseline.cursor, None, 0))
        .await
        .expect_err("a cursor of another journal");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("list again without a cursor"),
        "{status:?}"
    );
}

/// AWS calls the emulator received for `pool` since its counters were reset.
fn total_calls(emulator: &Emulator, pool: &Pool) -> u64 {
    emulator.pool_calls(pool).values().sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_refresh_waits_before_the_next_and_then_recovers() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_secs(2);
    let mut env = feed_env(emulator, &pool, dir.path());
    env.retain(|(key, _)| key != "BATON_EVENT_FEED_INTERVAL");
    env.push(("BATON_EVENT_FEED_INTERVAL".into(), "2s".into()));
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let baseline = list(&mut client, request("", None, 0)).await;
    mutate(emulator, &pool);
    tokio::time::sleep(interval).await;

    // The pool refuses the credentials: the refresh that was due fails, and says why.
    emulator.inject(serde_json::json!([{
        "operation": "*", "kind": "access_denied", "count": -1, "pool_id": pool.id,
    }]));
    let status = client
        .list_events(request(&baseline.cursor, None, 0))
        .await
        .expect_err("the refresh fails");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(total_calls(emulator, &pool) > 0);

    // Right after, callers get what the journal has; no new sync is started against the pool.
    let before = total_calls(emulator, &pool);
    for _ in 0..3 {
        let page = list(&mut client, request(&baseline.cursor, None, 0)).await;
        assert!(page.events.is_empty());
        assert_eq!(page.cursor, baseline.cursor);
    }
    assert_eq!(
        total_calls(emulator, &pool),
        before,
        "no refresh while backing off"
    );

    // Once the pool works again and the wait is over, every change comes out.
    emulator.clear_faults(&pool);
    tokio::time::sleep(interval).await;
    let (events, _) = read_all(&mut client, &baseline.cursor, None, 0).await;
    assert_eq!(sorted_summaries(&events), expected());
    assert!(
        server.logs().contains("event feed refresh failed"),
        "the failure is logged"
    );
}

/// Runs the one-shot reader; exit code, the events it printed, and its logs.
fn one_shot(env: &[(String, String)], args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    run_json_lines("--event-feed", args, env)
}

/// The cursor the one-shot reader logged.
#[test]
fn one_shot_reader_prints_protojson_events_and_continues_from_its_cursor() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let mut env = feed_env(emulator, &pool, dir.path());
    // The one-shot reader always looks at the pool, whatever the interval.
    env.retain(|(key, _)| key != "BATON_EVENT_FEED_INTERVAL");

    let (code, events, logs) = one_shot(&env, &[]);
    assert_eq!(code, Some(0), "{logs}");
    assert!(
        events.is_empty(),
        "the first run is the baseline: {events:?}"
    );
    let baseline = logged_cursor(&logs);

    mutate(emulator, &pool);
    let (code, events, logs) = one_shot(&env, &["--event-feed-cursor", &baseline]);
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(events.len(), expected().len(), "{events:?}");
    let kinds: BTreeSet<&str> = events
        .iter()
        .flat_map(|e| e.as_object().unwrap().keys().map(String::as_str))
        .filter(|k| k.ends_with("Event"))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "createGrantEvent",
            "createRevokeEvent",
            "resourceChangeEvent"
        ])
    );
    assert!(
        events
            .iter()
            .all(|e| e["id"].is_string() && e["occurredAt"].is_string())
    );
    let cara = events
        .iter()
        .find(|e| e["resourceChangeEvent"]["resourceId"]["resource"] == "cara")
        .expect("cara's deletion");
    assert_eq!(
        cara["resourceChangeEvent"]["resourceId"]["resourceType"],
        "user"
    );

    // By default the reader starts a day back: the same events again, then none after them.
    let (code, again, logs) = one_shot(&env, &["--event-feed-id", FEED_ID]);
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(again, events);
    let end = logged_cursor(&logs);
    let (code, none, logs) = one_shot(&env, &["--event-feed-cursor", &end]);
    assert_eq!((code, none.len()), (Some(0), 0), "{logs}");

    // Every run looks at the pool, even with a day of unread events before it.
    emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/users", pool.id),
        Some(&serde_json::json!({"users": [{"username": "finn"}]})),
    );
    let (code, with_finn, logs) = one_shot(&env, &[]);
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(with_finn[..events.len()], events[..]);
    assert_eq!(with_finn.len(), events.len() + 1, "{with_finn:?}");
    assert_eq!(
        with_finn[events.len()]["resourceChangeEvent"]["resourceId"]["resource"],
        "finn"
    );

    // Bad values name their flag and exit 2.
    for (args, flag) in [
        (
            vec!["--event-feed-cursor", "garbage"],
            "--event-feed-cursor",
        ),
        (vec!["--event-feed-id", "nope"], "--event-feed-id"),
        (
            vec!["--event-feed-start-at", "yesterday"],
            "--event-feed-start-at",
        ),
        (
            vec!["--event-feed-interval", "soon"],
            "--event-feed-interval",
        ),
    ] {
        let (code, _, logs) = one_shot(&env, &args);
        assert_eq!(code, Some(2), "{args:?}: {logs}");
        assert!(logs.contains(flag), "{args:?}: {logs}");
    }
    let (code, _, logs) = one_shot(&env, &["--revoke-grant", "group:admins:member:user:ann"]);
    assert_eq!(code, Some(2), "{logs}");
    assert!(logs.contains("cannot be used with"), "{logs}");
    // The reader is the top level's; a command does not take it and quietly do something else.
    let out = run_binary(&["export", "--event-feed"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--event-feed'"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn service_mode_list_events_tasks_read_the_same_feed_across_worker_restarts() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::start(PlatformOptions::default()).await;
    let mut env = feed_env(emulator, &pool, dir.path());
    env.extend(platform.env());
    let mut worker = Worker::start(&env, &[]);

    let run = |task_type: TaskType| {
        let task = platform::task(task_type);
        platform.push_task(task.clone());
        task
    };
    let finished = |task: baton_cognito::pb::baton::Task| {
        let platform = &platform;
        async move {
            platform
                .wait_finished(&task.id, TASK_TIMEOUT)
                .await
                .unwrap_or_else(|| panic!("task {} never finished", task.id))
        }
    };
    let list_task = |cursor: &str, page_size: u32| {
        TaskType::ListEvents(task::ListEventsTask {
            annotations: Vec::new(),
            cursor: cursor.to_string(),
            start_at: None,
            event_feed_id: FEED_ID.to_string(),
            page_size,
        })
    };

    let feeds = finished(run(TaskType::ListEventFeeds(
        task::ListEventFeedsTask::default(),
    )))
    .await;
    let (feeds, _) = success::<ListEventFeedsResponse>(&feeds);
    let ids: Vec<&str> = feeds.list.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, [FEED_ID, "cognito_user_pool_sign_ins"]);

    let (baseline, _) = success::<ListEventsResponse>(&finished(run(list_task("", 0))).await);
    assert!(baseline.events.is_empty());
    mutate(emulator, &pool);

    // The worker is replaced between pages; the platform's cursor still reads on.
    let (first, _) =
        success::<ListEventsResponse>(&finished(run(list_task(&baseline.cursor, 5))).await);
    assert_eq!((first.events.len(), first.has_more), (5, true));
    let (status, logs) = worker.stop(true, Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{logs}");
    let mut worker = Worker::start(&env, &[]);
    let (rest, _) =
        success::<ListEventsResponse>(&finished(run(list_task(&first.cursor, 0))).await);
    assert!(!rest.has_more);
    let mut events = first.events;
    events.extend(rest.events);
    assert_eq!(sorted_summaries(&events), expected());

    // A cursor the feed refuses fails the task for good.
    let refused = finished(run(list_task("garbage", 0))).await;
    let (code, message, non_retryable) = failure(&refused);
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(non_retryable);
    let (status, logs) = worker.stop(true, Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{logs}");
}

//! Service mode end to end: the real binary, started with a client id and secret, logs in to a
//! platform double (HTTPS token endpoint + TLS gRPC BatonService, `support/platform.rs`), runs
//! the tasks it hands out against the Cognito emulator, and reports back. Every change a task
//! makes is read back through the AWS API; every uploaded sync is opened as a `.c1z`.

use crate::support::platform;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::*;
use baton_cognito::c1z::C1zReader;
use baton_cognito::pb::baton::baton_service_finish_task_request::FinalState;
use baton_cognito::pb::baton::task::{self, TaskType};
use baton_cognito::pb::baton::{BatonServiceFinishTaskRequest, Task};
use baton_cognito::pb::struct_from_json;
use baton_cognito::pb::v2::*;
use platform::{Platform, PlatformOptions, failure, success};
use serde_json::json;
use test_case::test_case;

/// Long enough for any task here on a slow CI machine; tasks normally end in well under a second.
const TASK_TIMEOUT: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET on the health endpoint: the status code, or None when nothing listens.
async fn probe(addr: &str, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_for_probe(addr: &str, path: &str, want: u16) {
    let deadline = Instant::now() + TASK_TIMEOUT;
    while Instant::now() < deadline {
        if probe(addr, path).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never answered {want}");
}

/// A platform, a pool, and a worker with provisioning and the health endpoint, for each test.
struct Setup {
    platform: Platform,
    pool: Pool,
    worker: Worker,
    /// The worker's environment, for starting it again.
    env: Vec<(String, String)>,
}

async fn setup(
    options: PlatformOptions,
    pool_spec: serde_json::Value,
    extra_env: &[(&str, &str)],
) -> Setup {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(pool_spec);
    let platform = Platform::start(options).await;
    let health = format!("127.0.0.1:{}", free_port());
    let mut env = pool_env(emulator, &pool);
    env.extend(platform.env());
    env.extend([
        ("BATON_HOST_ID".to_string(), "worker-under-test".to_string()),
        ("BATON_PROVISIONING".to_string(), "true".to_string()),
        ("BATON_HEALTH_CHECK".to_string(), "true".to_string()),
        (
            "BATON_HEALTH_CHECK_PORT".to_string(),
            health.rsplit(':').next().unwrap().to_string(),
        ),
    ]);
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut worker = Worker::start(&env, &[]);
    worker.health = Some(health);
    Setup {
        platform,
        pool,
        worker,
        env,
    }
}

async fn finished(setup: &Setup, task: &Task) -> BatonServiceFinishTaskRequest {
    match setup.platform.wait_finished(&task.id, TASK_TIMEOUT).await {
        Some(finish) => finish,
        None => panic!(
            "task {} was never finished; worker logs:\n{}",
            task.id,
            setup.worker.logs()
        ),
    }
}

fn sync_task() -> Task {
    platform::task(TaskType::SyncFull(task::SyncFullTask::default()))
}

/// Opens an uploaded `.c1z` and returns its user ids, group ids and grant ids.
fn read_upload(bytes: &[u8]) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uploaded.c1z");
    std::fs::write(&path, bytes).unwrap();
    let reader = C1zReader::open(&path).expect("the upload is a valid .c1z");
    let entitlements = reader.stats().unwrap().entitlements;
    (
        resource_ids(&reader, "user"),
        resource_ids(&reader, "group"),
        grant_ids(&reader),
        entitlements,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sync_task_uploads_the_seeded_pool_in_512_kib_chunks() {
    // Enough users with long, incompressible attributes that the .c1z takes several chunks.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut noise = |len: usize| -> String {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(alphabet[(state % 62) as usize])
            })
            .collect()
    };
    let users: Vec<_> = (0..1000)
        .map(|i| {
            json!({"username": format!("user-{i:05}"), "attributes": {
                "email": format!("user-{i:05}@example.com"),
                "name": noise(1500),
            }})
        })
        .collect();
    let memberships: Vec<_> = (0..1000)
        .step_by(3)
        .map(|i| json!(["everyone", format!("user-{i:05}")]))
        .chain([json!(["team: red/blue", "user-00001"])])
        .collect();
    let setup = setup(
        PlatformOptions::default(),
        json!({"name": unique("service-sync"), "users": users,
               "groups": [{"name": "everyone"}, {"name": "team: red/blue"}, {"name": "empty"}],
               "memberships": memberships}),
        &[],
    )
    .await;
    let platform = &setup.platform;

    let hello = platform
        .wait_hello(TASK_TIMEOUT)
        .await
        .expect("the worker says Hello");
    assert_eq!(
        hello.host_id, "worker-under-test",
        "BATON_HOST_ID names the worker"
    );
    assert!(hello.task_id.is_empty());
    let metadata = hello
        .connector_metadata
        .expect("Hello carries the connector metadata");
    assert!(!metadata.display_name.is_empty());
    let build = hello.build_info.expect("build info");
    assert_eq!(build.package, "baton-cognito");
    assert!(
        build.lang_version.starts_with("rustc "),
        "{}",
        build.lang_version
    );
    let os = hello.os_info.expect("os info");
    assert_eq!(os.os, "linux");
    assert!(!os.hostname.is_empty() && !os.virtualization_system.is_empty());
    let health = setup.worker.health.clone().unwrap();
    wait_for_probe(&health, "/ready", 200).await;
    assert_eq!(probe(&health, "/live").await, Some(200));
    assert_eq!(
        probe(&health, "/health").await,
        Some(200),
        "the pool is reachable"
    );
    assert_eq!(probe(&health, "/nope").await, Some(404));

    let task = sync_task();
    platform.push_task(task.clone());
    let finish = finished(&setup, &task).await;
    match &finish.final_state {
        Some(FinalState::Success(success)) => assert!(
            success.response.is_none(),
            "a sync finishes with no response"
        ),
        other => panic!(
            "sync failed: {other:?} {:?}\n{}",
            finish.status,
            setup.worker.logs()
        ),
    }
    assert_eq!(finish.host_id, "worker-under-test");
    assert!(
        !platform.heartbeats(&task.id).is_empty(),
        "the sync sends heartbeats"
    );

    let uploads = platform.uploads(&task.id);
    assert_eq!(uploads.len(), 1, "one upload");
    let upload = &uploads[0];
    assert!(
        upload.completed && upload.checksum_ok,
        "the SHA-256 matches what arrived"
    );
    assert_eq!(upload.host_id, "worker-under-test");
    let (last, full) = upload.chunk_sizes.split_last().unwrap();
    assert!(
        !full.is_empty(),
        "a file of {} bytes takes several chunks",
        upload.bytes.len()
    );
    assert!(
        full.iter().all(|&size| size == 512 * 1024),
        "{:?}",
        upload.chunk_sizes
    );
    assert!(*last > 0 && *last <= 512 * 1024);

    let (users, groups, grants, entitlements) = read_upload(&upload.bytes);
    assert_eq!(users.len(), 1000);
    assert!(users.contains("user-00000") && users.contains("user-00999"));
    assert_eq!(
        groups,
        BTreeSet::from(["everyone".into(), "team: red/blue".into(), "empty".into()])
    );
    assert_eq!(grants.len(), 335);
    assert!(grants.contains("group:team: red/blue:member:user:user-00001"));
    assert!(grants.contains("group:everyone:member:user:user-00999"));
    assert_eq!(entitlements, 3);

    let (accepted, refused) = platform.token_requests();
    assert!(accepted >= 1 && refused == 0);
    assert!(
        accepted <= 2,
        "the token is cached, not fetched per call ({accepted} fetched)"
    );
    assert!(
        platform
            .user_agents()
            .iter()
            .all(|ua| ua.starts_with("baton-test baton-sdk/")),
        "{:?}",
        platform.user_agents()
    );
    assert!(
        setup.worker.temp_entries().is_empty(),
        "the temporary sync is removed: {:?}",
        setup.worker.temp_entries()
    );
    assert!(
        !setup.worker.logs().contains(platform.client_secret()),
        "the secret is never logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_tasks_honour_skip_grants_and_sync_resource_type_ids() {
    let setup = setup(PlatformOptions::default(), small_pool("service"), &[]).await;
    let skip = task::SyncFullTask {
        skip_grants: true,
        ..Default::default()
    };
    assert_eq!(synced_counts(&setup, skip).await, (3, 2, 0, 2));

    // Only the types asked for. Memberships are the groups' grants: without groups there are
    // none, and without users they are still read per group.
    for (types, expected) in [
        (vec!["group".to_string()], (0, 2, 1, 2)),
        (vec!["user".to_string()], (3, 0, 0, 0)),
    ] {
        let subset = task::SyncFullTask {
            sync_resource_type_ids: types.clone(),
            ..Default::default()
        };
        assert_eq!(synced_counts(&setup, subset).await, expected, "{types:?}");
    }
}

/// Runs a sync task to its end: the users, groups, grants and entitlements it uploaded.
async fn synced_counts(setup: &Setup, sync: task::SyncFullTask) -> (usize, usize, usize, u64) {
    let task = platform::task(TaskType::SyncFull(sync));
    setup.platform.push_task(task.clone());
    let finish = finished(setup, &task).await;
    assert!(
        matches!(finish.final_state, Some(FinalState::Success(_))),
        "{finish:?}"
    );
    let uploads = setup.platform.uploads(&task.id);
    let (users, groups, grants, entitlements) =
        read_upload(&uploads.last().expect("an upload").bytes);
    (users.len(), groups.len(), grants.len(), entitlements)
}

/// #22: the Baton SDK's flags on a worker. `--sync-resource-types` is what a sync task that
/// names no types reads (a task's own types win); `--skip-full-sync` uploads an empty sync once
/// the pool is checked; `--c1z-temp-dir` is where the task's sync is built.
#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_flags_scope_a_workers_sync_tasks() {
    let work = tempfile::tempdir().unwrap();
    let work_dir = work.path().to_str().unwrap();
    let worker = setup(
        PlatformOptions::default(),
        small_pool("sdk-flags"),
        &[
            ("BATON_SYNC_RESOURCE_TYPES", "group"),
            ("BATON_C1Z_TEMP_DIR", work_dir),
        ],
    )
    .await;
    for (types, expected) in [
        (vec![], (0, 2, 1, 2)),
        (vec!["user".to_string()], (3, 0, 0, 0)),
    ] {
        let task = task::SyncFullTask {
            sync_resource_type_ids: types.clone(),
            ..Default::default()
        };
        assert_eq!(synced_counts(&worker, task).await, expected, "{types:?}");
    }
    let logs = worker.worker.logs();
    assert!(
        logs.contains(&format!("{work_dir}/baton-sdk-sync-upload-task-")),
        "the sync was built in --c1z-temp-dir: {logs}"
    );
    drop(worker);

    let skipping = setup(
        PlatformOptions::default(),
        small_pool("sdk-skip"),
        &[("BATON_SKIP_FULL_SYNC", "true")],
    )
    .await;
    let empty = synced_counts(&skipping, task::SyncFullTask::default()).await;
    assert_eq!(empty, (0, 0, 0, 0), "an empty sync is uploaded");
}

/// #22: a worker exporting to an OpenTelemetry collector traces each task, with the sync it
/// runs (its listings and Cognito calls) inside the task's trace, and flushes on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn a_workers_tasks_are_traced_with_their_syncs_inside() {
    let (addr, received) = crate::telemetry::receiver_here().await;
    let endpoint = addr.to_string();
    let mut worker = setup(
        PlatformOptions::default(),
        small_pool("otel-worker"),
        &[
            ("BATON_OTEL_COLLECTOR_ENDPOINT", &endpoint),
            ("BATON_OTEL_COLLECTOR_ENDPOINT_TLS_INSECURE", "true"),
        ],
    )
    .await;
    let task = platform::task(TaskType::SyncFull(task::SyncFullTask::default()));
    worker.platform.push_task(task.clone());
    finished(&worker, &task).await;
    let (status, logs) = worker.worker.stop(true, Duration::from_secs(20)).await;
    assert!(status.is_some_and(|s| s.success()), "{logs}");

    let spans = crate::telemetry::spans(&received);
    let attribute = crate::telemetry::attribute;
    let traced = spans
        .iter()
        .find(|s| {
            s.name == "task" && attribute(&s.attributes, "task_id").as_deref() == Some(&task.id)
        })
        .unwrap_or_else(|| panic!("no span of the task among {} spans", spans.len()));
    let inside = |name: &str| {
        spans
            .iter()
            .any(|s| s.name == name && s.trace_id == traced.trace_id)
    };
    for name in ["sync", "listing", "cognito call"] {
        assert!(inside(name), "no {name:?} span in the task's trace");
    }
}

/// #19: a sync task naming resources uploads a partial sync of exactly those, their
/// entitlements and their grants, at the stated cost: a user is one ListUsers call plus its
/// AdminListGroupsForUser pages, a group its GetGroup plus its ListUsersInGroup pages.
#[tokio::test(flavor = "multi_thread")]
async fn targeted_sync_tasks_upload_a_partial_sync_of_the_named_resources() {
    let setup = setup(PlatformOptions::default(), small_pool("targeted"), &[]).await;
    let emulator = Emulator::shared();
    // The worker checks the pool once when it starts (DescribeUserPool); counts start after.
    let started = std::time::Instant::now();
    while !emulator
        .pool_calls(&setup.pool)
        .contains_key("DescribeUserPool")
    {
        assert!(
            started.elapsed() < TASK_TIMEOUT,
            "the worker never checked the pool"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let run = async |targets: Vec<Resource>, type_ids: Vec<String>| {
        let task = platform::task(TaskType::SyncFull(task::SyncFullTask {
            targeted_sync_resources: targets,
            sync_resource_type_ids: type_ids,
            ..Default::default()
        }));
        let before = emulator.pool_calls(&setup.pool);
        setup.platform.push_task(task.clone());
        let finish = finished(&setup, &task).await;
        let spent = emulator.pool_calls_since(&setup.pool, &before);
        let bytes = setup
            .platform
            .uploads(&task.id)
            .last()
            .unwrap_or_else(|| panic!("an upload; finish: {finish:?}"))
            .bytes
            .clone();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partial.c1z");
        std::fs::write(&path, &bytes).unwrap();
        let reader = C1zReader::open(&path).expect("the upload is a valid .c1z");
        assert_eq!(reader.sync_run().sync_type, "partial");
        let (users, groups, grants, entitlements) = read_upload(&bytes);
        (users, groups, grants, entitlements, spent)
    };
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let calls = |items: &[(&str, u64)]| {
        items
            .iter()
            .map(|(op, n)| (op.to_string(), *n))
            .collect::<BTreeMap<_, _>>()
    };

    // A user: itself, its one membership, and the group that grant names with its entitlement.
    let (users, groups, grants, entitlements, spent) =
        run(vec![resource("user", "bob:smith")], vec![]).await;
    assert_eq!(users, set(&["bob:smith"]));
    assert_eq!(groups, set(&["admins"]));
    assert_eq!(grants, set(&["group:admins:member:user:bob:smith"]));
    assert_eq!(entitlements, 1);
    assert_eq!(
        spent,
        calls(&[("ListUsers", 1), ("AdminListGroupsForUser", 1)])
    );

    // A group: itself, its entitlement and its members' grants; no user is read.
    let (users, groups, grants, entitlements, spent) =
        run(vec![resource("group", "admins")], vec![]).await;
    assert!(users.is_empty(), "{users:?}");
    assert_eq!(groups, set(&["admins"]));
    assert_eq!(grants, set(&["group:admins:member:user:bob:smith"]));
    assert_eq!(entitlements, 1);
    assert_eq!(spent, calls(&[("GetGroup", 1), ("ListUsersInGroup", 1)]));

    // Only the types asked for; a target that is gone is skipped, not a failure.
    let (users, groups, _, _, spent) = run(
        vec![
            resource("user", "ann"),
            resource("group", "team: red/blue"),
            resource("group", "gone"),
        ],
        vec!["group".into()],
    )
    .await;
    assert!(users.is_empty(), "{users:?}");
    assert_eq!(groups, set(&["team: red/blue"]));
    assert!(!spent.contains_key("ListUsers"), "{spent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioning_tasks_change_the_pool_and_report_the_connector_response() {
    let setup = setup(PlatformOptions::default(), small_pool("service"), &[]).await;
    let aws = aws_client(Emulator::shared(), &setup.pool).await;
    let setup = &setup;
    let run = |task_type: TaskType| {
        let task = platform::task(task_type);
        setup.platform.push_task(task.clone());
        async move { finished(setup, &task).await }
    };

    // grant, then the same grant again
    let grant = || {
        TaskType::Grant(task::GrantTask {
            entitlement: Some(member_of("team: red/blue")),
            principal: Some(resource("user", "ann")),
            annotations: vec![],
            duration: None,
        })
    };
    let (granted, annotations) = success::<GrantManagerServiceGrantResponse>(&run(grant()).await);
    assert_eq!(granted.grants[0].id, "group:team: red/blue:member:user:ann");
    assert!(annotations.is_empty());
    assert!(
        aws.groups_of_user("ann")
            .await
            .unwrap()
            .contains(&"team: red/blue".to_string())
    );
    let (_, annotations) = success::<GrantManagerServiceGrantResponse>(&run(grant()).await);
    assert!(
        annotations
            .iter()
            .any(|a| a.type_url == <GrantAlreadyExists as prost::Name>::type_url()),
        "the repeat says GrantAlreadyExists beside the response"
    );

    // revoke
    let revoke = TaskType::Revoke(task::RevokeTask {
        grant: Some(Grant {
            id: "group:admins:member:user:bob:smith".into(),
            entitlement: Some(member_of("admins")),
            principal: Some(resource("user", "bob:smith")),
            ..Grant::default()
        }),
        annotations: vec![],
    });
    success::<GrantManagerServiceRevokeResponse>(&run(revoke).await);
    assert!(aws.groups_of_user("bob:smith").await.unwrap().is_empty());

    // create an account
    let create = TaskType::CreateAccount(task::CreateAccountTask {
        account_info: Some(AccountInfo {
            login: "dora".into(),
            emails: vec![account_info::Email {
                address: "dora@example.com".into(),
                is_primary: true,
            }],
            login_aliases: vec![],
            profile: Some(struct_from_json(
                json!({"login": "dora", "email": "dora@example.com"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )),
        }),
        credential_options: Some(CredentialOptions {
            force_change_at_next_login: true,
            options: Some(credential_options::Options::NoPassword(
                credential_options::NoPassword {},
            )),
        }),
        encryption_configs: vec![],
        resource_type_id: "user".into(),
    });
    let (created, _) = success::<CreateAccountResponse>(&run(create).await);
    assert!(
        matches!(
            created.result,
            Some(create_account_response::Result::Success(_))
        ),
        "{created:?}"
    );
    let dora = aws.get_user("dora").await.expect("dora exists in the pool");
    assert!(
        dora.attributes
            .contains(&("email".to_string(), "dora@example.com".to_string()))
    );

    // disable, then enable, through actions; their status by id
    let action = |name: &str, user: &str| {
        TaskType::ActionInvoke(task::ActionInvokeTask {
            name: name.into(),
            args: Some(struct_from_json(
                json!({"user_id": user}).as_object().unwrap().clone(),
            )),
            annotations: vec![],
            resource_type_id: String::new(),
        })
    };
    let (disabled, _) = success::<InvokeActionResponse>(&run(action("disable_user", "cara")).await);
    assert_eq!(disabled.status, BatonActionStatus::Complete as i32);
    assert!(
        !aws.get_user("cara").await.unwrap().enabled,
        "cara is disabled in the pool"
    );
    let (status, _) = success::<GetActionStatusResponse>(
        &run(TaskType::ActionStatus(task::ActionStatusTask {
            name: "disable_user".into(),
            id: disabled.id.clone(),
            annotations: vec![],
        }))
        .await,
    );
    assert_eq!(
        (status.id, status.status),
        (disabled.id, BatonActionStatus::Complete as i32)
    );
    success::<InvokeActionResponse>(&run(action("enable_user", "cara")).await);
    assert!(
        aws.get_user("cara").await.unwrap().enabled,
        "cara is enabled again"
    );

    // schemas
    let (schemas, _) = success::<ListActionSchemasResponse>(
        &run(TaskType::ActionListSchemas(
            task::ActionListSchemasTask::default(),
        ))
        .await,
    );
    let names: BTreeSet<_> = schemas.schemas.iter().map(|s| s.name.clone()).collect();
    assert!(
        names.contains("enable_user") && names.contains("disable_user"),
        "{names:?}"
    );
    let (schema, _) = success::<GetActionSchemaResponse>(
        &run(TaskType::ActionGetSchema(task::ActionGetSchemaTask {
            name: "disable_user".into(),
            annotations: vec![],
        }))
        .await,
    );
    assert_eq!(schema.schema.unwrap().name, "disable_user");

    // delete, and a provisioning error is final
    let delete = |user: &str| {
        TaskType::DeleteResource(task::DeleteResourceTask {
            resource_id: Some(ResourceId {
                resource_type: "user".into(),
                resource: user.into(),
                baton_resource: false,
            }),
            parent_resource_id: None,
        })
    };
    success::<DeleteResourceResponse>(&run(delete("dora")).await);
    assert!(
        aws.get_user("dora").await.is_err(),
        "dora is gone from the pool"
    );
    let bad_grant = TaskType::Grant(task::GrantTask {
        entitlement: Some(member_of("no-such-group")),
        principal: Some(resource("user", "ann")),
        annotations: vec![],
        duration: None,
    });
    let (code, _, non_retryable) = failure(&run(bad_grant).await);
    assert_eq!(code, tonic::Code::NotFound);
    assert!(
        non_retryable,
        "provisioning errors are not retried by the platform"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_provisioning_changes_are_refused_and_other_tasks_are_handled() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("service"));
    let platform = Platform::start(PlatformOptions::default()).await;
    let mut env = pool_env(emulator, &pool);
    env.extend(platform.env());
    let worker = Worker::start(&env, &[]);
    let setup = Setup {
        platform,
        pool,
        worker,
        env,
    };
    let platform = &setup.platform;

    let grant = platform::task(TaskType::Grant(task::GrantTask {
        entitlement: Some(member_of("admins")),
        principal: Some(resource("user", "ann")),
        annotations: vec![],
        duration: None,
    }));
    let unsupported = platform::task(TaskType::RotateCredentials(
        task::RotateCredentialsTask::default(),
    ));
    let ticket = platform::task(TaskType::ListTicketSchemas(
        task::ListTicketSchemasTask::default(),
    ));
    let hello = platform::task(TaskType::Hello(task::HelloTask::default()));
    let none = platform::task(TaskType::None(task::NoneTask::default()));
    for task in [&grant, &none, &unsupported, &hello, &ticket] {
        platform.push_task(task.clone());
    }
    let (code, message, _) = failure(&finished(&setup, &grant).await);
    assert_eq!(code, tonic::Code::FailedPrecondition, "{message}");
    let aws = aws_client(emulator, &setup.pool).await;
    assert!(
        aws.groups_of_user("ann").await.unwrap().is_empty(),
        "nothing changed"
    );
    for task in [&unsupported, &ticket] {
        let (code, message, non_retryable) = failure(&finished(&setup, task).await);
        assert_eq!(code, tonic::Code::Unimplemented);
        assert!(message.starts_with("unsupported task type"), "{message}");
        assert!(non_retryable);
    }
    let hello_again = platform
        .wait_until(TASK_TIMEOUT, |p| {
            p.hellos().into_iter().find(|h| h.task_id == hello.id)
        })
        .await
        .expect("a hello task is answered with a Hello carrying its id");
    assert!(hello_again.connector_metadata.is_some());
    assert!(
        platform.finished(&hello.id).is_empty(),
        "a hello task is not finished"
    );
    assert!(
        platform.finished(&none.id).is_empty(),
        "a none task is not finished"
    );
}

/// A pool whose user listing is slowed down, so a sync is still running when the test acts
/// (heartbeats come at most once a second, whatever the platform asks).
async fn slow_sync_setup(extra_env: &[(&str, &str)]) -> Setup {
    let setup = setup(PlatformOptions::default(), small_pool("service"), extra_env).await;
    Emulator::shared().inject(
        json!([{"operation": "ListUsers", "kind": "delay", "delay_ms": 8000,
                                      "count": 1000, "pool_id": setup.pool.id}]),
    );
    setup
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_cancelled_by_the_platform_stops_and_reports_it() {
    let setup = slow_sync_setup(&[]).await;
    let task = sync_task();
    setup.platform.push_task(task.clone());
    setup
        .platform
        .wait_until(TASK_TIMEOUT, |p| {
            (p.heartbeats(&task.id).len() >= 2).then_some(())
        })
        .await
        .expect("the sync heartbeats");
    setup.platform.cancel(&task.id);
    let started = Instant::now();
    let finish = finished(&setup, &task).await;
    let (code, message, non_retryable) = failure(&finish);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the cancel is honoured promptly"
    );
    assert_eq!(code, tonic::Code::Cancelled, "{message}");
    assert!(!non_retryable);
    assert!(
        setup.platform.uploads(&task.id).is_empty(),
        "nothing is uploaded"
    );
    assert!(
        setup.worker.temp_entries().is_empty(),
        "{:?}",
        setup.worker.temp_entries()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_abandons_the_running_sync_reports_it_and_exits_zero() {
    let mut setup = slow_sync_setup(&[]).await;
    let task = sync_task();
    setup.platform.push_task(task.clone());
    setup
        .platform
        .wait_until(TASK_TIMEOUT, |p| {
            (!p.heartbeats(&task.id).is_empty()).then_some(())
        })
        .await
        .expect("the sync runs");
    let health = setup.worker.health.clone().unwrap();
    assert_eq!(probe(&health, "/ready").await, Some(200));
    setup.worker.terminate();
    let status = setup
        .worker
        .exit(Duration::from_secs(30))
        .await
        .expect("the worker exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", setup.worker.logs());
    let (code, message, non_retryable) = failure(&finished(&setup, &task).await);
    assert_eq!(code, tonic::Code::Cancelled, "{message}");
    assert!(message.contains("shutting down"), "{message}");
    assert!(
        !non_retryable,
        "the platform may give the sync to another worker"
    );
    // The stopped sync is kept in the task's own directory, for the task's next run.
    let kept = setup.worker.temp_entries();
    assert_eq!(
        kept,
        [format!("baton-sdk-sync-upload-task-{}", task.id)],
        "{kept:?}"
    );
    let polls = setup.platform.get_task_calls().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        setup.platform.get_task_calls().len(),
        polls,
        "no polling after exit"
    );

    // The worker starts again on the same host and the platform hands the task out again:
    // the sync resumes, and uploads the whole pool.
    Emulator::shared().clear_faults(&setup.pool);
    let again = Worker::start_in(&setup.env, &[], &setup.worker.tmp);
    setup.platform.push_task(task.clone());
    let finish = setup
        .platform
        .wait_until(TASK_TIMEOUT, |p| p.finished(&task.id).into_iter().nth(1))
        .await
        .unwrap_or_else(|| panic!("never finished again:\n{}", again.logs()));
    assert!(
        matches!(finish.final_state, Some(FinalState::Success(_))),
        "{finish:?}\n{}",
        again.logs()
    );
    assert!(
        again.logs().contains("resuming the sync"),
        "{}",
        again.logs()
    );
    let uploads = setup.platform.uploads(&task.id);
    let (users, groups, grants, _) = read_upload(&uploads.last().expect("an upload").bytes);
    assert_eq!((users.len(), groups.len(), grants.len()), (3, 2, 1));
    assert!(
        again.temp_entries().is_empty(),
        "{:?}",
        again.temp_entries()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_cut_off_midway_is_sent_again() {
    let options = PlatformOptions {
        drop_uploads: 1,
        ..PlatformOptions::default()
    };
    let setup = setup(options, small_pool("service"), &[]).await;
    let task = sync_task();
    setup.platform.push_task(task.clone());
    let finish = finished(&setup, &task).await;
    assert!(
        matches!(finish.final_state, Some(FinalState::Success(_))),
        "{finish:?}\n{}",
        setup.worker.logs()
    );
    let uploads = setup.platform.uploads(&task.id);
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    assert!(!uploads[0].completed, "the first attempt was cut off");
    assert!(uploads[1].completed && uploads[1].checksum_ok);
    assert_eq!(setup.platform.dropped_connections(), 1);
    let (users, _, grants, _) = read_upload(&uploads[1].bytes);
    assert_eq!((users.len(), grants.len()), (3, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_by_the_platform_is_replaced() {
    let setup = setup(PlatformOptions::default(), small_pool("service"), &[]).await;
    setup
        .platform
        .wait_hello(TASK_TIMEOUT)
        .await
        .expect("hello");
    setup.platform.expire_tokens();
    let task = platform::task(TaskType::ActionListSchemas(
        task::ActionListSchemasTask::default(),
    ));
    setup.platform.push_task(task.clone());
    success::<ListActionSchemasResponse>(&finished(&setup, &task).await);
    let (accepted, _) = setup.platform.token_requests();
    assert_eq!(accepted, 2, "one new token after the revocation");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_token_endpoint_is_waited_out_not_taken_for_a_refusal() {
    let options = PlatformOptions {
        busy_token_requests: 2,
        ..PlatformOptions::default()
    };
    let mut setup = setup(options, small_pool("service"), &[]).await;
    setup
        .platform
        .wait_hello(TASK_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no Hello: {}", setup.worker.logs()));
    assert_eq!(setup.platform.token_requests(), (1, 2));
    assert!(setup.worker.running(), "{}", setup.worker.logs());
    assert!(
        !setup
            .worker
            .logs()
            .contains("refused this client's credentials"),
        "{}",
        setup.worker.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_the_token_endpoint_refuses_exits_with_the_reason() {
    let options = PlatformOptions {
        refuse_tokens: true,
        ..PlatformOptions::default()
    };
    let mut setup = setup(options, small_pool("service"), &[]).await;
    let status = setup
        .worker
        .exit(TASK_TIMEOUT)
        .await
        .expect("the worker gives up");
    let logs = setup.worker.logs();
    assert_eq!(status.code(), Some(1), "{logs}");
    assert!(
        logs.contains("refused this client's credentials (HTTP 401"),
        "{logs}"
    );
    assert!(
        !logs.contains(setup.platform.client_secret()),
        "the secret is never shown"
    );
    assert_eq!(setup.platform.token_requests().0, 0);
    assert!(setup.platform.hellos().is_empty());
    let health = setup.worker.health.clone().unwrap();
    assert_eq!(probe(&health, "/ready").await, None, "the process is gone");
}

/// A client secret of the right shape whose JWK is no JSON.
const BAD_SECRET: &str = "secret-token:conductorone.com:v1:bm90LWEtandr";

/// Service-mode settings that cannot work, refused with exit 2 before anything connects and
/// never echoing a secret. In `env`, `{id}` and `{secret}` stand for the platform's client id
/// and secret.
#[test_case(&[("BATON_CLIENT_ID", "no-at-sign"), ("BATON_CLIENT_SECRET", "{secret}")], "is not a client id" ; "not a client id")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", BAD_SECRET)], "is not a client secret" ; "not a client secret")]
#[test_case(&[("BATON_CLIENT_ID", "{id}")], "--client-secret" ; "client id without secret")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", "{secret}"), ("BATON_C1_API_HOST", "bad host/")], "--c1-api-host" ; "not a platform host")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", "{secret}"), ("BATON_C1_API_CA_FILE", "/nonexistent/ca.pem")], "--c1-api-ca-file /nonexistent/ca.pem" ; "platform ca file missing")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", "{secret}"), ("BATON_TASK_CONCURRENCY", "0")], "task-concurrency" ; "task concurrency zero")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", "{secret}"), ("BATON_C1Z_TEMP_DIR", "/nonexistent/dir")], "--c1z-temp-dir: /nonexistent/dir: not an existing directory" ; "work directory missing")]
#[test_case(&[("BATON_CLIENT_ID", "{id}"), ("BATON_CLIENT_SECRET", "{secret}"), ("BATON_SKIP_ENTITLEMENTS_AND_GRANTS", "true")], "each sync task says" ; "scope flags are the tasks' own")]
#[tokio::test(flavor = "multi_thread")]
async fn malformed_service_flags_are_refused_before_anything_connects(
    env: &[(&str, &str)],
    expected: &str,
) {
    let platform = Platform::start(PlatformOptions::default()).await;
    let (id, secret) = (platform.client_id(), platform.client_secret());
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace("{id}", id).replace("{secret}", secret),
            )
        })
        .collect();
    env.push(("BATON_USER_POOL_ID".into(), "us-east-1_Example1".into()));
    let out = run_binary(&[], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
    assert!(stderr.contains(expected), "{env:?}: {stderr}");
    assert!(
        !stderr.contains("bm90LWEtandr") && !stderr.contains(secret),
        "the secret is never echoed: {stderr}"
    );
    assert_eq!(platform.token_requests(), (0, 0), "nothing connected");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_platform_is_retried_and_the_worker_is_live_but_not_ready() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("service"));
    let platform = Platform::start(PlatformOptions::default()).await;
    let health = format!("127.0.0.1:{}", free_port());
    let mut env = pool_env(emulator, &pool);
    env.extend(platform.env());
    // Nothing listens on this port: every token request fails to connect.
    env.push((
        "BATON_C1_API_HOST".into(),
        format!("localhost:{}", free_port()),
    ));
    env.extend([
        ("BATON_HEALTH_CHECK".to_string(), "true".to_string()),
        (
            "BATON_HEALTH_CHECK_PORT".to_string(),
            health.rsplit(':').next().unwrap().to_string(),
        ),
    ]);
    let mut worker = Worker::start(&env, &[]);
    wait_for_probe(&health, "/live", 200).await;
    let deadline = Instant::now() + TASK_TIMEOUT;
    while !worker.logs().contains("Hello failed") {
        assert!(
            Instant::now() < deadline,
            "no retry logged:\n{}",
            worker.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        probe(&health, "/ready").await,
        Some(503),
        "not ready before a Hello"
    );
    assert_eq!(probe(&health, "/health").await, Some(503));
    assert!(
        worker.logs().contains("cannot get a token"),
        "{}",
        worker.logs()
    );
    worker.terminate();
    let status = worker
        .exit(Duration::from_secs(30))
        .await
        .expect("SIGTERM ends the retries");
    assert_eq!(status.code(), Some(0), "{}", worker.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_more_tasks_run_at_once_than_task_concurrency_allows() {
    let setup = slow_sync_setup(&[("BATON_TASK_CONCURRENCY", "2")]).await;
    let platform = &setup.platform;
    let tasks: Vec<Task> = (0..3).map(|_| sync_task()).collect();
    for task in &tasks {
        platform.push_task(task.clone());
    }
    let running = |p: &Platform| {
        tasks
            .iter()
            .filter(|t| !p.heartbeats(&t.id).is_empty())
            .count()
    };
    platform
        .wait_until(TASK_TIMEOUT, |p| (running(p) == 2).then_some(()))
        .await
        .expect("two syncs start");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(running(platform), 2, "the third waits for a free slot");
    assert_eq!(
        platform.queued_tasks(),
        1,
        "and is not even taken from the platform"
    );
    setup.platform.cancel(&tasks[0].id);
    failure(&finished(&setup, &tasks[0]).await);
    platform
        .wait_until(TASK_TIMEOUT, |p| {
            (!p.heartbeats(&tasks[2].id).is_empty()).then_some(())
        })
        .await
        .expect("the third starts once a slot is free");
}

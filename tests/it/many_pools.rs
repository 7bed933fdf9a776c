//! Several user pools in one process (#20): one `.c1z` holding every pool, ids qualified by the
//! pool so the same username in two pools never collides, the pools as `user_pool` resources
//! whose children are their users and groups, requests routed by their ids alone, and bad pool
//! lists refused before anything runs.

use std::collections::BTreeSet;

use crate::support::*;
use baton_cognito::c1z::C1zReader;
use baton_cognito::pb::struct_from_json;
use baton_cognito::pb::v2::account_manager_service_client::AccountManagerServiceClient;
use baton_cognito::pb::v2::action_service_client::ActionServiceClient;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::resource_deleter_service_client::ResourceDeleterServiceClient;
use baton_cognito::pb::v2::resource_getter_service_client::ResourceGetterServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

/// Three pools whose users and groups share names: `ann` and `admins` are in all three.
fn three_pools(emulator: &Emulator) -> Vec<Pool> {
    ["many-a", "many-b", "many-c"]
        .iter()
        .map(|name| emulator.create_pool(small_pool(name)))
        .collect()
}

/// The binary's environment for several pools: the ids comma-separated, as Baton reads lists.
fn pools_env(emulator: &Emulator, pools: &[Pool]) -> Vec<(String, String)> {
    let ids: Vec<&str> = pools.iter().map(|p| p.id.as_str()).collect();
    let mut env = pool_env(emulator, &pools[0]);
    env[0].1 = ids.join(",");
    env
}

/// A JSON object as a protobuf Struct.
fn object(value: serde_json::Value) -> prost_types::Struct {
    match value {
        serde_json::Value::Object(map) => struct_from_json(map),
        other => panic!("not an object: {other}"),
    }
}

/// The `member` entitlement of a pool's `admins` group, as a sync of several pools stores it.
fn admins_of(pool: &Pool) -> Entitlement {
    Entitlement {
        resource: Some(resource("group", &format!("{}:admins", pool.id))),
        id: format!("group:{}:admins:member", pool.id),
        slug: "member".into(),
        ..Entitlement::default()
    }
}

fn parent_of(resource: &Resource) -> Option<String> {
    resource
        .parent_resource_id
        .as_ref()
        .map(|p| format!("{}:{}", p.resource_type, p.resource))
}

#[test]
fn one_command_syncs_three_pools_into_one_file_the_inspect_commands_read() {
    let emulator = Emulator::shared();
    let pools = three_pools(emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pools.c1z");
    let env = pools_env(emulator, &pools);
    let out = run_binary(&["-f", file.to_str().unwrap()], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for pool in &pools {
        assert!(
            stdout.contains(&pool.id),
            "the summary names every pool: {stdout}"
        );
    }

    let contents = c1z_contents(&file);
    assert_eq!(
        contents.resource_types.keys().collect::<Vec<_>>(),
        ["group", "user", "user_pool"]
    );
    let reader = C1zReader::open(&file).unwrap();
    let pool_ids: BTreeSet<String> = pools.iter().map(|p| p.id.clone()).collect();
    assert_eq!(resource_ids(&reader, "user_pool"), pool_ids);
    for pool in &pools {
        let stored = &contents.resources[&format!("user_pool:{}", pool.id)];
        assert!(stored.display_name.starts_with("many-"), "{stored:?}");
        assert_eq!(
            profile_text(stored, "user_pool_arn"),
            Some(pool.arn.clone())
        );
        assert_eq!(profile_text(stored, "region"), Some(REGION.to_string()));
        let children: Vec<String> = stored
            .annotations
            .iter()
            .filter(|a| a.type_url.ends_with("ChildResourceType"))
            .map(|a| {
                <ChildResourceType as prost::Message>::decode(a.value.as_slice())
                    .unwrap()
                    .resource_type_id
            })
            .collect();
        assert_eq!(children, ["user", "group"]);
    }

    // Every pool's users, each once, qualified by its pool, with the pool as parent.
    let users = resource_ids(&reader, "user");
    let expected: BTreeSet<String> = pools
        .iter()
        .flat_map(|p| ["ann", "bob:smith", "cara"].map(|u| format!("{}:{u}", p.id)))
        .collect();
    assert_eq!(users, expected);
    for pool in &pools {
        let ann = &contents.resources[&format!("user:{}:ann", pool.id)];
        assert_eq!(parent_of(ann), Some(format!("user_pool:{}", pool.id)));
        assert_eq!(
            ann.display_name, "ann@example.com",
            "display names stay what one pool shows"
        );
        let admins = format!("group:{}:admins:member", pool.id);
        assert!(contents.entitlements.contains_key(&admins), "{admins}");
        let grant = format!("{admins}:user:{}:bob:smith", pool.id);
        assert!(contents.grants.contains_key(&grant), "{grant}");
    }
    assert_eq!(contents.grants.len(), 3, "one membership per pool");

    // The inspect commands read it: resources of one type, and the grants of one entitlement.
    let listed = run_binary(
        &["-f", file.to_str().unwrap(), "resources", "-t", "user"],
        &[],
    );
    let listed_out = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed_out}");
    for pool in &pools {
        assert!(
            listed_out.contains(&format!("{}:ann", pool.id)),
            "{listed_out}"
        );
    }
    let second = &pools[1].id;
    let grants = run_binary(
        &[
            "-f",
            file.to_str().unwrap(),
            "grants",
            "-e",
            &format!("group:{second}:admins:member"),
        ],
        &[],
    );
    let grants_out = String::from_utf8_lossy(&grants.stdout);
    assert!(grants.status.success(), "{grants_out}");
    assert!(
        grants_out.contains(&format!("{second}:bob:smith")),
        "{grants_out}"
    );
    assert!(
        !grants_out.contains(&format!("{}:bob", pools[0].id)),
        "{grants_out}"
    );
}

#[test]
fn pools_in_two_regions_sync_into_one_file() {
    let emulator = Emulator::shared();
    let east = emulator.create_pool(small_pool("east"));
    let west = emulator.create_pool_in("eu-west-1", small_pool("west"));
    assert!(west.id.starts_with("eu-west-1_"), "{west:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regions.c1z");
    let env = pools_env(emulator, &[east.clone(), west.clone()]);
    let out = run_binary(&["-f", file.to_str().unwrap()], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let contents = c1z_contents(&file);
    let west_pool = &contents.resources[&format!("user_pool:{}", west.id)];
    assert_eq!(profile_text(west_pool, "region"), Some("eu-west-1".into()));
    for pool in [&east, &west] {
        assert!(
            contents
                .resources
                .contains_key(&format!("user:{}:cara", pool.id))
        );
    }
}

#[test]
fn bad_pool_lists_are_refused_before_anything_runs() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(small_pool("refused"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("never.c1z");
    let arn = pool.arn.clone();
    let account = arn.split(':').nth(4).unwrap().to_string();
    let other = if account == "111111111111" {
        "222222222222"
    } else {
        "111111111111"
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--user-pool-id".into(), format!("{},{}", pool.id, arn)],
            "given twice",
        ),
        (
            vec![
                "--user-pool-id".into(),
                pool.id.clone(),
                "--user-pool-id".into(),
                "not-a-pool".into(),
            ],
            "\"not-a-pool\"",
        ),
        (
            vec![
                "--user-pool-id".into(),
                arn.clone(),
                "--account-role".into(),
                format!("{other}=arn:aws:iam::{other}:role/baton"),
            ],
            "no --user-pool-id is in account",
        ),
        (
            vec![
                "--user-pool-id".into(),
                arn.clone(),
                "--account-role".into(),
                format!("{account}=arn:aws:iam::{other}:role/baton"),
            ],
            "a role reaches only its own account",
        ),
        (
            vec![
                "--user-pool-id".into(),
                arn.clone(),
                "--role-arn".into(),
                format!("arn:aws:iam::{other}:role/baton"),
            ],
            "--account-role",
        ),
    ];
    let mut env = pool_env(emulator, &pool);
    env.remove(0);
    emulator.reset_calls();
    for (args, expected) in cases {
        let mut all = strs(&args);
        all.extend(["-f", file.to_str().unwrap()]);
        let out = run_binary(&all, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!file.exists(), "{args:?} left a file");
    }
    assert!(
        emulator.pool_calls(&pool).is_empty(),
        "no call reaches AWS before the configuration is accepted"
    );
}

async fn pools_server(emulator: &Emulator, pools: &[Pool]) -> (Server, Channel) {
    let server = Server::start(&pools_env(emulator, pools), &["--provisioning"]);
    let channel = server.channel().await;
    (server, channel)
}

fn pool_ref(pool: &Pool) -> ResourceId {
    ResourceId {
        resource_type: "user_pool".into(),
        resource: pool.id.clone(),
        baton_resource: false,
    }
}

async fn get_resource(
    channel: &Channel,
    type_id: &str,
    id: &str,
) -> Result<Resource, tonic::Status> {
    let answer = ResourceGetterServiceClient::new(channel.clone())
        .get_resource(ResourceGetterServiceGetResourceRequest {
            resource_id: resource(type_id, id).id,
            ..Default::default()
        })
        .await?;
    Ok(answer.into_inner().resource.expect("a resource"))
}

async fn list_children(
    channel: &Channel,
    type_id: &str,
    parent: Option<ResourceId>,
) -> Vec<String> {
    let page = ResourcesServiceClient::new(channel.clone())
        .list_resources(ResourcesServiceListResourcesRequest {
            resource_type_id: type_id.into(),
            parent_resource_id: parent,
            ..Default::default()
        })
        .await
        .expect("list_resources")
        .into_inner();
    assert!(page.next_page_token.is_empty());
    page.list.iter().map(rid).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_route_to_the_pool_their_ids_name() {
    let emulator = Emulator::shared();
    let pools = three_pools(emulator);
    let (first, second) = (&pools[0], &pools[1]);
    let (_server, channel) = pools_server(emulator, &pools).await;

    // The pools at the top; their users and groups only under them.
    let listed = list_all_resources(&channel, "user_pool", 2).await;
    assert_eq!(
        listed.iter().map(rid).collect::<Vec<_>>(),
        pools.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
    );
    assert!(list_children(&channel, "user", None).await.is_empty());
    let users = list_children(&channel, "user", Some(pool_ref(second))).await;
    assert_eq!(
        users,
        ["ann", "bob:smith", "cara"].map(|u| format!("{}:{u}", second.id))
    );
    let got = get_resource(&channel, "user", &format!("{}:cara", second.id))
        .await
        .unwrap();
    assert_eq!(parent_of(&got), Some(format!("user_pool:{}", second.id)));
    let pool = get_resource(&channel, "user_pool", &second.id)
        .await
        .unwrap();
    assert_eq!(profile_text(&pool, "user_pool_id"), Some(second.id.clone()));
    let unknown = get_resource(&channel, "user", "us-east-1_Nowhere:cara")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // A grant on the second pool's ann changes the second pool only.
    let (aws_first, aws_second) = (
        aws_client(emulator, first).await,
        aws_client(emulator, second).await,
    );
    let mut grants = GrantManagerServiceClient::new(channel.clone());
    let entitlement = admins_of(second);
    let granted = grants
        .grant(GrantManagerServiceGrantRequest {
            entitlement: Some(entitlement.clone()),
            principal: Some(resource("user", &format!("{}:ann", second.id))),
            annotations: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        granted.grants[0].id,
        format!("group:{0}:admins:member:user:{0}:ann", second.id)
    );
    assert_eq!(aws_second.groups_of_user("ann").await.unwrap(), ["admins"]);
    assert!(aws_first.groups_of_user("ann").await.unwrap().is_empty());

    // A principal of another pool is refused, and nothing changes.
    let across = grants
        .grant(GrantManagerServiceGrantRequest {
            entitlement: Some(entitlement),
            principal: Some(resource("user", &format!("{}:cara", first.id))),
            annotations: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(across.code(), Code::InvalidArgument, "{across:?}");
    assert!(across.message().contains(&second.id), "{across:?}");
    assert!(aws_first.groups_of_user("cara").await.unwrap().is_empty());

    // A revoke by the grant a sync stored: the first pool's bob leaves its admins, the second
    // pool's bob stays.
    let revoked = grants
        .revoke(GrantManagerServiceRevokeRequest {
            grant: Some(Grant {
                id: format!("group:{0}:admins:member:user:{0}:bob:smith", first.id),
                entitlement: Some(admins_of(first)),
                principal: Some(resource("user", &format!("{}:bob:smith", first.id))),
                ..Grant::default()
            }),
            annotations: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        revoked.annotations.is_empty(),
        "a revoke that changed something"
    );
    assert!(
        aws_first
            .groups_of_user("bob:smith")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        aws_second.groups_of_user("bob:smith").await.unwrap(),
        ["admins"]
    );

    // Actions name their user with its pool.
    let mut actions = ActionServiceClient::new(channel.clone());
    let disabled = actions
        .invoke_action(InvokeActionRequest {
            name: "disable_user".into(),
            args: Some(object(json!({"user_id": format!("{}:cara", first.id)}))),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(disabled.status, BatonActionStatus::Complete as i32);
    assert!(!aws_first.get_user("cara").await.unwrap().enabled);
    assert!(aws_second.get_user("cara").await.unwrap().enabled);
    let status = actions
        .get_action_status(GetActionStatusRequest {
            id: disabled.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.id, disabled.id);
    let bare = actions
        .invoke_action(InvokeActionRequest {
            name: "disable_user".into(),
            args: Some(object(json!({"user_id": "cara"}))),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bare.code(), Code::NotFound, "{bare:?}");

    // A new account goes to the pool its profile names.
    let mut accounts = AccountManagerServiceClient::new(channel.clone());
    let request = |profile: serde_json::Value| CreateAccountRequest {
        account_info: Some(AccountInfo {
            login: "dana".into(),
            profile: Some(object(profile)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = accounts
        .create_account(request(
            json!({"user_pool_id": second.id, "email": "dana@example.com"}),
        ))
        .await
        .unwrap()
        .into_inner();
    let Some(create_account_response::Result::Success(done)) = created.result else {
        panic!("{created:?}");
    };
    assert_eq!(rid(&done.resource.unwrap()), format!("{}:dana", second.id));
    assert!(aws_second.get_user("dana").await.is_ok());
    assert!(aws_first.get_user("dana").await.is_err());
    let unnamed = accounts
        .create_account(request(json!({"email": "eve@example.com"})))
        .await
        .unwrap_err();
    assert_eq!(unnamed.code(), Code::InvalidArgument, "{unnamed:?}");
    assert!(unnamed.message().contains("user_pool_id"), "{unnamed:?}");

    // Deletion by id: the user of the pool it names; a pool itself is not deleted.
    let mut deleter = ResourceDeleterServiceClient::new(channel.clone());
    let delete = |type_id: &str, id: &str| DeleteResourceV2Request {
        resource_id: resource(type_id, id).id,
        parent_resource_id: None,
    };
    deleter
        .delete_resource_v2(delete("user", &format!("{}:dana", second.id)))
        .await
        .unwrap();
    assert!(aws_second.get_user("dana").await.is_err());
    let pool = deleter
        .delete_resource_v2(delete("user_pool", &second.id))
        .await
        .unwrap_err();
    assert_eq!(pool.code(), Code::InvalidArgument, "{pool:?}");
}

/// Service mode with several pools: the Hello names them all, a full sync task uploads one file
/// of every pool, a targeted sync reads the one user it names in its pool, and a grant task
/// changes only the pool its ids name.
#[tokio::test(flavor = "multi_thread")]
async fn service_mode_runs_every_task_across_the_pools() {
    use crate::support::platform::{self, Platform, PlatformOptions, success};
    use baton_cognito::pb::baton::task::{self, TaskType};
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

    let emulator = Emulator::shared();
    let pools = [
        emulator.create_pool(small_pool("service-a")),
        emulator.create_pool(small_pool("service-b")),
    ];
    let (first, second) = (&pools[0], &pools[1]);
    let platform = Platform::start(PlatformOptions::default()).await;
    let mut env = pools_env(emulator, &pools);
    env.extend(platform.env());
    env.push(("BATON_PROVISIONING".into(), "true".into()));
    let worker = Worker::start(&env, &[]);
    let run = async |task_type: TaskType| {
        let task = platform::task(task_type);
        platform.push_task(task.clone());
        let finish = platform
            .wait_finished(&task.id, TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("task never finished:\n{}", worker.logs()));
        (task, finish)
    };
    let upload = |task_id: &str| {
        let bytes = platform
            .uploads(task_id)
            .last()
            .expect("an upload")
            .bytes
            .clone();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload.c1z");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    };

    let hello = platform.wait_hello(TIMEOUT).await.expect("a Hello");
    let metadata = hello.connector_metadata.expect("metadata");
    let shown = format!("{:?}", metadata.profile);
    assert!(
        shown.contains(&first.id) && shown.contains(&second.id),
        "{shown}"
    );
    let creation = metadata.account_creation_schema.expect("a creation form");
    assert!(creation.field_map["user_pool_id"].required);

    let (task, _) = run(TaskType::SyncFull(task::SyncFullTask::default())).await;
    let (_dir, path) = upload(&task.id);
    let reader = C1zReader::open(&path).unwrap();
    assert_eq!(
        resource_ids(&reader, "user_pool"),
        BTreeSet::from([first.id.clone(), second.id.clone()])
    );
    assert_eq!(resource_ids(&reader, "user").len(), 6);

    let (task, _) = run(TaskType::SyncFull(task::SyncFullTask {
        // A target in a pool this worker does not hold is skipped as gone, not a failure.
        targeted_sync_resources: vec![
            resource("user", &format!("{}:bob:smith", second.id)),
            resource("user", "us-east-1_Elsewhere:bob:smith"),
        ],
        ..Default::default()
    }))
    .await;
    let (_dir, path) = upload(&task.id);
    let reader = C1zReader::open(&path).unwrap();
    assert_eq!(
        resource_ids(&reader, "user"),
        BTreeSet::from([format!("{}:bob:smith", second.id)])
    );
    assert_eq!(
        grant_ids(&reader),
        BTreeSet::from([format!(
            "group:{0}:admins:member:user:{0}:bob:smith",
            second.id
        )])
    );

    // Only users asked for: their pools, their parents, come along.
    let (task, _) = run(TaskType::SyncFull(task::SyncFullTask {
        sync_resource_type_ids: vec!["user".into()],
        ..Default::default()
    }))
    .await;
    let (_dir, path) = upload(&task.id);
    let reader = C1zReader::open(&path).unwrap();
    assert_eq!(resource_ids(&reader, "user_pool").len(), 2);
    assert_eq!(resource_ids(&reader, "user").len(), 6);
    assert!(resource_ids(&reader, "group").is_empty());

    let (_, finish) = run(TaskType::Grant(task::GrantTask {
        entitlement: Some(admins_of(first)),
        principal: Some(resource("user", &format!("{}:cara", first.id))),
        annotations: vec![],
        duration: None,
    }))
    .await;
    let (granted, _) = success::<GrantManagerServiceGrantResponse>(&finish);
    assert_eq!(
        granted.grants[0].id,
        format!("group:{0}:admins:member:user:{0}:cara", first.id)
    );
    let (aws_first, aws_second) = (
        aws_client(emulator, first).await,
        aws_client(emulator, second).await,
    );
    assert_eq!(aws_first.groups_of_user("cara").await.unwrap(), ["admins"]);
    assert!(aws_second.groups_of_user("cara").await.unwrap().is_empty());
}

/// `export` and `watch` with several pools: every pool's users, each line naming its pool; a
/// state file per pool beside `--state`; a change in one pool reported as that pool's only.
#[test]
fn export_and_watch_take_each_pool_with_a_state_of_its_own() {
    let emulator = Emulator::shared();
    let pools = [
        emulator.create_pool(small_pool("export-a")),
        emulator.create_pool(small_pool("export-b")),
    ];
    let (first, second) = (&pools[0], &pools[1]);
    let env = pools_env(emulator, &pools);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.c1z").display().to_string();

    let (code, lines, stderr) = run_json_lines("export", &[], &env);
    assert_eq!(code, Some(0), "{stderr}");
    let named: BTreeSet<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["UserPoolId"]
                    .as_str()
                    .expect("each line names its pool")
                    .to_string(),
                l["Username"].as_str().expect("a username").to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = pools
        .iter()
        .flat_map(|p| ["ann", "bob:smith", "cara"].map(|u| (p.id.clone(), u.to_string())))
        .collect();
    assert_eq!(named, expected);

    let since = ["--since-last-run", "--state", state.as_str()];
    let (code, lines, stderr) = run_json_lines("export", &since, &env);
    assert_eq!((code, lines.len()), (Some(0), 6), "{stderr}");
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from([
            format!("state.{}.c1z", first.id),
            format!("state.{}.c1z", second.id)
        ])
    );
    let watch_state = dir.path().join("watch.c1z").display().to_string();
    let watch = [
        "watch",
        "--once",
        "--sink",
        "-",
        "--state",
        watch_state.as_str(),
    ];
    let out = run_binary(&watch, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "a first watch only records the baseline"
    );

    emulator.control(
        "POST",
        &format!("/_emulator/pools/{}/users", second.id),
        Some(&json!({"users": [{"username": "eve"}]})),
    );
    let (code, lines, stderr) = run_json_lines("export", &since, &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            lines[0]["UserPoolId"].as_str(),
            lines[0]["Username"].as_str()
        ),
        (Some(second.id.as_str()), Some("eve"))
    );
    let out = run_binary(&watch, &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{stdout}");
    assert_eq!(
        events[0]["source"].as_str(),
        Some(second.arn.as_str()),
        "{stdout}"
    );
    assert_eq!(
        events[0]["subject"].as_str(),
        Some(second.id.as_str()),
        "{stdout}"
    );
    assert_eq!(
        events[0]["data"]["Username"].as_str(),
        Some("eve"),
        "{stdout}"
    );
}

/// The Baton event feeds with several pools: each pool's two feeds, named by the pool; a read
/// that names no feed refused with the list; one pool's changes, on its own feed, naming its
/// resources as a sync of several pools does.
#[tokio::test(flavor = "multi_thread")]
async fn each_pool_has_event_feeds_of_its_own() {
    use crate::support::changes::{mutate, seed};
    use baton_cognito::pb::v2::event::Event as EventKind;
    use baton_cognito::pb::v2::event_service_client::EventServiceClient;

    let emulator = Emulator::shared();
    let pools = [seed(emulator), seed(emulator)];
    let second = &pools[1];
    let dir = tempfile::tempdir().unwrap();
    let mut env = pools_env(emulator, &pools);
    env.extend([
        (
            "BATON_EVENT_FEED_DIR".into(),
            dir.path().display().to_string(),
        ),
        ("BATON_EVENT_FEED_INTERVAL".into(), "0s".into()),
    ]);
    let server = Server::start(&env, &[]);
    let mut client = EventServiceClient::new(server.channel().await);
    let feeds = client
        .list_event_feeds(ListEventFeedsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = feeds.list.iter().map(|f| f.id.clone()).collect();
    let changes_of = |pool: &Pool| format!("cognito_user_pool_changes:{}", pool.id);
    assert_eq!(
        ids,
        pools
            .iter()
            .flat_map(|p| [
                changes_of(p),
                format!("cognito_user_pool_sign_ins:{}", p.id)
            ])
            .collect::<Vec<_>>()
    );

    let read = |feed: &str, cursor: &str| ListEventsRequest {
        event_feed_id: feed.to_string(),
        cursor: cursor.to_string(),
        ..Default::default()
    };
    let unnamed = client.list_events(read("", "")).await.unwrap_err();
    assert_eq!(unnamed.code(), Code::InvalidArgument, "{unnamed:?}");
    assert!(
        unnamed.message().contains(&changes_of(second)),
        "{unnamed:?}"
    );

    let feed = changes_of(second);
    let baseline = client
        .list_events(read(&feed, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(baseline.events.is_empty(), "{:?}", baseline.events);
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from([second.id.clone()]),
        "each pool's journal in a directory of its own"
    );
    mutate(emulator, second);
    let mut events = Vec::new();
    let mut cursor = baseline.cursor;
    loop {
        let page = client
            .list_events(read(&feed, &cursor))
            .await
            .unwrap()
            .into_inner();
        events.extend(page.events);
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(events.len(), 9, "one event per change: {events:?}");
    let qualified = format!("{}:", second.id);
    for event in &events {
        match event.event.as_ref().unwrap() {
            EventKind::ResourceChangeEvent(change) => {
                let id = change.resource_id.as_ref().unwrap();
                assert!(id.resource.starts_with(&qualified), "{id:?}");
                assert_eq!(
                    change
                        .parent_resource_id
                        .as_ref()
                        .map(|p| p.resource.as_str()),
                    Some(second.id.as_str())
                );
            }
            EventKind::CreateGrantEvent(CreateGrantEvent {
                entitlement,
                principal,
                ..
            })
            | EventKind::CreateRevokeEvent(CreateRevokeEvent {
                entitlement,
                principal,
                ..
            }) => {
                let entitlement = entitlement.as_ref().unwrap();
                assert!(
                    entitlement.id.starts_with(&format!("group:{qualified}")),
                    "{entitlement:?}"
                );
                assert!(rid(principal.as_ref().unwrap()).starts_with(&qualified));
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Pools in two accounts: the other account's pool is given as an ARN and read with its
/// `--account-role` (STS AssumeRole at the emulator, which then acts in that account). Without
/// the role the base credentials cannot see it, and the sync fails loudly rather than leave
/// a pool out.
#[test]
fn a_pool_of_another_account_is_read_with_its_role() {
    const OTHER: &str = "222222222222";
    let emulator = Emulator::shared();
    let home = emulator.create_pool(small_pool("home"));
    let mut spec = small_pool("away");
    spec["region"] = json!(REGION);
    spec["account"] = json!(OTHER);
    let away = emulator.control("POST", "/_emulator/pools", Some(&spec));
    let away_id = away["pool_id"].as_str().unwrap().to_string();
    let away_arn = away["arn"].as_str().unwrap().to_string();
    assert!(away_arn.contains(OTHER), "{away_arn}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.c1z");
    let mut env = pool_env(emulator, &home);
    env[0].1 = format!("{},{away_arn}", home.id);
    let role = format!("{OTHER}=arn:aws:iam::{OTHER}:role/baton-cognito");
    let out = run_binary(
        &["--account-role", &role, "-f", file.to_str().unwrap()],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = C1zReader::open(&file).unwrap();
    assert_eq!(
        resource_ids(&reader, "user_pool"),
        BTreeSet::from([home.id.clone(), away_id.clone()])
    );
    assert!(resource_ids(&reader, "user").contains(&format!("{away_id}:cara")));
    let log = emulator.control("GET", "/_emulator/requests?operation=ListUsers", None);
    let accounts: BTreeSet<String> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pool_id"] == json!(away_id))
        .map(|r| r["account"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(accounts, BTreeSet::from([OTHER.to_string()]));

    let without = dir.path().join("without.c1z");
    let out = run_binary(&["-f", without.to_str().unwrap()], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&away_id),
        "the missing pool is named: {stderr}"
    );
    assert!(!without.exists());
}

//! The connector against a hostile endpoint posing as Cognito (`support/hostile.rs`): answers that
//! are not what they claim to be must fail loudly, bounded and without losing the previous file;
//! never an empty sync, an endless loop, an invalid record or another user's data in a log.

use crate::support::hostile;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use hostile::{Call, Hostile, Reply, group, limit_of, page_of, pool_description, token_of, user};
use serde_json::{Value, json};
use test_case::test_case;

const POOL: &str = "us-east-1_Hostile1";
/// Long enough for any run against a loopback endpoint; a run still going is a hang.
const HANG: Duration = Duration::from_secs(60);

/// A truthful pool of `users` users (user-000...) in pages of the requested limit, all in one
/// group `staff`. Hostile scripts fall back to it for what they do not lie about.
fn honest(users: usize, call: &Call) -> Reply {
    let names: Vec<String> = (0..users).map(|i| format!("user-{i:03}")).collect();
    let page = |items: &[Value], key: &str, token_key: &str| page_of(call, items, key, token_key);
    let all_users: Vec<Value> = names.iter().map(|n| user(n)).collect();
    match call.operation.as_str() {
        "DescribeUserPool" => Reply::ok(pool_description(POOL, users as u64)),
        "ListUsers" => page(&all_users, "Users", "PaginationToken"),
        "ListUsersInGroup" => page(&all_users, "Users", "NextToken"),
        "ListGroups" => page(&[group("staff")], "Groups", "NextToken"),
        "AdminListGroupsForUser" => page(&[group("staff")], "Groups", "NextToken"),
        "GetGroup" => Reply::ok(json!({"Group": group("staff")})),
        "AdminGetUser" => {
            let mut u = user(call.body["Username"].as_str().unwrap_or("user-000"));
            u["UserAttributes"] = u["Attributes"].take();
            Reply::ok(u)
        }
        "AdminAddUserToGroup" | "AdminRemoveUserFromGroup" => Reply::ok(json!({})),
        other => Reply::error(
            400,
            "InvalidParameterException",
            &format!("unscripted {other}"),
        ),
    }
}

/// Runs the binary with `args`, killed if it is still running after [`HANG`].
fn run(args: &[&str], env: &[(String, String)]) -> BoundedRun {
    let mut command = base_command(env);
    command.args(args);
    run_until(command, HANG)
}

/// A previous file written by a sync of the honest pool, and its bytes.
fn previous_file(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let honest_endpoint = Hostile::start(|call| honest(3, call));
    let file = dir.join("sync.c1z");
    let out = run(&["-f", file.to_str().unwrap()], &honest_endpoint.env(POOL));
    assert!(
        out.code.is_some() && (out.code == Some(0)),
        "{}",
        out.output()
    );
    let bytes = std::fs::read(&file).unwrap();
    (file, bytes)
}

/// A file synced from `endpoint`, as the one-shot provisioning flags need.
fn synced_file(endpoint: &Hostile, dir: &Path) -> std::path::PathBuf {
    let file = dir.join("sync.c1z");
    let out = run(&["-f", file.to_str().unwrap()], &endpoint.env(POOL));
    assert!(
        out.code.is_some() && (out.code == Some(0)),
        "{}",
        out.output()
    );
    file
}

/// Syncs from `endpoint`, then grants `staff` to `user-001` with the one-shot flags.
fn grant_staff_to_user_001(endpoint: &Hostile) -> BoundedRun {
    let dir = tempfile::tempdir().unwrap();
    let file = synced_file(endpoint, dir.path());
    let args = [
        "-f",
        file.to_str().unwrap(),
        "-p",
        "--grant-entitlement",
        "group:staff:member",
        "--grant-principal",
        "user-001",
        "--grant-principal-type",
        "user",
    ];
    run(&args, &endpoint.env(POOL))
}

/// A one-shot sync against `script` must fail (not hang), say `expect`, and leave the previous
/// file as it was.
fn assert_sync_refuses(
    case: &str,
    script: impl Fn(&Call) -> Reply + Send + Sync + 'static,
    expect: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = previous_file(dir.path());
    let endpoint = Hostile::start(script);
    let out = run(&["-f", file.to_str().unwrap()], &endpoint.env(POOL));
    let all = out.output();
    assert!(out.code.is_some(), "{case}: the sync hung: {all}");
    assert_eq!(out.code, Some(1), "{case}: {all}");
    assert!(
        all.contains(expect),
        "{case}: expected {expect:?} in: {all}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "{case}: previous file replaced"
    );
}

/// `operation` answered with `reply`, a 200 that is not the page it claims to be (the rest of
/// the pool honest): the sync fails saying `expect`, and the previous file stays.
#[test_case("ListUsers", Reply::ok(json!({"__type": "InternalErrorException", "message": "boom"})), "InternalErrorException" ; "error body with a 200")]
#[test_case("ListUsers", Reply::ok(json!({})), "Users" ; "no users list")]
#[test_case("ListUsers", Reply::ok(json!({"Users": null})), "Users" ; "a null users list")]
#[test_case("ListUsers", Reply::ok(json!({"Users": [user("a"), {"Attributes": [], "Enabled": true}]})), "Username" ; "a user without a username")]
#[test_case("ListUsers", Reply::ok(json!({"Users": [{"Username": "", "Enabled": true}]})), "Username" ; "a user with an empty username")]
#[test_case("ListGroups", Reply::ok(json!({"NextToken": null})), "Groups" ; "no groups list")]
#[test_case("ListGroups", Reply::ok(json!({"Groups": [{"Description": "x"}]})), "GroupName" ; "a group without a group name")]
#[test_case("DescribeUserPool", Reply::ok(json!({"__type": "ResourceNotFoundException", "message": "gone"})), "ResourceNotFoundException" ; "a pool description that is an error body")]
fn a_200_answer_that_is_not_a_page_fails_the_sync_and_keeps_the_previous_file(
    operation: &'static str,
    reply: Reply,
    expect: &str,
) {
    assert_sync_refuses(
        operation,
        move |call| {
            if call.operation == operation {
                reply.clone()
            } else {
                honest(3, call)
            }
        },
        expect,
    );
}

#[test]
fn a_page_larger_than_the_limit_asked_for_is_refused() {
    assert_sync_refuses(
        "61 users for a limit of 60",
        |call| match call.operation.as_str() {
            "ListUsers" => Reply::ok(json!({
                "Users": (0..limit_of(call) + 1).map(|i| user(&format!("u{i}"))).collect::<Vec<_>>()
            })),
            _ => honest(3, call),
        },
        "more than the 60",
    );
}

/// Page tokens that come back (A→A, A→B→A) are a listing without an end: every listing fails
/// with a clear error instead of looping.
#[test]
fn page_tokens_that_repeat_fail_the_listing_instead_of_looping() {
    let looping = |cycle: &'static [&'static str]| {
        move |call: &Call| {
            let next = match token_of(call) {
                None => cycle[0],
                Some(t) => {
                    let at = cycle.iter().position(|c| *c == t).unwrap_or(0);
                    cycle[(at + 1) % cycle.len()]
                }
            };
            json!(next)
        }
    };
    for cycle in [&["A"][..], &["A", "B"][..]] {
        // The sync's listings: users, groups, and a group's members (3 users, 1 group: the
        // memberships are read per group).
        for (operation, list, token_key, record) in [
            ("ListUsers", "Users", "PaginationToken", user("u")),
            ("ListGroups", "Groups", "NextToken", group("staff")),
            ("ListUsersInGroup", "Users", "NextToken", user("user-000")),
        ] {
            let next = looping(cycle);
            assert_sync_refuses(
                &format!("{operation} tokens {cycle:?} repeating"),
                move |call| {
                    if call.operation == operation {
                        Reply::ok(json!({list: [record.clone()], token_key: next(call)}))
                    } else {
                        honest(3, call)
                    }
                },
                "repeated",
            );
        }

        // export pages the same listing.
        let next = looping(cycle);
        let endpoint = Hostile::start(move |call| match call.operation.as_str() {
            "ListUsers" => Reply::ok(json!({"Users": [user("u")], "PaginationToken": next(call)})),
            _ => honest(3, call),
        });
        let out = run(&["export"], &endpoint.env(POOL));
        assert!(
            out.code.is_some(),
            "export looped on {cycle:?}: {}",
            out.output()
        );
        assert_eq!(out.code, Some(1), "{}", out.output());
        assert!(out.output().contains("repeated"), "{}", out.output());
    }

    // A grant reads the user's groups first; a token that repeats there fails the grant.
    let next = looping(&["A"]);
    let endpoint = Hostile::start(move |call| match call.operation.as_str() {
        "AdminListGroupsForUser" => {
            Reply::ok(json!({"Groups": [group("other")], "NextToken": next(call)}))
        }
        _ => honest(3, call),
    });
    let out = grant_staff_to_user_001(&endpoint);
    assert!(out.code.is_some(), "the grant looped: {}", out.output());
    assert_ne!(out.code, Some(0), "{}", out.output());
    assert!(out.output().contains("repeated"), "{}", out.output());
    assert!(endpoint.count("AdminListGroupsForUser") <= 2);
    assert_eq!(endpoint.count("AdminAddUserToGroup"), 0);
}

/// The gRPC server never hands a caller the token it was given as the next one.
#[test]
fn a_grpc_listing_never_returns_the_requests_own_token() {
    let endpoint = Hostile::start(|call| match call.operation.as_str() {
        "ListUsers" => Reply::ok(json!({"Users": [user("u")], "PaginationToken": "A"})),
        _ => honest(3, call),
    });
    let server = Server::start(&endpoint.env(POOL), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = ResourcesServiceClient::new(server.channel().await);
        let request = |token: String| ResourcesServiceListResourcesRequest {
            resource_type_id: "user".into(),
            page_token: token,
            ..Default::default()
        };
        let first = client
            .list_resources(request(String::new()))
            .await
            .unwrap()
            .into_inner();
        assert!(!first.next_page_token.is_empty());
        let second = client
            .list_resources(request(first.next_page_token.clone()))
            .await;
        match second {
            Ok(page) => panic!(
                "a repeated Cognito token was passed on (next == request: {})",
                page.get_ref().next_page_token == first.next_page_token
            ),
            Err(status) => assert!(status.message().contains("repeated"), "{status:?}"),
        }
    });
}

/// A 200 answer carrying an error must not read as a successful change.
#[test]
fn a_write_answered_with_an_error_body_and_a_200_is_not_a_success() {
    let added = Arc::new(AtomicUsize::new(0));
    let seen = added.clone();
    let endpoint = Hostile::start(move |call| match call.operation.as_str() {
        "AdminAddUserToGroup" => {
            seen.fetch_add(1, Ordering::SeqCst);
            Reply::ok(json!({"__type": "UserNotFoundException", "message": "User does not exist."}))
        }
        "AdminListGroupsForUser" => Reply::ok(json!({"Groups": []})),
        _ => honest(3, call),
    });
    let out = grant_staff_to_user_001(&endpoint);
    assert!(out.code.is_some());
    assert_ne!(out.code, Some(0), "{}", out.output());
    assert!(
        out.output().contains("UserNotFoundException"),
        "{}",
        out.output()
    );
    assert!(added.load(Ordering::SeqCst) >= 1);
}

/// 3 MiB of text.
fn huge() -> String {
    "x".repeat(3 * 1024 * 1024)
}

/// Huge answers are quoted as bounded excerpts: never megabytes per retry, and a failed sync
/// writes no file.
#[test_case(Reply::raw(200, format!("{{\"Users\": [{}", huge())) ; "3 mib that is not json")]
#[test_case(Reply::error(500, "InternalErrorException", &huge()) ; "a 500 with a 3 mib message")]
#[test_case(Reply::ok(json!({"__type": "InternalErrorException", "message": huge()})) ; "a 200 error body with a 3 mib message")]
fn errors_quote_bounded_excerpts(reply: Reply) {
    let endpoint = Hostile::start(move |call| match call.operation.as_str() {
        "ListUsers" => reply.clone(),
        _ => honest(3, call),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let out = run(&["-f", file.to_str().unwrap()], &endpoint.env(POOL));
    assert!(out.code.is_some());
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.len() < 64 * 1024,
        "{} bytes of stderr over {} attempts",
        out.stderr.len(),
        endpoint.count("ListUsers")
    );
    assert!(!file.exists(), "no file from a failed sync");
}

/// One malformed user on a page: the error names the problem, not the page's other users.
#[test]
fn errors_never_quote_other_users_attributes() {
    let endpoint = Hostile::start(|call| match call.operation.as_str() {
        "ListUsers" => {
            let mut users: Vec<Value> = (0..5)
                .map(|i| {
                    let mut u = user(&format!("private-{i}"));
                    u["Attributes"][1]["Value"] = json!(format!("private-mail-{i}@example.com"));
                    u
                })
                .collect();
            users[3]["Enabled"] = json!("yes");
            Reply::ok(json!({"Users": users}))
        }
        _ => honest(3, call),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let out = run(&["-f", file.to_str().unwrap()], &endpoint.env(POOL));
    assert!(out.code.is_some());
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert!(!out.output().contains("private-mail"), "{}", out.output());
    assert!(out.output().contains("ListUsers"), "{}", out.output());
}

/// A 58 KB error message reaches a gRPC client as that error, cut short.
#[test]
fn a_long_error_reaches_a_grpc_client_cut_short() {
    let long = "y".repeat(58 * 1024);
    let endpoint = Hostile::start(move |call| match call.operation.as_str() {
        "ListUsers" => Reply::error(400, "SomethingNewException", &long),
        _ => honest(3, call),
    });
    let server = Server::start(&endpoint.env(POOL), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        ResourcesServiceClient::new(server.channel().await)
            .list_resources(ResourcesServiceListResourcesRequest {
                resource_type_id: "user".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
    });
    assert_eq!(status.code(), tonic::Code::Unknown, "{status:?}");
    assert!(
        status.message().contains("SomethingNewException"),
        "{status:?}"
    );
    assert!(
        status.message().len() < 4096,
        "{} bytes",
        status.message().len()
    );
    assert!(
        server.logs().len() < 64 * 1024,
        "{} bytes of server log",
        server.logs().len()
    );
}

/// #17: a creation date of 1e20 seconds was written as an invalid protobuf Timestamp, and the
/// JSON listing then printed `null` for the record with exit 0.
#[test]
fn dates_out_of_range_are_never_written_and_never_printed_as_null() {
    let endpoint = Hostile::start(|call| match call.operation.as_str() {
        "ListUsers" => {
            let mut far = user("far-future");
            far["UserCreateDate"] = json!(1e20);
            let mut past = user("before-year-one");
            past["UserLastModifiedDate"] = json!(-1e15);
            Reply::ok(json!({"Users": [far, past, user("plain")]}))
        }
        _ => honest(3, call),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = synced_file(&endpoint, dir.path());
    let f = file.to_str().unwrap();
    let out = run(&["resources", "-f", f, "-o", "json"], &[]);
    assert!((out.code == Some(0)), "{}", out.output());
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    let resources = listed["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 4, "3 users and a group: {listed}");
    assert!(resources.iter().all(|r| r.is_object()), "{listed}");
    let far = resources
        .iter()
        .find(|r| r["id"]["resource"] == "far-future")
        .unwrap();
    assert!(
        !far.to_string().contains("created_at") && !far.to_string().contains("createdAt"),
        "an impossible date is unknown, not written: {far}"
    );

    // A file an older version wrote with such a Timestamp: a clear error naming the record.
    let old = dir.path().join("old.c1z");
    let mut writer = baton_cognito::c1z::C1zWriter::create(&old).unwrap();
    writer
        .put_resource_types(&[ResourceType {
            id: "user".into(),
            ..Default::default()
        }])
        .unwrap();
    let trait_any = baton_cognito::pb::pack(&RateLimitDescription {
        reset_at: Some(prost_types::Timestamp {
            seconds: 100_000_000_000_000_000,
            nanos: 0,
        }),
        ..Default::default()
    });
    writer
        .put_resources(&[Resource {
            id: Some(ResourceId {
                resource_type: "user".into(),
                resource: "ancient".into(),
                ..Default::default()
            }),
            display_name: "ancient".into(),
            annotations: vec![trait_any],
            ..Default::default()
        }])
        .unwrap();
    writer.finish().unwrap();
    let out = run(
        &["resources", "-f", old.to_str().unwrap(), "-o", "json"],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert!(!out.stdout.contains("null"), "{}", out.output());
    assert!(out.output().contains("user:ancient"), "{}", out.output());
}

/// Stands for a named pipe (FIFO) of the case's own.
const FIFO: &str = "{fifo}";

/// #17: `-f` naming a FIFO or a character device, and `export --output` a FIFO, exited 0 and
/// replaced the node with a regular file. Anything but a regular file or a new path is refused
/// before the first call to Cognito, and the node stays what it was.
#[test_case(&["-f", FIFO], "named pipe (FIFO)" ; "sync to a fifo")]
#[test_case(&["-f", "/dev/null"], "character device" ; "sync to a character device")]
#[test_case(&["export", "--output", FIFO], "--output" ; "export to a fifo")]
#[test_case(&["export", "--output", "/dev/null"], "character device" ; "export to a character device")]
#[test_case(&["export", "--since-last-run", "--state", FIFO], "--state" ; "export state in a fifo")]
#[test_case(&["watch", "--once", "--sink", "-", "--state", "/dev/null"], "--state" ; "watch state in a character device")]
fn special_files_are_refused_before_any_call(args: &[&str], expect: &str) {
    let endpoint = Hostile::start(|call| honest(3, call));
    let env = endpoint.env(POOL);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let args: Vec<&str> = args
        .iter()
        .map(|arg| {
            if *arg == FIFO {
                fifo.to_str().unwrap()
            } else {
                arg
            }
        })
        .collect();
    let out = run(&args, &env);
    assert!(out.code.is_some(), "{args:?} hung");
    assert_eq!(out.code, Some(1), "{args:?}: {}", out.output());
    assert!(out.output().contains(expect), "{args:?}: {}", out.output());
    assert_eq!(
        endpoint.calls().len(),
        0,
        "{args:?}: refused only after calling Cognito"
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// A symbolic link means its target, and stays a link.
#[test]
fn links_mean_their_targets() {
    let endpoint = Hostile::start(|call| honest(3, call));
    let env = endpoint.env(POOL);
    let dir = tempfile::tempdir().unwrap();
    // A link to a .c1z: the target is replaced, the link stays a link to it.
    let (target, before) = previous_file(dir.path());
    let link = dir.path().join("latest.c1z");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(&["-f", link.to_str().unwrap()], &env);
    assert!((out.code == Some(0)), "{}", out.output());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_ne!(
        std::fs::read(&target).unwrap(),
        before,
        "the target holds the new sync"
    );
    // A link to somebody's other file is refused like the file itself.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "keep me").unwrap();
    let to_notes = dir.path().join("to-notes.c1z");
    std::os::unix::fs::symlink(&notes, &to_notes).unwrap();
    let out = run(&["-f", to_notes.to_str().unwrap()], &env);
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me");
}

/// A pool of `users` users and `groups` groups (user i in group i mod groups), whose
/// DescribeUserPool reports `estimate` users, answering ListUsers' `sub ^= "x"` filters, with
/// each listing page and the pool description answered after the delays given.
#[derive(Clone, Copy)]
struct Shape {
    users: usize,
    groups: usize,
    estimate: u64,
    describe_delay: Duration,
    page_delay: Duration,
}

impl Shape {
    fn new(users: usize, groups: usize, estimate: u64) -> Shape {
        Shape {
            users,
            groups,
            estimate,
            describe_delay: Duration::ZERO,
            page_delay: Duration::ZERO,
        }
    }

    fn answer(&self, call: &Call) -> Reply {
        let sub = |i: usize| {
            format!(
                "{:08x}-0000-4000-8000-{i:012x}",
                (i as u32).wrapping_mul(2_654_435_761)
            )
        };
        let user_record = |i: usize| {
            let mut u = user(&format!("user-{i:05}"));
            u["Attributes"][0]["Value"] = json!(sub(i));
            u
        };
        let group_name = |g: usize| format!("group-{g:04}");
        let page = |items: Vec<Value>, key: &str, token_key: &str| {
            page_of(call, &items, key, token_key).after(self.page_delay)
        };
        match call.operation.as_str() {
            "DescribeUserPool" => {
                Reply::ok(pool_description(POOL, self.estimate)).after(self.describe_delay)
            }
            "ListUsers" => {
                let prefix = call.body["Filter"]
                    .as_str()
                    .and_then(|f| f.strip_prefix("sub ^= \""))
                    .map(|rest| rest.trim_end_matches('"').to_string());
                let users = (0..self.users)
                    .filter(|i| {
                        prefix
                            .as_ref()
                            .is_none_or(|p| sub(*i).starts_with(p.as_str()))
                    })
                    .map(user_record)
                    .collect();
                page(users, "Users", "PaginationToken")
            }
            "ListGroups" => {
                let groups = (0..self.groups).map(|g| group(&group_name(g))).collect();
                page(groups, "Groups", "NextToken")
            }
            "ListUsersInGroup" => {
                let name = call.body["GroupName"].as_str().unwrap_or_default();
                let members = (0..self.users)
                    .filter(|i| group_name(i % self.groups) == name)
                    .map(user_record)
                    .collect();
                page(members, "Users", "NextToken")
            }
            "AdminListGroupsForUser" => {
                let name = call.body["Username"].as_str().unwrap_or_default();
                let index: usize = name.trim_start_matches("user-").parse().unwrap_or(0);
                page(
                    vec![group(&group_name(index % self.groups))],
                    "Groups",
                    "NextToken",
                )
            }
            other => Reply::error(
                400,
                "InvalidParameterException",
                &format!("unscripted {other}"),
            ),
        }
    }
}

/// Syncs `shape` with `extra` flags: the endpoint's calls and the file's contents.
fn sync_shape(shape: Shape, extra: &[&str]) -> (Hostile, crate::support::C1zContents, Duration) {
    let endpoint = Hostile::start(move |call| shape.answer(call));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let mut args = vec!["-f", file.to_str().unwrap()];
    args.extend(extra);
    let started = Instant::now();
    let out = run(&args, &endpoint.env(POOL));
    let took = started.elapsed();
    assert!(
        out.code.is_some() && (out.code == Some(0)),
        "{}",
        out.output()
    );
    let contents = c1z_contents(&file);
    let users = contents
        .resources
        .keys()
        .filter(|k| k.starts_with("user:"))
        .count();
    assert_eq!(users, shape.users, "every user listed once");
    assert_eq!(
        contents.grants.len(),
        shape.users,
        "every membership listed once"
    );
    (endpoint, contents, took)
}

/// #17: with DescribeUserPool's estimate at 0 (or stale), a 150-user, 10-group pool was read per
/// user: 150 AdminListGroupsForUser calls instead of 10 ListUsersInGroup. The side now follows
/// what was listed; a stale estimate the other way cannot make a small pool pay per group.
#[test]
fn the_membership_side_follows_what_was_listed_not_the_estimate() {
    for estimate in [0, 3] {
        let (endpoint, _, _) = sync_shape(Shape::new(150, 10, estimate), &[]);
        assert_eq!(
            endpoint.count("AdminListGroupsForUser"),
            0,
            "estimate {estimate}"
        );
        assert_eq!(
            endpoint.count("ListUsersInGroup"),
            10,
            "estimate {estimate}"
        );
    }
    let (endpoint, _, _) = sync_shape(Shape::new(5, 200, 100_000), &[]);
    assert_eq!(endpoint.count("AdminListGroupsForUser"), 5);
    assert_eq!(endpoint.count("ListUsersInGroup"), 0);
}

/// #17: one noisy DescribeUserPool round trip chose 16 slices for 2,000 users (45 ListUsers
/// calls instead of 34, and slower). Slicing now follows the listing's own measured pages.
#[test]
fn slicing_follows_the_measured_listing_not_one_round_trip() {
    let slow_description = Shape {
        describe_delay: Duration::from_secs(2),
        ..Shape::new(2_000, 3, 2_000)
    };
    let (endpoint, _, _) = sync_shape(slow_description, &[]);
    let listings: Vec<Call> = endpoint
        .calls()
        .into_iter()
        .filter(|c| c.operation == "ListUsers")
        .collect();
    assert_eq!(listings.len(), 34, "the minimum: ceil(2000 / 60)");
    assert!(listings.iter().all(|c| c.body.get("Filter").is_none()));

    // Pages that take 300 ms while the budget allows 30 a second: latency-bound, so the listing
    // is re-sliced after its first pages, and ends far sooner than 50 pages one by one (15 s).
    let slow_pages = Shape {
        page_delay: Duration::from_millis(300),
        ..Shape::new(3_000, 60, 3_000)
    };
    let (endpoint, _, took) = sync_shape(slow_pages, &["--api-budget", "1"]);
    let listings: Vec<Call> = endpoint
        .calls()
        .into_iter()
        .filter(|c| c.operation == "ListUsers")
        .collect();
    let sliced = listings
        .iter()
        .filter(|c| c.body.get("Filter").is_some())
        .count();
    let unsliced = listings.len() - sliced;
    assert!(
        (2..=4).contains(&unsliced),
        "{unsliced} pages before slicing"
    );
    assert!((50..=50 + 16).contains(&sliced), "{sliced} sliced pages");
    assert!(took < Duration::from_secs(12), "took {took:?}");
}

/// #17: the access key id `test` (the conventional emulator credential) and a pool id such as
/// `local_2HVVRiVR` were refused even with --endpoint-url and --region. What the AWS API's own
/// patterns accept is accepted, and the endpoint judges.
#[test]
fn emulator_keys_and_pool_ids_are_accepted_and_the_endpoint_judges() {
    const LOCAL_POOL: &str = "local_2HVVRiVR";
    let endpoint = Hostile::start(|call| match call.operation.as_str() {
        "DescribeUserPool" if call.body["UserPoolId"] == LOCAL_POOL => {
            Reply::ok(pool_description(LOCAL_POOL, 3))
        }
        "DescribeUserPool" => Reply::error(400, "ResourceNotFoundException", "no such pool"),
        _ => honest(3, call),
    });
    let env: Vec<(String, String)> = endpoint
        .env(LOCAL_POOL)
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "BATON_AWS_ACCESS_KEY_ID" | "BATON_AWS_SECRET_ACCESS_KEY" => (key, "test".to_string()),
            _ => (key, value),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let out = run(&["-f", file.to_str().unwrap()], &env);
    assert!((out.code == Some(0)), "{}", out.output());
    assert_eq!(endpoint.calls()[0].body["UserPoolId"], LOCAL_POOL);

    // Without --region, a pool id that names none is refused before any call.
    let without_region: Vec<(String, String)> = env
        .into_iter()
        .filter(|(key, _)| key != "BATON_REGION")
        .collect();
    let calls_before = endpoint.calls().len();
    let out = run(&["-f", file.to_str().unwrap()], &without_region);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.output().contains("--region: is required"),
        "{}",
        out.output()
    );
    assert_eq!(endpoint.calls().len(), calls_before);
}

/// #17: `--api-budget 1e-300` panicked in a background task (the pacer) and the sync never
/// ended, the task waiting on it waiting forever. A panic anywhere now ends the program with
/// exit 1. The test runs itself again as the child that panics in a background task while its
/// main task waits forever, with the binary's panic handling installed.
#[test]
fn a_panic_in_a_background_task_ends_the_program_instead_of_hanging() {
    const CHILD: &str = "BATON_COGNITO_TEST_PANICKING_CHILD";
    if std::env::var_os(CHILD).is_some() {
        baton_cognito::cli::exit_on_panic();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            tokio::spawn(async { panic!("a background task fails") });
            std::future::pending::<()>().await;
        });
        unreachable!("the pending future never ends");
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "hostile_cognito::a_panic_in_a_background_task_ends_the_program_instead_of_hanging",
            "--nocapture",
        ])
        .env(CHILD, "1");
    let out = run_until(child, HANG);
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert!(
        out.output().contains("a background task fails"),
        "{}",
        out.output()
    );
}

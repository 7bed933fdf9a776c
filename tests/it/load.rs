//! Under load: 50 gRPC clients, each on its own connection, listing and provisioning at once
//! against one server, with the emulator enforcing Cognito's request-rate quotas. Every answer
//! is checked, the server must never be throttled (its pacing keeps it at half of each quota),
//! and identical grants and revokes racing each other report one change and the rest as
//! already done.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::{GrantAlreadyExists, GrantAlreadyRevoked};
use futures_util::future::join_all;
use serde_json::{Value, json};
use tonic::transport::Channel;

const LISTERS: usize = 20;
const SAME_GRANT: usize = 15;
const OTHER_GRANTS: usize = 15;
/// The share of each quota the server may use (its default `--api-budget`).
const BUDGET: f64 = 0.5;

fn user(i: usize) -> String {
    format!("u{i:03}")
}

/// 150 users (three pages), a group of 100 (two pages), an empty target group, and ten more.
fn seed(emulator: &Emulator) -> Pool {
    let users: Vec<Value> = (0..150).map(|i| json!({"username": user(i)})).collect();
    let mut groups = vec![json!({"name": "crowd"}), json!({"name": "target"})];
    groups.extend((0..10).map(|i| json!({"name": format!("small-{i}")})));
    let memberships: Vec<Value> = (0..100).map(|i| json!(["crowd", user(i)])).collect();
    emulator.create_pool(json!({
        "name": unique("load"),
        "users": users,
        "groups": groups,
        "memberships": memberships,
    }))
}

/// What one lister saw: users, groups, and the crowd's members.
async fn list_everything(
    channel: Channel,
) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let users = list_all_resources(&channel, "user", 60).await;
    let groups = list_all_resources(&channel, "group", 60).await;
    let crowd = groups
        .iter()
        .find(|g| rid(g) == "crowd")
        .expect("the crowd group is listed");
    let grants = list_all_grants(&channel, crowd, 60).await;
    (
        users.iter().map(rid).collect(),
        groups.iter().map(rid).collect(),
        grants
            .iter()
            .map(|g| rid(g.principal.as_ref().expect("principal")))
            .collect(),
    )
}

/// The most requests of `operations` that reached the emulator within any one second.
/// How long a starved emulator may sit on requests. It stamps a request when it serves it, so on
/// a busy machine (other suites sharing the 2 cores) it serves a backlog at once and bunches
/// calls that were sent evenly: measured, up to about a third of a second. The checks below
/// allow this much of the budget's calls to bunch, and no more.
const STALL_SECS: f64 = 0.5;

/// The stamps of the calls of these operations, in order.
fn stamps(requests: &[Value], operations: &[&str]) -> Vec<f64> {
    let mut times: Vec<f64> = requests
        .iter()
        .filter(|r| operations.contains(&r["operation"].as_str().unwrap_or_default()))
        .map(|r| r["t"].as_f64().expect("request time"))
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// The most calls within any one second.
fn busiest_second(times: &[f64]) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= 1.0 {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

/// Checks that calls at `rate` per second (the budget's share) were never exceeded: over the
/// whole listing, which bunching cannot hide an overspend from, and in its busiest second. Both
/// allow the one call an idle bucket holds, one for clock granularity, and `STALL_SECS` of calls
/// bunched by the emulator.
fn assert_paced(name: &str, times: &[f64], rate: f64) -> usize {
    let slack = 2.0 + rate * STALL_SECS;
    let span = times.last().zip(times.first()).map_or(0.0, |(l, f)| l - f);
    assert!(
        times.len() as f64 <= rate * span + slack,
        "{name}: {} calls in {span:.1} s, over {rate}/s",
        times.len()
    );
    let most = busiest_second(times);
    assert!(
        most as f64 <= rate + slack,
        "{name}: {most} calls in one second, over {rate}/s"
    );
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_listing_and_provisioning_at_once_are_all_answered_within_the_quotas() {
    // A dedicated emulator: its quotas apply to every pool it serves.
    let emulator = Emulator::start();
    emulator.control("POST", "/_emulator/quota", Some(&json!({"scale": 1.0})));
    let pool = seed(&emulator);
    let server = Server::start(&pool_env(&emulator, &pool), &["--provisioning"]);
    let mut channels = Vec::new();
    for _ in 0..LISTERS + SAME_GRANT + OTHER_GRANTS {
        channels.push(server.channel().await);
    }
    let mut channels = channels.into_iter();

    let listers: Vec<_> = (0..LISTERS)
        .map(|_| tokio::spawn(list_everything(channels.next().unwrap())))
        .collect();
    let grant = |channel: Channel, who: String| {
        tokio::spawn(async move {
            GrantManagerServiceClient::new(channel)
                .grant(grant_request("target", resource("user", &who)))
                .await
                .map(|r| r.into_inner())
        })
    };
    let same: Vec<_> = (0..SAME_GRANT)
        .map(|_| grant(channels.next().unwrap(), user(1)))
        .collect();
    let others: Vec<_> = (0..OTHER_GRANTS)
        .map(|i| grant(channels.next().unwrap(), user(10 + i)))
        .collect();

    let expected_users: BTreeSet<String> = (0..150).map(user).collect();
    let expected_crowd: BTreeSet<String> = (0..100).map(user).collect();
    for seen in join_all(listers).await {
        let (users, groups, crowd) = seen.expect("lister task");
        assert_eq!(users, expected_users);
        assert_eq!(groups.len(), 12);
        assert_eq!(crowd, expected_crowd);
    }
    let mut made = 0;
    for answer in join_all(same).await {
        let response = answer.unwrap().expect("the same grant, many times");
        assert_eq!(response.grants.len(), 1);
        assert_eq!(response.grants[0].id, "group:target:member:user:u001");
        made += usize::from(!has_annotation::<GrantAlreadyExists>(&response.annotations));
    }
    assert_eq!(
        made, 1,
        "one grant adds the member, the others find it there"
    );
    for answer in join_all(others).await {
        let response = answer.unwrap().expect("a grant");
        assert!(!has_annotation::<GrantAlreadyExists>(&response.annotations));
    }

    // The same revoke from 25 clients at once: one removes, the others find it removed.
    let mut revoke_channels = Vec::new();
    for _ in 0..25 {
        revoke_channels.push(server.channel().await);
    }
    let revokes: Vec<_> = revoke_channels
        .into_iter()
        .map(|channel| {
            tokio::spawn(async move {
                GrantManagerServiceClient::new(channel)
                    .revoke(revoke_request("target", &user(1)))
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut removed = 0;
    for answer in join_all(revokes).await {
        let response = answer.unwrap().expect("a revoke");
        removed += usize::from(!has_annotation::<GrantAlreadyRevoked>(
            &response.annotations,
        ));
    }
    assert_eq!(
        removed, 1,
        "one revoke removes the member, the others find it gone"
    );

    // The pool ends as the changes say, read through the AWS API.
    let aws = aws_client(&emulator, &pool).await;
    let mut members = BTreeSet::new();
    let mut token = None;
    loop {
        let page = aws
            .list_users_in_group("target", token.as_deref(), 60)
            .await
            .expect("ListUsersInGroup");
        members.extend(page.items.into_iter().map(|u| u.username));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let expected: BTreeSet<String> = (10..10 + OTHER_GRANTS).map(user).collect();
    assert_eq!(members, expected);

    // Pacing: never throttled, and never more calls than the budget's share of the quota.
    let stats = emulator.control("GET", "/_emulator/stats", None);
    assert_eq!(stats["throttled"], 0, "{stats}");
    let requests = emulator.control("GET", "/_emulator/requests", None)["requests"]
        .as_array()
        .expect("request log")
        .clone();
    let quota = emulator.control("GET", "/_emulator/quota", None);
    let mut busiest = BTreeMap::new();
    for (category, operations) in [
        ("UserList", vec!["ListUsers", "ListUsersInGroup"]),
        ("UserResourceRead", vec!["AdminListGroupsForUser"]),
        (
            "UserUpdate",
            vec!["AdminAddUserToGroup", "AdminRemoveUserFromGroup"],
        ),
    ] {
        let rate = quota["rates"][category].as_f64().expect("quota rate");
        let times = stamps(&requests, &operations);
        busiest.insert(category, assert_paced(category, &times, rate * BUDGET));
    }
    // ListGroups and GetGroup also have a hard cap per pool, which the pacer holds to whole.
    let per_pool = quota["per_pool_list_groups_get_group"]
        .as_f64()
        .expect("per-pool rate");
    let account = quota["rates"]["UserPoolResourceRead"]
        .as_f64()
        .expect("rate");
    let times = stamps(&requests, &["ListGroups", "GetGroup"]);
    let most = assert_paced("ListGroups", &times, per_pool.min(account * BUDGET));
    println!(
        "50 clients: {} AWS calls, busiest second per category {busiest:?}, ListGroups {most}",
        stats["total"]
    );
    let calls = emulator.calls();
    assert!(
        calls["ListUsers"].as_u64().unwrap_or_default() >= (LISTERS * 3) as u64,
        "{calls}"
    );
}

//! What goes wrong: bad flags, bad credentials, missing pools, denied access, an unreachable
//! endpoint, and throttling, each with the answer a caller can act on.

use crate::support::*;
use baton_cognito::pb::v2::connector_service_client::ConnectorServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use serde_json::json;
use test_case::test_case;
use tonic::Code;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

type Env = Vec<(String, String)>;

fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<_> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_string(), value.to_string()));
    env
}

/// An environment that would be accepted.
fn good_env() -> Env {
    vec![
        (
            "BATON_USER_POOL_ID".to_string(),
            "us-east-1_AbC123".to_string(),
        ),
        (
            "BATON_AWS_ACCESS_KEY_ID".to_string(),
            "AKIAIOSFODNN7EXAMPLE".to_string(),
        ),
        (
            "BATON_AWS_SECRET_ACCESS_KEY".to_string(),
            SECRET.to_string(),
        ),
    ]
}

fn without(env: &[(String, String)], key: &str) -> Env {
    env.iter().filter(|(k, _)| k != key).cloned().collect()
}

/// `serve` with `args` and the environment `env` makes of a good one: exit 2, naming the flag,
/// never the secret, never a panic.
#[test_case(|good| without(good, "BATON_USER_POOL_ID"), &[], "--user-pool-id: is required" ; "pool id missing")]
#[test_case(|good| with(good, "BATON_USER_POOL_ID", "not-a-pool"), &[], "--user-pool-id" ; "not a pool id")]
#[test_case(|good| with(good, "BATON_USER_POOL_ID", "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/us-east-1_AbC123"), &[], "--user-pool-id: the ARN's region eu-west-1 contradicts" ; "pool arn region contradicting the pool id")]
#[test_case(|good| good.to_vec(), &["--region", "us-west-2"], "--region: us-west-2 contradicts the user pool us-east-1_AbC123" ; "region contradicting the pool id")]
#[test_case(|good| good.to_vec(), &["--region", "nowhere"], "--region" ; "unknown region")]
#[test_case(|good| without(good, "BATON_AWS_SECRET_ACCESS_KEY"), &[], "--aws-secret-access-key: is required when --aws-access-key-id is set" ; "key id without secret key")]
#[test_case(|good| good.to_vec(), &["--endpoint-url", "ftp://example.com"], "--endpoint-url" ; "endpoint of another scheme")]
#[test_case(|good| good.to_vec(), &["--user-filter", "custom:team = \"x\""], "--user-filter: \"custom:team\" is not a searchable attribute" ; "user filter on a custom attribute")]
#[test_case(|good| good.to_vec(), &["--user-filter", "email = \"a\" or 1=1"], "--user-filter" ; "user filter with a trailing expression")]
#[test_case(|good| good.to_vec(), &["--api-budget", "2"], "--api-budget" ; "api budget above one")]
#[test_case(|good| good.to_vec(), &["--role-arn", "arn:aws:iam::1:role/x"], "--role-arn" ; "role arn with a short account")]
#[test_case(|good| good.to_vec(), &["--log-level", "loud"], "--log-level" ; "unknown log level")]
#[test_case(|good| good.to_vec(), &["--listen", "nowhere"], "--listen" ; "listen not an address")]
fn bad_flags_exit_2_with_a_message_naming_the_flag(
    env: fn(&[(String, String)]) -> Env,
    args: &[&str],
    expected: &str,
) {
    let env = env(&good_env());
    let mut argv = vec!["serve"];
    argv.extend(args.iter());
    let out = run_binary(&argv, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{argv:?}: {stderr}");
    assert!(
        stderr.contains(expected),
        "{argv:?}: expected {expected:?} in {stderr}"
    );
    assert!(!stderr.contains(SECRET), "the secret leaked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_never_shows_the_value_of_a_secret_variable() {
    let help = run_binary(&["--help"], &good_env());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("BATON_AWS_SECRET_ACCESS_KEY"));
    assert!(!help.contains(SECRET), "--help shows env values of secrets");
}

async fn validate_code(server: &Server) -> (Code, String) {
    match ConnectorServiceClient::new(server.channel().await)
        .validate(ConnectorServiceValidateRequest {})
        .await
    {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_string()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_tells_bad_credentials_denied_access_and_missing_pools_apart() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({"name": unique("validate")}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    assert_eq!(validate_code(&server).await.0, Code::Ok);

    emulator.inject(json!([{"operation": "DescribeUserPool", "kind": "not_authorized", "count": 1, "pool_id": pool.id}]));
    let (code, message) = validate_code(&server).await;
    assert_eq!(code, Code::Unauthenticated, "{message}");
    assert!(message.contains("credentials"), "{message}");

    emulator.inject(json!([{"operation": "DescribeUserPool", "kind": "access_denied", "count": 1, "pool_id": pool.id}]));
    let (code, message) = validate_code(&server).await;
    assert_eq!(code, Code::PermissionDenied, "{message}");

    let missing = Pool {
        id: "us-east-1_DoesNotExist1".into(),
        arn: String::new(),
    };
    let server = Server::start(&pool_env(emulator, &missing), &[]);
    let (code, message) = validate_code(&server).await;
    assert_eq!(code, Code::NotFound, "{message}");
    assert!(message.contains("DescribeUserPool"), "{message}");
    assert!(!server.logs().contains(SECRET));

    // A pool is regional: the same pool id through another region is not there. The region in
    // the id wins over the SigV4 region only if they agree, so this is a config error instead.
    let out = run_binary(
        &["serve", "--region", "eu-west-1"],
        &pool_env(emulator, &pool),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_unavailable_after_the_retry_budget() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        (
            "BATON_USER_POOL_ID".to_string(),
            "us-east-1_AbC123".to_string(),
        ),
        (
            "BATON_ENDPOINT_URL".to_string(),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "BATON_AWS_ACCESS_KEY_ID".to_string(),
            "AKIAIOSFODNN7EXAMPLE".to_string(),
        ),
        (
            "BATON_AWS_SECRET_ACCESS_KEY".to_string(),
            SECRET.to_string(),
        ),
    ];
    let server = Server::start(&env, &[]);
    let (code, message) = validate_code(&server).await;
    assert_eq!(code, Code::Unavailable, "{message}");
    assert!(message.contains("after 6 attempts"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_are_retried_then_reported_with_a_rate_limit() {
    let emulator = Emulator::start();
    let pool = emulator.create_pool(json!({
        "name": unique("throttle"),
        "users": (0..10).map(|i| json!({"username": format!("u{i}")})).collect::<Vec<_>>(),
    }));
    let server = Server::start(&pool_env(&emulator, &pool), &[]);
    let channel = server.channel().await;

    emulator.reset_calls();
    emulator.inject(json!([
        {"operation": "ListUsers", "kind": "throttle", "count": 2},
        {"operation": "ListUsers", "kind": "internal", "count": 1},
        {"operation": "ListUsers", "kind": "unavailable", "count": 1},
    ]));
    let users = list_all_resources(&channel, "user", 0).await;
    assert_eq!(users.len(), 10, "the listing survives transient faults");
    assert_eq!(
        emulator.calls()["ListUsers"],
        json!(5),
        "4 failed attempts and 1 success"
    );

    emulator.reset_calls();
    emulator.inject(json!([{"operation": "ListUsers", "kind": "reset", "count": 1}]));
    assert_eq!(
        list_all_resources(&channel, "user", 0).await.len(),
        10,
        "a dropped connection is retried"
    );
    assert_eq!(emulator.calls()["ListUsers"], json!(2));

    emulator.reset_calls();
    emulator.inject(json!([{"operation": "ListUsers", "kind": "throttle", "count": 50}]));
    let err = ResourcesServiceClient::new(channel.clone())
        .list_resources(ResourcesServiceListResourcesRequest {
            resource_type_id: "user".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(err.message().contains("throttled"), "{}", err.message());
    assert!(
        !err.details().is_empty(),
        "a RateLimitDescription detail tells the caller when to come back"
    );
    assert_eq!(
        emulator.calls()["ListUsers"],
        json!(6),
        "the retry budget is bounded"
    );
    emulator.control("DELETE", "/_emulator/faults", None);
}

/// No credentials anywhere in the AWS chain: an authentication failure at once, not an
/// "unavailable" retried six times.
#[test]
fn missing_credentials_fail_at_once_as_an_authentication_error() {
    let env = vec![
        (
            "BATON_USER_POOL_ID".to_string(),
            "us-east-1_AbC123".to_string(),
        ),
        (
            "BATON_ENDPOINT_URL".to_string(),
            "http://127.0.0.1:9".to_string(),
        ),
        ("HOME".to_string(), "/nonexistent".to_string()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(&["-f", dir.path().join("x.c1z").to_str().unwrap()], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("credentials"), "{stderr}");
    assert!(
        !stderr.contains("retrying"),
        "credential errors are not retried: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

//! The bad input catalog (issue #7, item 4): every flag, environment variable, input file, gRPC
//! request field and platform task payload that can be wrong is refused with a message that says
//! what is wrong and the code a caller acts on (exit 2 for usage and configuration, 1 for files
//! that cannot be read or written; INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION over gRPC
//! and in FinishTask; the transport's INTERNAL or UNIMPLEMENTED for bytes that are no request),
//! and never with a panic: no "panicked" in any output, never exit code 101, and the server or
//! worker answers the next call.
//!
//! Each case is a test of its own, named for what it sends (`test_case`), so a failure names its
//! case; shared setup that costs (a synced pool, the tokens of three servers) is made once.
//! What `tests/it/failures.rs`, `tests/it/provisioning.rs`, `tests/it/grpc_connector.rs` and
//! `tests/it/service_mode.rs` already refuse is not repeated here. Page-token decoding and filter
//! parsing have property tests beside their code (`src/server/page_token.rs`,
//! `src/cognito/filter.rs`).

use crate::support::platform;

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::*;
use baton_cognito::cognito::CognitoError;
use baton_cognito::pb::baton::baton_service_finish_task_request::FinalState;
use baton_cognito::pb::baton::task::{self, TaskType};
use baton_cognito::pb::struct_from_json;
use baton_cognito::pb::v2::account_manager_service_client::AccountManagerServiceClient;
use baton_cognito::pb::v2::action_service_client::ActionServiceClient;
use baton_cognito::pb::v2::credential_manager_service_client::CredentialManagerServiceClient;
use baton_cognito::pb::v2::entitlements_service_client::EntitlementsServiceClient;
use baton_cognito::pb::v2::event_service_client::EventServiceClient;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::grants_service_client::GrantsServiceClient;
use baton_cognito::pb::v2::resource_deleter_service_client::ResourceDeleterServiceClient;
use baton_cognito::pb::v2::resource_getter_service_client::ResourceGetterServiceClient;
use baton_cognito::pb::v2::resource_manager_service_client::ResourceManagerServiceClient;
use baton_cognito::pb::v2::resource_types_service_client::ResourceTypesServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use platform::{Platform, PlatformOptions};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use serde_json::json;
use test_case::test_case;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// The AWS secret every run is given; it must never be echoed.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// How long any refused command may take: a refusal happens before anything connects.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(30);
/// Long enough for any platform task on a slow CI machine.
const TASK_TIMEOUT: Duration = Duration::from_secs(90);
/// No refusal needs more than this to say what is wrong, however large the input was.
const MAX_MESSAGE: usize = 4096;

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `base` with `overrides` replacing (or adding) variables.
fn env_with(base: &[(String, String)], overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| overrides.iter().all(|(o, _)| o != k))
        .cloned()
        .collect();
    env.extend(owned(overrides));
    env
}

// ------------------------------------------------------------------------------------------------
// Running the binary
// ------------------------------------------------------------------------------------------------

/// The checks every refused command must pass: the expected exit code, `expected` in what it
/// printed, no panic, no secret. Returns the mismatch, if any.
fn refusal_problem(what: &str, run: &BoundedRun, code: i32, expected: &str) -> Option<String> {
    let output = run.output();
    // What a person would read: the lines that are not JSON log records.
    let plain: Vec<&str> = output
        .lines()
        .filter(|line| !line.starts_with("{\"timestamp\""))
        .collect();
    let shown: String = plain.join("\n").chars().take(600).collect();
    if run.code.is_none() {
        return Some(format!(
            "{what}: not refused (still running after {REFUSAL_DEADLINE:?}): {shown}"
        ));
    }
    if run.code == Some(101) || output.contains("panicked") {
        return Some(format!("{what}: panicked: {shown}"));
    }
    if output.contains(SECRET) {
        return Some(format!("{what}: the AWS secret was echoed"));
    }
    if run.code != Some(code) {
        return Some(format!(
            "{what}: exit code {:?}, expected {code}: {shown}",
            run.code
        ));
    }
    if !run.stderr.contains(expected) {
        return Some(format!(
            "{what}: expected {expected:?} on stderr, got: {shown}"
        ));
    }
    None
}

fn assert_no_problems(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n- {}",
        problems.len(),
        problems.join("\n- ")
    );
}

/// Environment that would be accepted: a well-formed pool id and keys, an endpoint where nothing
/// listens (nothing ever leaves the machine), files in `dir`, and an ephemeral listen port.
fn acceptable_env(dir: &Path) -> Vec<(String, String)> {
    owned(&[
        ("BATON_USER_POOL_ID", "us-east-1_AbC123"),
        ("BATON_AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("BATON_AWS_SECRET_ACCESS_KEY", SECRET),
        ("BATON_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("BATON_FILE", dir.join("sync.c1z").to_str().unwrap()),
        ("BATON_LISTEN", "127.0.0.1:0"),
    ])
}

/// Stands for a fresh directory of the case's own (the event feed's journal), outside the
/// directory that must stay empty.
const FEED_DIR: &str = "<feed dir>";
/// Keys left empty, so that a session token has nothing to go with.
const NO_KEYS: &[(&str, &str)] = &[
    ("BATON_AWS_ACCESS_KEY_ID", ""),
    ("BATON_AWS_SECRET_ACCESS_KEY", ""),
];

/// Flags and environment variables with bad values: exit 2 before anything connects, with a
/// message naming the flag (clap's own messages name it as `'--flag <VALUE>'`), never echoing
/// the password of an endpoint URL, and nothing written where the file would go. `overrides`
/// replace (or add) variables of an environment that would be accepted.
// --api-budget and --category-budget: shares from 0.001 to 1.
#[test_case(&["serve", "--api-budget", "abc"], &[], "'--api-budget <SHARE>'" ; "api budget not a number")]
#[test_case(&["serve", "--api-budget=-1"], &[], "--api-budget: -1 is not a share" ; "api budget negative attached")]
// Written the usual way, a negative value must still be reported against its flag.
#[test_case(&["serve", "--api-budget", "-1"], &[], "--api-budget" ; "api budget negative apart")]
#[test_case(&["serve", "--api-budget", "NaN"], &[], "--api-budget: NaN is not a share" ; "api budget nan")]
#[test_case(&["serve", "--api-budget", "inf"], &[], "--api-budget: inf is not a share" ; "api budget inf")]
#[test_case(&["serve", "--api-budget", "0"], &[], "--api-budget: 0 is not a share" ; "api budget zero")]
// #17: inside the old (0, 1], this panicked in the pacer and the sync never ended.
#[test_case(&["serve", "--api-budget", "1e-300"], &[], "--api-budget: 1e-300 is not a share" ; "api budget 1e-300")]
#[test_case(&["serve", "--category-budget", "user-list=0.0009"], &[], "--category-budget: 0.0009 is not a share" ; "category budget below the smallest share")]
#[test_case(&["serve"], &[("BATON_API_BUDGET", "1.01")], "--api-budget: 1.01 is not a share" ; "api budget env above one")]
#[test_case(&["serve", "--category-budget", "user-list"], &[], "--category-budget: \"user-list\" is not CATEGORY=SHARE" ; "category budget without a share")]
#[test_case(&["serve", "--category-budget", "nope=0.2"], &[], "--category-budget: \"nope\" is not a quota category; use one of user-list" ; "category budget unknown category")]
#[test_case(&["serve", "--category-budget", "=0.2"], &[], "--category-budget: \"\" is not a quota category" ; "category budget empty category")]
#[test_case(&["serve", "--category-budget", "user-list=x"], &[], "--category-budget: \"x\" in \"user-list=x\" is not a number" ; "category budget share not a number")]
#[test_case(&["serve", "--category-budget", "user-list=0"], &[], "--category-budget: 0 is not a share" ; "category budget zero share")]
#[test_case(&["serve"], &[("BATON_CATEGORY_BUDGET", "user-list=0.2,bogus=1")], "--category-budget: \"bogus\" is not a quota category" ; "category budget env unknown category")]
#[test_case(&["serve", "--quota-scale", "0"], &[], "--quota-scale: \"0\" is neither a positive factor" ; "quota scale zero")]
#[test_case(&["serve"], &[("BATON_QUOTA_SCALE", "fast")], "--quota-scale: \"fast\"" ; "quota scale env not a number")]
#[test_case(&["serve", "--user-slicing", "sometimes"], &[], "'--user-slicing" ; "user slicing unknown mode")]
// Enumerations and switches.
#[test_case(&["serve", "--log-format", "xml"], &[], "'--log-format" ; "log format xml")]
#[test_case(&["serve"], &[("BATON_LOG_LEVEL", "LOUD")], "'--log-level" ; "log level env unknown")]
#[test_case(&["serve"], &[("BATON_PROVISIONING", "maybe")], "'--provisioning'" ; "provisioning env not a boolean")]
#[test_case(&["serve", "--listen", "127.0.0.1:99999"], &[], "'--listen" ; "listen port out of range")]
#[test_case(&["serve"], &[("BATON_LISTEN", "localhost:50051")], "'--listen" ; "listen env host name")]
// Credentials.
#[test_case(&["serve", "--aws-session-token", "token"], NO_KEYS, "--aws-session-token: needs --aws-access-key-id and --aws-secret-access-key" ; "session token without keys")]
#[test_case(&["serve"], &[("BATON_AWS_ACCESS_KEY_ID", "")], "--aws-access-key-id: is required when --aws-secret-access-key is set" ; "secret access key without key id")]
#[test_case(&["serve"], &[("BATON_AWS_ACCESS_KEY_ID", "AKIA/IOSFODNN7EXAMPLE")], "--aws-access-key-id: is not an AWS access key id" ; "access key id with a slash")]
#[test_case(&["serve"], &[("BATON_AWS_ACCESS_KEY_ID", "AKIA IOSFODNN7EXAMPLE")], "--aws-access-key-id: is not an AWS access key id" ; "access key id with a space")]
#[test_case(&["serve", "--external-id", "ext"], &[], "--external-id: is only used with --role-arn" ; "external id without role")]
#[test_case(&["serve"], &[("BATON_ROLE_ARN", "arn:aws:iam::123456789012:user/bob")], "--role-arn: \"arn:aws:iam::123456789012:user/bob\" is not an IAM role ARN" ; "role arn of a user")]
#[test_case(&["serve"], &[("BATON_ROLE_ARN", "arn:aws:s3::123456789012:role/x")], "--role-arn" ; "role arn of another service")]
// The endpoint.
#[test_case(&["serve", "--endpoint-url", "not a url"], &[], "--endpoint-url: \"not a url\" is not a URL" ; "endpoint not a url")]
#[test_case(&["serve", "--endpoint-url", "http://"], &[], "--endpoint-url: \"http://\"" ; "endpoint without a host")]
#[test_case(&["serve", "--endpoint-url", "127.0.0.1:5000"], &[], "--endpoint-url: \"127.0.0.1:5000\"" ; "endpoint without a scheme")]
// The AWS SDK's own variable is checked as the flag is (the flag left empty).
#[test_case(&["serve"], &[("BATON_ENDPOINT_URL", ""), ("AWS_ENDPOINT_URL", "http://127.0.0.1:99999")], "--endpoint-url: AWS_ENDPOINT_URL: \"http://127.0.0.1:99999\": the port must be" ; "aws endpoint url env port out of range")]
// #17: failed with exit 1 after six retries.
#[test_case(&["serve", "--endpoint-url", "http://127.0.0.1:99999"], &[], "--endpoint-url: \"http://127.0.0.1:99999\": the port must be a number from 1 to 65535" ; "endpoint port out of range")]
#[test_case(&["serve", "--endpoint-url", "http://admin:hunter2@127.0.0.1:9"], &[], "carries a user name or password" ; "endpoint with a user and password")]
// #17: a session token that is no header value failed after six retries; an auth token like it
// was accepted, and no client could ever authenticate.
#[test_case(&["serve"], &[("BATON_AWS_SESSION_TOKEN", "FwoG\nZXIvYXdz")], "--aws-session-token: cannot be sent in an HTTP header" ; "session token with a newline")]
#[test_case(&["serve"], &[("BATON_AUTH_TOKEN", "tok\r\nen")], "--auth-token: cannot be sent in an HTTP header" ; "auth token with a line break")]
#[test_case(&["serve"], &[("BATON_AUTH_TOKEN", "tok\ten")], "--auth-token: cannot be sent in an HTTP header" ; "auth token with a tab")]
#[test_case(&["serve"], &[("BATON_AUTH_TOKEN", "tökén")], "--auth-token: cannot be sent in an HTTP header" ; "auth token not ascii")]
// #17 review: the ARN's region is checked even when the pool id names none.
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "arn:aws:cognito-idp::123456789012:userpool/local_2HVVRiVR")], "--user-pool-id: the region \"\" in the ARN is not an AWS region name" ; "pool arn with an empty region")]
// The pool.
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "   ")], "--user-pool-id: is required" ; "pool id blank")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", &format!("us-east-1_{}", "a".repeat(60)))], "(longer than 55 characters)" ; "pool id too long")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "us-east-1_Ab-C")], "must be letters and digits" ; "pool id with a hyphen")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "useast1_AbC")], "--region: is required: the user pool id useast1_AbC does not name an AWS region" ; "pool id naming no region")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "arn:aws:cognito-idp:us-east-1:123:userpool/us-east-1_A")], "--user-pool-id: the account \"123\" in the ARN is not a 12-digit AWS account id" ; "pool arn with a short account")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "arn:aws:cognito-idp")], "--user-pool-id: \"arn:aws:cognito-idp\" is not a pool ARN" ; "pool arn cut short")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "arn:aws:cognito-idp:us-east-1:123456789012:identitypool/us-east-1_A")], "not userpool/POOL_ID" ; "pool arn of an identity pool")]
#[test_case(&["serve"], &[("BATON_USER_POOL_ID", "arn:aws:s3:us-east-1:123456789012:userpool/us-east-1_A")], "is not a Cognito user pool ARN" ; "pool arn of another service")]
#[test_case(&["serve", "--region", "US-EAST-1"], &[], "--region: \"US-EAST-1\" is not an AWS region name" ; "region in capitals")]
// The user filter.
#[test_case(&["serve"], &[("BATON_USER_FILTER", "email = \"a\u{1}b\"")], "--user-filter: the value may not contain control characters" ; "user filter with a control character")]
#[test_case(&["serve", "--user-filter", &format!("email ^= \"{}\"", "a".repeat(300))], &[], "--user-filter: the filter is longer than Cognito's limit of 256 characters" ; "user filter too long")]
#[test_case(&["serve", "--user-filter", "email"], &[], "--user-filter: no operator in \"email\"" ; "user filter without an operator")]
#[test_case(&["serve", "--user-filter", "email ^ \"x\""], &[], "--user-filter: unknown operator" ; "user filter unknown operator")]
#[test_case(&["serve", "--user-filter", "= \"x\""], &[], "--user-filter: no single attribute name" ; "user filter without an attribute")]
#[test_case(&["serve", "--user-filter", "email = \"unterminated"], &[], "has no closing quote" ; "user filter unterminated quote")]
#[test_case(&["serve", "--user-filter", "email = two words"], &[], "must be one word or in double quotes" ; "user filter unquoted words")]
#[test_case(&["serve", "--user-filter", "status = \"enabled\""], &[], "--user-filter: status is \"Enabled\" or \"Disabled\", not \"enabled\"" ; "user filter status in lower case")]
#[test_case(&["serve", "--user-filter", "cognito:user_status = \"ACTIVE\""], &[], "--user-filter: cognito:user_status is one of" ; "user filter unknown user status")]
#[test_case(&["serve", "--user-filter", "email = \"a\\b\""], &[], "may not contain a double quote or a backslash" ; "user filter with a backslash")]
#[test_case(&["serve", "--user-filter", "Email = \"a\""], &[], "--user-filter: \"Email\" is not a searchable attribute" ; "user filter attribute in capitals")]
// Service mode.
#[test_case(&["--health-check-port", "70000"], &[], "'--health-check-port" ; "health check port out of range")]
#[test_case(&["--health-check-bind-address", "localhost"], &[], "'--health-check-bind-address" ; "health check bind address host name")]
#[test_case(&["--task-concurrency", "101"], &[], "'--task-concurrency" ; "task concurrency above the maximum")]
#[test_case(&[], &[("BATON_TASK_CONCURRENCY", "many")], "'--task-concurrency" ; "task concurrency env not a number")]
// #17: negative numbers were "unexpected argument '-1'", without the flag's name.
#[test_case(&["--task-concurrency", "-1"], &[], "'--task-concurrency" ; "task concurrency negative")]
#[test_case(&["--health-check-port", "-1"], &[], "'--health-check-port" ; "health check port negative")]
#[test_case(&["serve", "--shutdown-timeout", "-5"], &[], "'--shutdown-timeout" ; "shutdown timeout negative")]
#[test_case(&["watch", "--sink", "-", "--sink-attempts", "-2"], &[], "'--sink-attempts" ; "sink attempts negative")]
// #17: 30 February parses as cron and never fires.
#[test_case(&["watch", "--sink", "-", "--schedule", "0 0 30 2 *"], &[], "--schedule \"0 0 30 2 *\": no date ever matches it" ; "schedule that never fires")]
#[test_case(&["--event-feed", "--event-feed-cursor", "!!!", "--event-feed-dir", FEED_DIR], &[], "--event-feed-cursor" ; "event feed cursor garbage")]
#[test_case(&["--client-secret", "x"], &[], "--client-id" ; "client secret without client id")]
#[test_case(&["--client-id", "x@localhost/y", "--client-secret", "z", "--revoke-grant", "g"], &[], "cannot be used in service mode" ; "revoke grant in service mode")]
// Commands and arguments.
#[test_case(&["bogus-command"], &[], "unrecognized subcommand 'bogus-command'" ; "unknown command")]
#[test_case(&["serve", "--bogus"], &[], "unexpected argument '--bogus'" ; "unknown flag")]
#[test_case(&["serve", "extra"], &[], "unexpected argument 'extra'" ; "extra argument")]
#[test_case(&["resources", "-o", "yaml"], &[], "'--output-format" ; "output format yaml")]
#[test_case(&["entitlements", "-r", "nocolon"], &[], "--resource: \"nocolon\" is not TYPE:ID" ; "resource without a type")]
#[test_case(&["grants", "-p", ":x"], &[], "--principal: \":x\" is not TYPE:ID" ; "principal without a type")]
#[test_case(&["grants", "-p", "user:"], &[], "--principal: \"user:\" is not TYPE:ID" ; "principal without an id")]
#[test_case(&["grants", "-e", "a", "-p", "user:x"], &[], "cannot be used with" ; "entitlement and principal together")]
// One-shot provisioning flags that contradict each other.
#[test_case(&["--grant-principal", "ann"], &[], "--grant-principal needs --grant-entitlement" ; "grant principal without entitlement")]
#[test_case(&["--create-account-email", "a@example.com"], &[], "--create-account-email needs --create-account-login" ; "create account email without login")]
#[test_case(&["--invoke-action", "enable_user", "--list-action-schemas"], &[], "--invoke-action and --list-action-schemas cannot be used together" ; "invoke action with list action schemas")]
fn refused_flags(args: &[&str], overrides: &[(&str, &str)], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let feed_dir = tempfile::tempdir().unwrap();
    let args: Vec<&str> = args
        .iter()
        .map(|arg| match *arg {
            FEED_DIR => feed_dir.path().to_str().unwrap(),
            arg => arg,
        })
        .collect();
    let env = env_with(&acceptable_env(dir.path()), overrides);
    let mut command = base_command(&env);
    command.args(&args);
    let run = run_until(command, REFUSAL_DEADLINE);
    let what = format!("{args:?} {overrides:?}");
    let mut problems: Vec<String> = refusal_problem(&what, &run, 2, expected)
        .into_iter()
        .collect();
    if run.output().contains("hunter2") {
        problems.push(format!(
            "{what}: the password in the endpoint URL was echoed"
        ));
    }
    assert!(
        dir.path().read_dir().unwrap().next().is_none(),
        "a refused command writes nothing"
    );
    assert_no_problems(problems);
}

/// A value that is not UTF-8 at all (an environment can hold any bytes) is refused as the
/// other bad values are.
#[test]
fn a_pool_id_that_is_not_utf8_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = base_command(&acceptable_env(dir.path()));
    command.arg("serve").env(
        "BATON_USER_POOL_ID",
        OsStr::from_bytes(b"us-east-1_\xff\xfe"),
    );
    let run = run_until(command, REFUSAL_DEADLINE);
    let problems: Vec<String> =
        refusal_problem("non-UTF-8 BATON_USER_POOL_ID", &run, 2, "invalid UTF-8")
            .into_iter()
            .collect();
    assert!(
        dir.path().read_dir().unwrap().next().is_none(),
        "a refused command writes nothing"
    );
    assert_no_problems(problems);
}

// ------------------------------------------------------------------------------------------------
// Input files and one-shot provisioning flags, against a synced pool
// ------------------------------------------------------------------------------------------------

/// A small pool, and the bytes of one sync of it into a `.c1z`, for the commands that read
/// one. Each catalog has one, made once; every case writes the bytes into a directory of its
/// own ([`copy_of_synced`]).
struct SyncedBytes {
    pool: Pool,
    bytes: Vec<u8>,
}

fn synced_pool(name: &str) -> SyncedBytes {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({
        "name": unique(name),
        "users": [
            {"username": "ann", "attributes": {"email": "ann@example.com"}},
            {"username": "bob", "attributes": {"email": "bob@example.com"}},
        ],
        "groups": [{"name": "admins"}, {"name": "team: red/blue"}],
        "memberships": [["admins", "ann"], ["admins", "bob"]],
    }));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let mut env = pool_env(emulator, &pool);
    env.push(("BATON_FILE".into(), file.to_str().unwrap().into()));
    let out = run_binary(&[], &env);
    assert!(
        out.status.success(),
        "the sync: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    SyncedBytes {
        pool,
        bytes: std::fs::read(&file).unwrap(),
    }
}

/// A directory of the case's own holding a copy of the synced file as `sync.c1z` (which
/// `BATON_FILE` names), and the environment of the synced pool.
fn copy_of_synced(shared: &SyncedBytes) -> (tempfile::TempDir, PathBuf, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    std::fs::write(&file, &shared.bytes).unwrap();
    let mut env = pool_env(Emulator::shared(), &shared.pool);
    env.push(("BATON_FILE".into(), file.to_str().unwrap().into()));
    (dir, file, env)
}

/// One-shot provisioning flags whose values the connector refuses: they are caught before
/// anything changes, so they are usage errors (exit 2) that name the flag, as every other bad
/// flag value is. (Grants and revokes naming what the file lacks, bad JSON and missing companion
/// flags are in `tests/it/provisioning.rs`.) The cases share one synced pool, each with a copy
/// of the file of its own, and read the pool back afterwards: unchanged.
#[test_case(&["--invoke-action", "explode_user", "--invoke-action-args", r#"{"user_id":"ann"}"#], &["--invoke-action", "\"explode_user\""] ; "unknown action")]
#[test_case(&["--invoke-action", "disable_user", "--invoke-action-args", r#"{"user_id":42}"#], &["--invoke-action-args", "user_id", "must be a string"] ; "action user id a number")]
#[test_case(&["--invoke-action", "disable_user", "--invoke-action-args", r#"{"user_id":"  "}"#], &["--invoke-action-args", "user_id", "is required"] ; "action user id blank")]
#[test_case(&["--invoke-action", "disable_user", "--invoke-action-args", r#"{"user":"ann"}"#], &["--invoke-action-args", "user_id", "is required"] ; "action without user id")]
#[test_case(&["--invoke-action", "disable_user", "--invoke-action-args", r#"{"user_id":"ann"}"#, "--invoke-action-resource-type", "user"], &["--invoke-action-resource-type", "\"user\""] ; "action scoped to users")]
#[test_case(&["--delete-resource", "admins", "--delete-resource-type", "group"], &["--delete-resource", "cannot be deleted"] ; "delete a group")]
#[test_case(&["--delete-resource", "ann", "--delete-resource-type", "widget"], &["--delete-resource-type", "\"widget\""] ; "delete a widget")]
#[test_case(&["--delete-resource", "", "--delete-resource-type", "user"], &["--delete-resource"] ; "delete an empty id")]
#[test_case(&["--create-account-login", "eve", "--create-account-resource-type", "group"], &["--create-account-resource-type", "\"group\""] ; "create an account of type group")]
#[test_case(&["--create-account-login", "eve", "--create-account-profile", r#"{"nested":{"a":1}}"#], &["--create-account-profile", "\"nested\""] ; "create account profile nested")]
#[test_case(&["--create-account-login", "eve", "--create-account-profile", r#"{"given_name":["a"]}"#], &["--create-account-profile", "\"given_name\""] ; "create account profile with a list")]
#[test_case(&["--create-account-login", "eve", "--create-account-profile", r#"{"send_invite_email":"maybe"}"#], &["--create-account-profile", "send_invite_email"] ; "create account send invite email not a boolean")]
#[test_case(&["--create-account-login", "  "], &["--create-account-login"] ; "create account blank login")]
#[test_case(&["--grant-entitlement", "group:admins:member", "--grant-principal", "team: red/blue", "--grant-principal-type", "group"], &["--grant-principal", "is not a user"] ; "grant to a group")]
// Already refused as usage errors before the catalog; kept so that it is the whole catalog.
#[test_case(&["--grant-entitlement", "group:admins:member", "--grant-principal", "ann", "--grant-principal-type", "widget"], &["--grant-principal: widget:ann is not in"] ; "grant to a widget")]
#[test_case(&["--invoke-action", "enable_user", "--invoke-action-args", "null"], &["--invoke-action-args: expected a JSON object"] ; "action arguments null")]
fn refused_one_shot_provisioning(args: &[&str], expected: &[&str]) {
    static SYNCED: OnceLock<SyncedBytes> = OnceLock::new();
    let synced = SYNCED.get_or_init(|| synced_pool("one-shot"));
    let (_dir, _, env) = copy_of_synced(synced);
    let mut command = base_command(&env);
    command.args(args);
    let run = run_until(command, REFUSAL_DEADLINE);
    let problem = expected
        .iter()
        .find_map(|fragment| refusal_problem(&format!("{args:?}"), &run, 2, fragment));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let aws = runtime.block_on(aws_client(Emulator::shared(), &synced.pool));
    for user in ["ann", "bob"] {
        let record = runtime.block_on(aws.get_user(user)).unwrap();
        assert!(record.enabled, "{user} is still enabled");
        assert_eq!(
            runtime.block_on(aws.groups_of_user(user)).unwrap(),
            vec!["admins".to_string()],
            "{user}'s groups are unchanged"
        );
    }
    assert!(runtime.block_on(aws.get_group("admins")).is_ok());
    assert!(
        matches!(
            runtime.block_on(aws.get_user("eve")),
            Err(CognitoError::UserNotFound { .. })
        ),
        "no account was created"
    );
    assert_no_problems(problem.into_iter().collect());
}

/// The synced pool the file cases read.
fn files_pool() -> &'static SyncedBytes {
    static SYNCED: OnceLock<SyncedBytes> = OnceLock::new();
    SYNCED.get_or_init(|| synced_pool("files"))
}

/// What stands at the path a command is given with `-f`.
enum Unreadable {
    /// Nothing.
    Missing,
    /// The case's directory.
    Directory,
    /// A file of these bytes, made from the bytes of a good file.
    Bytes(fn(&[u8]) -> Vec<u8>),
}

/// A good file with one byte inverted.
fn flipped(good: &[u8], at: usize) -> Vec<u8> {
    let mut bytes = good.to_vec();
    bytes[at] ^= 0xff;
    bytes
}

/// The commands that read a `.c1z`.
const READERS: [&[&str]; 5] = [
    &["stats"],
    &["resource-types", "-o", "json"],
    &["resources", "-t", "user"],
    &["entitlements", "-r", "group:admins"],
    &["grants", "-p", "user:ann"],
];

/// Files that are not a readable `.c1z`, for every command that reads one: exit 1 (a failure to
/// read a file, not a usage error) with the path and the reason.
#[test_case("missing.c1z", Unreadable::Missing, "no such file" ; "missing file")]
#[test_case("", Unreadable::Directory, "cannot read" ; "a directory")]
#[test_case("empty.c1z", Unreadable::Bytes(|_| Vec::new()), "the file is empty" ; "empty file")]
#[test_case("text.c1z", Unreadable::Bytes(|_| b"hello, world\n".to_vec()), "not a .c1z file" ; "text file")]
#[test_case("header.c1z", Unreadable::Bytes(|_| b"C1ZF\0".to_vec()), "truncated or corrupt" ; "header alone")]
#[test_case("garbage.c1z", Unreadable::Bytes(|_| {
    let mut garbage = b"C1ZF\0".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    garbage
}), "truncated or corrupt" ; "garbage after the header")]
#[test_case("half.c1z", Unreadable::Bytes(|good| good[..good.len() / 2].to_vec()), "truncated or corrupt" ; "first half of a file")]
#[test_case("flip-frame.c1z", Unreadable::Bytes(|good| flipped(good, 5)), "truncated or corrupt" ; "byte flipped in the frame header")]
#[test_case("flip-middle.c1z", Unreadable::Bytes(|good| flipped(good, good.len() / 2)), "truncated or corrupt" ; "byte flipped in the middle")]
#[test_case("flip-end.c1z", Unreadable::Bytes(|good| flipped(good, good.len() - 3)), "truncated or corrupt" ; "byte flipped near the end")]
#[test_case("not-sqlite.c1z", Unreadable::Bytes(|_| {
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend(zstd::encode_all(&b"not a database at all"[..], 3).unwrap());
    bytes
}), "is not a SQLite database" ; "not a sqlite database")]
fn unreadable_c1z_files(name: &str, given: Unreadable, reason: &str) {
    let (dir, _, env) = copy_of_synced(files_pool());
    let dir = dir.path();
    let path = match given {
        Unreadable::Missing => dir.join(name),
        Unreadable::Directory => dir.to_path_buf(),
        Unreadable::Bytes(make) => {
            let path = dir.join(name);
            std::fs::write(&path, make(&files_pool().bytes)).unwrap();
            path
        }
    };
    let shown = path.to_str().unwrap();
    let mut problems = Vec::new();
    for command_args in READERS {
        let mut command = base_command(&env);
        command.arg("-f").arg(&path).args(command_args);
        let run = run_until(command, REFUSAL_DEADLINE);
        let what = format!("{shown} {command_args:?}");
        problems.extend(
            refusal_problem(&what, &run, 1, shown)
                .or_else(|| refusal_problem(&what, &run, 1, reason)),
        );
    }
    assert_no_problems(problems);
}

/// Destinations a sync cannot write: exit 1 with the path and the reason, and the file already
/// there untouched.
#[test_case(|dir| dir.join("no/such/dir/sync.c1z"), "does not exist" ; "destination in a missing directory")]
#[test_case(|dir| dir.to_path_buf(), "is a directory" ; "destination a directory")]
fn unwritable_destinations(destination: fn(&Path) -> PathBuf, reason: &str) {
    let (dir, file, env) = copy_of_synced(files_pool());
    let before = std::fs::read(&file).unwrap();
    let destination = destination(dir.path());
    let shown = destination.to_str().unwrap().to_string();
    let mut command = base_command(&env);
    command.arg("-f").arg(&destination);
    let run = run_until(command, REFUSAL_DEADLINE);
    let problem = refusal_problem(&shown, &run, 1, &shown)
        .or_else(|| refusal_problem(&shown, &run, 1, reason));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the synced file is untouched"
    );
    assert_no_problems(problem.into_iter().collect());
}

// ------------------------------------------------------------------------------------------------
// gRPC requests
// ------------------------------------------------------------------------------------------------

type Call = Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>;

/// One request that must be refused with one of `codes` and a message containing `text`.
struct Case {
    call: Call,
    codes: Vec<Code>,
    text: String,
}

fn case<T: Send + 'static>(
    code: Code,
    text: impl Into<String>,
    call: impl Future<Output = Result<T, tonic::Status>> + Send + 'static,
) -> Case {
    either(&[code], text, call)
}

/// A case where more than one code is right (e.g. NOT_FOUND for an unknown type, or
/// INVALID_ARGUMENT for a type id longer than Baton allows).
fn either<T: Send + 'static>(
    codes: &[Code],
    text: impl Into<String>,
    call: impl Future<Output = Result<T, tonic::Status>> + Send + 'static,
) -> Case {
    Case {
        call: Box::pin(async move { call.await.map(drop) }),
        codes: codes.to_vec(),
        text: text.into(),
    }
}

/// A request as a [`Call`].
fn boxed<R: Send + 'static>(
    call: impl Future<Output = Result<tonic::Response<R>, tonic::Status>> + Send + 'static,
) -> Call {
    Box::pin(async move { call.await.map(drop) })
}

/// Whether the server answers a health check on `channel`.
async fn serving(channel: &Channel) -> bool {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .is_ok_and(|r| {
            r.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        })
}

/// Runs one case: it must be refused as expected, with a message of bounded size however large
/// the request, and the server must answer the next call (on the same connection, or on a new
/// one if the refusal broke that connection), and not have panicked.
async fn check_case(server: &Server, channel: &Channel, case: Case) -> Vec<String> {
    let mut problems = Vec::new();
    match case.call.await {
        Ok(()) => problems.push(format!("accepted, expected {:?}", case.codes)),
        Err(status) => {
            let message = status.message();
            let shown: String = message.chars().take(200).collect();
            if !case.codes.contains(&status.code()) {
                problems.push(format!(
                    "{:?} {shown:?}, expected {:?}",
                    status.code(),
                    case.codes
                ));
            } else if !message.contains(&case.text) {
                problems.push(format!("expected {:?} in {shown:?}", case.text));
            } else if message.len() > MAX_MESSAGE {
                problems.push(format!(
                    "a message of {} bytes echoes the input: {shown:?}...",
                    message.len()
                ));
            }
        }
    }
    if !serving(channel).await && !serving(&server.channel().await).await {
        problems.push("the server stopped answering".to_string());
    }
    let logs = server.logs();
    if logs.contains("panicked") {
        problems.push(format!("the server panicked: {logs}"));
    }
    problems
}

fn list_request(
    type_id: &str,
    token: &str,
    page_size: u32,
) -> ResourcesServiceListResourcesRequest {
    ResourcesServiceListResourcesRequest {
        resource_type_id: type_id.into(),
        page_token: token.into(),
        page_size,
        ..Default::default()
    }
}

fn grants_request(
    resource: Option<Resource>,
    token: &str,
    page_size: u32,
) -> GrantsServiceListGrantsRequest {
    GrantsServiceListGrantsRequest {
        resource,
        page_token: token.into(),
        page_size,
        ..Default::default()
    }
}

fn resource_id(type_id: &str, id: &str) -> Option<ResourceId> {
    Some(ResourceId {
        resource_type: type_id.into(),
        resource: id.into(),
        baton_resource: false,
    })
}

fn json_struct(value: serde_json::Value) -> Option<prost_types::Struct> {
    let serde_json::Value::Object(map) = value else {
        panic!("not an object: {value}")
    };
    Some(struct_from_json(map))
}

/// The first page's next token of a user listing.
async fn user_token(channel: &Channel) -> String {
    let token = ResourcesServiceClient::new(channel.clone())
        .list_resources(list_request("user", "", 1))
        .await
        .expect("a first page of users")
        .into_inner()
        .next_page_token;
    assert!(
        !token.is_empty(),
        "the pool has more than one page of users"
    );
    token
}

fn seed_pool(emulator: &Emulator, name: &str) -> Pool {
    emulator.create_pool(json!({
        "name": unique(name),
        "users": [
            {"username": "ann", "attributes": {"email": "ann@example.com"}},
            {"username": "anna", "attributes": {"email": "anna@example.com"}},
            {"username": "bob", "attributes": {"email": "bob@example.com"}},
            {"username": "cara"},
        ],
        "groups": [{"name": "admins"}, {"name": "team: red/blue"}],
        "memberships": [["admins", "ann"], ["admins", "bob"], ["team: red/blue", "cara"]],
    }))
}

/// The pool the listing cases' servers read, and the tokens they need, issued once: by a
/// server for that pool (a user listing's and the admins grant listing's), by one under a user
/// filter, and by one for another pool. Page tokens are sealed with a key of the pool and the
/// filter, so a server started later for the same pool takes the same tokens. The servers that
/// issued them are stopped once they have.
struct ListingTokens {
    pool: Pool,
    good: String,
    /// `good` with its last character changed.
    tampered: String,
    admins: String,
    filtered: String,
    foreign: String,
}

async fn listing_tokens() -> &'static ListingTokens {
    static TOKENS: tokio::sync::OnceCell<ListingTokens> = tokio::sync::OnceCell::const_new();
    TOKENS
        .get_or_init(|| async {
            let emulator = Emulator::shared();
            let pool = seed_pool(emulator, "bad-sync");
            let other_pool = seed_pool(emulator, "bad-sync-other");
            let server = Server::start(&pool_env(emulator, &pool), &[]);
            let filtered = Server::start(
                &pool_env(emulator, &pool),
                &["--user-filter", "email ^= \"ann\""],
            );
            let foreign = Server::start(&pool_env(emulator, &other_pool), &[]);
            let channel = server.channel().await;
            let good = user_token(&channel).await;
            let admins = GrantsServiceClient::new(channel.clone())
                .list_grants(grants_request(Some(resource("group", "admins")), "", 1))
                .await
                .unwrap()
                .into_inner()
                .next_page_token;
            assert!(!admins.is_empty(), "admins has two members");
            let mut tampered = good.clone().into_bytes();
            let last = tampered.len() - 1;
            tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
            let tokens = ListingTokens {
                tampered: String::from_utf8(tampered).unwrap(),
                good,
                admins,
                filtered: user_token(&filtered.channel().await).await,
                foreign: user_token(&foreign.channel().await).await,
                pool,
            };
            for (name, server) in [
                ("server", &server),
                ("filtered", &filtered),
                ("foreign", &foreign),
            ] {
                let logs = server.logs();
                assert!(
                    !logs.contains("panicked"),
                    "the {name} server panicked: {logs}"
                );
            }
            tokens
        })
        .await
}

/// A listing case's server, and the tokens.
struct Listing {
    channel: Channel,
    tokens: &'static ListingTokens,
}

impl Listing {
    fn resources(&self, request: ResourcesServiceListResourcesRequest) -> Call {
        let mut client = ResourcesServiceClient::new(self.channel.clone());
        boxed(async move { client.list_resources(request).await })
    }

    fn types(&self, token: &str, page_size: u32) -> Call {
        let mut client = ResourceTypesServiceClient::new(self.channel.clone());
        let request = ResourceTypesServiceListResourceTypesRequest {
            page_token: token.into(),
            page_size,
            ..Default::default()
        };
        boxed(async move { client.list_resource_types(request).await })
    }

    fn get(&self, id: Option<ResourceId>) -> Call {
        let mut client = ResourceGetterServiceClient::new(self.channel.clone());
        let request = ResourceGetterServiceGetResourceRequest {
            resource_id: id,
            ..Default::default()
        };
        boxed(async move { client.get_resource(request).await })
    }

    fn entitlements(&self, resource: Option<Resource>, token: &str, page_size: u32) -> Call {
        let mut client = EntitlementsServiceClient::new(self.channel.clone());
        let request = EntitlementsServiceListEntitlementsRequest {
            resource,
            page_token: token.into(),
            page_size,
            ..Default::default()
        };
        boxed(async move { client.list_entitlements(request).await })
    }

    fn statics(&self, type_id: &str, token: &str) -> Call {
        let mut client = EntitlementsServiceClient::new(self.channel.clone());
        let request = EntitlementsServiceListStaticEntitlementsRequest {
            resource_type_id: type_id.into(),
            page_token: token.into(),
            ..Default::default()
        };
        boxed(async move { client.list_static_entitlements(request).await })
    }

    fn grants(&self, request: GrantsServiceListGrantsRequest) -> Call {
        let mut client = GrantsServiceClient::new(self.channel.clone());
        boxed(async move { client.list_grants(request).await })
    }
}

const FORGED: &str = "page_token was not issued by this connector for this user pool and filter";

/// The sync side of the protocol: every request field a caller can get wrong, each sent to a
/// server of its own, which afterwards still takes an untouched token.
// ListResources: types, page sizes, tokens.
#[test_case(|c| case(Code::NotFound, "unknown resource type \"\"", c.resources(list_request("", "", 0))) ; "resources of an empty type")]
#[test_case(|c| case(Code::NotFound, "unknown resource type \"USER\"", c.resources(list_request("USER", "", 0))) ; "resources of type in capitals")]
#[test_case(|c| either(&[Code::NotFound, Code::InvalidArgument], "", c.resources(list_request(&"a".repeat(3 << 20), "", 0))) ; "resources of a 3 mib type")]
#[test_case(|c| case(Code::InvalidArgument, "page_size 4294967295 is larger than the maximum of 250", c.resources(list_request("user", "", u32::MAX))) ; "page size u32 max")]
#[test_case(|c| case(Code::InvalidArgument, "page_size 251", c.resources(list_request("user", &c.tokens.good, 251))) ; "page size 251 with a good token")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", &c.tokens.tampered, 1))) ; "token with its last character changed")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", &c.tokens.foreign, 1))) ; "token from another pools server")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", &c.tokens.filtered, 1))) ; "token issued under a user filter")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", &"x".repeat(2048), 1))) ; "token of 2 kib")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", &"A".repeat(3 << 20), 1))) ; "token of 3 mib")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", "\0é.\u{7f}", 1))) ; "token with nul and non ascii")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.resources(list_request("user", ".", 1))) ; "token of only the separator")]
#[test_case(|c| case(Code::InvalidArgument, "page_token belongs to another listing (grants/group/admins), not to resources/user", c.resources(list_request("user", &c.tokens.admins, 1))) ; "grant listings token for users")]
// ListResourceTypes: only its own tokens are right.
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.types("garbage", 0)) ; "resource types with a garbage token")]
#[test_case(|c| case(Code::InvalidArgument, "belongs to another listing (resources/user)", c.types(&c.tokens.good, 0)) ; "resource types with a user listings token")]
#[test_case(|c| case(Code::InvalidArgument, "page_size 1000", c.types("", 1000)) ; "resource types with page size 1000")]
// GetResource.
#[test_case(|c| case(Code::NotFound, "unknown resource type \"\"", c.get(resource_id("", "ann"))) ; "get with an empty type")]
#[test_case(|c| case(Code::NotFound, "unknown resource type \"widget\"", c.get(resource_id("widget", "ann"))) ; "get a widget")]
#[test_case(|c| case(Code::InvalidArgument, "resource_id.resource is empty", c.get(resource_id("group", ""))) ; "get a group with an empty id")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.get(resource_id("user", &"x".repeat(2048)))) ; "get a user id over 1024 bytes")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.get(resource_id("group", &"x".repeat(2048)))) ; "get a group id over 1024 bytes")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.get(resource_id("user", &"a".repeat(3 << 20)))) ; "get a user id of 3 mib")]
#[test_case(|c| case(Code::NotFound, "does not exist", c.get(resource_id("user", "ann\n\0"))) ; "get a user id with control characters")]
// ListEntitlements and ListStaticEntitlements.
#[test_case(|c| case(Code::InvalidArgument, "resource is required", c.entitlements(None, "", 0)) ; "entitlements without a resource")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.entitlements(Some(Resource::default()), "", 0)) ; "entitlements of a resource without an id")]
#[test_case(|c| case(Code::NotFound, "unknown resource type \"widget\"", c.entitlements(Some(resource("widget", "w")), "", 0)) ; "entitlements of a widget")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.entitlements(Some(resource("group", "admins")), "garbage", 0)) ; "entitlements with a garbage token")]
#[test_case(|c| case(Code::InvalidArgument, "belongs to another listing", c.entitlements(Some(resource("group", "admins")), &c.tokens.admins, 0)) ; "entitlements with a grant listings token")]
#[test_case(|c| case(Code::InvalidArgument, "page_size 251", c.entitlements(Some(resource("group", "admins")), "", 251)) ; "entitlements with page size 251")]
#[test_case(|c| case(Code::NotFound, "unknown resource type \"widget\"", c.statics("widget", "")) ; "static entitlements of a widget")]
#[test_case(|c| case(Code::InvalidArgument, FORGED, c.statics("group", "garbage")) ; "static entitlements with a garbage token")]
// ListGrants.
#[test_case(|c| case(Code::InvalidArgument, "resource is required", c.grants(grants_request(None, "", 0))) ; "grants without a resource")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.grants(grants_request(Some(Resource::default()), "", 0))) ; "grants of a resource without an id")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.grants(grants_request(Some(resource("group", "")), "", 0))) ; "grants of a group with an empty name")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.grants(grants_request(Some(resource("", "admins")), "", 0))) ; "grants of a resource of an empty type")]
#[test_case(|c| case(Code::NotFound, "unknown resource type \"widget\"", c.grants(grants_request(Some(resource("widget", "w")), "", 0))) ; "grants of a widget")]
#[test_case(|c| case(Code::NotFound, "group \"nogroup\" does not exist", c.grants(grants_request(Some(resource("group", "nogroup")), "", 0))) ; "grants of a missing group")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.grants(grants_request(Some(resource("group", &"x".repeat(2048))), "", 0))) ; "grants of a group id over 1024 bytes")]
#[test_case(|c| case(Code::InvalidArgument, "page_token belongs to another listing (grants/group/admins), not to grants/group/team: red/blue", c.grants(grants_request(Some(resource("group", "team: red/blue")), &c.tokens.admins, 1))) ; "grants of another group with the admins token")]
#[test_case(|c| case(Code::InvalidArgument, "belongs to another listing (resources/user)", c.grants(grants_request(Some(resource("group", "admins")), &c.tokens.good, 1))) ; "grants with a user listings token")]
#[test_case(|c| case(Code::InvalidArgument, "page_size 100000", c.grants(grants_request(Some(resource("group", "admins")), "", 100_000))) ; "grants with page size 100000")]
// Absent features answer as the SDK does.
#[test_case(|c| {
    let mut client = EventServiceClient::new(c.channel.clone());
    case(Code::NotFound, "event feed id nope not found", async move {
        client
            .list_events(ListEventsRequest {
                event_feed_id: "nope".into(),
                ..Default::default()
            })
            .await
    })
} ; "events of an unknown feed")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_listing_requests(request: impl FnOnce(&Listing) -> Case) {
    let tokens = listing_tokens().await;
    let server = Server::start(&pool_env(Emulator::shared(), &tokens.pool), &[]);
    let listing = Listing {
        channel: server.channel().await,
        tokens,
    };
    let problems = check_case(&server, &listing.channel, request(&listing)).await;

    // The good token still works after that.
    let page = ResourcesServiceClient::new(listing.channel.clone())
        .list_resources(list_request("user", &tokens.good, 1))
        .await
        .expect("the untouched token still works")
        .into_inner();
    assert_eq!(page.list.len(), 1);
    assert_no_problems(problems);
}

fn entitlement_of(resource_value: Option<Resource>, id: &str) -> Entitlement {
    Entitlement {
        resource: resource_value,
        id: id.into(),
        slug: "member".into(),
        ..Entitlement::default()
    }
}

fn grant_of(entitlement: Option<Entitlement>, principal: Option<Resource>) -> Grant {
    Grant {
        id: "group:admins:member:user:ann".into(),
        entitlement,
        principal,
        ..Grant::default()
    }
}

fn random_password(length: i64, configs: Vec<EncryptionConfig>) -> CreateAccountRequest {
    CreateAccountRequest {
        account_info: Some(AccountInfo {
            login: "eve".into(),
            ..AccountInfo::default()
        }),
        credential_options: Some(CredentialOptions {
            force_change_at_next_login: false,
            options: Some(credential_options::Options::RandomPassword(
                credential_options::RandomPassword {
                    length,
                    constraints: vec![],
                },
            )),
        }),
        encryption_configs: configs,
        resource_type_id: String::new(),
    }
}

fn account_request(login: &str, profile: serde_json::Value) -> CreateAccountRequest {
    CreateAccountRequest {
        account_info: Some(AccountInfo {
            login: login.into(),
            profile: json_struct(profile),
            ..AccountInfo::default()
        }),
        ..CreateAccountRequest::default()
    }
}

fn ann() -> Option<Resource> {
    Some(resource("user", "ann"))
}

fn admins() -> Option<Resource> {
    Some(resource("group", "admins"))
}

fn member(group: &str) -> Option<Entitlement> {
    Some(member_of(group))
}

fn user_id(value: serde_json::Value) -> Option<prost_types::Struct> {
    json_struct(json!({ "user_id": value }))
}

fn jwk(pub_key: &[u8]) -> EncryptionConfig {
    EncryptionConfig {
        provider: "baton/jwk/v1".into(),
        config: Some(encryption_config::Config::JwkPublicKeyConfig(
            encryption_config::JwkPublicKeyConfig {
                pub_key: pub_key.to_vec(),
            },
        )),
        ..EncryptionConfig::default()
    }
}

/// A provisioning case's server.
struct Provisioning {
    channel: Channel,
}

impl Provisioning {
    fn grant(&self, entitlement: Option<Entitlement>, principal: Option<Resource>) -> Call {
        let mut client = GrantManagerServiceClient::new(self.channel.clone());
        let request = GrantManagerServiceGrantRequest {
            entitlement,
            principal,
            annotations: vec![],
        };
        boxed(async move { client.grant(request).await })
    }

    fn revoke(&self, grant: Option<Grant>) -> Call {
        let mut client = GrantManagerServiceClient::new(self.channel.clone());
        let request = GrantManagerServiceRevokeRequest {
            grant,
            annotations: vec![],
        };
        boxed(async move { client.revoke(request).await })
    }

    fn create(&self, request: CreateAccountRequest) -> Call {
        let mut client = AccountManagerServiceClient::new(self.channel.clone());
        boxed(async move { client.create_account(request).await })
    }

    fn delete(&self, id: Option<ResourceId>) -> Call {
        let mut client = ResourceDeleterServiceClient::new(self.channel.clone());
        let request = DeleteResourceV2Request {
            resource_id: id,
            parent_resource_id: None,
        };
        boxed(async move { client.delete_resource_v2(request).await })
    }

    fn invoke(
        &self,
        name: &str,
        resource_type_id: &str,
        args: Option<prost_types::Struct>,
    ) -> Call {
        let mut client = ActionServiceClient::new(self.channel.clone());
        let request = InvokeActionRequest {
            name: name.into(),
            args,
            resource_type_id: resource_type_id.into(),
            ..Default::default()
        };
        boxed(async move { client.invoke_action(request).await })
    }
}

/// Runs one provisioning case against a server of its own started with `flags`, on the pool
/// the provisioning cases share (seeded once, as none of them may change it), then reads the
/// pool back: nothing changed.
async fn check_provisioning_case(flags: &[&str], request: impl FnOnce(&Provisioning) -> Case) {
    static POOL: OnceLock<Pool> = OnceLock::new();
    let emulator = Emulator::shared();
    let pool = POOL.get_or_init(|| seed_pool(emulator, "bad-provisioning"));
    let server = Server::start(&pool_env(emulator, pool), flags);
    let provisioning = Provisioning {
        channel: server.channel().await,
    };
    let problems = check_case(&server, &provisioning.channel, request(&provisioning)).await;

    let aws = aws_client(emulator, pool).await;
    assert_eq!(
        aws.groups_of_user("ann").await.unwrap(),
        vec!["admins".to_string()]
    );
    assert_eq!(
        aws.groups_of_user("cara").await.unwrap(),
        vec!["team: red/blue".to_string()]
    );
    for user in ["ann", "anna", "bob", "cara"] {
        assert!(
            aws.get_user(user).await.unwrap().enabled,
            "{user} is untouched"
        );
    }
    assert!(
        matches!(
            aws.get_user("eve").await,
            Err(CognitoError::UserNotFound { .. })
        ),
        "no account was created"
    );
    assert_no_problems(problems);
}

const NOT_A_USER: &str = "is not a user; Cognito groups hold users only";

/// The provisioning side: wrong shapes, wrong resource and principal types, malformed Struct
/// arguments and huge strings. Each is refused and nothing in the pool changes.
// Grant: missing parts, wrong entitlements, wrong principal types, huge ids.
#[test_case(|c| case(Code::InvalidArgument, "entitlement is required", c.grant(None, ann())) ; "grant without an entitlement")]
#[test_case(|c| case(Code::InvalidArgument, "principal is required", c.grant(member("admins"), None)) ; "grant without a principal")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.grant(member("admins"), Some(Resource::default()))) ; "grant to a principal without an id")]
#[test_case(|c| case(Code::InvalidArgument, "resource.id with a resource_type and a resource is required", c.grant(member("admins"), Some(resource("", "ann")))) ; "grant to a principal of an empty type")]
#[test_case(|c| case(Code::InvalidArgument, format!("principal \"widget:ann\" {NOT_A_USER}"), c.grant(member("admins"), Some(resource("widget", "ann")))) ; "grant to a widget principal")]
#[test_case(|c| case(Code::InvalidArgument, "does not belong to a group", c.grant(Some(entitlement_of(None, "group:admins:member")), ann())) ; "grant of an entitlement without a resource")]
#[test_case(|c| case(Code::InvalidArgument, "does not belong to a group", c.grant(Some(entitlement_of(ann(), "user:ann:member")), ann())) ; "grant of a users entitlement")]
#[test_case(|c| case(Code::InvalidArgument, "entitlement \"group:admins:member\" is not a group membership; expected \"group:team: red/blue:member\"", c.grant(Some(entitlement_of(Some(resource("group", "team: red/blue")), "group:admins:member")), ann())) ; "grant of another groups membership id")]
#[test_case(|c| case(Code::InvalidArgument, "is not a group membership", c.grant(Some(entitlement_of(admins(), "")), ann())) ; "grant of an entitlement with an empty id")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.grant(member("admins"), Some(resource("user", &"x".repeat(2048))))) ; "grant to a user id over 1024 bytes")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.grant(member("admins"), Some(resource("user", &"u".repeat(3 << 20))))) ; "grant to a user id of 3 mib")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.grant(member(&"x".repeat(2048)), ann())) ; "grant of a group id over 1024 bytes")]
// Revoke.
#[test_case(|c| case(Code::InvalidArgument, "entitlement is required", c.revoke(Some(grant_of(None, ann())))) ; "revoke without an entitlement")]
#[test_case(|c| case(Code::InvalidArgument, "principal is required", c.revoke(Some(grant_of(member("admins"), None)))) ; "revoke without a principal")]
#[test_case(|c| case(Code::InvalidArgument, format!("principal \"group:team: red/blue\" {NOT_A_USER}"), c.revoke(Some(grant_of(member("admins"), Some(resource("group", "team: red/blue")))))) ; "revoke from a group principal")]
#[test_case(|c| case(Code::InvalidArgument, "does not belong to a group", c.revoke(Some(grant_of(Some(entitlement_of(ann(), "user:ann:member")), ann())))) ; "revoke of a users entitlement")]
// CreateAccount: shapes, profiles, credential options.
#[test_case(|c| case(Code::InvalidArgument, "account_info is required", c.create(CreateAccountRequest::default())) ; "create without account info")]
#[test_case(|c| case(Code::InvalidArgument, "profile key \"given_name\" must be a string, number or boolean", c.create(account_request("eve", json!({"given_name": ["Eve"]})))) ; "create with a list in the profile")]
#[test_case(|c| case(Code::InvalidArgument, "profile key \"login\" must be a string, number or boolean", c.create(account_request("", json!({"login": {"name": "eve"}})))) ; "create with a login in the profile that is no text")]
#[test_case(|c| case(Code::InvalidArgument, "must be true or false, not \"1.5\"", c.create(account_request("eve", json!({"send_invite_email": 1.5})))) ; "create with send invite email 1.5")]
#[test_case(|c| case(Code::InvalidArgument, "accounts are users; resource type \"widget\" cannot be created", c.create(CreateAccountRequest {
    resource_type_id: "widget".into(),
    ..account_request("eve", json!({}))
})) ; "create a widget account")]
#[test_case(|c| case(Code::InvalidArgument, "only the no-password and random-password credential options are supported", c.create(CreateAccountRequest {
    credential_options: Some(CredentialOptions {
        force_change_at_next_login: false,
        options: Some(credential_options::Options::Sso(credential_options::Sso {
            sso_provider: "okta".into(),
        })),
    }),
    ..account_request("eve", json!({}))
})) ; "create with an sso credential")]
#[test_case(|c| case(Code::InvalidArgument, "random_password.length -1 is out of range", c.create(random_password(-1, vec![jwk(b"{}")]))) ; "create with a negative password length")]
#[test_case(|c| case(Code::InvalidArgument, "random_password.length 10000 is out of range", c.create(random_password(10_000, vec![jwk(b"{}")]))) ; "create with a password length of 10000")]
#[test_case(|c| case(Code::InvalidArgument, "encryption_configs[0]", c.create(random_password(0, vec![jwk(b"not json")]))) ; "create with a jwk that is not json")]
#[test_case(|c| case(Code::InvalidArgument, "unknown encryption provider \"baton/rot13/v1\"", c.create(random_password(0, vec![EncryptionConfig {
    provider: "baton/rot13/v1".into(),
    ..jwk(b"{}")
}]))) ; "create with an unknown encryption provider")]
#[test_case(|c| case(Code::InvalidArgument, "Cognito usernames are at most 128", c.create(account_request(&"x".repeat(2048), json!({})))) ; "create a login over cognitos 128 characters")]
// Delete.
#[test_case(|c| case(Code::NotFound, "unknown resource type \"\"", c.delete(resource_id("", "ann"))) ; "delete a resource of an empty type")]
#[test_case(|c| case(Code::InvalidArgument, "resource_id.resource is empty", c.delete(resource_id("group", ""))) ; "delete a group with an empty name")]
#[test_case(|c| case(Code::InvalidArgument, "1024", c.delete(resource_id("user", &"x".repeat(2048)))) ; "delete a user id over 1024 bytes")]
// Actions: names, scopes, malformed Struct arguments.
#[test_case(|c| case(Code::NotFound, "action \"\" not found", c.invoke("", "", user_id(json!("ann")))) ; "invoke an action with an empty name")]
#[test_case(|c| case(Code::NotFound, "action \"disable_user\" is global, not scoped to resource type \"user\"", c.invoke("disable_user", "user", user_id(json!("ann")))) ; "invoke an action scoped to users")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" must be a string", c.invoke("disable_user", "", user_id(json!(["ann"])))) ; "invoke with user id a list")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" must be a string", c.invoke("disable_user", "", user_id(json!({"username": "ann"})))) ; "invoke with user id an object")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" must be a string", c.invoke("disable_user", "", user_id(json!(true)))) ; "invoke with user id true")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" must be a string", c.invoke("disable_user", "", user_id(json!(null)))) ; "invoke with user id null")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" (the Cognito username) is required", c.invoke("enable_user", "", user_id(json!(" \t")))) ; "invoke with user id blank")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" (the Cognito username) is required", c.invoke("enable_user", "", Some(prost_types::Struct {
    fields: [("user_id".to_string(), prost_types::Value { kind: None })].into(),
}))) ; "invoke with a user id value of no kind")]
#[test_case(|c| case(Code::InvalidArgument, "argument \"user_id\" (the Cognito username) is required", c.invoke("enable_user", "", json_struct(json!({"user": "ann"})))) ; "invoke with only other arguments")]
#[test_case(|c| {
    let mut client = ActionServiceClient::new(c.channel.clone());
    case(Code::NotFound, "action schema \"\" not found", async move {
        client.get_action_schema(GetActionSchemaRequest::default()).await
    })
} ; "the schema of an action with an empty name")]
#[test_case(|c| {
    let mut client = ActionServiceClient::new(c.channel.clone());
    case(Code::NotFound, "action id \"\" not found", async move {
        client.get_action_status(GetActionStatusRequest::default()).await
    })
} ; "the status of an action with an empty id")]
// What this connector does not do.
#[test_case(|c| {
    let mut client = ResourceManagerServiceClient::new(c.channel.clone());
    case(Code::Unimplemented, "use CreateAccount for users", async move {
        client.create_resource(CreateResourceRequest::default()).await
    })
} ; "create a resource")]
#[test_case(|c| {
    let mut client = CredentialManagerServiceClient::new(c.channel.clone());
    case(Code::Unimplemented, "credential rotation is not supported", async move {
        client.rotate_credential(RotateCredentialRequest::default()).await
    })
} ; "rotate a credential")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_provisioning_requests(request: impl FnOnce(&Provisioning) -> Case) {
    check_provisioning_case(&["--provisioning"], request).await;
}

const DISABLED: &str = "provisioning is not enabled";

/// Without --provisioning, every change is refused the same way, whatever the request, and
/// nothing in the pool changes.
#[test_case(|c| {
    let mut client = GrantManagerServiceClient::new(c.channel.clone());
    case(Code::FailedPrecondition, DISABLED, async move {
        client.revoke(GrantManagerServiceRevokeRequest::default()).await
    })
} ; "revoke")]
#[test_case(|c| {
    let mut client = ResourceManagerServiceClient::new(c.channel.clone());
    case(Code::FailedPrecondition, DISABLED, async move {
        client
            .delete_resource(DeleteResourceRequest {
                resource_id: resource_id("user", "ann"),
                parent_resource_id: None,
            })
            .await
    })
} ; "delete v1")]
#[test_case(|c| {
    let mut client = ResourceDeleterServiceClient::new(c.channel.clone());
    case(Code::FailedPrecondition, DISABLED, async move {
        client
            .delete_resource_v2(DeleteResourceV2Request {
                resource_id: resource_id("user", "ann"),
                parent_resource_id: None,
            })
            .await
    })
} ; "delete v2")]
#[test_case(|c| {
    let mut client = ActionServiceClient::new(c.channel.clone());
    case(Code::FailedPrecondition, DISABLED, async move {
        client
            .invoke_action(InvokeActionRequest {
                name: "explode".into(),
                ..Default::default()
            })
            .await
    })
} ; "a malformed invoke")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_changes_without_provisioning(request: impl FnOnce(&Provisioning) -> Case) {
    check_provisioning_case(&[], request).await;
}

/// Hands the request body to the wire as given, so that requests no well-behaved client would
/// encode reach the server.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

fn raw_call(
    channel: &Channel,
    path: &'static str,
    body: Vec<u8>,
) -> impl Future<Output = Result<tonic::Response<Vec<u8>>, tonic::Status>> + Send + 'static {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    async move {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        grpc.unary(
            tonic::Request::new(body),
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
    }
}

/// A `Struct` nested `depth` deep: `{"a": {"a": ...}}`.
fn nested_struct(depth: usize) -> prost_types::Struct {
    (0..depth).fold(prost_types::Struct::default(), |inner, _| {
        prost_types::Struct {
            fields: [(
                "a".to_string(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StructValue(inner)),
                },
            )]
            .into(),
        }
    })
}

/// The pool the servers of the wire cases list (none of them changes it).
fn wire_pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| seed_pool(Emulator::shared(), "bad-wire"))
}

const LIST: &str = "/c1.connector.v2.ResourcesService/ListResources";
const INVOKE: &str = "/c1.connector.v2.ActionService/InvokeAction";
const DECODE: &str = "failed to decode Protobuf message";

/// Bytes that are not the request message: the transport refuses them (INTERNAL, as grpc-go
/// does for a request it cannot unmarshal) before the connector sees them, unknown methods are
/// UNIMPLEMENTED, an oversized message is refused by size, and the server keeps answering and
/// listing.
// resource_type_id (field 1, a string) holding bytes that are not UTF-8.
#[test_case(|c| case(Code::Internal, DECODE, raw_call(c, LIST, vec![0x0a, 0x02, 0xff, 0xfe])) ; "a string field that is not utf8")]
#[test_case(|c| case(Code::Internal, DECODE, raw_call(c, LIST, vec![0x0a, 0x10, b'u'])) ; "a length running past the end")]
// page_size (field 3, a varint) sent as length-delimited bytes.
#[test_case(|c| case(Code::Internal, DECODE, raw_call(c, LIST, vec![0x1a, 0x01, 0x00])) ; "a field with the wrong wire type")]
#[test_case(|c| case(Code::Internal, DECODE, raw_call(c, LIST, vec![0xff; 16])) ; "bytes that are no message at all")]
#[test_case(|c| case(Code::Internal, DECODE, raw_call(c, INVOKE, InvokeActionRequest {
    name: "enable_user".into(),
    args: Some(nested_struct(200)),
    ..Default::default()
}
.encode_to_vec())) ; "action arguments nested 200 deep")]
// tonic says OUT_OF_RANGE, grpc-go RESOURCE_EXHAUSTED; either refuses it by size.
#[test_case(|c| either(&[Code::OutOfRange, Code::ResourceExhausted], "too large", raw_call(c, LIST, list_request("user", &"A".repeat(5 << 20), 0).encode_to_vec())) ; "a 5 mib request")]
#[test_case(|c| case(Code::Unimplemented, "", raw_call(c, "/c1.connector.v2.ResourcesService/DropTables", vec![])) ; "an unknown method")]
#[test_case(|c| case(Code::Unimplemented, "", raw_call(c, "/c1.connector.v2.NoSuchService/List", vec![])) ; "an unknown service")]
#[tokio::test(flavor = "multi_thread")]
async fn undecodable_requests(request: impl FnOnce(&Channel) -> Case) {
    let server = Server::start(
        &pool_env(Emulator::shared(), wire_pool()),
        &["--provisioning"],
    );
    let channel = server.channel().await;
    let problems = check_case(&server, &channel, request(&channel)).await;
    assert_eq!(
        list_all_resources(&server.channel().await, "user", 0)
            .await
            .len(),
        4,
        "the server still lists"
    );
    assert_no_problems(problems);
}

/// Arguments nested just within what the transport decodes reach the connector, which refuses
/// them for what they are.
#[tokio::test(flavor = "multi_thread")]
async fn arguments_nested_within_what_the_transport_decodes_are_refused_by_the_connector() {
    let server = Server::start(
        &pool_env(Emulator::shared(), wire_pool()),
        &["--provisioning"],
    );
    let channel = server.channel().await;
    let status = ActionServiceClient::new(channel.clone())
        .invoke_action(InvokeActionRequest {
            name: "enable_user".into(),
            args: Some(prost_types::Struct {
                fields: [(
                    "user_id".to_string(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StructValue(nested_struct(10))),
                    },
                )]
                .into(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("a nested user_id is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    assert!(status.message().contains("must be a string"), "{status}");
    assert_eq!(
        list_all_resources(&channel, "user", 0).await.len(),
        4,
        "the server still lists"
    );
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "the server panicked: {logs}");
}

// ------------------------------------------------------------------------------------------------
// Platform task payloads (service mode)
// ------------------------------------------------------------------------------------------------

fn grant_task(entitlement: Option<Entitlement>, principal: Option<Resource>) -> TaskType {
    TaskType::Grant(task::GrantTask {
        entitlement,
        principal,
        annotations: vec![],
        duration: None,
    })
}

fn create_task(request: CreateAccountRequest) -> TaskType {
    TaskType::CreateAccount(task::CreateAccountTask {
        account_info: request.account_info,
        credential_options: request.credential_options,
        encryption_configs: request.encryption_configs,
        resource_type_id: request.resource_type_id,
    })
}

fn delete_task(id: Option<ResourceId>) -> TaskType {
    TaskType::DeleteResource(task::DeleteResourceTask {
        resource_id: id,
        parent_resource_id: None,
    })
}

fn invoke_task(name: &str, resource_type_id: &str, args: Option<prost_types::Struct>) -> TaskType {
    TaskType::ActionInvoke(task::ActionInvokeTask {
        name: name.into(),
        args,
        annotations: vec![],
        resource_type_id: resource_type_id.into(),
    })
}

/// A provisioning worker and the platform it takes tasks from, both of the case's own, on the
/// pool the task cases share (seeded once, as none of them may change it).
struct TaskWorker {
    pool: &'static Pool,
    platform: Platform,
    worker: Worker,
}

async fn task_worker() -> TaskWorker {
    static POOL: OnceLock<Pool> = OnceLock::new();
    let emulator = Emulator::shared();
    let pool = POOL.get_or_init(|| seed_pool(emulator, "bad-tasks"));
    let platform = Platform::start(PlatformOptions::default()).await;
    let mut env = pool_env(emulator, pool);
    env.extend(platform.env());
    env.extend(owned(&[
        ("BATON_HOST_ID", "bad-input-worker"),
        ("BATON_PROVISIONING", "true"),
    ]));
    let worker = Worker::start(&env, &[]);
    TaskWorker {
        pool,
        platform,
        worker,
    }
}

impl TaskWorker {
    /// The worker is still there and still works, never panicked nor logged the secret, and the
    /// pool is as it was seeded.
    async fn assert_still_working_and_nothing_changed(&mut self) {
        let platform = &self.platform;
        let schemas = platform::task(TaskType::ActionListSchemas(
            task::ActionListSchemasTask::default(),
        ));
        platform.push_task(schemas.clone());
        let finish = platform
            .wait_finished(&schemas.id, TASK_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("the worker stopped taking tasks:\n{}", self.worker.logs()));
        assert!(
            matches!(finish.final_state, Some(FinalState::Success(_))),
            "{finish:?}"
        );
        assert!(
            self.worker.running(),
            "the worker exited:\n{}",
            self.worker.logs()
        );
        let logs = self.worker.logs();
        assert!(!logs.contains("panicked"), "{logs}");
        assert!(
            !logs.contains(platform.client_secret()),
            "the secret was logged"
        );

        let aws = aws_client(Emulator::shared(), self.pool).await;
        assert_eq!(
            aws.groups_of_user("ann").await.unwrap(),
            vec!["admins".to_string()]
        );
        assert!(aws.get_user("ann").await.unwrap().enabled);
        assert!(aws.get_group("admins").await.is_ok());
        assert!(matches!(
            aws.get_user("eve").await,
            Err(CognitoError::UserNotFound { .. })
        ));
    }
}

/// Malformed task payloads: each task is finished with an error status (non-retryable, since
/// the same payload would fail the same way) with the code and message the gRPC services give,
/// and the worker keeps taking tasks, and nothing in the pool changes.
#[test_case(grant_task(None, ann()), Code::InvalidArgument, "entitlement is required" ; "grant without an entitlement")]
#[test_case(grant_task(Some(member_of("admins")), None), Code::InvalidArgument, "principal is required" ; "grant without a principal")]
#[test_case(grant_task(Some(member_of("admins")), Some(resource("group", "team: red/blue"))), Code::InvalidArgument, "is not a user" ; "grant to a group")]
#[test_case(grant_task(Some(entitlement_of(Some(resource("group", "admins")), "group:admins:owner")), ann()), Code::InvalidArgument, "is not a group membership" ; "grant of a non membership")]
#[test_case(grant_task(Some(member_of("admins")), Some(resource("user", &"x".repeat(2048)))), Code::InvalidArgument, "1024" ; "grant to a user id over 1024 bytes")]
#[test_case(TaskType::Revoke(task::RevokeTask {
    grant: None,
    annotations: vec![],
}), Code::InvalidArgument, "grant is required" ; "revoke without a grant")]
#[test_case(TaskType::Revoke(task::RevokeTask {
    grant: Some(grant_of(Some(member_of("admins")), None)),
    annotations: vec![],
}), Code::InvalidArgument, "principal is required" ; "revoke without a principal")]
#[test_case(create_task(CreateAccountRequest::default()), Code::InvalidArgument, "account_info is required" ; "create without account info")]
#[test_case(create_task(account_request("eve", json!({"nested": {"a": 1}}))), Code::InvalidArgument, "profile key \"nested\"" ; "create with a nested profile")]
#[test_case(create_task(account_request("eve", json!({"send_invite_email": "maybe"}))), Code::InvalidArgument, "send_invite_email" ; "create with send invite email maybe")]
#[test_case(create_task(CreateAccountRequest {
    resource_type_id: "group".into(),
    ..account_request("eve", json!({}))
}), Code::InvalidArgument, "accounts are users" ; "create a group")]
#[test_case(create_task(random_password(0, vec![])), Code::InvalidArgument, "encryption config" ; "create with a random password and nowhere to send it")]
#[test_case(delete_task(None), Code::InvalidArgument, "resource_id with a resource is required" ; "delete without an id")]
#[test_case(delete_task(resource_id("group", "admins")), Code::InvalidArgument, "cannot be deleted" ; "delete a group")]
#[test_case(delete_task(resource_id("widget", "w")), Code::NotFound, "unknown resource type \"widget\"" ; "delete a widget")]
#[test_case(invoke_task("explode_user", "", json_struct(json!({"user_id": "ann"}))), Code::NotFound, "action \"explode_user\" not found" ; "invoke an unknown action")]
#[test_case(invoke_task("disable_user", "", None), Code::InvalidArgument, "argument \"user_id\" (the Cognito username) is required" ; "invoke without arguments")]
#[test_case(invoke_task("disable_user", "", json_struct(json!({"user_id": ["ann"]}))), Code::InvalidArgument, "argument \"user_id\" must be a string" ; "invoke with user id a list")]
#[test_case(invoke_task("disable_user", "user", json_struct(json!({"user_id": "ann"}))), Code::NotFound, "is global" ; "invoke scoped to users")]
#[test_case(TaskType::ActionGetSchema(task::ActionGetSchemaTask {
    name: "nope".into(),
    annotations: vec![],
}), Code::NotFound, "action schema \"nope\" not found" ; "the schema of an unknown action")]
#[test_case(TaskType::ActionStatus(task::ActionStatusTask {
    name: String::new(),
    id: "nope".into(),
    annotations: vec![],
}), Code::NotFound, "action id \"nope\" not found" ; "the status of an unknown action id")]
#[test_case(TaskType::SyncFull(task::SyncFullTask {
    sync_resource_type_ids: vec!["user".into(), "widget".into()],
    ..Default::default()
}), Code::NotFound, "sync_resource_type_ids names \"widget\", which this connector does not have" ; "a full sync of an unknown resource type")]
#[test_case(TaskType::SyncFull(task::SyncFullTask {
    targeted_sync_resources: vec![Resource::default()],
    ..Default::default()
}), Code::InvalidArgument, "every targeted_sync_resources entry needs an id" ; "a targeted sync of a resource without an id")]
#[test_case(TaskType::SyncFull(task::SyncFullTask {
    targeted_sync_resources: vec![resource("user", "ann")],
    sync_resource_type_ids: vec!["widget".into()],
    ..Default::default()
}), Code::NotFound, "sync_resource_type_ids names \"widget\", which this connector does not have" ; "a targeted sync of an unknown resource type")]
#[tokio::test(flavor = "multi_thread")]
async fn malformed_task_payloads(task_type: TaskType, code: Code, text: &str) {
    let mut setup = task_worker().await;
    let task = platform::task(task_type);
    setup.platform.push_task(task.clone());
    let Some(finish) = setup.platform.wait_finished(&task.id, TASK_TIMEOUT).await else {
        panic!("never finished:\n{}", setup.worker.logs());
    };
    let status = finish.status.clone().unwrap_or_default();
    let (found, message) = (Code::from(status.code), status.message);
    let shown: String = message.chars().take(200).collect();
    let problem = match &finish.final_state {
        Some(FinalState::Error(error)) if !error.non_retryable => Some("marked retryable".into()),
        Some(FinalState::Error(_)) if found != code => {
            Some(format!("{found:?} {shown:?}, expected {code:?}"))
        }
        Some(FinalState::Error(_)) if !message.contains(text) => {
            Some(format!("expected {text:?} in {shown:?}"))
        }
        Some(FinalState::Error(_)) if message.len() > MAX_MESSAGE => {
            Some(format!("a message of {} bytes", message.len()))
        }
        Some(FinalState::Error(_)) => None,
        other => Some(format!("finished with {other:?}, expected an error")),
    };
    setup.assert_still_working_and_nothing_changed().await;
    assert_no_problems(problem.into_iter().collect());
}

/// A task with an id but no type is a task of a type this worker does not know (the SDK's
/// "unknown type", finished with "unsupported task type"), not the absence of a task: the
/// platform must hear that it failed. It goes first, so by the time the task behind it is
/// finished it has long been taken.
#[tokio::test(flavor = "multi_thread")]
async fn a_task_without_a_type_fails_as_unsupported() {
    let mut setup = task_worker().await;
    let untyped = baton_cognito::pb::baton::Task {
        id: platform::new_task_id(),
        status: task::Status::Pending as i32,
        debug: false,
        task_type: None,
    };
    setup.platform.push_task(untyped.clone());
    setup.assert_still_working_and_nothing_changed().await;
    match setup
        .platform
        .wait_finished(&untyped.id, Duration::from_secs(5))
        .await
        .map(|f| (f.status.unwrap_or_default(), f.final_state))
    {
        Some((status, Some(FinalState::Error(error))))
            if Code::from(status.code) == Code::Unimplemented
                && status.message.contains("unsupported task type")
                && error.non_retryable => {}
        other => panic!(
            "a task without a type: {other:?}, expected a non-retryable UNIMPLEMENTED \"unsupported task type\""
        ),
    }
}

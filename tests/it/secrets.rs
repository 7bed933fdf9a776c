//! No secret ever reaches the binary's output (issue #7, item 5).
//!
//! Every mode runs at `--log-level trace` twice: once with distinctive secret values in
//! `BATON_*` variables and JSON logs, once with the same values as flags and console logs. All
//! of stdout and stderr, and every error a gRPC client is told, is searched for each secret and
//! for its obvious encodings (base64, base64url, hex, percent-, JSON- and Debug-escaped, and any
//! 16-character piece of it, also when wrapped across lines). Secrets the binary only meets
//! while it runs are searched for as well: the access tokens the platform double issued to the
//! worker, and the random passwords generated for new accounts (decrypted here with the test's
//! own key, as a Baton client would).
//!
//! The secrets: the AWS secret access key and session token, the role's external id, the
//! service-mode client secret (and the Ed25519 key inside it), bearer tokens (the platform's
//! access tokens and `serve --auth-token`), generated passwords.
//!
//! So that no search passes vacuously, each run must show that it logged at debug level in the
//! format asked for (and, where the binary builds its configuration, that the Debug output of
//! the structures holding the secrets was logged), and that the secrets were in use: syncs and
//! tasks succeed with them, through a role assumed with the external id.

use crate::support::platform;

use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use baton_cognito::c1z::C1zReader;
use baton_cognito::pb::baton::BatonServiceFinishTaskRequest;
use baton_cognito::pb::baton::baton_service_finish_task_request::FinalState;
use baton_cognito::pb::baton::task::{self, TaskType};
use baton_cognito::pb::struct_from_json;
use baton_cognito::pb::v2::account_manager_service_client::AccountManagerServiceClient;
use baton_cognito::pb::v2::connector_service_client::ConnectorServiceClient;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::*;
use platform::{Platform, PlatformOptions, pki, success};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Value, json};
use test_case::test_case;
use tonic::Code;

/// Not a secret (it goes into every signed request's `Credential=`), so it stays in the env.
const ACCESS_KEY_ID: &str = "AKIASECRETSTEST00001";
/// The role assumed through the emulator's STS, with the external id.
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/baton-secrets-test";
/// Long enough for any run here on a slow machine; runs normally take well under a second.
const TIMEOUT: Duration = Duration::from_secs(60);
/// A copy of this many characters of a secret counts as a leak (a truncated or masked secret).
const PIECE: usize = 16;

fn random(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// How a run is given its secrets and its log settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Given {
    /// `BATON_*` variables, `BATON_LOG_LEVEL=trace`, JSON logs.
    Env,
    /// Flags, `--log-level trace --log-format console`.
    Flags,
}

const BOTH: [Given; 2] = [Given::Env, Given::Flags];

/// Which secrets a mode is given besides the AWS key and session token: the role's external id
/// unless the static keys go straight to Cognito, the client secret only where it does not turn
/// the binary into a service-mode worker, the server's token only to `serve`.
#[derive(Clone, Copy)]
struct Scope {
    role: bool,
    client: bool,
    server: bool,
}

/// One-shot syncs and provisioning (a client secret would select service mode), through the role.
const POOL_MODES: Scope = Scope {
    role: true,
    client: false,
    server: false,
};
/// The static keys straight to Cognito, with no role.
const NO_ROLE: Scope = Scope {
    role: false,
    client: false,
    server: false,
};
/// Service mode, the inspect and metadata commands (which ignore the client secret).
const WITH_CLIENT: Scope = Scope {
    role: true,
    client: true,
    server: false,
};
/// `serve` (started by `Server::start`, whose `serve` comes first, so no top-level flags).
const SERVE: Scope = Scope {
    role: true,
    client: false,
    server: true,
};
/// Every secret at once (where nothing runs: `--help`).
const ALL: Scope = Scope {
    role: true,
    client: true,
    server: true,
};

/// Distinctive secret values, fresh for each test.
struct Secrets {
    aws_secret_access_key: String,
    aws_session_token: String,
    external_id: String,
    auth_token: String,
    client_id: String,
    client_secret: String,
}

impl Secrets {
    /// The client id and secret are the platform double's (a real Ed25519 key it verifies).
    fn new(platform: &Platform) -> Secrets {
        Secrets {
            // AWS's alphabet, '/' and '+' included, so that every encoding differs from the value.
            aws_secret_access_key: format!("{}/{}+{}", random(13), random(12), random(13)),
            aws_session_token: format!("{}/{}+{}", random(60), random(60), random(60)),
            external_id: format!("ext-{}", random(28)),
            auth_token: random(48),
            client_id: platform.client_id().to_string(),
            client_secret: platform.client_secret().to_string(),
        }
    }

    /// Every secret and each form it must not take in the output.
    fn needles(&self) -> Vec<Needle> {
        let mut needles = vec![
            Needle::text("AWS secret access key", &self.aws_secret_access_key),
            Needle::text("AWS session token", &self.aws_session_token),
            Needle::text("role external id", &self.external_id),
            Needle::text("serve bearer token", &self.auth_token),
        ];
        needles.extend(client_secret_needles("client secret", &self.client_secret));
        needles
    }

    /// The environment and arguments of one run of `mode` (its own arguments, appended after
    /// `base`'s): the secrets given the `given` way, at trace level.
    fn invocation(
        &self,
        given: Given,
        scope: Scope,
        base: &[(String, String)],
        mode: &[&str],
    ) -> (Vec<(String, String)>, Vec<String>) {
        let mut env: Vec<(String, String)> = base
            .iter()
            .filter(|(k, _)| k != "BATON_AWS_SECRET_ACCESS_KEY" && k != "BATON_CLIENT_SECRET")
            .cloned()
            .collect();
        env.push(("BATON_AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()));
        // Top-level flags (service mode's) go before a subcommand; the others anywhere.
        let mut top: Vec<(&str, &str, &str)> = Vec::new();
        let mut rest = vec![
            (
                "--aws-secret-access-key",
                "BATON_AWS_SECRET_ACCESS_KEY",
                self.aws_secret_access_key.as_str(),
            ),
            (
                "--aws-session-token",
                "BATON_AWS_SESSION_TOKEN",
                &self.aws_session_token,
            ),
        ];
        if scope.role {
            env.push(("BATON_ROLE_ARN".into(), ROLE_ARN.into()));
            rest.push(("--external-id", "BATON_EXTERNAL_ID", &self.external_id));
        }
        if scope.client {
            env.push(("BATON_CLIENT_ID".into(), self.client_id.clone()));
            top.push((
                "--client-secret",
                "BATON_CLIENT_SECRET",
                &self.client_secret,
            ));
        }
        if scope.server {
            rest.push(("--auth-token", "BATON_AUTH_TOKEN", &self.auth_token));
        }
        let mut args: Vec<String> = Vec::new();
        match given {
            Given::Env => {
                for (_, var, value) in top.iter().chain(&rest) {
                    env.push((var.to_string(), value.to_string()));
                }
                env.extend(pairs(&[
                    ("BATON_LOG_LEVEL", "trace"),
                    ("BATON_LOG_FORMAT", "json"),
                ]));
                args.extend(mode.iter().map(|a| a.to_string()));
            }
            Given::Flags => {
                for (flag, _, value) in &top {
                    args.extend([flag.to_string(), value.to_string()]);
                }
                args.extend(mode.iter().map(|a| a.to_string()));
                for (flag, _, value) in &rest {
                    args.extend([flag.to_string(), value.to_string()]);
                }
                args.extend(["--log-level", "trace", "--log-format", "console"].map(String::from));
            }
        }
        (env, args)
    }
}

/// The whole client secret, its JWK (encoded and decoded) and the private key inside it.
fn client_secret_needles(what: &str, secret: &str) -> Vec<Needle> {
    let encoded = secret
        .splitn(4, ':')
        .nth(3)
        .expect("a client secret has four ':'-separated parts");
    let jwk_text = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).expect("base64url JWK"))
        .expect("a JSON JWK");
    let jwk: Value = serde_json::from_str(&jwk_text).expect("a JSON JWK");
    let d = jwk["d"].as_str().expect("the JWK's private part");
    vec![
        Needle::whole(what, secret),
        Needle::whole(&format!("{what}'s JWK, base64url"), encoded),
        Needle::whole(&format!("{what}'s JWK"), &jwk_text),
        Needle::text(&format!("{what}'s private key, base64url"), d),
        Needle::bytes(
            &format!("{what}'s private key"),
            &URL_SAFE_NO_PAD.decode(d).expect("base64url key"),
        ),
    ]
}

/// A secret and the forms in which it must not appear.
struct Needle {
    what: String,
    forms: Vec<(&'static str, String)>,
}

impl Needle {
    /// The value, escaped as JSON and Debug escape it, percent-encoded, and its bytes encoded.
    fn whole(what: &str, value: &str) -> Needle {
        let mut forms = vec![
            ("as is", value.to_string()),
            ("JSON-escaped", json_escaped(value)),
            (
                "Debug-escaped",
                format!("{value:?}").trim_matches('"').to_string(),
            ),
            (
                "percent-encoded",
                form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            ),
        ];
        forms.extend(byte_forms(value.as_bytes()));
        let mut needle = Needle {
            what: what.to_string(),
            forms: Vec::new(),
        };
        for (form, text) in forms {
            needle.add(form, text);
        }
        needle
    }

    /// As [`Needle::whole`], plus every [`PIECE`]-character piece of the value (as is and
    /// JSON-escaped): a truncated or partly masked secret leaks too.
    fn text(what: &str, value: &str) -> Needle {
        let mut needle = Self::whole(what, value);
        for text in [value.to_string(), json_escaped(value)] {
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.windows(PIECE) {
                needle.add("a 16-character piece", piece.iter().collect());
            }
        }
        needle
    }

    /// Key material: its bytes encoded.
    fn bytes(what: &str, raw: &[u8]) -> Needle {
        let mut needle = Needle {
            what: what.to_string(),
            forms: Vec::new(),
        };
        for (form, text) in byte_forms(raw) {
            needle.add(form, text);
        }
        needle
    }

    fn add(&mut self, form: &'static str, text: String) {
        if !text.is_empty() && !self.forms.iter().any(|(_, t)| *t == text) {
            self.forms.push((form, text));
        }
    }
}

/// A string as it stands inside a JSON string literal.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_string()
}

fn byte_forms(raw: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("base64", STANDARD_NO_PAD.encode(raw)),
        ("base64url", URL_SAFE_NO_PAD.encode(raw)),
        ("hex", hex::encode_upper(raw)),
        ("hex", hex::encode(raw)),
    ]
}

/// Removes ANSI escape sequences (console logs colour their fields).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything the binary wrote in each run of one test, searched at the end, when every secret
/// (the issued tokens and generated passwords too) is known.
#[derive(Default)]
struct Transcripts(Vec<(String, String)>);

impl Transcripts {
    fn add(&mut self, label: &str, output: &str) {
        self.0.push((label.to_string(), strip_ansi(output)));
    }

    /// Panics listing every leak: the run, the secret, the form, and the line it is in.
    fn assert_clean(&self, needles: &[Needle]) {
        assert!(!self.0.is_empty(), "nothing was run");
        let mut leaks = Vec::new();
        for (label, output) in &self.0 {
            // Help text wraps long values: a secret broken across lines is still a leak.
            let unwrapped: String = output.chars().filter(|c| !c.is_whitespace()).collect();
            for needle in needles {
                let found = needle.forms.iter().find_map(|(form, text)| {
                    if let Some(line) = output.lines().find(|l| l.contains(text.as_str())) {
                        Some(format!("{form}, in the line: {line}"))
                    } else if unwrapped.contains(text.as_str()) {
                        Some(format!("{form}, wrapped across lines in:\n{output}"))
                    } else {
                        None
                    }
                });
                if let Some(found) = found {
                    leaks.push(format!("{label}: the {} leaked ({found})", needle.what));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} leak(s):\n{}",
            leaks.len(),
            leaks.join("\n")
        );
    }
}

/// Runs the binary to completion; its exit code and all it wrote, stdout then stderr.
fn run(
    transcripts: &mut Transcripts,
    label: &str,
    env: &[(String, String)],
    args: &[String],
) -> (Option<i32>, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_binary(&args, env);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    transcripts.add(label, &text);
    (out.status.code(), text)
}

/// The run logged at debug or trace level in the format `given` asked for, so trace logging was
/// in force and the search covers the most verbose output.
fn assert_verbose(given: Given, label: &str, output: &str) {
    let output = strip_ansi(output);
    let verbose = output.lines().any(|line| match given {
        Given::Env => serde_json::from_str::<Value>(line)
            .is_ok_and(|v| matches!(v["level"].as_str(), Some("DEBUG" | "TRACE"))),
        Given::Flags => {
            serde_json::from_str::<Value>(line).is_err()
                && line
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|level| level == "DEBUG" || level == "TRACE")
        }
    });
    assert!(
        verbose,
        "{label}: nothing logged at debug or trace level in the {given:?} format, so the search would prove nothing:\n{output}"
    );
}

/// The run logged the Debug output of its configuration, including the fields that hold the
/// AWS secrets (so the search covers Debug output of the structures that carry them).
fn assert_configuration_logged(label: &str, output: &str) {
    let output = strip_ansi(output);
    let logged = output.lines().any(|l| {
        l.contains("configuration")
            && l.contains("secret_access_key")
            && l.contains("session_token")
            && l.contains("external_id")
    });
    assert!(
        logged,
        "{label}: the configuration (with its credential fields) was not logged:\n{output}"
    );
}

/// The test's own Ed25519 key, to receive generated passwords as a Baton client does.
struct Recipient {
    seed_hex: String,
    config: EncryptionConfig,
}

impl Recipient {
    fn new() -> Recipient {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public)});
        Recipient {
            seed_hex: hex::encode(seed),
            config: EncryptionConfig {
                provider: "baton/jwk/v1".into(),
                config: Some(encryption_config::Config::JwkPublicKeyConfig(
                    encryption_config::JwkPublicKeyConfig {
                        pub_key: jwk.to_string().into_bytes(),
                    },
                )),
                ..EncryptionConfig::default()
            },
        }
    }

    /// The plaintext of the one encrypted password, opened by the independent decryptor.
    fn open(&self, data: &[EncryptedData]) -> String {
        assert_eq!(data.len(), 1, "one encrypted password: {data:?}");
        let age_file = STANDARD
            .decode(&data[0].encrypted_bytes)
            .expect("standard base64");
        let plaintext = age_decrypt(&["ssh-ed25519", &self.seed_hex], &age_file)
            .expect("the password decrypts with the test's key");
        let password = String::from_utf8(plaintext).expect("a UTF-8 password");
        assert!(password.chars().count() >= 20, "{password:?}");
        password
    }
}

fn random_password() -> CredentialOptions {
    CredentialOptions {
        force_change_at_next_login: false,
        options: Some(credential_options::Options::RandomPassword(
            credential_options::RandomPassword {
                length: 24,
                constraints: vec![],
            },
        )),
    }
}

fn account_info(login: &str) -> AccountInfo {
    AccountInfo {
        login: login.into(),
        emails: vec![account_info::Email {
            address: format!("{login}@example.com"),
            is_primary: true,
        }],
        login_aliases: vec![],
        profile: Some(struct_from_json(
            json!({"login": login}).as_object().unwrap().clone(),
        )),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_syncs_that_succeed_or_fail_never_show_a_secret() {
    let emulator = Emulator::shared();
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let pool = emulator.create_pool(small_pool("secrets-sync"));
    let base = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let mut transcripts = Transcripts::default();
    for given in BOTH {
        let file = dir.path().join(format!("{given:?}.c1z"));
        let f = file.to_str().unwrap();

        let label = format!("one-shot sync [{given:?}]");
        let (env, args) = secrets.invocation(given, POOL_MODES, &base, &["-f", f]);
        let (code, out) = run(&mut transcripts, &label, &env, &args);
        assert_eq!(code, Some(0), "{label}: {out}");
        assert!(out.contains("Synced user pool"), "{label}: {out}");
        let reader = C1zReader::open(&file).expect("the sync wrote a .c1z");
        assert_eq!(
            resource_ids(&reader, "user").len(),
            3,
            "{label}: the pool was read with these credentials and the assumed role"
        );
        assert_eq!(grant_ids(&reader).len(), 1);
        assert_verbose(given, &label, &out);
        assert_configuration_logged(&label, &out);

        let label = format!("one-shot sync without a role [{given:?}]");
        let (env, args) = secrets.invocation(given, NO_ROLE, &base, &["-f", f]);
        let (code, out) = run(&mut transcripts, &label, &env, &args);
        assert_eq!(code, Some(0), "{label}: {out}");
        assert!(
            out.contains("session_token: Some"),
            "{label}: the keys and the session token go straight to Cognito: {out}"
        );
        assert_verbose(given, &label, &out);

        // Failures: (what, scope, the trouble, what the error must say). Each on a fresh pool,
        // so no fault outlives its run.
        enum Trouble {
            MissingPool,
            Fault(Value),
            Unreachable,
        }
        let failures = [
            (
                "a missing pool",
                POOL_MODES,
                Trouble::MissingPool,
                "does not exist",
            ),
            (
                "refused NotAuthorized",
                POOL_MODES,
                Trouble::Fault(json!({"kind": "not_authorized", "count": 1})),
                "security token included in the request is invalid",
            ),
            (
                "refused NotAuthorized, without a role",
                NO_ROLE,
                Trouble::Fault(json!({"kind": "not_authorized", "count": 1})),
                "security token included in the request is invalid",
            ),
            (
                "retried 503s until the retry budget ran out, without a role",
                NO_ROLE,
                Trouble::Fault(json!({"kind": "unavailable", "count": 6})),
                "retrying Cognito call",
            ),
            (
                "an unreachable endpoint",
                POOL_MODES,
                Trouble::Unreachable,
                "Connection refused",
            ),
        ];
        for (what, scope, trouble, text) in failures {
            let label = format!("one-shot sync, {what} [{given:?}]");
            let pool = emulator.create_pool(small_pool("secrets-fault"));
            let mut env = pool_env(emulator, &pool);
            match trouble {
                Trouble::MissingPool => {
                    env.push(("BATON_USER_POOL_ID".into(), "us-east-1_NoSuchPool9".into()))
                }
                Trouble::Fault(mut rule) => {
                    rule["operation"] = json!("DescribeUserPool");
                    rule["pool_id"] = json!(pool.id);
                    emulator.inject(json!([rule]));
                }
                // Nothing listens on the discard port.
                Trouble::Unreachable => {
                    env.push(("BATON_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()))
                }
            }
            let (env, args) = secrets.invocation(given, scope, &env, &["-f", f]);
            let (code, out) = run(&mut transcripts, &label, &env, &args);
            assert_eq!(code, Some(1), "{label}: {out}");
            assert!(out.contains(text), "{label}: {out}");
            assert_verbose(given, &label, &out);
        }
        assert!(
            C1zReader::open(&file).is_ok(),
            "{given:?}: the failed syncs left the file"
        );
    }
    transcripts.assert_clean(&secrets.needles());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_provisioning_never_shows_a_secret() {
    let emulator = Emulator::shared();
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let pool = emulator.create_pool(small_pool("secrets-provision"));
    let aws = aws_client(emulator, &pool).await;
    let base = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    let mut transcripts = Transcripts::default();
    let (env, args) = secrets.invocation(Given::Env, POOL_MODES, &base, &["-f", f]);
    let (code, out) = run(&mut transcripts, "sync before provisioning", &env, &args);
    assert_eq!(code, Some(0), "{out}");

    for given in BOTH {
        let login = format!("dora-{given:?}").to_lowercase();
        // A different member each time, so each grant changes the pool.
        let member = if given == Given::Env { "ann" } else { "cara" };
        let user_id = json!({ "user_id": member }).to_string();
        let steps: Vec<(Vec<&str>, i32, String)> = vec![
            (
                vec![
                    "--grant-entitlement",
                    "group:team: red/blue:member",
                    "--grant-principal",
                    member,
                ],
                0,
                "granted".into(),
            ),
            (
                vec![
                    "--create-account-login",
                    &login,
                    "--create-account-email",
                    "dora@example.com",
                ],
                0,
                format!("created user {login}"),
            ),
            (
                vec![
                    "--invoke-action",
                    "disable_user",
                    "--invoke-action-args",
                    &user_id,
                ],
                0,
                "completed".into(),
            ),
            (
                vec![
                    "--invoke-action",
                    "enable_user",
                    "--invoke-action-args",
                    &user_id,
                ],
                0,
                "completed".into(),
            ),
            (
                vec!["--revoke-grant", "group:admins:member:user:bob:smith"],
                0,
                "revoked".into(),
            ),
            (vec!["--list-action-schemas"], 0, "enable_user".into()),
            (
                vec![
                    "--delete-resource",
                    &login,
                    "--delete-resource-type",
                    "user",
                ],
                0,
                format!("deleted user:{login}"),
            ),
            (
                vec![
                    "--grant-entitlement",
                    "group:admins:member",
                    "--grant-principal",
                    "ghost",
                ],
                2,
                "is not in".into(),
            ),
            (
                vec![
                    "--invoke-action",
                    "disable_user",
                    "--invoke-action-args",
                    r#"{"user_id":"nobody"}"#,
                ],
                1,
                "failed".into(),
            ),
        ];
        for (step, want_code, want_text) in steps {
            let label = format!("one-shot provisioning {step:?} [{given:?}]");
            let mut mode = vec!["-f", f];
            mode.extend(&step);
            let (env, args) = secrets.invocation(given, POOL_MODES, &base, &mode);
            let (code, out) = run(&mut transcripts, &label, &env, &args);
            assert_eq!(code, Some(want_code), "{label}: {out}");
            assert!(out.contains(&want_text), "{label}: {out}");
            assert_verbose(given, &label, &out);
            assert_configuration_logged(&label, &out);
            if step[0] == "--create-account-login" {
                assert!(
                    aws.get_user(&login).await.is_ok(),
                    "{label}: the account exists in the pool"
                );
            }
        }
        assert!(
            aws.groups_of_user(member)
                .await
                .unwrap()
                .contains(&"team: red/blue".to_string()),
            "the grant reached the pool"
        );
        assert!(aws.get_user(&login).await.is_err(), "the delete did too");
    }
    transcripts.assert_clean(&secrets.needles());
}

/// An interceptor that sends `authorization: <value>` (or nothing).
fn authorization(
    value: Option<&str>,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    let value: Option<tonic::metadata::AsciiMetadataValue> =
        value.map(|v| v.parse().expect("ASCII metadata"));
    move |mut request| {
        if let Some(value) = &value {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Stops the server with SIGTERM and returns all it logged, up to its last line.
async fn stop_server(server: &mut Server) -> String {
    server.signal("TERM");
    let status = server.wait_exit(TIMEOUT);
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", server.logs());
    // The logs are read on another thread: wait for the last line.
    let deadline = Instant::now() + TIMEOUT;
    while !server.logs().contains("server stopped") {
        assert!(Instant::now() < deadline, "no last line: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.logs()
}

/// The base64 body of a PEM block, on one line.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_with_a_bearer_token_never_shows_a_secret() {
    use clap::Parser;
    let emulator = Emulator::shared();
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let recipient = Recipient::new();
    let mut transcripts = Transcripts::default();
    let mut needles = secrets.needles();
    // Tokens a client presented: a near miss of the real one is as good as a credential.
    let near_miss = format!(
        "{}{}",
        &secrets.auth_token[..secrets.auth_token.len() - 1],
        if secrets.auth_token.ends_with('x') {
            'y'
        } else {
            'x'
        }
    );
    let wrong = random(48);
    needles.push(Needle::text("near-miss bearer token", &near_miss));
    needles.push(Needle::text("wrong bearer token", &wrong));
    // Mutual TLS for one of the runs: the server's private key is a secret too.
    let ca = pki::TestCa::new("baton-cognito secrets test CA");
    let server_tls = ca.issue(&["localhost", "127.0.0.1"]);
    let client_tls = ca.issue(&["secrets-test-client"]);
    let dir = tempfile::tempdir().unwrap();
    let tls_args = [
        "--tls-cert".to_string(),
        pki::write(dir.path(), "server.pem", &server_tls.cert_pem)
            .display()
            .to_string(),
        "--tls-key".to_string(),
        pki::write(dir.path(), "server.key", &server_tls.key_pem)
            .display()
            .to_string(),
        "--tls-client-ca".to_string(),
        pki::write(dir.path(), "ca.pem", &ca.pem())
            .display()
            .to_string(),
    ];
    needles.push(Needle::text(
        "TLS server private key",
        &pem_body(&server_tls.key_pem),
    ));

    for (given, tls) in [(Given::Env, false), (Given::Flags, true)] {
        let label = format!("serve, TLS {tls} [{given:?}]");
        let pool = emulator.create_pool(small_pool("secrets-serve"));
        let base = pool_env(emulator, &pool);
        let mut mode = vec!["--provisioning"];
        if tls {
            mode.extend(tls_args.iter().map(String::as_str));
        }
        let (env, args) = secrets.invocation(given, SERVE, &base, &mode);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Server::start(&env, &args);
        let channel = if tls {
            let config = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca.pem()))
                .identity(tonic::transport::Identity::from_pem(
                    &client_tls.cert_pem,
                    &client_tls.key_pem,
                ))
                .domain_name("localhost");
            tonic::transport::Channel::from_shared(format!("https://{}", server.addr))
                .expect("endpoint")
                .tls_config(config)
                .expect("TLS configuration")
                .connect()
                .await
                .expect("a mutual TLS connection")
        } else {
            server.channel().await
        };
        // What clients were told, searched like the logs.
        let mut told = String::new();

        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect("grpc.health.v1 needs no token");
        assert_eq!(
            health.into_inner().status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        let bearer = |token: &str| format!("Bearer {token}");
        for presented in [
            None,
            Some(bearer(&wrong)),
            Some(bearer(&near_miss)),
            Some(secrets.auth_token.clone()),
        ] {
            let err = ConnectorServiceClient::with_interceptor(
                channel.clone(),
                authorization(presented.as_deref()),
            )
            .validate(ConnectorServiceValidateRequest {})
            .await
            .expect_err("refused without the right bearer token");
            assert_eq!(err.code(), Code::Unauthenticated, "{presented:?}: {err:?}");
            told += &format!("{err:?}\n{}\n", err.message());
        }

        let token = bearer(&secrets.auth_token);
        let auth = || authorization(Some(&token));
        ConnectorServiceClient::with_interceptor(channel.clone(), auth())
            .validate(ConnectorServiceValidateRequest {})
            .await
            .expect("validate with the token, the secrets and the assumed role");
        let users = ResourcesServiceClient::with_interceptor(channel.clone(), auth())
            .list_resources(ResourcesServiceListResourcesRequest {
                resource_type_id: "user".into(),
                page_size: 60,
                ..Default::default()
            })
            .await
            .expect("list users")
            .into_inner();
        assert_eq!(users.list.len(), 3, "{label}");

        let login = format!("eve-{given:?}").to_lowercase();
        let created = AccountManagerServiceClient::with_interceptor(channel.clone(), auth())
            .create_account(CreateAccountRequest {
                account_info: Some(account_info(&login)),
                credential_options: Some(random_password()),
                encryption_configs: vec![recipient.config.clone()],
                resource_type_id: "user".into(),
            })
            .await
            .expect("create an account with a random password")
            .into_inner();
        assert!(
            matches!(
                created.result,
                Some(create_account_response::Result::Success(_))
            ),
            "{created:?}"
        );
        let password = recipient.open(&created.encrypted_data);
        needles.push(Needle::text(
            &format!("password generated for {login}"),
            &password,
        ));

        let err = GrantManagerServiceClient::with_interceptor(channel.clone(), auth())
            .grant(grant_request("no-such-group", resource("user", "ann")))
            .await
            .expect_err("a grant of a missing group fails");
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        told += &format!("{err:?}\n");

        emulator.inject(
            json!([{"operation": "DescribeUserPool", "kind": "not_authorized",
                                "count": 1, "pool_id": pool.id}]),
        );
        let err = ConnectorServiceClient::with_interceptor(channel.clone(), auth())
            .validate(ConnectorServiceValidateRequest {})
            .await
            .expect_err("credentials refused by Cognito");
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        told += &format!("{err:?}\n");

        let logs = stop_server(&mut server).await;
        assert_verbose(given, &label, &logs);
        assert_configuration_logged(&label, &logs);
        transcripts.add(&label, &format!("{logs}{told}"));
    }

    // Debug output of the parsed `serve` flags.
    let cli = baton_cognito::cli::Cli::try_parse_from([
        "baton-cognito",
        "serve",
        "--auth-token",
        &secrets.auth_token,
        "--aws-secret-access-key",
        &secrets.aws_secret_access_key,
        "--user-pool-id",
        "us-east-1_Offline1",
    ])
    .expect("serve takes --auth-token");
    let shown = format!("{cli:?}\n{cli:#?}");
    assert!(shown.contains("auth_token"), "{shown}");
    transcripts.add("Debug of the parsed serve flags", &shown);

    transcripts.assert_clean(&needles);
}

/// Stands for the address of a port of the case's own that is already taken.
const BUSY: &str = "<busy address>";
/// A file that does not exist.
const NO_FILE: &str = "/nonexistent/baton-secrets-test.pem";

/// The server's own flags, wrong, next to the secrets: refused with the exit code and text
/// given, and no secret shown. Every case stops before it would connect anywhere.
#[test_case(&["serve", "--listen", BUSY], 1, "cannot listen" ; "listen on a busy address")]
#[test_case(&["serve", "--listen", "0.0.0.0:0"], 2, "--insecure" ; "listen on every interface without insecure")]
#[test_case(&["serve", "--tls-cert", NO_FILE, "--tls-key", NO_FILE], 2, "--tls-cert" ; "tls files that do not exist")]
#[test_case(&["serve", "--tls-client-ca", NO_FILE], 2, "--tls-cert" ; "tls client ca without a certificate")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_serve_flags_next_to_secrets(mode: &[&str], want_code: i32, text: &str) {
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let mut transcripts = Transcripts::default();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let mode: Vec<&str> = mode
        .iter()
        .map(|arg| {
            if *arg == BUSY {
                busy_addr.as_str()
            } else {
                arg
            }
        })
        .collect();
    let offline = pairs(&[
        ("BATON_USER_POOL_ID", "us-east-1_Offline1"),
        ("BATON_ENDPOINT_URL", "http://127.0.0.1:9"),
    ]);
    for given in BOTH {
        let label = format!("{mode:?} [{given:?}]");
        let (env, args) = secrets.invocation(given, SERVE, &offline, &mode);
        let (code, out) = run(&mut transcripts, &label, &env, &args);
        assert_eq!(code, Some(want_code), "{label}: {out}");
        assert!(out.contains(text), "{label}: {out}");
    }
    transcripts.assert_clean(&secrets.needles());
}

/// The FinishTask of `task`, or a panic with the worker's output.
async fn finished(
    platform: &Platform,
    worker: &mut Worker,
    task: &task::TaskType,
) -> BatonServiceFinishTaskRequest {
    let task = platform::task(task.clone());
    platform.push_task(task.clone());
    match platform.wait_finished(&task.id, TIMEOUT).await {
        Some(finish) => finish,
        None => {
            let (_, output) = worker.stop(false, TIMEOUT).await;
            panic!("task {} never finished; worker output:\n{output}", task.id)
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_mode_tasks_never_show_a_secret() {
    let emulator = Emulator::shared();
    let mut transcripts = Transcripts::default();
    let mut needles = Vec::new();
    for given in BOTH {
        let platform = Platform::start(PlatformOptions::default()).await;
        let secrets = Secrets::new(&platform);
        needles.extend(secrets.needles());
        let pool = emulator.create_pool(small_pool("secrets-service"));
        let mut base = pool_env(emulator, &pool);
        base.extend(platform.env());
        base.extend(pairs(&[
            ("BATON_HOST_ID", "secrets-worker"),
            ("BATON_PROVISIONING", "true"),
        ]));
        let label = format!("service mode [{given:?}]");
        let (env, args) = secrets.invocation(given, WITH_CLIENT, &base, &[]);
        let mut worker = Worker::start(&env, &strs(&args));
        let recipient = Recipient::new();

        let finish = finished(
            &platform,
            &mut worker,
            &TaskType::SyncFull(task::SyncFullTask::default()),
        )
        .await;
        assert!(
            matches!(finish.final_state, Some(FinalState::Success(_))),
            "{label}: {finish:?}"
        );
        let grant = TaskType::Grant(task::GrantTask {
            entitlement: Some(member_of("team: red/blue")),
            principal: Some(resource("user", "ann")),
            annotations: vec![],
            duration: None,
        });
        let granted: GrantManagerServiceGrantResponse =
            success(&finished(&platform, &mut worker, &grant).await).0;
        assert_eq!(granted.grants[0].id, "group:team: red/blue:member:user:ann");
        let create = TaskType::CreateAccount(task::CreateAccountTask {
            account_info: Some(account_info("fay")),
            credential_options: Some(random_password()),
            encryption_configs: vec![recipient.config.clone()],
            resource_type_id: "user".into(),
        });
        let created: CreateAccountResponse =
            success(&finished(&platform, &mut worker, &create).await).0;
        let password = recipient.open(&created.encrypted_data);
        needles.push(Needle::text(
            &format!("password generated by the worker [{given:?}]"),
            &password,
        ));
        let bad_grant = TaskType::Grant(task::GrantTask {
            entitlement: Some(member_of("no-such-group")),
            principal: Some(resource("user", "ann")),
            annotations: vec![],
            duration: None,
        });
        let failed = finished(&platform, &mut worker, &bad_grant).await;
        assert!(
            matches!(failed.final_state, Some(FinalState::Error(_))),
            "{failed:?}"
        );
        // What the platform was told: the Hello and every task's result and error.
        let told = format!(
            "{:#?}\n{finish:#?}\n{granted:#?}\n{created:#?}\n{failed:#?}",
            platform.hellos()
        );
        assert!(told.contains("no-such-group"), "{told}");
        transcripts.add(&format!("what the platform was told [{given:?}]"), &told);

        let (status, output) = worker.stop(true, TIMEOUT).await;
        let tokens = platform.issued_tokens();
        assert!(
            !tokens.is_empty(),
            "{label}: the worker got an access token"
        );
        for token in &tokens {
            needles.push(Needle::text("platform access token", token));
        }
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{label}: {output}");
        assert_verbose(given, &label, &output);
        assert_configuration_logged(&label, &output);
        assert!(
            output.contains("service configuration") && output.contains("client_secret"),
            "{label}: the service configuration was logged: {output}"
        );
        assert!(
            output.contains("got a platform access token"),
            "{label}: {output}"
        );
        transcripts.add(&label, &output);

        // A platform that refuses this client.
        let refusing = Platform::start(PlatformOptions {
            refuse_tokens: true,
            ..PlatformOptions::default()
        })
        .await;
        let refused_secrets = Secrets::new(&refusing);
        needles.extend(refused_secrets.needles());
        let mut base = pool_env(emulator, &pool);
        base.extend(refusing.env());
        let label = format!("service mode, client refused [{given:?}]");
        let (env, args) = refused_secrets.invocation(given, WITH_CLIENT, &base, &[]);
        let mut worker = Worker::start(&env, &strs(&args));
        let (status, output) = worker.stop(false, TIMEOUT).await;
        assert_eq!(status.and_then(|s| s.code()), Some(1), "{label}: {output}");
        assert!(output.contains("refused"), "{label}: {output}");
        assert_verbose(given, &label, &output);
        transcripts.add(&label, &output);
    }
    transcripts.assert_clean(&needles);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_and_metadata_commands_never_show_a_secret() {
    let emulator = Emulator::shared();
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let pool = emulator.create_pool(small_pool("secrets-inspect"));
    let base = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    let garbage = dir.path().join("garbage.c1z");
    std::fs::write(&garbage, b"not a c1z file").unwrap();
    let mut transcripts = Transcripts::default();
    let (env, args) = secrets.invocation(Given::Env, POOL_MODES, &base, &["-f", f]);
    let (code, out) = run(&mut transcripts, "sync before inspecting", &env, &args);
    assert_eq!(code, Some(0), "{out}");

    let listings: [&[&str]; 7] = [
        &["stats"],
        &["resource-types"],
        &["resources"],
        &["resources", "-t", "user"],
        &["entitlements"],
        &["grants"],
        &["grants", "--principal", "user:bob:smith"],
    ];
    for given in BOTH {
        for listing in listings {
            for format in ["console", "json"] {
                let label = format!("{listing:?} -o {format} [{given:?}]");
                let mut mode = vec!["-f", f];
                mode.extend(listing);
                mode.extend(["-o", format]);
                let (env, args) = secrets.invocation(given, WITH_CLIENT, &base, &mode);
                let (code, out) = run(&mut transcripts, &label, &env, &args);
                assert_eq!(code, Some(0), "{label}: {out}");
                assert!(!out.trim().is_empty(), "{label}: printed nothing");
            }
        }
        for command in ["capabilities", "config"] {
            let label = format!("{command} [{given:?}]");
            let (env, args) = secrets.invocation(given, WITH_CLIENT, &base, &[command]);
            let (code, out) = run(&mut transcripts, &label, &env, &args);
            assert_eq!(code, Some(0), "{label}: {out}");
            assert!(out.contains('{'), "{label}: {out}");
        }
        let missing = dir.path().join("missing.c1z");
        for (bad, what) in [
            (missing.to_str().unwrap(), "missing"),
            (garbage.to_str().unwrap(), "garbage"),
        ] {
            let label = format!("stats of a {what} file [{given:?}]");
            let (env, args) = secrets.invocation(given, WITH_CLIENT, &base, &["-f", bad, "stats"]);
            let (code, out) = run(&mut transcripts, &label, &env, &args);
            assert_eq!(code, Some(1), "{label}: {out}");
            assert!(
                out.contains(bad),
                "{label}: the error names the file: {out}"
            );
        }
    }
    transcripts.assert_clean(&secrets.needles());
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_version_never_show_a_secret() {
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    const POOL_ID: &str = "us-east-1_HelpPool1";
    let base = pairs(&[("BATON_USER_POOL_ID", POOL_ID)]);
    let mut transcripts = Transcripts::default();
    // Every secret in the environment, where clap could show it beside its flag.
    let (env, _) = secrets.invocation(Given::Env, ALL, &base, &[]);

    let top = run_binary(&["--help"], &env);
    let top = String::from_utf8_lossy(&top.stdout).into_owned();
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    for expected in ["serve", "stats", "grants", "capabilities", "config", "help"] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected} in {commands:?}"
        );
    }

    let mut runs: Vec<Vec<String>> = vec![
        vec!["--help".into()],
        vec!["-h".into()],
        vec!["help".into()],
        vec!["--version".into()],
    ];
    for command in commands.iter().filter(|c| *c != "help") {
        runs.push(vec![command.clone(), "--help".into()]);
        runs.push(vec![command.clone(), "-h".into()]);
        runs.push(vec!["help".into(), command.clone()]);
    }
    let (plain_env, _) = secrets.invocation(Given::Flags, ALL, &base, &[]);
    for given in BOTH {
        for mode in &runs {
            let label = format!("{mode:?} [{given:?}]");
            let (help_flag, command) = mode.split_last().expect("a help run");
            let mut args: Vec<String> = Vec::new();
            if given == Given::Flags {
                // The secrets as flags before the help flag, as a user would type them.
                for (flag, value) in [
                    ("--client-secret", &secrets.client_secret),
                    ("--aws-secret-access-key", &secrets.aws_secret_access_key),
                    ("--aws-session-token", &secrets.aws_session_token),
                    ("--external-id", &secrets.external_id),
                ] {
                    args.extend([flag.to_string(), value.clone()]);
                }
                args.extend(["--log-level", "trace", "--log-format", "console"].map(String::from));
            }
            args.extend(command.iter().cloned());
            if given == Given::Flags && command.first().is_some_and(|c| c == "serve") {
                args.extend(["--auth-token".to_string(), secrets.auth_token.clone()]);
            }
            args.push(help_flag.clone());
            let env = if given == Given::Env {
                &env
            } else {
                &plain_env
            };
            let (code, out) = run(&mut transcripts, &label, env, &args);
            assert_eq!(code, Some(0), "{label}: {out}");
            if help_flag == "--version" {
                assert!(out.contains("baton-cognito"), "{label}: {out}");
                continue;
            }
            assert!(out.contains("Usage:"), "{label}: {out}");
            if help_flag != "-h" {
                // clap shows env values beside their flags: the test would see a secret's.
                assert!(
                    out.contains(&format!("BATON_USER_POOL_ID={POOL_ID}")),
                    "{label}: env values are shown: {out}"
                );
                assert!(
                    out.contains("BATON_AWS_SECRET_ACCESS_KEY"),
                    "{label}: {out}"
                );
            }
        }
    }
    transcripts.assert_clean(&secrets.needles());
}

/// Stands for the AWS secret access key in a case's arguments.
const AWS_SECRET: &str = "{aws secret access key}";
/// Stands for the role's external id in a case's arguments.
const EXTERNAL_ID: &str = "{external id}";

/// Bad flags and settings next to the secrets (given both ways), each refused with the exit
/// code and text given, never echoing a secret: `mode` is the run's own arguments, `overrides`
/// variables added to the environment, `scope` the secrets it is given, and `verbose` whether
/// it gets far enough to log at debug level.
// Refused while the flags are read: exit 2, naming the flag.
#[test_case(&["--api-budget", "7"], &[], POOL_MODES, 2, "--api-budget", false ; "api budget above one")]
#[test_case(&["--api-budget", "lots"], &[], POOL_MODES, 2, "--api-budget", false ; "api budget not a number")]
#[test_case(&["--region", "mars"], &[], POOL_MODES, 2, "--region", false ; "unknown region")]
#[test_case(&["--user-pool-id", "not-a-pool"], &[], POOL_MODES, 2, "--user-pool-id", false ; "not a pool id")]
#[test_case(&["--aws-access-key-id", "not a key"], &[], POOL_MODES, 2, "--aws-access-key-id", false ; "not an access key id")]
#[test_case(&["--role-arn", "arn:aws:iam::1:role/x"], &[], POOL_MODES, 2, "--role-arn", false ; "role arn with a short account")]
#[test_case(&["--endpoint-url", "ftp://x"], &[], POOL_MODES, 2, "--endpoint-url", false ; "endpoint of another scheme")]
#[test_case(&["--user-filter", "nonsense"], &[], POOL_MODES, 2, "--user-filter", false ; "user filter without an operator")]
#[test_case(&["--category-budget", "nope=1"], &[], POOL_MODES, 2, "--category-budget", false ; "unknown category budget")]
// A mistyped secret flag, its value attached or apart.
#[test_case(&["--aws-secret-acces-key={aws secret access key}"], &[], POOL_MODES, 2, "--aws-secret-acces-key", false ; "mistyped secret key flag with its value attached")]
#[test_case(&["--external-idd", EXTERNAL_ID], &[], POOL_MODES, 2, "--external-idd", false ; "mistyped external id flag with its value apart")]
#[test_case(&["--create-account-login", "x", "--create-account-profile", "{bad"], &[], POOL_MODES, 2, "--create-account-profile", false ; "create account profile not json")]
#[test_case(&["--grant-principal", "ann"], &[], POOL_MODES, 2, "--grant-entitlement", false ; "grant principal without entitlement")]
#[test_case(&["serve", "--listen", "nonsense"], &[], POOL_MODES, 2, "--listen", false ; "serve listen not an address")]
#[test_case(&["serve", "--shutdown-timeout", "soon"], &[], POOL_MODES, 2, "--shutdown-timeout", false ; "serve shutdown timeout not a duration")]
// Service mode.
#[test_case(&["--task-concurrency", "0"], &[], WITH_CLIENT, 2, "task-concurrency", false ; "task concurrency zero")]
#[test_case(&["--client-id", "no-at-sign"], &[], WITH_CLIENT, 2, "is not a client id", false ; "not a client id")]
#[test_case(&["--c1-api-host", "bad host/"], &[], WITH_CLIENT, 2, "--c1-api-host", false ; "not a platform host")]
#[test_case(&["--create-account-login", "x"], &[], WITH_CLIENT, 2, "service mode", false ; "create account in service mode")]
// A secret without its partner.
#[test_case(&[], &[("BATON_AWS_ACCESS_KEY_ID", "")], POOL_MODES, 2, "--aws-access-key-id", false ; "secret key without key id")]
#[test_case(&[], &[("BATON_ROLE_ARN", "")], POOL_MODES, 2, "--external-id", false ; "external id without role")]
// Refused once the configuration is built (and logged).
#[test_case(&["-f", "/nonexistent/dir/sync.c1z"], &[], POOL_MODES, 1, "/nonexistent/dir", true ; "file in a missing directory")]
#[test_case(&["--c1-api-ca-file", "/nonexistent/ca.pem"], &[], WITH_CLIENT, 2, "--c1-api-ca-file", true ; "platform ca file missing")]
#[tokio::test(flavor = "multi_thread")]
async fn bad_flags_next_to_secrets_never_echo_them(
    mode: &[&str],
    overrides: &[(&str, &str)],
    scope: Scope,
    want_code: i32,
    want_text: &str,
    verbose: bool,
) {
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let mode: Vec<String> = mode
        .iter()
        .map(|arg| {
            arg.replace(AWS_SECRET, &secrets.aws_secret_access_key)
                .replace(EXTERNAL_ID, &secrets.external_id)
        })
        .collect();
    let mode = strs(&mode);
    let mut transcripts = Transcripts::default();
    for given in BOTH {
        let label = format!("bad flags {mode:?} {overrides:?} [{given:?}]");
        let (mut env, args) = secrets.invocation(given, scope, &bad_flags_base(), &mode);
        env.extend(pairs(overrides));
        let (code, out) = run(&mut transcripts, &label, &env, &args);
        assert_eq!(code, Some(want_code), "{label}: {out}");
        assert!(out.contains(want_text), "{label}: {out}");
        if verbose {
            assert_verbose(given, &label, &out);
        }
    }
    transcripts.assert_clean(&secrets.needles());
}

/// Nothing listens there: every run fails before it would connect.
fn bad_flags_base() -> Vec<(String, String)> {
    pairs(&[
        ("BATON_USER_POOL_ID", "us-east-1_BadFlags1"),
        ("BATON_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("BATON_C1_API_HOST", "127.0.0.1:9"),
    ])
}

/// The client secret with its JWK's public part replaced.
fn mismatched_client_secret(good: &str) -> String {
    let (prefix, encoded) = good.rsplit_once(':').unwrap();
    let mut jwk: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
    jwk["x"] = Value::from(URL_SAFE_NO_PAD.encode([0u8; 32]));
    format!("{prefix}:{}", URL_SAFE_NO_PAD.encode(jwk.to_string()))
}

/// Malformed client secrets that still hold the real private key, given as the secret: exit 2,
/// and neither the secret nor its parts shown. `whole` when only the whole value is searched
/// for (a truncated secret no longer decodes into its parts).
#[test_case(mismatched_client_secret, false ; "a client secret whose public part is wrong")]
#[test_case(|good| good.replacen(":v1:", ":v2:", 1), false ; "a client secret of version v2")]
#[test_case(|good| good[..good.len() - 5].to_string(), true ; "a truncated client secret")]
#[tokio::test(flavor = "multi_thread")]
async fn malformed_client_secrets_are_never_echoed(malformed: fn(&str) -> String, whole: bool) {
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let bad = malformed(&secrets.client_secret);
    let what = "the malformed client secret";
    let mut needles = secrets.needles();
    if whole {
        needles.push(Needle::whole(what, &bad));
    } else {
        needles.extend(client_secret_needles(what, &bad));
    }
    let mut transcripts = Transcripts::default();
    for given in BOTH {
        let label = format!("{what} [{given:?}]");
        let (mut env, mut args) = secrets.invocation(given, POOL_MODES, &bad_flags_base(), &[]);
        env.push(("BATON_CLIENT_ID".into(), secrets.client_id.clone()));
        match given {
            Given::Env => env.push(("BATON_CLIENT_SECRET".into(), bad.clone())),
            Given::Flags => args.extend(["--client-secret".to_string(), bad.clone()]),
        }
        let (code, out) = run(&mut transcripts, &label, &env, &args);
        assert_eq!(code, Some(2), "{label}: {out}");
        assert!(out.contains("is not a client secret"), "{label}: {out}");
    }
    transcripts.assert_clean(&needles);
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_output_of_the_configuration_shows_no_secret() {
    use baton_cognito::credentials::{PasswordPolicy, generate_password};
    use baton_cognito::modes::service_mode::ServiceSettings;
    use baton_cognito::secret::Secret;
    use baton_cognito::service::identity::{ClientId, ClientSecret};
    use clap::Parser;
    let platform = Platform::start(PlatformOptions::default()).await;
    let secrets = Secrets::new(&platform);
    let cli = baton_cognito::cli::Cli::try_parse_from([
        "baton-cognito",
        "--user-pool-id",
        "us-east-1_Debug1",
        "--aws-access-key-id",
        ACCESS_KEY_ID,
        "--aws-secret-access-key",
        &secrets.aws_secret_access_key,
        "--aws-session-token",
        &secrets.aws_session_token,
        "--role-arn",
        ROLE_ARN,
        "--external-id",
        &secrets.external_id,
        "--client-id",
        &secrets.client_id,
        "--client-secret",
        &secrets.client_secret,
    ])
    .expect("valid flags");
    let mut shown = format!("{cli:?}\n{cli:#?}\n");
    let settings = cli.pool.settings().expect("valid settings");
    shown += &format!(
        "{settings:?}\n{settings:#?}\n{:?}\n",
        settings.pools[0].credentials
    );
    let client_secret =
        ClientSecret::parse(cli.service.client_secret.as_ref().expect("given")).expect("valid");
    let service = ServiceSettings {
        client_id: ClientId::parse(&secrets.client_id).expect("valid"),
        client_secret,
        api_host: platform.host(),
        ca_file: None,
        host_id: "debug".into(),
        task_concurrency: 1,
        health_check: None,
        provisioning: true,
        event_feed: cli
            .event_feed
            .settings(&settings)
            .expect("valid feed settings"),
        http_timeout: None,
        syncs: baton_cognito::service::sync_task::SyncOptions {
            work_dir: std::env::temp_dir(),
            skip_full_sync: false,
            type_ids: Vec::new(),
        },
    };
    shown += &format!("{service:?}\n{service:#?}\n");
    for field in [
        "secret_access_key",
        "session_token",
        "external_id",
        "client_secret",
    ] {
        assert!(
            shown.contains(field),
            "the Debug output shows the field {field}: {shown}"
        );
    }
    let password = generate_password(
        &PasswordPolicy::default(),
        &credential_options::RandomPassword {
            length: 24,
            constraints: vec![],
        },
    )
    .expect("a password");
    shown += &format!("{password:?} {password}\n");
    let secret = Secret::new(secrets.aws_secret_access_key.clone());
    shown += &format!("{secret:?} {secret}\n");

    let mut needles = secrets.needles();
    needles.push(Needle::text("generated password", password.expose()));
    let mut transcripts = Transcripts::default();
    transcripts.add("Debug and Display of the parsed configuration", &shown);
    transcripts.assert_clean(&needles);
}

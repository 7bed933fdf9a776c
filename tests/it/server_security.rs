//! Who may talk to the gRPC server, and how it stops: loopback unless told otherwise, TLS and
//! mutual TLS, plaintext elsewhere only with `--insecure`, an optional bearer token, and a
//! shutdown that lets calls in flight finish within a deadline. All against the real binary on
//! real sockets.

use crate::support::pki;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::*;
use baton_cognito::pb::v2::connector_service_client::ConnectorServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::{
    ConnectorServiceValidateRequest, ResourcesServiceListResourcesRequest,
};
use pki::{TestCa, write};
use serde_json::json;
use test_case::test_case;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A pool with a few users, and the environment that reads it.
fn pool() -> (&'static Emulator, Pool, Vec<(String, String)>) {
    let emulator = Emulator::shared();
    let users: Vec<_> = (0..5)
        .map(|i| json!({"username": format!("user{i}")}))
        .collect();
    let pool = emulator.create_pool(json!({"name": unique("security"), "users": users}));
    let env = pool_env(emulator, &pool);
    (emulator, pool, env)
}

/// A CA, a server certificate for 127.0.0.1 and its files in a temporary directory.
struct ServerPki {
    ca: TestCa,
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca_file: PathBuf,
}

impl ServerPki {
    fn new() -> ServerPki {
        let ca = TestCa::new("baton-cognito test server CA");
        let server = ca.issue(&["localhost", "127.0.0.1"]);
        let dir = tempfile::tempdir().expect("temporary directory");
        let cert = write(dir.path(), "server.pem", &server.cert_pem);
        let key = write(dir.path(), "server.key", &server.key_pem);
        let ca_file = write(dir.path(), "ca.pem", &ca.pem());
        ServerPki {
            ca,
            dir,
            cert,
            key,
            ca_file,
        }
    }

    fn tls_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

/// A TLS channel to `server` trusting `ca_pem`, optionally presenting a client certificate.
async fn tls_channel(
    server: &Server,
    ca_pem: &str,
    identity: Option<Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(format!("https://{}", server.addr))
        .expect("endpoint")
        .tls_config(tls)?
        .connect()
        .await
}

/// Validate's code on `channel`, optionally with a bearer token.
async fn validate(channel: Channel, token: Option<&str>) -> Code {
    let mut request = tonic::Request::new(ConnectorServiceValidateRequest {});
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("metadata");
        request.metadata_mut().insert("authorization", value);
    }
    match ConnectorServiceClient::new(channel).validate(request).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_serves_clients_that_trust_the_certificate_and_nobody_in_plaintext() {
    let (_, _, env) = pool();
    let pki = ServerPki::new();
    let server = Server::start(&env, &strs(&pki.tls_args()));

    let channel = tls_channel(&server, &pki.ca.pem(), None)
        .await
        .expect("TLS");
    assert_eq!(validate(channel, None).await, Code::Ok);

    // A client that does not trust the server's CA does not get through the handshake.
    let stranger = TestCa::new("someone else's CA");
    let refused = match tls_channel(&server, &stranger.pem(), None).await {
        Err(_) => true,
        Ok(channel) => validate(channel, None).await != Code::Ok,
    };
    assert!(refused, "a client trusting another CA got an answer");

    // Plaintext HTTP/2 to a TLS port is not gRPC.
    let plaintext = server.channel().await;
    assert_ne!(validate(plaintext, None).await, Code::Ok);
    assert!(server.logs().contains("\"tls\":true"), "{}", server.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_refuses_clients_without_a_certificate_from_the_client_ca() {
    let (_, _, env) = pool();
    let pki = ServerPki::new();
    let client_ca = TestCa::new("baton-cognito test client CA");
    let client_ca_file = write(pki.dir.path(), "clients.pem", &client_ca.pem());
    let mut args = pki.tls_args();
    args.extend([
        "--tls-client-ca".into(),
        client_ca_file.display().to_string(),
    ]);
    let server = Server::start(&env, &strs(&args));

    let client = client_ca.issue(&["platform-client"]);
    let with_cert = tls_channel(
        &server,
        &pki.ca.pem(),
        Some(Identity::from_pem(&client.cert_pem, &client.key_pem)),
    )
    .await
    .expect("mutual TLS with a client certificate");
    assert_eq!(validate(with_cert, None).await, Code::Ok);

    // No client certificate, then one the server's CA signed rather than the client CA.
    let foreign = pki.ca.issue(&["not-a-client"]);
    for identity in [
        None,
        Some(Identity::from_pem(&foreign.cert_pem, &foreign.key_pem)),
    ] {
        let presented = identity.is_some();
        let answered = match tls_channel(&server, &pki.ca.pem(), identity).await {
            Err(_) => None,
            Ok(channel) => Some(validate(channel, None).await),
        };
        // Under TLS 1.3 the client may finish its side of the handshake before the server
        // checks the certificate and drops the connection, so the refusal can surface as any
        // transport error; what matters is that no call is answered.
        assert!(
            answered.is_none_or(|code| code != Code::Ok),
            "client certificate presented: {presented}; answered {answered:?}"
        );
    }
    assert!(server.logs().contains("\"mutual_tls\":true"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_token_is_required_of_every_call_but_health_checks() {
    let (_, _, mut env) = pool();
    env.push(("BATON_AUTH_TOKEN".into(), "correct-horse-battery".into()));
    let server = Server::start(&env, &[]);

    assert_eq!(
        validate(server.channel().await, Some("correct-horse-battery")).await,
        Code::Ok
    );
    for wrong in [
        None,
        Some("correct-horse"),
        Some("correct-horse-battery-staple"),
    ] {
        assert_eq!(
            validate(server.channel().await, wrong).await,
            Code::Unauthenticated,
            "{wrong:?}"
        );
    }
    // Listing without the token is refused too, not only Validate.
    let listing = ResourcesServiceClient::new(server.channel().await)
        .list_resources(ResourcesServiceListResourcesRequest {
            resource_type_id: "user".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(listing.unwrap_err().code(), Code::Unauthenticated);

    // Probes carry no token.
    let health = HealthClient::new(server.channel().await)
        .check(HealthCheckRequest::default())
        .await
        .expect("health check without a token");
    assert_eq!(health.into_inner().status, 1, "SERVING");

    let logs = server.logs();
    assert!(logs.contains("call refused"), "{logs}");
    assert!(!logs.contains("correct-horse-battery"), "token in the logs");
}

#[test]
fn plaintext_on_a_non_loopback_address_needs_insecure() {
    let (_, _, env) = pool();
    let refused = run_binary(&["serve", "--listen", "0.0.0.0:0"], &env);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--listen 0.0.0.0:0: not a loopback address"),
        "{stderr}"
    );
    assert!(stderr.contains("--insecure"), "{stderr}");

    let mut server = Server::launch(&env, &["serve", "--listen", "0.0.0.0:0", "--insecure"]);
    assert!(server.addr.starts_with("0.0.0.0:"), "{}", server.addr);
    let logs = server.logs();
    assert!(
        logs.contains("plaintext gRPC on a non-loopback address"),
        "{logs}"
    );
    server.signal("TERM");
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0)
    );
}

/// Unusable TLS files and server flags: exit 2 naming the flag, and nothing listened. In `extra`
/// and `expected`, `{cert}`, `{key}` and `{ca}` stand for a good server certificate, its key and
/// its CA; `{other_key}` for the key of another certificate, `{not_pem}` for a text file and
/// `{missing}` for a path where nothing is.
#[test_case(&["--tls-cert", "{missing}", "--tls-key", "{key}"], "--tls-cert {missing}: cannot read the file" ; "certificate missing")]
#[test_case(&["--tls-cert", "{not_pem}", "--tls-key", "{key}"], "--tls-cert {not_pem}: no PEM certificate" ; "certificate not pem")]
#[test_case(&["--tls-cert", "{cert}", "--tls-key", "{cert}"], "--tls-key {cert}: no PEM private key" ; "key file holding a certificate")]
#[test_case(&["--tls-cert", "{cert}", "--tls-key", "{other_key}"], "--tls-cert and --tls-key do not make a usable server identity" ; "key of another certificate")]
#[test_case(&["--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-client-ca", "{not_pem}"], "--tls-client-ca {not_pem}: no PEM certificate" ; "client ca not pem")]
// #17: read forever, memory growing by hundreds of MB a second.
#[test_case(&["--tls-cert", "/dev/zero", "--tls-key", "{key}"], "--tls-cert /dev/zero: the file is larger than the 4 MiB a PEM file may be" ; "certificate endless")]
#[test_case(&["--tls-cert", "{cert}", "--tls-key", "/dev/zero"], "--tls-key /dev/zero: the file is larger than the 4 MiB" ; "key endless")]
#[test_case(&["--tls-cert", "{cert}"], "--tls-key" ; "certificate without a key")]
#[test_case(&["--tls-client-ca", "{ca}"], "--tls-cert" ; "client ca without a certificate")]
#[test_case(&["--auth-token", ""], "--auth-token: empty" ; "empty auth token")]
#[test_case(&["--shutdown-timeout", "0"], "--shutdown-timeout" ; "shutdown timeout zero")]
fn unusable_tls_files_are_usage_errors_naming_the_flag(extra: &[&str], expected: &str) {
    // One pool for the cases, which stop before they would call Cognito.
    static ENV: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    let env = ENV.get_or_init(|| pool().2);
    let pki = ServerPki::new();
    let other = pki.ca.issue(&["localhost"]);
    let files = [
        ("{cert}", pki.cert.display().to_string()),
        ("{key}", pki.key.display().to_string()),
        ("{ca}", pki.ca_file.display().to_string()),
        (
            "{other_key}",
            write(pki.dir.path(), "other.key", &other.key_pem)
                .display()
                .to_string(),
        ),
        (
            "{not_pem}",
            write(pki.dir.path(), "notes.txt", "hello\n")
                .display()
                .to_string(),
        ),
        (
            "{missing}",
            pki.dir.path().join("missing.pem").display().to_string(),
        ),
    ];
    let fill = |text: &str| {
        files.iter().fold(text.to_string(), |text, (name, path)| {
            text.replace(name, path)
        })
    };
    let extra: Vec<String> = extra.iter().map(|arg| fill(arg)).collect();
    let expected = fill(expected);
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend(strs(&extra));
    let out = run_binary(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
    assert!(stderr.contains(&expected), "{extra:?}: {stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "{extra:?} listened"
    );
}

/// Lists `pool`'s users, for a call that stays in flight while the emulator delays it.
async fn list_users(channel: Channel) -> Result<usize, tonic::Status> {
    ResourcesServiceClient::new(channel)
        .list_resources(ResourcesServiceListResourcesRequest {
            resource_type_id: "user".into(),
            page_size: 60,
            ..Default::default()
        })
        .await
        .map(|response| response.into_inner().list.len())
}

/// Starts a users listing that the emulator holds for `delay_ms`, and waits until it is in
/// flight at the emulator.
async fn slow_call(
    emulator: &Emulator,
    pool: &Pool,
    server: &Server,
    delay_ms: u64,
) -> tokio::task::JoinHandle<Result<usize, tonic::Status>> {
    emulator.inject(json!([{
        "operation": "ListUsers", "kind": "delay", "delay_ms": delay_ms, "count": 1,
        "pool_id": pool.id,
    }]));
    let call = tokio::spawn(list_users(server.channel().await));
    let started = Instant::now();
    while emulator.pool_calls(pool).get("ListUsers") != Some(&1) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the call never reached Cognito"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    call
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_calls_in_flight_finish_and_refuses_new_ones() {
    let (emulator, pool, env) = pool();
    let mut server = Server::start(&env, &["--shutdown-timeout", "20"]);
    let call = slow_call(emulator, &pool, &server, 2500).await;

    let stopping = Instant::now();
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await;
    let late_answered = match late {
        Err(_) => false,
        Ok(channel) => validate(channel, None).await == Code::Ok,
    };
    assert!(!late_answered, "a call made after SIGTERM was served");

    assert_eq!(call.await.unwrap().expect("the call in flight finishes"), 5);
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit(Duration::from_secs(20));
        (status, server.logs())
    })
    .await
    .unwrap();
    assert_eq!(status.0.and_then(|s| s.code()), Some(0), "{}", status.1);
    assert!(stopping.elapsed() < Duration::from_secs(10));
    assert!(
        status.1.contains("waiting for the calls in flight"),
        "{}",
        status.1
    );
    assert!(status.1.contains("\"in_flight\":1"), "{}", status.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_outlasting_the_shutdown_deadline_is_cut_off_and_reported() {
    let (emulator, pool, env) = pool();
    let mut server = Server::start(&env, &["--shutdown-timeout", "1"]);
    let call = slow_call(emulator, &pool, &server, 8000).await;

    let stopping = Instant::now();
    server.signal("TERM");
    let (status, logs) = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit(Duration::from_secs(10));
        (status, server.logs())
    })
    .await
    .unwrap();
    let waited = stopping.elapsed();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{logs}");
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    assert!(
        logs.contains("1 call(s) were still running 1s after the shutdown request"),
        "{logs}"
    );
    assert!(
        call.await.unwrap().is_err(),
        "the cut-off call reports an error"
    );
}

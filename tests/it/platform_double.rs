//! The platform test double checks what it claims to check: tokens only for correctly signed,
//! fresh assertions; RPCs only with a live token; uploads reassembled and checksummed; and
//! `drop_uploads` really kills the connection. The client here is deliberately small and
//! independent of service mode, except for the assertion, which comes from the connector.

use crate::support::platform;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use baton_cognito::pb::baton::baton_service_client::BatonServiceClient;
use baton_cognito::pb::baton::baton_service_finish_task_request::{FinalState, Success};
use baton_cognito::pb::baton::baton_service_upload_asset_request::{
    Msg, UploadData, UploadEof, UploadMetadata,
};
use baton_cognito::pb::baton::task::{HelloTask, TaskType};
use baton_cognito::pb::baton::*;
use baton_cognito::secret::Secret;
use baton_cognito::service::identity::{ClientId, ClientSecret};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioExecutor;
use platform::{DROP_MARKER, Platform, PlatformOptions};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request, Status};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const WAIT: Duration = Duration::from_secs(5);

fn credentials(platform: &Platform) -> (ClientId, ClientSecret) {
    let id = ClientId::parse(platform.client_id()).expect("the double's client id parses");
    let secret = ClientSecret::parse(&Secret::new(platform.client_secret()))
        .expect("the double's client secret parses");
    (id, secret)
}

/// A client secret for a key the platform has never seen.
fn stranger_secret() -> ClientSecret {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    ClientSecret::parse(&Secret::new(platform::client_secret_for(&key)))
        .expect("a well-formed secret")
}

fn form<'a>(client_id: &'a str, assertion: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]
}

/// POSTs a form to the token endpoint over HTTPS/1.1 (as service mode does), by the name
/// `localhost`, trusting only the double's CA.
async fn post_token(platform: &Platform, fields: &[(&str, &str)]) -> (u16, Value) {
    let ca = CertificateDer::from_pem_slice(platform.ca_pem().as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(https);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let request = http::Request::post(format!("https://{}/auth/v1/token", platform.host()))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client
        .request(request)
        .await
        .expect("the token endpoint answers");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

async fn token(platform: &Platform) -> String {
    let (id, secret) = credentials(platform);
    let assertion = secret.assertion(&id, SystemTime::now());
    let (status, body) = post_token(platform, &form(id.as_str(), &assertion)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A fresh TLS connection to the double's gRPC side, trusting only its CA.
async fn grpc(platform: &Platform) -> BatonServiceClient<Channel> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(platform.ca_pem()))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{}", platform.addr()))
        .unwrap()
        .user_agent("double-test baton-sdk/0.0.0")
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS gRPC connection to the double");
    BatonServiceClient::new(channel)
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

fn get_task(host_id: &str) -> BatonServiceGetTaskRequest {
    BatonServiceGetTaskRequest {
        host_id: host_id.into(),
    }
}

/// Uploads `chunks` as one asset with the given checksum.
async fn upload(
    client: &mut BatonServiceClient<Channel>,
    token: &str,
    task_id: &str,
    chunks: &[&[u8]],
    checksum: Vec<u8>,
) -> Result<(), Status> {
    let message = |msg| BatonServiceUploadAssetRequest { msg: Some(msg) };
    let mut messages = vec![message(Msg::Metadata(UploadMetadata {
        host_id: "host-1".into(),
        task_id: task_id.into(),
        annotations: vec![],
    }))];
    for chunk in chunks {
        messages.push(message(Msg::Data(UploadData {
            data: chunk.to_vec(),
        })));
    }
    messages.push(message(Msg::Eof(UploadEof {
        sha256_checksum: checksum,
        annotations: vec![],
    })));
    let stream = tokio_stream::iter(messages);
    client.upload_asset(authed(token, stream)).await.map(|_| ())
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes
}

#[tokio::test]
async fn a_signed_assertion_buys_a_token_and_only_a_token_opens_the_service() {
    let platform = Platform::start(PlatformOptions::default()).await;
    let (id, secret) = credentials(&platform);
    let (status, body) = post_token(
        &platform,
        &form(id.as_str(), &secret.assertion(&id, SystemTime::now())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(platform.token_requests(), (1, 0));

    let pushed = platform::task(TaskType::Hello(HelloTask::default()));
    assert_eq!(pushed.id.len(), 27);
    assert!(pushed.id.chars().all(|c| c.is_ascii_alphanumeric()));
    platform.push_task(pushed.clone());
    let mut client = grpc(&platform).await;

    let refused = client.get_task(get_task("host-1")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let forged = client
        .get_task(authed("not-a-token", get_task("host-1")))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    assert_eq!(platform.unauthenticated_calls().len(), 2);
    assert_eq!(platform.queued_tasks(), 1, "refused calls take no task");

    let answer = client
        .get_task(authed(token, get_task("host-1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.task, Some(pushed));
    assert_eq!(
        answer.next_poll,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 100_000_000
        })
    );
    let empty = client
        .get_task(authed(token, get_task("host-1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(empty.task, None);
    let hosts: Vec<_> = platform
        .get_task_calls()
        .into_iter()
        .map(|poll| poll.host_id)
        .collect();
    assert_eq!(hosts, ["host-1", "host-1"]);
    let agents = platform.user_agents();
    assert_eq!(agents.len(), 4);
    assert!(
        agents
            .iter()
            .all(|a| a.starts_with("double-test baton-sdk/0.0.0")),
        "{agents:?}"
    );

    platform.expire_tokens();
    let expired = client
        .get_task(authed(token, get_task("host-1")))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn foreign_keys_replays_and_malformed_requests_are_refused_with_a_reason() {
    let platform = Platform::start(PlatformOptions::default()).await;
    let (id, secret) = credentials(&platform);

    let foreign = stranger_secret().assertion(&id, SystemTime::now());
    let (status, body) = post_token(&platform, &form(id.as_str(), &foreign)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{body}"
    );

    let assertion = secret.assertion(&id, SystemTime::now());
    assert_eq!(
        post_token(&platform, &form(id.as_str(), &assertion))
            .await
            .0,
        200
    );
    let (status, body) = post_token(&platform, &form(id.as_str(), &assertion)).await;
    assert_eq!(status, 401, "a replayed assertion: {body}");

    // Signed correctly, but too old: valid until two minutes after an hour ago.
    let stale = secret.assertion(&id, SystemTime::now() - Duration::from_secs(3600));
    assert_eq!(
        post_token(&platform, &form(id.as_str(), &stale)).await.0,
        401
    );

    // Another client id in the form, a wrong grant type, and garbage: refused, never a panic.
    let fresh = secret.assertion(&id, SystemTime::now());
    let (status, _) = post_token(&platform, &form("someone@localhost/else", &fresh)).await;
    assert_eq!(status, 401);
    let mut wrong_grant = form(id.as_str(), &fresh);
    wrong_grant[1].1 = "password";
    assert_eq!(post_token(&platform, &wrong_grant).await.0, 400);
    for garbage in ["", "a.b", "a.b.c", "....", "eyJ9.eyJ9.!!"] {
        assert_eq!(
            post_token(&platform, &form(id.as_str(), garbage)).await.0,
            401
        );
    }

    let reasons = platform.token_refusals();
    assert_eq!(platform.token_requests(), (1, reasons.len()));
    assert_eq!(reasons.len(), 10, "{reasons:#?}");
    assert!(reasons[0].contains("signature"), "{reasons:#?}");
    assert!(reasons[1].contains("nonce"), "{reasons:#?}");
    assert!(reasons[2].contains("not valid now"), "{reasons:#?}");
    assert!(reasons[3].contains("client_id"), "{reasons:#?}");
    assert!(reasons[4].contains("grant_type"), "{reasons:#?}");

    // The stale and wrong-client assertions were refused before their nonces were spent: the
    // fresh one still buys a token.
    assert_eq!(
        post_token(&platform, &form(id.as_str(), &fresh)).await.0,
        200
    );

    let closed = Platform::start(PlatformOptions {
        refuse_tokens: true,
        ..PlatformOptions::default()
    })
    .await;
    let (id, secret) = credentials(&closed);
    let assertion = secret.assertion(&id, SystemTime::now());
    assert_eq!(
        post_token(&closed, &form(id.as_str(), &assertion)).await.0,
        401
    );
    assert_eq!(closed.token_requests(), (0, 1));
}

#[tokio::test]
async fn uploads_are_reassembled_and_checksummed() {
    let platform = Platform::start(PlatformOptions::default()).await;
    let token = token(&platform).await;
    let mut client = grpc(&platform).await;
    let task_id = platform::new_task_id();
    let data = random_bytes(700 * 1024);
    let (first, second) = data.split_at(512 * 1024);
    let checksum = Sha256::digest(&data).to_vec();

    let lost = upload(&mut client, &token, &task_id, &[first, second], vec![0; 32])
        .await
        .unwrap_err();
    assert_eq!(lost.code(), Code::DataLoss, "{lost:?}");
    upload(
        &mut client,
        &token,
        &task_id,
        &[first, second],
        checksum.clone(),
    )
    .await
    .unwrap();

    let uploads = platform.uploads(&task_id);
    assert_eq!(uploads.len(), 2);
    assert!(uploads[0].completed && !uploads[0].checksum_ok);
    let good = &uploads[1];
    assert!(good.completed && good.checksum_ok);
    assert_eq!(good.bytes, data);
    assert_eq!(good.chunk_sizes, [512 * 1024, 188 * 1024]);
    assert_eq!(
        (good.task_id.as_str(), good.host_id.as_str()),
        (task_id.as_str(), "host-1")
    );

    // Protocol violations are INVALID_ARGUMENT and recorded, not accepted.
    let big = vec![1u8; platform::MAX_CHUNK + 1];
    let too_big = upload(&mut client, &token, &task_id, &[&big], checksum.clone()).await;
    assert_eq!(too_big.unwrap_err().code(), Code::InvalidArgument);
    let empty = upload(&mut client, &token, &task_id, &[b""], checksum.clone()).await;
    assert_eq!(empty.unwrap_err().code(), Code::InvalidArgument);
    let short = upload(&mut client, &token, &task_id, &[first], vec![0; 31]).await;
    assert_eq!(short.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(
        platform.rejections().len(),
        3,
        "{:?}",
        platform.rejections()
    );
    assert!(platform.uploads(&task_id)[2..].iter().all(|u| !u.completed));
}

#[tokio::test]
async fn drop_uploads_kills_the_connection_and_the_next_attempt_succeeds() {
    let platform = Platform::start(PlatformOptions {
        drop_uploads: 1,
        ..PlatformOptions::default()
    })
    .await;
    let token = token(&platform).await;
    let task_id = platform::new_task_id();
    let data = random_bytes(600 * 1024);
    let (first, second) = data.split_at(512 * 1024);
    let checksum = Sha256::digest(&data).to_vec();

    let mut client = grpc(&platform).await;
    let cut = upload(
        &mut client,
        &token,
        &task_id,
        &[first, second],
        checksum.clone(),
    )
    .await
    .unwrap_err();
    assert!(
        !matches!(
            cut.code(),
            Code::Ok | Code::DataLoss | Code::InvalidArgument
        ) && !cut.message().contains(DROP_MARKER),
        "expected a dead connection, got a status from the handler: {cut:?}"
    );
    assert!(
        std::error::Error::source(&cut).is_some(),
        "a transport error carries its cause: {cut:?}"
    );
    assert_eq!(platform.dropped_connections(), 1);

    let mut client = grpc(&platform).await;
    upload(&mut client, &token, &task_id, &[first, second], checksum)
        .await
        .unwrap();
    let uploads = platform.uploads(&task_id);
    assert_eq!(uploads.len(), 2);
    assert!(!uploads[0].completed && !uploads[0].checksum_ok);
    assert_eq!(uploads[0].chunk_sizes, [512 * 1024]);
    assert!(uploads[1].completed && uploads[1].checksum_ok);
    assert_eq!(uploads[1].bytes, data);
}

#[tokio::test]
async fn hello_heartbeat_and_finish_follow_the_protocol_rules() {
    let platform = Platform::start(PlatformOptions::default()).await;
    let token = token(&platform).await;
    let mut client = grpc(&platform).await;

    let hello = |host_id: &str, metadata| BatonServiceHelloRequest {
        host_id: host_id.into(),
        connector_metadata: metadata,
        ..Default::default()
    };
    let metadata = Some(baton_cognito::pb::v2::ConnectorMetadata::default());
    for bad in [
        hello("host-1", None),
        hello("", metadata.clone()),
        hello(&"h".repeat(257), metadata.clone()),
    ] {
        let err = client.hello(authed(&token, bad)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
    assert_eq!(platform.wait_hello(Duration::from_millis(50)).await, None);
    client
        .hello(authed(&token, hello("host-1", metadata)))
        .await
        .unwrap();
    let seen = platform.wait_hello(WAIT).await.expect("a hello");
    assert_eq!(seen.host_id, "host-1");

    let task_id = platform::new_task_id();
    let beat = || BatonServiceHeartbeatRequest {
        host_id: "host-1".into(),
        task_id: task_id.clone(),
        ..Default::default()
    };
    let first = client
        .heartbeat(authed(&token, beat()))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.cancelled);
    platform.cancel(&task_id);
    let second = client
        .heartbeat(authed(&token, beat()))
        .await
        .unwrap()
        .into_inner();
    assert!(second.cancelled);
    assert_eq!(platform.heartbeats(&task_id).len(), 2);

    let finish = |final_state| BatonServiceFinishTaskRequest {
        host_id: "host-1".into(),
        task_id: task_id.clone(),
        status: None,
        final_state,
    };
    let waiter = platform.wait_finished(&task_id, WAIT);
    let finisher = async {
        let err = client
            .finish_task(authed(&token, finish(None)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let success = Some(FinalState::Success(Success::default()));
        client
            .finish_task(authed(&token, finish(success)))
            .await
            .unwrap();
    };
    let (finished, ()) = tokio::join!(waiter, finisher);
    assert_eq!(
        finished.expect("finished").final_state,
        Some(FinalState::Success(Success::default()))
    );
    assert_eq!(platform.finished(&task_id).len(), 1);

    for _ in 0..3 {
        platform.push_task(platform::task(TaskType::Hello(HelloTask::default())));
    }
    let page = BatonServiceGetTasksRequest {
        host_id: "host-1".into(),
        page_size: 2,
        ..Default::default()
    };
    let tasks = client
        .get_tasks(authed(&token, page))
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!((tasks.len(), platform.queued_tasks()), (2, 1));
    let debugging = client
        .start_debugging(authed(&token, StartDebuggingRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(!debugging.status);
}

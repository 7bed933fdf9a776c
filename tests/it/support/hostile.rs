//! A hostile Cognito endpoint: a local HTTP server that speaks the AWS JSON protocol's framing
//! (`POST /`, `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`, a JSON body) and
//! answers whatever the test scripts: error bodies with a 200, pages without their list, page
//! tokens that repeat, dates out of range, huge bodies. It never signs or checks anything; it is
//! the liar the connector must not believe.
//!
//! Tests use it as `crate::support::hostile`.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

/// One request the endpoint received.
#[derive(Clone, Debug)]
pub struct Call {
    pub operation: String,
    pub body: Value,
}

/// What the endpoint answers to one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// How long the endpoint takes to answer (without holding up other requests).
    pub delay: std::time::Duration,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::raw(200, body.to_string().into_bytes())
    }

    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// The same answer, `delay` later.
    pub fn after(self, delay: std::time::Duration) -> Reply {
        Reply { delay, ..self }
    }

    /// An AWS JSON error answer.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::raw(
            status,
            json!({"__type": code, "message": message})
                .to_string()
                .into_bytes(),
        )
    }
}

type Script = dyn Fn(&Call) -> Reply + Send + Sync;

/// The endpoint, serving until dropped.
pub struct Hostile {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Hostile {
    /// Serves `script` on a loopback port, on a runtime of its own (so synchronous tests can use
    /// it while they wait for the connector).
    pub fn start(script: impl Fn(&Call) -> Reply + Send + Sync + 'static) -> Hostile {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("hostile endpoint runtime");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
                [127, 0, 0, 1],
                0,
            ))))
            .expect("bind the hostile endpoint");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let recorded = calls.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = script.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, script.clone(), recorded.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Hostile {
            url,
            calls,
            _runtime: runtime,
        }
    }

    /// Every request so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// How many requests named `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// Connector environment pointing at this endpoint, for `pool_id`.
    pub fn env(&self, pool_id: &str) -> Vec<(String, String)> {
        vec![
            ("BATON_USER_POOL_ID".into(), pool_id.into()),
            ("BATON_REGION".into(), "us-east-1".into()),
            ("BATON_ENDPOINT_URL".into(), self.url.clone()),
            (
                "BATON_AWS_ACCESS_KEY_ID".into(),
                "AKIAIOSFODNN7EXAMPLE".into(),
            ),
            (
                "BATON_AWS_SECRET_ACCESS_KEY".into(),
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ),
        ]
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    script: Arc<Script>,
    recorded: Arc<Mutex<Vec<Call>>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let call = Call {
        operation,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    recorded.lock().unwrap().push(call.clone());
    let reply = script(&call);
    tokio::time::sleep(reply.delay).await;
    Ok(hyper::Response::builder()
        .status(reply.status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a response"))
}

/// A well-formed pool description, as DescribeUserPool answers it.
pub fn pool_description(pool_id: &str, estimated_users: u64) -> Value {
    json!({"UserPool": {
        "Id": pool_id,
        "Name": "hostile",
        "Arn": format!("arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool_id}"),
        "EstimatedNumberOfUsers": estimated_users,
    }})
}

/// A well-formed user record.
pub fn user(name: &str) -> Value {
    json!({
        "Username": name,
        "Attributes": [
            {"Name": "sub", "Value": format!("sub-{name}")},
            {"Name": "email", "Value": format!("{name}@example.com")},
        ],
        "Enabled": true,
        "UserStatus": "CONFIRMED",
        "UserCreateDate": 1_700_000_000.5,
        "UserLastModifiedDate": 1_700_000_100.25,
    })
}

/// A well-formed group record.
pub fn group(name: &str) -> Value {
    json!({"GroupName": name, "UserPoolId": "us-east-1_Hostile1", "CreationDate": 1_700_000_000.0})
}

/// The truthful page of `items` a listing request asks for: from the offset its token names, at
/// most its limit, under `key`, with a `token_key` pointing at the rest if any.
pub fn page_of(call: &Call, items: &[Value], key: &str, token_key: &str) -> Reply {
    let start: usize = token_of(call).and_then(|t| t.parse().ok()).unwrap_or(0);
    let end = (start + limit_of(call)).min(items.len());
    let mut body = json!({ key: items[start.min(end)..end] });
    if end < items.len() {
        body[token_key] = json!(end.to_string());
    }
    Reply::ok(body)
}

/// The limit a listing request asked for.
pub fn limit_of(call: &Call) -> usize {
    call.body["Limit"].as_u64().unwrap_or(60) as usize
}

/// The page token a listing request carried (ListUsers' `PaginationToken` or the others'
/// `NextToken`).
pub fn token_of(call: &Call) -> Option<String> {
    call.body
        .get("PaginationToken")
        .or_else(|| call.body.get("NextToken"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

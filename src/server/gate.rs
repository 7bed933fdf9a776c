//! The gate every gRPC call passes: the optional bearer-token check, and the count of calls in
//! flight that a graceful shutdown waits on.
//!
//! It is a tower layer around the whole router rather than a tonic interceptor, because an
//! interceptor sees neither the method path (health checks stay open to probes that carry no
//! token) nor when the call ends.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use http::{Request, Response};
use subtle::ConstantTimeEq;
use tonic::Status;
use tonic::body::Body;

use crate::secret::Secret;

/// Calls to this service need no token: a Kubernetes gRPC probe cannot send one.
const OPEN_SERVICE_PREFIX: &str = "/grpc.health.v1.Health/";

/// How many calls are running right now.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }
}

/// One call in flight; leaves the count when the call's response is ready or the call is
/// dropped (client gone, server stopped).
struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The layer: `token` is what clients must send as `authorization: Bearer <token>`.
#[derive(Clone)]
pub struct GateLayer {
    token: Option<Arc<Secret>>,
    in_flight: InFlight,
}

impl GateLayer {
    pub fn new(token: Option<Secret>, in_flight: InFlight) -> Self {
        Self {
            token: token.map(Arc::new),
            in_flight,
        }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            token: self.token.clone(),
            in_flight: self.in_flight.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    token: Option<Arc<Secret>>,
    in_flight: InFlight,
}

impl<S> Gate<S> {
    /// Why the call may not pass, if it may not.
    fn refusal(&self, request: &Request<Body>) -> Option<Status> {
        let expected = self.token.as_ref()?;
        if request.uri().path().starts_with(OPEN_SERVICE_PREFIX) {
            return None;
        }
        let Some(header) = request.headers().get(http::header::AUTHORIZATION) else {
            return Some(Status::unauthenticated(
                "this server needs a bearer token: send the metadata `authorization: Bearer <token>`",
            ));
        };
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Constant time, so the comparison tells an attacker nothing about how much matched.
        if bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
            None
        } else {
            Some(Status::unauthenticated("the bearer token was not accepted"))
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<Request<Body>> for Gate<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(status) = self.refusal(&request) {
            tracing::warn!(
                path = request.uri().path(),
                "call refused: {}",
                status.message()
            );
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let guard = self.in_flight.enter();
        // The clone that was made ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(guard);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer, Service};

    use super::*;

    /// Answers every call with an empty 200.
    #[derive(Clone)]
    struct Ok200;

    impl Service<Request<Body>> for Ok200 {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            std::future::ready(Ok(Response::new(Body::default())))
        }
    }

    fn call(token: Option<&str>, path: &str, authorization: Option<&str>) -> Option<tonic::Code> {
        let layer = GateLayer::new(token.map(Secret::new), InFlight::default());
        let mut gate = layer.layer(Ok200);
        let mut request = Request::builder().uri(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(Body::default()).expect("a valid request");
        let response = futures_util::FutureExt::now_or_never(gate.call(request))
            .expect("the gate answers at once")
            .expect("infallible");
        Status::from_header_map(response.headers()).map(|status| status.code())
    }

    const METHOD: &str = "/c1.connector.v2.ResourcesService/ListResources";

    #[test]
    fn without_a_configured_token_every_call_passes() {
        assert_eq!(call(None, METHOD, None), None);
        assert_eq!(call(None, METHOD, Some("Bearer anything")), None);
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = Some("s3cret-token");
        assert_eq!(call(token, METHOD, Some("Bearer s3cret-token")), None);
        for wrong in [
            None,
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token2"),
            Some("bearer s3cret-token"),
            Some("Basic s3cret-token"),
            Some("s3cret-token"),
            Some("Bearer "),
        ] {
            assert_eq!(
                call(token, METHOD, wrong),
                Some(tonic::Code::Unauthenticated),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn health_checks_need_no_token() {
        assert_eq!(call(Some("t"), "/grpc.health.v1.Health/Check", None), None);
        assert_eq!(
            call(
                Some("t"),
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                None
            ),
            Some(tonic::Code::Unauthenticated)
        );
    }

    #[test]
    fn calls_leave_the_in_flight_count_when_answered() {
        let in_flight = InFlight::default();
        let mut gate = GateLayer::new(None, in_flight.clone()).layer(Ok200);
        let pending = gate.call(Request::new(Body::default()));
        assert_eq!(in_flight.count(), 1);
        drop(futures_util::FutureExt::now_or_never(pending));
        assert_eq!(in_flight.count(), 0);
    }
}

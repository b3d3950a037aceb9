//! Observes every gRPC call, in a tower layer around the whole server so no handler can forget:
//! - it counts requests and latency by method, and errors by method and status code
//!   (`casebridge_rpc_*`, [`casebridge_platform::metrics`]);
//! - it runs the call in a `grpc` span that continues the caller's W3C trace context
//!   (`traceparent`, `tracestate` headers), so an agency's trace runs on through the gateway,
//!   the bus and the services.
//!
//! The status is read from the response headers, where tonic puts it for a call refused before
//! any message ("trailers-only"), which is how every CaseBridge refusal answers; a status sent in
//! trailers after streamed messages (an inbox stream ending with an error) is counted as OK.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;

use casebridge_platform::metrics::{ErrorLabel, MethodLabel, metrics};

/// Wraps a service in [`Observe`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner }
    }
}

/// The counting service; see the module documentation.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S, B, R> tower::Service<tonic::codegen::http::Request<B>> for Observe<S>
where
    S: tower::Service<
            tonic::codegen::http::Request<B>,
            Response = tonic::codegen::http::Response<R>,
        >,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let started = Instant::now();
        let span = tracing::info_span!("grpc", method = %method);
        let carried: BTreeMap<String, String> = ["traceparent", "tracestate"]
            .into_iter()
            .filter_map(|name| {
                let value = request.headers().get(name)?.to_str().ok()?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        casebridge_platform::telemetry::continue_trace(&span, &carried);
        let answer = span.in_scope(|| self.inner.call(request));
        let answered = async move {
            let answer = answer.await;
            let m = metrics();
            let label = MethodLabel {
                method: method.clone(),
            };
            m.rpc_requests.get_or_create(&label).inc();
            m.rpc_duration
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
            let code = match &answer {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from),
                Err(_) => tonic::Code::Internal,
            };
            if code != tonic::Code::Ok {
                m.rpc_errors
                    .get_or_create(&ErrorLabel {
                        method,
                        code: format!("{code:?}"),
                    })
                    .inc();
            }
            answer
        };
        Box::pin(answered.instrument(span))
    }
}

/// The method's path for the CaseBridge, health and reflection services; `other` for any
/// other path, so a caller cannot create label values without bound.
fn method_label(path: &str) -> String {
    let known = ["/casebridge.", "/grpc.health.", "/grpc.reflection."];
    let well_formed = path.len() <= 128 && path.matches('/').count() == 2;
    if well_formed && known.iter().any(|prefix| path.starts_with(prefix)) {
        path.to_owned()
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_services_name_their_method() {
        assert_eq!(
            method_label("/casebridge.v1.ReferralService/Submit"),
            "/casebridge.v1.ReferralService/Submit"
        );
        assert_eq!(
            method_label("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        assert_eq!(method_label("/evil.Service/X"), "other");
        assert_eq!(method_label("/casebridge.v1.A/B/C"), "other");
        assert_eq!(
            method_label(&format!("/casebridge.{}/X", "a".repeat(200))),
            "other"
        );
    }
}

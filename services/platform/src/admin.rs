//! The admin port: plain HTTP for the machine's own scraper and probes, never the agencies.
//!
//! - `GET /metrics`: every metric ([`crate::metrics`]) in the Prometheus text format, after the
//!   samplers have read the gauges that live in databases;
//! - `GET /livez`: 200 while the process runs its loop (a hung runtime answers nothing);
//! - `GET /readyz`: 200 when every readiness check passes, else 503; the body lists each
//!   check, `ok` or the reason, one per line. Shutting down turns readiness off first.
//!
//! [`Health`] holds the checks and samplers the components register at start-up; the gateway's
//! gRPC health service follows the same readiness.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::metrics;

/// A readiness check: `Ok` when ready, with a note for the report (often empty), else why not.
/// Neither may hold personal data: both are served in clear.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// Reads gauges whose values live elsewhere (a database) just before a scrape.
pub type Sampler = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// How long one check or sampler may take before it counts as failed (a stuck database must
/// not hang the probe, whose own timeout is usually one second or a few).
const CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// The process's readiness: named checks, samplers, and whether it is stopping.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    checks: Mutex<Vec<(String, Check)>>,
    samplers: Mutex<Vec<Sampler>>,
    stopping: AtomicBool,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("stopping", &self.inner.stopping.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The outcome of each readiness check, in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub checks: Vec<(String, Result<String, String>)>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|(_, result)| result.is_ok())
    }

    /// One line per check: `name ok`, `name ok: note` or `name failed: reason`.
    pub fn report(&self) -> String {
        self.checks
            .iter()
            .map(|(name, result)| match result {
                Ok(note) if note.is_empty() => format!("{name} ok\n"),
                Ok(note) => format!("{name} ok: {note}\n"),
                Err(reason) => format!("{name} failed: {reason}\n"),
            })
            .collect()
    }
}

impl Health {
    /// Adds a readiness check called `name`.
    pub fn add_check(&self, name: impl Into<String>, check: Check) {
        lock(&self.inner.checks).push((name.into(), check));
    }

    /// Adds a sampler run before each scrape.
    pub fn add_sampler(&self, sampler: Sampler) {
        lock(&self.inner.samplers).push(sampler);
    }

    /// Turns readiness off for good: the process is shutting down, so probes and load
    /// balancers send no new work while the work in flight finishes.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        metrics().ready.set(0);
    }

    /// Runs every check (each bounded by a timeout) and records the answer in the
    /// `casebridge_ready` gauge.
    pub async fn readiness(&self) -> Readiness {
        let checks = lock(&self.inner.checks).clone();
        let mut results = Vec::with_capacity(checks.len() + 1);
        let stopping = self.inner.stopping.load(Ordering::Relaxed);
        results.push((
            "shutdown".to_owned(),
            match stopping {
                true => Err("shutting down".to_owned()),
                false => Ok(String::new()),
            },
        ));
        for (name, check) in checks {
            let result = tokio::time::timeout(CHECK_TIMEOUT, check())
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")));
            results.push((name, result));
        }
        let readiness = Readiness { checks: results };
        // A check that ran while shutdown began must not turn the gauge back on.
        let ready = readiness.is_ready() && !self.inner.stopping.load(Ordering::Relaxed);
        metrics().ready.set(i64::from(ready));
        readiness
    }

    /// Runs every sampler, each bounded by a timeout.
    pub async fn sample(&self) {
        let samplers = lock(&self.inner.samplers).clone();
        for sampler in samplers {
            if tokio::time::timeout(CHECK_TIMEOUT, sampler())
                .await
                .is_err()
            {
                tracing::warn!("a metrics sampler did not answer within {CHECK_TIMEOUT:?}");
            }
        }
    }
}

/// Registers a service's store: a readiness check that it answers, and the outbox backlog
/// and its oldest row's age (read with `clock`) sampled at each scrape.
pub fn watch_store(
    health: &Health,
    service: &'static str,
    db: crate::store::Db,
    clock: Arc<dyn casebridge_core::time::Clock>,
) {
    let ping = db.clone();
    health.add_check(
        format!("store {service}"),
        Arc::new(move || {
            let db = ping.clone();
            Box::pin(async move {
                db.ping()
                    .await
                    .map(|()| String::new())
                    .map_err(|e| e.to_string())
            })
        }),
    );
    let messaging = crate::store::Messaging::new(service);
    health.add_sampler(Arc::new(move || {
        let (db, messaging, clock) = (db.clone(), messaging.clone(), clock.clone());
        Box::pin(async move {
            let label = crate::metrics::ServiceLabel { service };
            match messaging.outbox_backlog(&db).await {
                Ok((rows, oldest)) => {
                    let m = metrics();
                    m.outbox_backlog.get_or_create(&label).set(rows);
                    let age = oldest.map_or(0.0, |at| {
                        (clock.now().as_millis() - at).max(0) as f64 / 1000.0
                    });
                    m.outbox_oldest_age.get_or_create(&label).set(age);
                }
                Err(error) => tracing::warn!(service, %error, "cannot read the outbox backlog"),
            }
        })
    }));
}

/// Registers the bus: a readiness check that it is connected (RabbitMQ: reconnecting when the
/// link was lost, as the next publish would).
pub fn watch_bus(health: &Health, bus: crate::bus::Bus) {
    health.add_check(
        "bus",
        Arc::new(move || {
            let bus = bus.clone();
            Box::pin(async move {
                bus.check()
                    .await
                    .map(|()| String::new())
                    .map_err(|e| e.to_string())
            })
        }),
    );
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves a plain Vec intact: keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A bound admin port, not yet serving.
#[derive(Debug)]
pub struct AdminServer {
    listener: TcpListener,
    health: Health,
}

impl AdminServer {
    /// Binds `addr` (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr, health: Health) -> std::io::Result<AdminServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(AdminServer { listener, health })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown`. Requests are small and answered at once; an idle connection
    /// is dropped with the server.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = shutdown.cancelled() => break,
            };
            let (stream, _) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "admin port: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let health = self.health.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let health = health.clone();
                    async move { Ok::<_, Infallible>(answer(&health, &request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
        connections.abort_all();
    }
}

async fn answer<B>(health: &Health, request: &Request<B>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &'static str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        response
    };
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET and HEAD\n".into(),
        );
    }
    match request.uri().path() {
        "/metrics" => {
            health.sample().await;
            // Readiness too, so the gauge is current whoever asks first.
            health.readiness().await;
            text(
                StatusCode::OK,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                metrics().render(),
            )
        }
        "/livez" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => {
            let readiness = health.readiness().await;
            let status = match readiness.is_ready() {
                true => StatusCode::OK,
                false => StatusCode::SERVICE_UNAVAILABLE,
            };
            text(status, PLAIN, readiness.report())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: the admin port serves /metrics, /livez and /readyz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(result: Result<&'static str, &'static str>) -> Check {
        Arc::new(move || Box::pin(async move { result.map(str::to_owned).map_err(str::to_owned) }))
    }

    #[tokio::test]
    async fn readiness_needs_every_check_and_turns_off_for_good_on_shutdown() {
        let health = Health::default();
        health.add_check("bus", check(Ok("")));
        assert!(health.readiness().await.is_ready());

        health.add_check("calendar", check(Ok("reaches 26 days ahead")));
        health.add_check("store referrals", check(Err("connection refused")));
        let readiness = health.readiness().await;
        assert!(!readiness.is_ready());
        assert!(
            readiness
                .report()
                .contains("calendar ok: reaches 26 days ahead"),
            "{}",
            readiness.report()
        );
        assert!(
            readiness
                .report()
                .contains("store referrals failed: connection refused"),
            "{}",
            readiness.report()
        );

        let health = Health::default();
        health.add_check("bus", check(Ok("")));
        health.stop();
        let readiness = health.readiness().await;
        assert!(!readiness.is_ready());
        assert!(
            readiness
                .report()
                .contains("shutdown failed: shutting down")
        );
    }

    #[tokio::test]
    async fn a_check_that_hangs_fails_after_the_timeout_instead_of_hanging_the_probe() {
        let health = Health::default();
        health.add_check(
            "store",
            Arc::new(|| Box::pin(std::future::pending::<Result<String, String>>())),
        );
        let readiness = health.readiness().await;
        assert!(!readiness.is_ready());
        assert!(readiness.report().contains("no answer within"));
    }

    #[tokio::test]
    async fn the_port_answers_probes_and_metrics_over_http() {
        let health = Health::default();
        health.add_check("bus", check(Ok("")));
        let server = AdminServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), health.clone())
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let served = tokio::spawn(server.run_until_stopped(stop.clone()));

        let (status, body) = get(addr, "/readyz").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("bus ok"), "{body}");
        let (status, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        // The value is the process's (other tests stop their Health at the same time).
        assert!(body.contains("# TYPE casebridge_ready gauge"), "{body}");
        assert!(body.contains("casebridge_build_info{version="), "{body}");
        let (status, _) = get(addr, "/livez").await;
        assert_eq!(status, 200);
        let (status, _) = get(addr, "/secrets").await;
        assert_eq!(status, 404);

        health.stop();
        let (status, body) = get(addr, "/readyz").await;
        assert_eq!(status, 503, "{body}");
        let (status, _) = get(addr, "/livez").await;
        assert_eq!(status, 200, "alive while draining");
        stop.cancel();
        served.await.expect("stopped");
    }

    /// A minimal HTTP/1.1 GET: status code and body.
    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

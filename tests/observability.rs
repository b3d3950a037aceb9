//! What an operator sees of a running system, as separate processes on RabbitMQ and PostgreSQL
//! (issue 17):
//! - every process's admin port serves metrics that `promtool check metrics` accepts, and
//!   `/livez` and `/readyz` (that the dashboard reads only served metrics is
//!   `tests/packaging.rs`'s check);
//! - when the broker dies, readiness and the gateway's gRPC health turn off, and on again when
//!   it is back;
//! - one referral sent with a client's `traceparent` is one trace in an OTLP receiver started
//!   here: the client's span, the gateway, the referrals service, its outbox relay, and the
//!   inbox and deadlines consumers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_tests::agencies::*;
use casebridge_tests::servers::Cluster;
use casebridge_tests::{System, submission};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const WAIT: Duration = Duration::from_secs(30);

/// Every admin port on any free port.
fn admin_on_any_port() -> (String, String) {
    ("CASEBRIDGE__ADMIN__LISTEN".into(), "127.0.0.1:0".into())
}

/// `GET url`: status and body.
async fn get(url: &str) -> anyhow::Result<(u16, String)> {
    let response = reqwest::get(url).await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Runs `promtool check metrics` on `text`; its complaints, or `Ok`.
fn promtool_check(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run promtool ({e}): install Debian's prometheus package \
                 (deploy/local/services.sh does)"
            )
        })?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The value of the first sample line starting with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn every_process_serves_metrics_promtool_accepts_and_answers_its_probes() -> anyhow::Result<()>
{
    let system = System::distributed_with(vec![admin_on_any_port()], "info").await?;
    let ports = system.admin_ports();
    let names: Vec<&str> = ports.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "deadlines",
            "disputes",
            "evidence",
            "gateway",
            "inbox",
            "opinions",
            "referrals",
            "transfers"
        ],
        "every process printed its admin port"
    );

    // Some work to count: a referral, and a call refused for a bad field.
    let mut sender = system.referrals(MARKET_BUREAU).await?;
    let referral = sender
        .submit_referral(submission("metrics-1"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    let mut blank = submission("metrics-2");
    blank.police.clear();
    let refused = sender.submit_referral(blank).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    eventually("the referral in the police inbox", WAIT, || async {
        let entries = system.inbox_entries(CITY_POLICE).await.ok()?;
        entries
            .iter()
            .any(|e| e.case_id == referral.id)
            .then_some(())
    })
    .await;

    let admin = |name: &str| {
        ports
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, url)| url.clone())
            .expect("admin port")
    };
    for (name, url) in &ports {
        let (status, text) = get(&format!("{url}/metrics")).await?;
        assert_eq!(status, 200, "{name}: {text}");
        promtool_check(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        assert_eq!(
            sample(&text, "casebridge_ready "),
            Some(1.0),
            "{name}: {text}"
        );

        let (status, body) = get(&format!("{url}/livez")).await?;
        assert_eq!(status, 200, "{name} /livez: {body}");
        let (status, body) = get(&format!("{url}/readyz")).await?;
        assert_eq!(status, 200, "{name} /readyz: {body}");
        assert!(body.contains("bus ok"), "{name}: {body}");
    }

    // What each process counted of that work.
    let (_, gateway) = get(&format!("{}/metrics", admin("gateway"))).await?;
    let submit = "/casebridge.v1.ReferralService/SubmitReferral";
    assert!(
        sample(
            &gateway,
            &format!("casebridge_rpc_requests_total{{method=\"{submit}\"}}")
        )
        .is_some_and(|n| n >= 2.0),
        "{gateway}"
    );
    assert!(
        gateway.contains(&format!(
            "casebridge_rpc_errors_total{{method=\"{submit}\",code=\"InvalidArgument\"}} 1"
        )),
        "{gateway}"
    );
    assert!(
        gateway.contains("casebridge_rpc_duration_seconds_bucket{"),
        "{gateway}"
    );
    assert!(
        sample(
            &gateway,
            "casebridge_bus_published_total{exchange=\"commands\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{gateway}"
    );
    let (_, referrals) = get(&format!("{}/metrics", admin("referrals"))).await?;
    assert!(
        referrals.contains("casebridge_bus_consumed_total{queue=\"cbe2e"),
        "{referrals}"
    );
    assert!(
        referrals.contains("casebridge_outbox_backlog{service=\"referrals\"} "),
        "{referrals}"
    );
    let (_, deadlines) = get(&format!("{}/metrics", admin("deadlines"))).await?;
    assert!(
        sample(&deadlines, "casebridge_obligations_open ").is_some_and(|n| n >= 1.0),
        "the referral's receipt is owed: {deadlines}"
    );
    assert!(
        sample(&deadlines, "casebridge_calendar_years_loaded ").is_some_and(|n| n >= 2.0),
        "{deadlines}"
    );

    system.stop().await
}

/// The broker is a private node on port 5751 (`deploy/local/cluster.sh`), so no other test
/// sees it die.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_grpc_health_turn_off_while_the_broker_is_down() -> anyhow::Result<()> {
    let broker = Cluster::up(1, 5751).await?;
    let mut settings = broker.bus_settings();
    settings.push(admin_on_any_port());
    let system = System::distributed_with(settings, "info").await?;
    let (_, admin) = system
        .admin_ports()
        .into_iter()
        .find(|(name, _)| *name == "gateway")
        .expect("the gateway's admin port");
    let health = HealthClient::new(system.channel(MARKET_BUREAU).await?);
    let grpc_status = || {
        let mut health = health.clone();
        async move {
            let answer = health
                .check(HealthCheckRequest {
                    service: "casebridge.v1.ReferralService".into(),
                })
                .await
                .ok()?;
            ServingStatus::try_from(answer.into_inner().status).ok()
        }
    };
    let readyz = || async { get(&format!("{admin}/readyz")).await.ok() };
    assert_eq!(grpc_status().await, Some(ServingStatus::Serving));
    assert_eq!(readyz().await.map(|(status, _)| status), Some(200));

    broker.kill(1).await?;
    let body = eventually("the gateway unready without its broker", WAIT, || async {
        readyz()
            .await
            .filter(|(status, _)| *status == 503)
            .map(|(_, body)| body)
    })
    .await;
    assert!(body.contains("bus failed"), "{body}");
    assert!(
        body.contains("calendar ok"),
        "the other checks still listed: {body}"
    );
    eventually("gRPC health to follow", WAIT, || async {
        (grpc_status().await == Some(ServingStatus::NotServing)).then_some(())
    })
    .await;

    broker.start(1).await?;
    eventually(
        "ready again with the broker back",
        Duration::from_secs(60),
        || async { (readyz().await.map(|(status, _)| status) == Some(200)).then_some(()) },
    )
    .await;
    eventually("gRPC health SERVING again", WAIT, || async {
        (grpc_status().await == Some(ServingStatus::Serving)).then_some(())
    })
    .await;
    system.stop().await
}

/// Spans the receiver got: (service name, span name, trace id in hex, span id, parent span id).
type Received = Arc<Mutex<Vec<(String, String, String, Vec<u8>, Vec<u8>)>>>;

/// An OTLP collector's trace service that keeps what it is sent.
#[derive(Debug, Clone, Default)]
struct Collector {
    spans: Received,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("not poisoned");
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push((
                        service.clone(),
                        span.name,
                        hex(&span.trace_id),
                        span.span_id,
                        span.parent_span_id,
                    ));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_referral_sent_with_a_traceparent_is_one_trace_across_every_process() -> anyhow::Result<()>
{
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = {
        let collector = collector.clone();
        let stop = stop.clone();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming_shutdown(
                    incoming(listener),
                    async move { stop.notified().await },
                ),
        )
    };
    let system = System::distributed_with(
        vec![
            ("CASEBRIDGE__TRACE__ENDPOINT".into(), endpoint),
            // Spans leave each process within half a second rather than five.
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "500".into()),
            ("CASEBRIDGE__LOG_FORMAT".into(), "json".into()),
        ],
        "info",
    )
    .await?;

    // The client's own span: a trace id and span id it chose, sampled.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(submission("traced-1"));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{client_span}-01").parse()?,
    );
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(request)
        .await?
        .into_inner()
        .referral
        .expect("referral");
    eventually("the referral in the police inbox", WAIT, || async {
        let entries = system.inbox_entries(CITY_POLICE).await.ok()?;
        entries
            .iter()
            .any(|e| e.case_id == referral.id)
            .then_some(())
    })
    .await;

    // The hops every referral takes, each a span of the client's trace.
    let wanted: [(&str, &str); 5] = [
        ("gateway", "grpc"),
        ("referrals", "consume batch"),
        ("referrals", "outbox publish"),
        ("inbox", "consume batch"),
        ("deadlines", "consume batch"),
    ];
    let of_trace = || -> Vec<(String, String, Vec<u8>, Vec<u8>)> {
        collector
            .spans
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(_, _, trace, _, _)| trace == trace_id)
            .map(|(service, name, _, id, parent)| {
                (service.clone(), name.clone(), id.clone(), parent.clone())
            })
            .collect()
    };
    let has_every_hop = |spans: &[(String, String, Vec<u8>, Vec<u8>)]| {
        wanted
            .iter()
            .all(|(service, name)| spans.iter().any(|(s, n, _, _)| s == service && n == name))
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !has_every_hop(&of_trace()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spans = of_trace();
    let hops: BTreeSet<(String, String)> = spans
        .iter()
        .map(|(s, n, _, _)| (s.clone(), n.clone()))
        .collect();
    assert!(
        has_every_hop(&spans),
        "the trace lacks hops {wanted:?}; it holds {hops:?}"
    );

    // One tree: the gateway's span is the client's child, and every other span's parent is a
    // span of the same trace.
    let gateway = spans
        .iter()
        .find(|(s, n, _, _)| s == "gateway" && n == "grpc")
        .expect("gateway span");
    assert_eq!(
        hex(&gateway.3),
        client_span,
        "the gateway continues the client's span"
    );
    let ids: BTreeMap<&[u8], &str> = spans
        .iter()
        .map(|(_, n, id, _)| (id.as_slice(), n.as_str()))
        .collect();
    for (service, name, _, parent) in &spans {
        let parent_hex = hex(parent);
        assert!(
            parent_hex == client_span || ids.contains_key(parent.as_slice()),
            "{service}/{name} hangs from {parent_hex}, a span outside the trace"
        );
    }

    // The JSON log lines of that work carry the same trace id, in every process that did it,
    // and a log file holds no colour codes.
    let logs = system.logs();
    assert!(!logs.contains('\u{1b}'), "colour codes in a log file");
    let mut logged_by = BTreeSet::new();
    let mut process = "";
    for line in logs.lines() {
        if let Some(name) = line.strip_prefix("===== ") {
            process = name.trim_end_matches(" =====");
            continue;
        }
        if !line.starts_with('{') {
            continue; // what a process printed on stdout (`ready: …`)
        }
        let entry: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{process}: not a JSON line ({e}): {line}"))?;
        if entry["trace_id"] == trace_id {
            logged_by.insert(process.to_owned());
        }
    }
    assert!(
        logged_by.contains("referrals"),
        "the referrals service logged nothing under the trace: {logged_by:?}"
    );
    system.stop().await?;
    stop.notify_one();
    let _ = server.await;
    Ok(())
}

/// The listener's connections as the stream tonic serves.
fn incoming(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

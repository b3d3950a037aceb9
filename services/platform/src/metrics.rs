//! The process's Prometheus metrics, served on the admin port ([`crate::admin`]).
//!
//! One registry per process, reached through [`metrics`], so the bus, the consumers, the
//! gateway and the services count where things happen without a handle threaded through every
//! call. Gauges that are a database's state (outbox backlog, open obligations) are read when
//! scraped, by the samplers each component gives the admin port.
//!
//! Names, labels and meanings are listed in docs/operations.md ("Metrics"); the Grafana
//! dashboard under `deploy/grafana` uses them, and a test checks it does so.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A gRPC method, as `/package.Service/Method`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

/// A gRPC method and the status code it answered (`OK` is not an error and not counted).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    pub method: String,
    pub code: String,
}

/// Which exchange a message was published to: `commands`, `events` or `replies`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeLabel {
    pub exchange: &'static str,
}

/// The queue a consumer reads.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: String,
}

/// The service whose store a gauge reads.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: &'static str,
}

/// The version of the running binary.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabel {
    pub version: &'static str,
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub rpc_requests: Family<MethodLabel, Counter>,
    pub rpc_errors: Family<ErrorLabel, Counter>,
    pub rpc_duration: Family<MethodLabel, Histogram>,
    pub bus_published: Family<ExchangeLabel, Counter>,
    pub bus_consumed: Family<QueueLabel, Counter>,
    pub bus_redelivered: Family<QueueLabel, Counter>,
    pub bus_dead_lettered: Family<QueueLabel, Counter>,
    pub outbox_backlog: Family<ServiceLabel, Gauge>,
    pub outbox_oldest_age: Family<ServiceLabel, Gauge<f64, AtomicU64>>,
    pub deadline_firing_lag: Histogram,
    pub obligations_open: Gauge,
    pub obligations_overdue: Gauge,
    pub escalations_undeliverable: Counter,
    pub calendar_years_loaded: Gauge,
    pub calendar_reach: Gauge,
    pub evidence_bytes_in: Counter,
    pub evidence_bytes_out: Counter,
    pub ready: Gauge,
    build_info: Family<BuildLabel, Gauge>,
}

/// Latency buckets in seconds, from a quick local answer to the gateway's request timeout.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Firing-lag buckets in seconds: a timer fires within its poll interval, a minute late is
/// worth seeing, an hour late is an incident.
const LAG_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0, 3600.0];

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("casebridge");
        let rpc_requests = Family::default();
        registry.register(
            "rpc_requests",
            "gRPC calls received by the gateway, by method",
            rpc_requests.clone(),
        );
        let rpc_errors = Family::default();
        registry.register(
            "rpc_errors",
            "gRPC calls answered with a status other than OK, by method and status code",
            rpc_errors.clone(),
        );
        let rpc_duration = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        registry.register(
            "rpc_duration_seconds",
            "Time from a gRPC call's arrival to its response headers, by method",
            rpc_duration.clone(),
        );
        let bus_published = Family::default();
        registry.register(
            "bus_published",
            "Messages published and confirmed, by exchange (commands, events, replies)",
            bus_published.clone(),
        );
        let bus_consumed = Family::default();
        registry.register(
            "bus_consumed",
            "Messages delivered to this process's consumers, by queue",
            bus_consumed.clone(),
        );
        let bus_redelivered = Family::default();
        registry.register(
            "bus_redelivered",
            "Deliveries of a message that had been delivered before, by queue",
            bus_redelivered.clone(),
        );
        let bus_dead_lettered = Family::default();
        registry.register(
            "bus_dead_lettered",
            "Messages this process sent to the dead-letter queue as unprocessable, by queue",
            bus_dead_lettered.clone(),
        );
        let outbox_backlog = Family::default();
        registry.register(
            "outbox_backlog",
            "Committed outbox rows not yet published, by service",
            outbox_backlog.clone(),
        );
        let outbox_oldest_age = Family::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest outbox row not yet published (0 when none), by service",
            outbox_oldest_age.clone(),
        );
        let deadline_firing_lag = Histogram::new(LAG_BUCKETS);
        registry.register(
            "deadline_firing_lag_seconds",
            "How long after its due time a deadline timer (warning, miss, escalation) fired",
            deadline_firing_lag.clone(),
        );
        let obligations_open = Gauge::default();
        registry.register(
            "obligations_open",
            "Open obligations (deadlines running) in the deadlines service's store",
            obligations_open.clone(),
        );
        let obligations_overdue = Gauge::default();
        registry.register(
            "obligations_overdue",
            "Open obligations whose due time has passed",
            obligations_overdue.clone(),
        );
        let escalations_undeliverable = Counter::default();
        registry.register(
            "escalations_undeliverable",
            "Escalations that found no supervisor to deliver to",
            escalations_undeliverable.clone(),
        );
        let calendar_years_loaded = Gauge::default();
        registry.register(
            "calendar_years_loaded",
            "Years with an official holiday schedule loaded",
            calendar_years_loaded.clone(),
        );
        let calendar_reach = Gauge::default();
        registry.register(
            "calendar_reach_seconds",
            "How far from now the official holiday schedules reach without a gap (whole days, in seconds)",
            calendar_reach.clone(),
        );
        let evidence_bytes_in = Counter::default();
        registry.register(
            "evidence_bytes_in",
            "Evidence bytes received from agencies (uploads)",
            evidence_bytes_in.clone(),
        );
        let evidence_bytes_out = Counter::default();
        registry.register(
            "evidence_bytes_out",
            "Evidence bytes sent to agencies (downloads and bundles)",
            evidence_bytes_out.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 while the process is ready for work (its /readyz answers 200), else 0",
            ready.clone(),
        );
        let build_info = Family::default();
        registry.register(
            "build_info",
            "Always 1; the label says which version runs",
            build_info.clone(),
        );
        let metrics = Metrics {
            registry,
            rpc_requests,
            rpc_errors,
            rpc_duration,
            bus_published,
            bus_consumed,
            bus_redelivered,
            bus_dead_lettered,
            outbox_backlog,
            outbox_oldest_age,
            deadline_firing_lag,
            obligations_open,
            obligations_overdue,
            escalations_undeliverable,
            calendar_years_loaded,
            calendar_reach,
            evidence_bytes_in,
            evidence_bytes_out,
            ready,
            build_info,
        };
        metrics
            .build_info
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        metrics
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4), as `promtool
    /// check metrics` and every scraper read it.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// Counts a message consumed from `queue`, and whether it was delivered before.
    pub fn consumed(&self, queue: &str, previous_deliveries: u32) {
        let label = QueueLabel {
            queue: queue.to_owned(),
        };
        self.bus_consumed.get_or_create(&label).inc();
        if previous_deliveries > 0 {
            self.bus_redelivered.get_or_create(&label).inc();
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

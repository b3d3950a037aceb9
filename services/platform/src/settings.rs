//! One typed settings tree for every component.
//!
//! Sources, later ones winning: built-in defaults, an optional TOML file, environment variables
//! `CASEBRIDGE__SECTION__KEY` (e.g. `CASEBRIDGE__BUS__URL`), then command-line flags (applied by
//! the binary on the returned value). Validated once, by [`Settings::validate`]. Tests build
//! `Settings` values directly and never touch the process environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Which bus carries commands and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// Durable queues in a SQLite file in the data directory; one process.
    Embedded,
    /// RabbitMQ.
    Amqp,
}

/// The kind of RabbitMQ queue the durable queues are (`bus.queue_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Replicated on every node of a cluster, each message confirmed once a majority holds
    /// it, and redelivered at most `bus.delivery_limit` times before it is dead-lettered.
    #[default]
    Quorum,
    /// One copy on the one node, confirmed once it is on that node's disk: cheaper for the
    /// broker, for a single-node broker only. RabbitMQ counts no deliveries on a classic queue,
    /// so `bus.delivery_limit` does not apply to it, and its dead-lettering is at most once.
    Classic,
}

impl QueueType {
    /// The value of the queue's `x-queue-type` argument.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Readable lines; colour only at a terminal without `NO_COLOR`.
    #[default]
    Text,
    /// One JSON object a line: time, level, target, message, fields, span, trace and span ids.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    pub kind: BusKind,
    /// AMQP URL of a single broker (kind = amqp).
    pub url: String,
    /// AMQP URLs of the nodes of a RabbitMQ cluster, tried in order on every (re)connection;
    /// when set, replaces `url`. In the environment, one variable with the URLs separated by
    /// commas: `CASEBRIDGE__BUS__URLS=amqp://a:5672/%2f,amqp://b:5672/%2f`.
    #[serde(deserialize_with = "url_list")]
    pub urls: Vec<String>,
    /// For `amqps://` URLs: the CA that signed the broker's certificate (PEM; the system's
    /// roots when unset), and a client certificate and key for brokers that ask for one.
    /// Relative paths are inside the data directory.
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Prefix of every exchange and queue name; tests use a unique one each.
    pub namespace: String,
    /// Quorum queues (the default), or classic queues on a single-node broker.
    pub queue_type: QueueType,
    /// Unacknowledged deliveries a consumer may hold.
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub delivery_limit: u32,
    /// How long the gateway waits for a service's reply.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl BusSettings {
    /// The broker nodes to try, in order: `urls` when set, otherwise `url`.
    pub fn nodes(&self) -> Vec<String> {
        if self.urls.is_empty() {
            vec![self.url.clone()]
        } else {
            self.urls.clone()
        }
    }
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            kind: BusKind::Embedded,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            urls: Vec::new(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            namespace: "casebridge".into(),
            queue_type: QueueType::Quorum,
            prefetch: 64,
            delivery_limit: 10,
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `postgres://…` for production. Empty: one SQLite file per service in the data directory.
    pub url: String,
    /// Pool size per service (PostgreSQL; SQLite always uses one connection).
    pub max_connections: u32,
    /// How long a service keeps what makes a replay safe: the reply to each accepted request
    /// id (`{service}_idempotency`) and the id of each message it consumed
    /// (`{service}_processed`). Older rows are deleted once an hour. It must outlast the longest
    /// a client retries one request id and the longest a message waits in a queue or the
    /// dead-letter queue before it is re-driven; at least [`MIN_REPLAY_RETENTION`].
    #[serde(deserialize_with = "duration")]
    pub replay_retention: Duration,
}

/// The shortest `store.replay_retention` accepted: a week, so that a message dead-lettered on
/// a Friday evening can still be re-driven after a long weekend without being applied twice.
pub const MIN_REPLAY_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: String::new(),
            max_connections: 16,
            replay_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Address of the gRPC endpoint (mutual TLS).
    pub listen: SocketAddr,
    /// Server certificate, key and the CA that signs agency client certificates, PEM.
    /// Relative paths are inside the data directory.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
    /// How long a connection may take to complete its TLS handshake (and, on the console, to
    /// send a request's headers) before it is closed: a peer that sends a partial ClientHello
    /// or nothing holds no socket longer than this.
    #[serde(deserialize_with = "duration")]
    pub handshake_timeout: Duration,
    /// The most connections the gRPC port holds at a time; one more is closed at once.
    pub max_connections: usize,
    /// The most connections from one IP address whose TLS handshake is still running, on the
    /// gRPC port and on the console each; one more is closed at once. Peers behind one NAT
    /// share it, but only while they handshake.
    pub max_handshakes_per_ip: usize,
    /// The most connections open at a time with one client certificate, on each port; one more
    /// is closed right after its handshake.
    pub max_connections_per_certificate: usize,
    /// Revoked agency certificates: PEM CRLs, or serial numbers in hex one per line. Relative
    /// paths are inside the data directory. Re-read when it changes, as is the directory.
    pub revoked: Option<PathBuf>,
    /// How often the gateway looks for a changed directory or revocation file.
    #[serde(deserialize_with = "duration")]
    pub reload_every: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            cert: "pki/gateway.pem".into(),
            key: "pki/gateway.key".into(),
            client_ca: "pki/ca.pem".into(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_handshakes_per_ip: 64,
            max_connections_per_certificate: 256,
            revoked: None,
            reload_every: Duration::from_secs(5),
        }
    }
}

/// The web console the gateway serves (`console.*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Serve the console at all.
    pub enabled: bool,
    /// Address of the console (HTTPS; client certificates optional, one per agency).
    pub listen: SocketAddr,
    /// Accept one-time sign-in links, in which a person chooses the agency to act as. For a
    /// local demo only: `casebridge up` turns it on and prints a link; never set it in production.
    pub demo_signin: bool,
    /// How long a demo session may stay idle before it ends; each page opened starts it again.
    #[serde(deserialize_with = "duration")]
    pub session_idle: Duration,
    /// The key that signs the console's form tokens (32 or more random bytes, hex). Relative
    /// paths are inside the data directory. Every gateway of a deployment must read the same
    /// file, so that a form shown by one is accepted by another; made on first start if missing.
    pub form_key: PathBuf,
    /// The most connections the console holds at a time; one more is closed at once.
    pub max_connections: usize,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 7444)),
            demo_signin: false,
            session_idle: Duration::from_secs(30 * 60),
            form_key: "console/form.key".into(),
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded databases, development PKI and directory live.
    pub data_dir: PathBuf,
    /// The agency directory (TOML). Relative paths are inside the data directory.
    pub directory: PathBuf,
    /// Log filter in `RUST_LOG` syntax.
    pub log: String,
    /// How log lines are written on stderr: `text` for people, `json` (one object a line, with
    /// the trace and span ids) for a log collector.
    pub log_format: LogFormat,
    /// Allow unencrypted connections to RabbitMQ (`amqp://`) and PostgreSQL (no `sslmode` of
    /// `require`, `verify-ca` or `verify-full`) on other hosts than this one. Off: traffic that
    /// leaves the machine is encrypted, or the process does not start.
    pub allow_plaintext_remote: bool,
    /// After SIGTERM or SIGINT, how long the process lets the calls and messages in flight
    /// finish before it exits anyway.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    pub bus: BusSettings,
    pub store: StoreSettings,
    pub gateway: GatewaySettings,
    pub console: ConsoleSettings,
    /// Tunable referral rules (the ones docs/law.md marks unverified).
    pub referrals: casebridge_core::referral::ReferralPolicy,
    /// Which body rules on jurisdiction disputes (docs/law.md §3.G, configurable).
    pub disputes: casebridge_core::dispute::DisputePolicy,
    pub deadlines: DeadlineSettings,
    pub screening: ScreeningSettings,
    pub evidence: EvidenceSettings,
    pub ledger: LedgerSettings,
    pub admin: AdminSettings,
    pub trace: TraceSettings,
}

/// The plain-HTTP admin port of every process (`admin.*`): Prometheus metrics at `/metrics`,
/// liveness at `/livez`, readiness at `/readyz`. Off the mutual-TLS ports, for the local
/// scraper and probes; keep it on a private interface.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Address of the admin port, e.g. `127.0.0.1:9464`. Unset: no admin port.
    pub listen: Option<SocketAddr>,
    /// How many days ahead the official holiday calendar must reach; readiness reports a
    /// shorter reach (`calendar` check) and `casebridge_calendar_reach_seconds` shows it.
    pub calendar_days_ahead: u32,
    /// Whether a calendar that does not reach `calendar_days_ahead` days makes the process
    /// unready. Off by default: deadlines beyond the official schedule are computed
    /// provisionally and marked so (docs/deadlines.md), and taking a gateway out of service
    /// for a schedule the State Council has not yet published would stop every referral.
    pub calendar_gates_readiness: bool,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            listen: None,
            calendar_days_ahead: 90,
            calendar_gates_readiness: false,
        }
    }
}

/// Which protocol carries spans to the OpenTelemetry collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    /// OTLP over gRPC (the collector's port 4317).
    #[default]
    Grpc,
}

/// Export of spans by OTLP (`trace.*`); off unless `endpoint` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceSettings {
    /// The collector's OTLP endpoint, e.g. `http://127.0.0.1:4317`. Empty: spans are made (so
    /// trace ids reach logs and messages) but not exported.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    /// The share of new traces kept, 0.0 to 1.0; a trace begun elsewhere (an incoming
    /// `traceparent`) follows its parent's decision.
    pub sample_ratio: f64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            endpoint: String::new(),
            protocol: OtlpProtocol::Grpc,
            sample_ratio: 1.0,
        }
    }
}

/// The full-process record: the operator's signing key and how often the chains' heads are
/// signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerSettings {
    /// The operator's Ed25519 private key (PKCS#8 PEM). Relative paths are inside the data
    /// directory; `casebridge pki init` and `casebridge up` create it when missing. Its public
    /// key is written beside it as `.pub`, for anyone verifying receipts and bundles.
    pub key: PathBuf,
    /// How often each service signs its chain's head when it moved.
    #[serde(deserialize_with = "duration")]
    pub checkpoint_every: Duration,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            key: "ledger/operator.key".into(),
            checkpoint_every: Duration::from_secs(5),
        }
    }
}

/// Where the legal calendar and the deadline rules come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineSettings {
    /// A directory of `<year>.toml` holiday schedules. Unset: the schedules shipped in the
    /// binary (`deploy/calendars`). Relative paths are inside the data directory.
    pub calendars: Option<PathBuf>,
    /// The rule table. Unset: the one shipped in the binary (`deploy/rules.toml`).
    pub rules: Option<PathBuf>,
    /// The agency that receives the escalations whose supervisor does not resolve (a rule's
    /// supervisor missing from the directory). With it set, start-up warns of each such gap
    /// instead of refusing to start; it must be an agency of the directory. Unset: a gap refuses
    /// start-up (docs/deadlines.md, "Supervisors").
    pub fallback_supervisor: Option<casebridge_core::ids::AgencyCode>,
}

/// Penalty-case screening (docs/screening.md): the threshold table and the entry period. The
/// warning's own periods are the deadline rules `WARN-RAISE` and `WARN-ANSWER`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningSettings {
    /// The threshold table. Unset: the one shipped in the binary (`deploy/thresholds.toml`).
    /// Relative paths are inside the data directory.
    pub thresholds: Option<PathBuf>,
    /// Within how long of the penalty decision a case must be recorded, e.g.
    /// `{ amount = 7, unit = "working_days" }`. No source fixes one: unset (the default), no
    /// record is marked late.
    pub entry_within: Option<casebridge_core::deadline::Period>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: ".casebridge".into(),
            directory: "directory.toml".into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            allow_plaintext_remote: false,
            shutdown_grace: Duration::from_secs(10),
            bus: BusSettings::default(),
            store: StoreSettings::default(),
            gateway: GatewaySettings::default(),
            console: ConsoleSettings::default(),
            referrals: casebridge_core::referral::ReferralPolicy::default(),
            disputes: casebridge_core::dispute::DisputePolicy::default(),
            deadlines: DeadlineSettings::default(),
            screening: ScreeningSettings::default(),
            ledger: LedgerSettings::default(),
            evidence: EvidenceSettings::default(),
            admin: AdminSettings::default(),
            trace: TraceSettings::default(),
        }
    }
}

/// Where evidence files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStorageKind {
    /// A directory on this machine (`evidence.path`). Every gateway must see the same directory.
    Local,
    /// An S3-compatible object store (`evidence.s3`).
    S3,
}

/// Evidence attachments: the largest file accepted and where files are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceSettings {
    /// The largest file accepted, in bytes: `"2GiB"`, `"500MiB"`, `"64KiB"` or a number.
    #[serde(deserialize_with = "size")]
    pub max_size: u64,
    pub storage: EvidenceStorageKind,
    /// The directory of `storage = "local"`. Relative paths are inside the data directory.
    pub path: PathBuf,
    pub s3: S3Settings,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        EvidenceSettings {
            max_size: 2 * GIB,
            storage: EvidenceStorageKind::Local,
            path: "evidence".into(),
            s3: S3Settings::default(),
        }
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, OSS or COS in S3 mode). Empty credentials
/// fall back to the standard `AWS_*` environment variables and instance credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// The service URL, e.g. `http://minio.internal:9000`; empty for AWS itself.
    pub endpoint: String,
    /// A key prefix inside the bucket, e.g. `casebridge/`; empty for the bucket's root.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Allows a plain `http://` endpoint (test installations only).
    pub allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`), which most non-AWS services need.
    pub path_style: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            prefix: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            allow_http: false,
            path_style: true,
        }
    }
}

/// A secret setting: read from the file or environment, never printed (`Debug` shows
/// `«secret»`). Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret in clear, to hand to the client that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("«secret»")
    }
}

/// Settings that cannot be read or make no sense.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then `file` (if given), then `CASEBRIDGE__…` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Settings::load_with_env(file, None)
    }

    /// As [`Settings::load`], with `env` standing in for the process environment when given
    /// (the names and values of `CASEBRIDGE__…` variables): how a test checks the variables a
    /// unit file or manifest sets without setting them.
    pub fn load_with_env(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Settings, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("CASEBRIDGE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key, reason: &str| {
            Err(SettingsError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        let key = if self.bus.urls.is_empty() {
            "bus.url"
        } else {
            "bus.urls"
        };
        if self.bus.kind == BusKind::Amqp {
            for url in self.bus.nodes() {
                let plain = url.starts_with("amqp://");
                if !plain && !url.starts_with("amqps://") {
                    return invalid(key, "must be amqp:// or amqps:// URLs when bus.kind = amqp");
                }
                if plain && !self.allow_plaintext_remote && !is_loopback(&url) {
                    return invalid(
                        key,
                        "amqp:// to another host would carry cases in clear: use amqps:// \
                         (bus.tls_ca, and bus.tls_cert/bus.tls_key if the broker asks for a \
                         client certificate), or set allow_plaintext_remote = true",
                    );
                }
            }
        }
        if self.bus.kind == BusKind::Amqp
            && self.bus.queue_type == QueueType::Classic
            && self.bus.nodes().len() > 1
        {
            return invalid(
                "bus.queue_type",
                "classic queues keep one copy on one node, so a cluster (bus.urls) would lose \
                 what the node that dies holds: use quorum queues on a cluster",
            );
        }
        if self.bus.tls_cert.is_some() != self.bus.tls_key.is_some() {
            return invalid("bus.tls_cert", "bus.tls_cert and bus.tls_key go together");
        }
        if self.store.url.starts_with("postgres")
            && !self.allow_plaintext_remote
            && !is_loopback(&self.store.url)
            && !postgres_requires_tls(&self.store.url)
        {
            return invalid(
                "store.url",
                "a PostgreSQL server on another host needs TLS: add \
                 ?sslmode=verify-full&sslrootcert=<its CA> (and sslcert/sslkey for a client \
                 certificate), or set allow_plaintext_remote = true",
            );
        }
        if !self.store.url.is_empty() && !self.store.url.starts_with("postgres") {
            return invalid(
                "store.url",
                "must be a postgres:// URL, or empty for embedded SQLite",
            );
        }
        if self.bus.namespace.is_empty() || self.bus.namespace.contains(char::is_whitespace) {
            return invalid("bus.namespace", "must be a non-empty name without spaces");
        }
        if self.bus.prefetch == 0 {
            return invalid("bus.prefetch", "must be at least 1");
        }
        if self.gateway.max_connections == 0 {
            return invalid("gateway.max_connections", "must be at least 1");
        }
        if self.store.max_connections == 0 {
            return invalid("store.max_connections", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.trace.sample_ratio) {
            return invalid("trace.sample_ratio", "must be between 0.0 and 1.0");
        }
        if !self.trace.endpoint.is_empty()
            && !self.trace.endpoint.starts_with("http://")
            && !self.trace.endpoint.starts_with("https://")
        {
            return invalid(
                "trace.endpoint",
                "must be an http:// or https:// URL of an OTLP collector, or empty",
            );
        }
        if self.store.replay_retention < MIN_REPLAY_RETENTION {
            return invalid(
                "store.replay_retention",
                "must be at least 7d: a retry or a re-driven message older than the retention \
                 would be taken as new and applied twice",
            );
        }
        if self.evidence.max_size == 0 {
            return invalid("evidence.max_size", "must be at least 1 byte");
        }
        if self.evidence.storage == EvidenceStorageKind::S3 {
            if self.evidence.s3.bucket.is_empty() {
                return invalid(
                    "evidence.s3.bucket",
                    "must name a bucket when evidence.storage = s3",
                );
            }
            // A verified upload is moved into place with one S3 copy request, which S3 allows
            // for objects of at most 5 GiB.
            if self.evidence.max_size > S3_MAX_OBJECT {
                return invalid(
                    "evidence.max_size",
                    "must be at most 5GiB when evidence.storage = s3",
                );
            }
        }
        Ok(())
    }

    /// `path` resolved against the data directory when relative.
    pub fn in_data_dir(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.data_dir.join(path)
        }
    }

    /// The store URL of `service`: the shared PostgreSQL URL, or its own SQLite file.
    pub fn store_url(&self, service: &str) -> String {
        match self.sqlite_path(service) {
            Some(path) => format!("sqlite://{}?mode=rwc", path.display()),
            None => self.store.url.clone(),
        }
    }

    /// The SQLite file of `service` on the embedded default; `None` when `store.url` names a
    /// server.
    pub fn sqlite_path(&self, service: &str) -> Option<PathBuf> {
        self.store
            .url
            .is_empty()
            .then(|| self.data_dir.join(format!("{service}.db")))
    }

    /// The embedded bus's SQLite file (`bus.kind = embedded`).
    pub fn embedded_bus_path(&self) -> PathBuf {
        self.data_dir.join("bus.db")
    }
}

/// Accepts `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"90d"` or a bare number of milliseconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The largest object S3 copies in one request.
const S3_MAX_OBJECT: u64 = 5 * GIB;

/// Accepts `"2GiB"`, `"500MiB"`, `"64KiB"`, `"10B"` or a bare number of bytes.
/// The host a URL names (`scheme://[user[:password]@]host[:port][/…]`), without brackets
/// around an IPv6 address; empty when it names none.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    }
}

/// Whether a URL's server is this machine: a loopback address or name, or (PostgreSQL) no host
/// at all, which is a Unix socket.
fn is_loopback(url: &str) -> bool {
    let host = url_host(url);
    host.is_empty()
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a PostgreSQL URL insists on TLS (`sslmode=require`, `verify-ca` or `verify-full`).
fn postgres_requires_tls(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('&').any(|pair| {
        matches!(
            pair.split_once('='),
            Some((
                "sslmode" | "ssl-mode",
                "require" | "verify-ca" | "verify-full"
            ))
        )
    })
}

/// A list of URLs: a TOML array, or one string with the URLs separated by commas (how an
/// environment variable gives a list).
fn url_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let urls = match Raw::deserialize(d)? {
        Raw::List(urls) => urls,
        Raw::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(urls
        .into_iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect())
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Bytes(n) => Ok(n),
        Raw::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses a size written as a number and a binary unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 2GiB, 500MiB or 1048576"))?;
    let unit = match unit.trim() {
        "" | "B" => 1,
        "KiB" => KIB,
        "MiB" => MIB,
        "GiB" => GIB,
        "TiB" => 1024 * GIB,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?}: use B, KiB, MiB, GiB or TiB"
            ));
        }
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Writes a size in the largest binary unit that divides it (`2GiB`, `1536MiB`, `100B`).
pub fn format_size(bytes: u64) -> String {
    for (unit, name) in [
        (GIB * 1024, "TiB"),
        (GIB, "GiB"),
        (MIB, "MiB"),
        (KIB, "KiB"),
    ] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}B")
}

/// Parses a duration written as a number and a unit (`ms`, `s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 10s, 5m, 1h or 90d"))?;
    let seconds = |per: u64| {
        n.checked_mul(per)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long"))
    };
    match unit.trim() {
        "" | "ms" => Ok(Duration::from_millis(n)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(24 * 3600),
        other => Err(format!(
            "unknown duration unit {other:?} in {text:?}: use ms, s, m, h or d"
        )),
    }
}

#[cfg(test)]
mod tests;

//! The gateway over the wire: mutual TLS, statuses and field violations, health, reflection,
//! the directory and inbox streams.
//!
//! Every test gets its own [`spawn_app`]: a temp directory with a development PKI, an embedded
//! bus, SQLite stores for the four family services, the inbox, the deadlines and the evidence
//! service, evidence storage in the temp directory, and a gateway on `127.0.0.1:0`, all in this
//! process. The families' API tests are in the modules of `tests/gateway/`.
//!
//! Time is [`test_clock`]: it starts at a fixed instant (a Tuesday in March 2026) and runs at
//! the wall clock's pace, so the suite gives the same answers on any day it runs.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use casebridge_core::directory::Directory;
use casebridge_core::dispute::DisputePolicy;
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::law::Law;
use casebridge_core::referral::ReferralPolicy;
use casebridge_core::time::{Clock, OffsetClock, Timestamp};
use casebridge_deadlines::app::DeadlinesApp;
use casebridge_evidence::app::EvidenceApp;
use casebridge_evidence::storage::Storage;
use casebridge_gateway::console::session::FormKey;
use casebridge_gateway::pki::{DevCa, IssuedCert, write_dev_pki};
use casebridge_gateway::{
    Caps, ConsoleConfig, EvidenceConfig, Gateway, GatewayConfig, TlsMaterial,
};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::cases::{CaseApp, Family};
use casebridge_platform::store::Db;
use casebridge_platform::testing;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_client::DeadlineServiceClient;
use casebridge_proto::v1::directory_service_client::DirectoryServiceClient;
use casebridge_proto::v1::evidence_service_client::EvidenceServiceClient;
use casebridge_proto::v1::inbox_service_client::InboxServiceClient;
use casebridge_proto::v1::monitor_service_client::MonitorServiceClient;
use casebridge_proto::v1::referral_service_client::ReferralServiceClient;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const EXAMPLE_DIRECTORY: &str = include_str!("../../deploy/directory.toml");

/// Agencies of the example directory.
const CITY_GOVERNMENT: &str = "11350100MB0100001L";
const MARKET_BUREAU: &str = "11350100MB0100002P";
const ENVIRONMENT_BUREAU: &str = "11350100MB0100003T";
const EMERGENCY_BUREAU: &str = "11350100MB0100004X";
const TESTING_INSTITUTE: &str = "12350100MB0100010F";
const CITY_POLICE: &str = "11350100MB01000064";
const DISTRICT_POLICE: &str = "11350102MB01000074";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE_BUREAU: &str = "11350100MB0100009D";

// The families' API tests, in `tests/gateway/` (a test crate's root resolves modules beside it).
#[path = "gateway/authz.rs"]
mod authz;
#[path = "gateway/cases.rs"]
mod cases;
#[path = "gateway/console.rs"]
mod console;
#[path = "gateway/contract.rs"]
mod contract;
#[path = "gateway/desks.rs"]
mod desks;
#[path = "gateway/disputes.rs"]
mod disputes;
#[path = "gateway/fixtures.rs"]
mod fixtures;
#[path = "gateway/opinions.rs"]
mod opinions;
#[path = "gateway/receipts.rs"]
mod receipts;
#[path = "gateway/referral_chain.rs"]
mod referral_chain;
#[path = "gateway/refusals.rs"]
mod refusals;
#[path = "gateway/transfers.rs"]
mod transfers;

/// Where every test's clock starts: Tue 2026-03-10 10:00 CST, away from holiday blocks and
/// year ends, so no answer depends on the day the suite runs.
const TEST_START: &str = "2026-03-10T10:00:00+08:00";

/// The clock every service, the gateway and the requests of this test binary share.
fn test_clock() -> Arc<OffsetClock> {
    static CLOCK: std::sync::OnceLock<Arc<OffsetClock>> = std::sync::OnceLock::new();
    CLOCK
        .get_or_init(|| {
            Arc::new(OffsetClock::starting_at(
                Timestamp::parse_rfc3339(TEST_START).expect("start instant"),
            ))
        })
        .clone()
}

/// [`test_clock`]'s now, in Unix seconds.
fn now_seconds() -> i64 {
    test_clock().now().as_millis() / 1000
}

/// The gateway's and console's handshake (and header-read) timeout in these tests: short, so the
/// test of idle connections is quick.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// The connection caps of both ports in these tests: the defaults' shape, small enough that a
/// test reaches each.
const CAPS: Caps = Caps {
    total: 4096,
    handshakes_per_ip: 16,
    per_certificate: 64,
};

/// How long a test waits for something that should be prompt.
const PROMPTLY: Duration = Duration::from_secs(5);

/// The gateway's fallback poll of an idle inbox watcher (`POLL` in `gateway/src/inbox.rs`).
const WATCHER_POLL: Duration = Duration::from_secs(3);

/// A running gateway with its services, in a temp directory.
struct TestApp {
    address: SocketAddr,
    /// The web console's address (demo sign-in on).
    console: SocketAddr,
    /// A one-time sign-in link to the console.
    signin_link: String,
    /// The operator's public key (hex), for checking receipts.
    public_key: String,
    dir: tempfile::TempDir,
    token: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
    /// What the gateway runs on, for [`TestApp::another_gateway`].
    backend: Backend,
}

/// The bus, directory, clock and law the test's gateways share.
struct Backend {
    bus: casebridge_platform::bus::Bus,
    directory: Arc<Directory>,
    clock: Arc<dyn Clock>,
    law: Arc<Law>,
    max_size: u64,
    /// The form key of the first gateway.
    form_key: FormKey,
}

/// The evidence size limit of [`spawn_app`]: the default of the settings.
const EVIDENCE_LIMIT: u64 = 2 << 30;

async fn spawn_app() -> TestApp {
    spawn_app_with_evidence_limit(EVIDENCE_LIMIT).await
}

async fn spawn_app_with_evidence_limit(max_size: u64) -> TestApp {
    spawn_app_on(test_clock(), max_size).await
}

/// The app with its clock starting at `start` (RFC 3339) instead of [`TEST_START`].
async fn spawn_app_at(start: &str) -> TestApp {
    let clock = Arc::new(OffsetClock::starting_at(
        Timestamp::parse_rfc3339(start).expect("start instant"),
    ));
    spawn_app_on(clock, EVIDENCE_LIMIT).await
}

async fn spawn_app_on(clock: Arc<dyn Clock>, max_size: u64) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let directory =
        Arc::new(Directory::from_toml_str(EXAMPLE_DIRECTORY).expect("example directory"));
    let agencies: Vec<(String, String)> = directory
        .agencies()
        .map(|a| (a.code.to_string(), a.name.clone()))
        .collect();
    let pki = dir.path().join("pki");
    write_dev_pki(&pki, &agencies).expect("development PKI");

    let bus = testing::embedded_bus(dir.path()).await;
    let law = Arc::new(Law::shipped().expect("shipped law"));
    let token = CancellationToken::new();
    let mut tasks = Vec::new();
    let store = |name: &str| {
        let path = dir.path().join(format!("{name}.db"));
        async move { Db::open_sqlite(&path).await.expect("service store") }
    };
    let signer = testing::signer();
    let public_key = signer.public_key_hex();
    let host = |db: Db| testing::host(db, bus.clone(), clock.clone(), signer.clone());
    let referrals = casebridge_referrals::app::build(
        host(store("referrals").await),
        directory.clone(),
        law.clone(),
        ReferralPolicy::default(),
    )
    .await
    .expect("referrals service");
    tasks.push(("referrals", run_service(referrals, &token)));
    let transfers =
        casebridge_transfers::app::build(host(store("transfers").await), directory.clone())
            .await
            .expect("transfers service");
    tasks.push(("transfers", run_service(transfers, &token)));
    let disputes = casebridge_disputes::app::build(
        host(store("disputes").await),
        directory.clone(),
        DisputePolicy::default(),
    )
    .await
    .expect("disputes service");
    tasks.push(("disputes", run_service(disputes, &token)));
    let opinions =
        casebridge_opinions::app::build(host(store("opinions").await), directory.clone())
            .await
            .expect("opinions service");
    tasks.push(("opinions", run_service(opinions, &token)));
    let penalties = casebridge_penalties::app::build(
        host(store("penalties").await),
        directory.clone(),
        law.clone(),
        Arc::new(
            casebridge_core::screening::ThresholdTable::from_toml_str(
                casebridge_core::screening::SHIPPED_THRESHOLDS,
            )
            .expect("shipped thresholds"),
        ),
        None,
    )
    .await
    .expect("penalties service");
    tasks.push(("penalties", run_service(penalties, &token)));
    let leads = casebridge_leads::app::build(host(store("leads").await), directory.clone())
        .await
        .expect("leads service");
    tasks.push(("leads", run_service(leads, &token)));
    let rectifications = casebridge_rectifications::app::build(
        host(store("rectifications").await),
        directory.clone(),
    )
    .await
    .expect("rectifications service");
    tasks.push(("rectifications", run_service(rectifications, &token)));
    let inbox = InboxApp::build(
        Db::open_sqlite(&dir.path().join("inbox.db"))
            .await
            .expect("inbox store"),
        bus.clone(),
        clock.clone(),
    )
    .await
    .expect("inbox service");
    let deadlines = DeadlinesApp::build(
        host(store("deadlines").await),
        directory.clone(),
        Arc::new(law.rules.clone()),
        law.calendar.clone(),
    )
    .await
    .expect("deadlines service");
    let evidence = EvidenceApp::build(
        Db::open_sqlite(&dir.path().join("evidence.db"))
            .await
            .expect("evidence store"),
        bus.clone(),
        clock.clone(),
    )
    .await
    .expect("evidence service");
    let form_key = FormKey::generate().expect("form key");
    let gateway = Gateway::build(
        gateway_config(dir.path(), &clock, &law, max_size, &form_key),
        bus.clone(),
        directory.clone(),
    )
    .await
    .expect("gateway binds");
    let address = gateway.local_addr();
    let console = gateway.console_addr().expect("console served");
    let signin_link = gateway.console_signin_link().expect("demo sign-in link");

    let stop = token.clone();
    let inbox = tokio::spawn(async move {
        inbox
            .run_until_stopped(stop)
            .await
            .map_err(|e| e.to_string())
    });
    let stop = token.clone();
    let deadlines = tokio::spawn(async move {
        deadlines
            .run_until_stopped(stop)
            .await
            .map_err(|e| e.to_string())
    });
    let stop = token.clone();
    let evidence = tokio::spawn(async move {
        evidence
            .run_until_stopped(stop)
            .await
            .map_err(|e| e.to_string())
    });
    let stop = token.clone();
    let gateway = tokio::spawn(async move {
        gateway
            .run_until_stopped(stop)
            .await
            .map_err(|e| e.to_string())
    });
    TestApp {
        address,
        console,
        signin_link,
        public_key,
        dir,
        token,
        backend: Backend {
            bus,
            directory,
            clock,
            law,
            max_size,
            form_key,
        },
        tasks: tasks
            .into_iter()
            .chain([
                ("inbox", inbox),
                ("deadlines", deadlines),
                ("evidence", evidence),
                ("gateway", gateway),
            ])
            .collect(),
    }
}

/// What a gateway is configured with: the test's PKI and evidence directory under `dir`,
/// the console with demo sign-in on, and `form_key` signing its forms.
fn gateway_config(
    dir: &std::path::Path,
    clock: &Arc<dyn Clock>,
    law: &Law,
    max_size: u64,
    form_key: &FormKey,
) -> GatewayConfig {
    let read = |name: &str| std::fs::read_to_string(dir.join("pki").join(name)).expect("PKI file");
    GatewayConfig {
        listen: "127.0.0.1:0".parse().expect("socket address"),
        tls: TlsMaterial {
            cert_pem: read("gateway.pem"),
            key_pem: read("gateway.key"),
            client_ca_pem: read("ca.pem"),
        },
        request_timeout: Duration::from_secs(5),
        evidence: EvidenceConfig {
            storage: Storage::local(&dir.join("evidence")).expect("evidence storage"),
            max_size,
        },
        console: Some(ConsoleConfig {
            listen: "127.0.0.1:0".parse().expect("socket address"),
            demo_signin: true,
            session_idle: casebridge_gateway::console::session::DEFAULT_SESSION_IDLE,
            form_key: form_key.clone(),
            sessions_file: None,
            connections: CAPS,
        }),
        clock: clock.clone(),
        calendar: law.calendar.clone(),
        handshake_timeout: HANDSHAKE_TIMEOUT,
        connections: CAPS,
        trust_files: None,
        readiness: None,
    }
}

/// Runs a family service until the test's token is cancelled.
fn run_service<F: Family + std::fmt::Debug>(
    app: CaseApp<F>,
    token: &CancellationToken,
) -> JoinHandle<Result<(), String>> {
    let stop = token.clone();
    tokio::spawn(async move { app.run_until_stopped(stop).await.map_err(|e| e.to_string()) })
}

impl TestApp {
    /// Starts another gateway on the same services (as a deployment runs several behind a load
    /// balancer), its forms signed with `form_key`; returns its console's address.
    async fn another_gateway(&mut self, form_key: &FormKey) -> SocketAddr {
        let config = self.config_with(form_key);
        self.another_gateway_with(config).await.1
    }

    /// The configuration of [`TestApp::another_gateway`], for a test to change before starting it.
    fn config_with(&self, form_key: &FormKey) -> GatewayConfig {
        let b = &self.backend;
        gateway_config(self.dir.path(), &b.clock, &b.law, b.max_size, form_key)
    }

    /// Starts another gateway with `config`; returns its gRPC and console addresses.
    async fn another_gateway_with(&mut self, config: GatewayConfig) -> (SocketAddr, SocketAddr) {
        let b = &self.backend;
        let gateway = Gateway::build(config, b.bus.clone(), b.directory.clone())
            .await
            .expect("another gateway binds");
        let grpc = gateway.local_addr();
        let console = gateway.console_addr().expect("console served");
        let stop = self.token.clone();
        self.tasks.push((
            "another gateway",
            tokio::spawn(async move {
                gateway
                    .run_until_stopped(stop)
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));
        (grpc, console)
    }

    fn pki_file(&self, name: &str) -> String {
        let path = self.dir.path().join("pki").join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The development CA the gateway trusts, to issue certificates the directory does not know.
    fn ca(&self) -> DevCa {
        DevCa::from_pem(&self.pki_file("ca.pem"), &self.pki_file("ca.key")).expect("reload CA")
    }

    /// A channel presenting `identity` (or no client certificate at all).
    async fn connect(
        &self,
        identity: Option<Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        self.connect_at(self.address, identity).await
    }

    /// [`TestApp::connect`] to the gRPC port at `address` (another gateway's).
    async fn connect_at(
        &self,
        address: SocketAddr,
        identity: Option<Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.pki_file("ca.pem")))
            .domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        Endpoint::from_shared(format!("https://{address}"))?
            .tls_config(tls)?
            .connect()
            .await
    }

    /// A channel presenting this client certificate.
    async fn channel(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Channel, tonic::transport::Error> {
        self.connect(Some(Identity::from_pem(cert_pem, key_pem)))
            .await
    }

    /// A channel as one of the directory's agencies, with the certificate the dev PKI gave it.
    async fn channel_as(&self, agency: &str) -> Channel {
        self.channel(
            &self.pki_file(&format!("agencies/{agency}.pem")),
            &self.pki_file(&format!("agencies/{agency}.key")),
        )
        .await
        .expect("connect to the gateway")
    }

    async fn referrals_as(&self, agency: &str) -> ReferralServiceClient<Channel> {
        ReferralServiceClient::new(self.channel_as(agency).await)
    }

    async fn inbox_as(&self, agency: &str) -> InboxServiceClient<Channel> {
        InboxServiceClient::new(self.channel_as(agency).await)
    }

    async fn monitor_as(&self, agency: &str) -> MonitorServiceClient<Channel> {
        MonitorServiceClient::new(self.channel_as(agency).await)
    }

    async fn deadlines_as(&self, agency: &str) -> DeadlineServiceClient<Channel> {
        DeadlineServiceClient::new(self.channel_as(agency).await)
    }

    async fn directory_as(&self, agency: &str) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(self.channel_as(agency).await)
    }

    async fn evidence_as(&self, agency: &str) -> EvidenceServiceClient<Channel> {
        EvidenceServiceClient::new(self.channel_as(agency).await)
    }

    /// Every file in the evidence storage, relative to it.
    fn stored_files(&self) -> Vec<String> {
        let root = self.dir.path().join("evidence");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the storage directory") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("inside the storage");
                    found.push(relative.display().to_string());
                }
            }
        }
        found.sort();
        found
    }

    /// Stops every component and checks each stopped cleanly.
    async fn stop(self) {
        self.token.cancel();
        for (name, task) in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("{name} failed: {e}"),
                Ok(Err(join)) => panic!("{name} panicked: {join}"),
                Err(_) => panic!("{name} did not stop within 10 s of shutdown"),
            }
        }
    }
}

/// How a call over a fresh connection went.
#[derive(Debug)]
enum Outcome {
    Answered(pb::Agency),
    ConnectFailed(tonic::transport::Error),
    CallFailed(Status),
}

/// Connects with `identity` and asks WhoAmI.
async fn who_am_i_with(app: &TestApp, identity: Option<Identity>) -> Outcome {
    let channel = match app.connect(identity).await {
        Ok(channel) => channel,
        Err(e) => return Outcome::ConnectFailed(e),
    };
    match DirectoryServiceClient::new(channel)
        .who_am_i(pb::WhoAmIRequest {})
        .await
    {
        Ok(response) => Outcome::Answered(response.into_inner()),
        Err(status) => Outcome::CallFailed(status),
    }
}

/// Asserts the server ended the TLS handshake with `alert` (e.g. `UnknownCA`): the gateway's
/// code neither answered nor refused the call.
fn assert_refused_by_tls(outcome: Outcome, alert: &str) {
    let failure = transport_failure(outcome);
    assert!(
        failure.contains(&format!("alert: {alert}")),
        "expected the TLS alert {alert}, got {failure}"
    );
}

/// What the client saw of a connection the gateway's code never served, as text (a TLS alert
/// shows as `alert: …`); panics when the gateway answered or refused the call itself.
fn transport_failure(outcome: Outcome) -> String {
    match outcome {
        Outcome::ConnectFailed(e) => format!("{e:?}"),
        Outcome::CallFailed(status) => {
            assert!(
                matches!(status.code(), Code::Unavailable | Code::Unknown),
                "expected a transport failure, got an answer from the gateway: {status:?}"
            );
            format!("{status:?}")
        }
        Outcome::Answered(agency) => {
            panic!("the gateway answered a rejected certificate as {agency:?}")
        }
    }
}

/// A valid referral submission from the market bureau to the city police.
fn submission(request_id: &str) -> pb::SubmitReferralRequest {
    let now = now_seconds();
    let document = |kind: pb::DocumentKind, title: &str| pb::Document {
        kind: kind.into(),
        title: title.into(),
        sha256: String::new(),
    };
    pb::SubmitReferralRequest {
        request_id: request_id.into(),
        police: CITY_POLICE.into(),
        suspected_offence: "销售伪劣产品罪".into(),
        summary: "Counterfeit goods found at a wholesale market.".into(),
        report_received_at: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        approved_at: Some(prost_types::Timestamp {
            seconds: now - 60,
            nanos: 0,
        }),
        items_tested: false,
        penalty_imposed: false,
        documents: vec![
            document(pb::DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
            document(pb::DocumentKind::InvestigationReport, "调查报告"),
            document(pb::DocumentKind::SeizedItemsList, "涉案物品清单"),
        ],
        parties: vec![pb::Party {
            name: "张三".into(),
            id_number: "350102199001011234".into(),
        }],
        case_officer: "李四".into(),
        case_officer_phone: "13800000000".into(),
    }
}

/// Submits a valid referral as the market bureau; returns its id.
async fn submitted_referral(app: &TestApp, request_id: &str) -> String {
    let result = app
        .referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(submission(request_id))
        .await
        .expect("a valid submission is accepted")
        .into_inner();
    result.referral.expect("the accepted referral").id
}

/// The fields named by a status's `google.rpc.BadRequest` details, in order.
fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest details in {status:?}"))
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// A well-formed agency code (check character included) that the example directory lacks.
fn unknown_agency_code() -> String {
    let prefix = "11350100MB0199999";
    let check = AgencyCode::check_char(prefix).expect("17-character prefix");
    let code = format!("{prefix}{check}");
    AgencyCode::parse(&code).expect("a well-formed agency code");
    code
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_fails_the_tls_handshake() {
    let app = spawn_app().await;
    let stranger = DevCa::generate("Someone Else's CA").expect("another CA");
    // A directory agency, so the gateway would answer had TLS let the certificate through.
    let cert = stranger
        .issue_agency(MARKET_BUREAU, "福州市市场监督管理局", 30)
        .expect("certificate");

    let outcome = who_am_i_with(&app, Some(Identity::from_pem(cert.cert_pem, cert.key_pem))).await;

    assert_refused_by_tls(outcome, "UnknownCA");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_agency_certificate_fails_the_tls_handshake() {
    let app = spawn_app().await;
    let expired = app
        .ca()
        .issue_agency(MARKET_BUREAU, "福州市市场监督管理局", -1)
        .expect("certificate");

    let outcome = who_am_i_with(
        &app,
        Some(Identity::from_pem(expired.cert_pem, expired.key_pem)),
    )
    .await;

    assert_refused_by_tls(outcome, "CertificateExpired");
    app.stop().await;
}

#[tokio::test]
async fn a_connection_without_a_client_certificate_fails_the_tls_handshake() {
    let app = spawn_app().await;

    let outcome = who_am_i_with(&app, None).await;

    assert_refused_by_tls(outcome, "CertificateRequired");
    app.stop().await;
}

#[tokio::test]
async fn the_grpc_port_holds_no_more_connections_than_its_cap_and_frees_a_closed_ones_place() {
    let mut app = spawn_app().await;
    let mut config = app.config_with(&app.backend.form_key.clone());
    config.connections.total = 2;
    let (capped, _) = app.another_gateway_with(config).await;
    let market = || {
        Some(Identity::from_pem(
            app.pki_file(&format!("agencies/{MARKET_BUREAU}.pem")),
            app.pki_file(&format!("agencies/{MARKET_BUREAU}.key")),
        ))
    };
    let first = app.connect_at(capped, market()).await.expect("first");
    let second = app.connect_at(capped, market()).await.expect("second");
    for channel in [&first, &second] {
        DirectoryServiceClient::new(channel.clone())
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .expect("a held connection is served");
    }
    assert!(
        app.connect_at(capped, market()).await.is_err(),
        "a third connection is closed before its handshake"
    );
    drop(first);
    let third = testing::eventually("a closed connection's place", PROMPTLY, || async {
        app.connect_at(capped, market()).await.ok()
    })
    .await;
    DirectoryServiceClient::new(third)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("served once a place is free");
    drop(second);
    app.stop().await;
}

/// Issue 12, D8: the contract refuses an unknown agency during the handshake. A certificate the
/// CA issued for an agency outside the directory, or for a name that is no agency code, opens
/// no connection: the handshake ends with `access_denied`.
#[tokio::test]
async fn a_certificate_naming_no_agency_of_the_directory_fails_the_tls_handshake() {
    let app = spawn_app().await;
    // A well-formed code the directory lacks, and a name that is no code at all (the PKI
    // accepts any file-safe name).
    for code in [unknown_agency_code(), "notanagency".to_owned()] {
        let IssuedCert { cert_pem, key_pem } = app
            .ca()
            .issue_agency(&code, "福州市某局", 30)
            .expect("certificate");
        refused_by_tls_eventually(&app, &cert_pem, &key_pem, "AccessDenied").await;
    }
    app.stop().await;
}

/// Asserts that a connection with this certificate is never served, and that the server's alert
/// `alert` reaches the client. Under TLS 1.3 the client finishes its side of the handshake before
/// the server has checked its certificate, so the alert can race with the first request and
/// arrive as a plain closed connection; a few attempts see it.
async fn refused_by_tls_eventually(app: &TestApp, cert_pem: &str, key_pem: &str, alert: &str) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let identity = Identity::from_pem(cert_pem, key_pem);
        let failure = transport_failure(who_am_i_with(app, Some(identity)).await);
        if failure.contains(&format!("alert: {alert}")) {
            return;
        }
        seen.push(failure);
    }
    panic!("the alert {alert} never reached the client: {seen:?}");
}

#[tokio::test]
async fn a_submission_with_several_bad_fields_names_each_of_them() {
    let app = spawn_app().await;
    let mut request = submission("");
    request.police = "not-a-code".into();
    request.documents[0].kind = pb::DocumentKind::Unspecified.into();

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(request)
        .await
        .expect_err("a malformed submission is refused");

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violated_fields(&status),
        ["request_id", "police", "documents[0].kind"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_submission_without_the_seized_items_list_is_refused_on_documents() {
    let app = spawn_app().await;
    let mut request = submission("req-no-seized-items");
    request
        .documents
        .retain(|d| d.kind != i32::from(pb::DocumentKind::SeizedItemsList));

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(request)
        .await
        .expect_err("an incomplete package is refused");

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["documents"]);
    assert!(
        status.message().contains("涉案物品清单"),
        "the message should name the missing document: {:?}",
        status.message()
    );
    // The same refusal in Chinese, by rule S1-6 of the referral regulation.
    let (rule, zh) = refusals::assert_rule_and_chinese(&status, "no seized-items list");
    assert_eq!(rule, "S1-6");
    assert!(zh.starts_with("未附涉案物品清单。"), "{zh}");
    assert!(
        zh.contains("（《行政执法机关移送涉嫌犯罪案件的规定》第六条）"),
        "{zh}"
    );
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["field"], "documents");
    app.stop().await;
}

#[tokio::test]
async fn police_cannot_decide_before_signing_the_receipt() {
    let app = spawn_app().await;
    let referral_id = submitted_referral(&app, "req-submit").await;

    let status = app
        .referrals_as(CITY_POLICE)
        .await
        .decide_filing(pb::DecideFilingRequest {
            request_id: "req-file".into(),
            referral_id,
            decision: Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                note: "立案".into(),
            })),
        })
        .await
        .expect_err("no decision before the receipt");

    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let (rule, zh) = refusals::assert_rule_and_chinese(&status, "a decision before the receipt");
    assert_eq!(rule, "STATE");
    assert!(zh.starts_with("案件当前状态为「已移送」"), "{zh}");
    app.stop().await;
}

#[tokio::test]
async fn the_market_bureau_cannot_sign_the_receipt_of_its_own_referral() {
    let app = spawn_app().await;
    let referral_id = submitted_referral(&app, "req-submit").await;

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "req-receipt".into(),
            referral_id,
        })
        .await
        .expect_err("only the police sign the receipt");

    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    app.stop().await;
}

#[tokio::test]
async fn reading_an_unknown_referral_is_not_found() {
    let app = spawn_app().await;

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .get_referral(pb::GetReferralRequest {
            referral_id: CaseId::generate().to_string(),
        })
        .await
        .expect_err("no such referral");

    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_agency_that_is_not_a_party_cannot_read_a_referral() {
    let app = spawn_app().await;
    let referral_id = submitted_referral(&app, "req-submit").await;

    let status = app
        .referrals_as(JUSTICE_BUREAU)
        .await
        .get_referral(pb::GetReferralRequest {
            referral_id: referral_id.clone(),
        })
        .await
        .expect_err("the justice bureau is not a party");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The parties themselves can read it.
    let read = app
        .referrals_as(CITY_POLICE)
        .await
        .get_referral(pb::GetReferralRequest {
            referral_id: referral_id.clone(),
        })
        .await
        .expect("the police read the referral sent to them")
        .into_inner();
    assert_eq!(read.id, referral_id);
    app.stop().await;
}

#[tokio::test]
async fn a_request_id_reused_for_other_content_already_exists() {
    let app = spawn_app().await;
    submitted_referral(&app, "req-reused").await;
    let mut other = submission("req-reused");
    other.summary = "A different referral.".into();

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(other)
        .await
        .expect_err("the request id is taken");

    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(violated_fields(&status), ["request_id"]);
    app.stop().await;
}

/// Issue 12, D8: request ids are scoped per agency and service (common.proto). A referral's
/// request id used again on SendTransfer opens a transfer, and each call replays its own result.
#[tokio::test]
async fn a_request_id_is_the_agencys_own_per_service() {
    use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
    let app = spawn_app().await;
    let mut referrals = app.referrals_as(MARKET_BUREAU).await;
    let mut senders = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await);
    let request = submission("shared-id");
    let referral = referrals
        .submit_referral(request.clone())
        .await
        .expect("referral")
        .into_inner();
    let sending = transfers::sending("shared-id");
    let transfer = senders
        .send_transfer(sending.clone())
        .await
        .expect("a transfer, not a replay")
        .into_inner();
    assert!(!transfer.replayed);
    let referral_id = referral.referral.expect("referral").id;
    let transfer_id = transfer.transfer.expect("transfer").id;
    assert_ne!(referral_id, transfer_id);
    let again = referrals
        .submit_referral(request)
        .await
        .expect("replayed")
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.referral.expect("referral").id, referral_id);
    let again = senders
        .send_transfer(sending)
        .await
        .expect("replayed")
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.transfer.expect("transfer").id, transfer_id);
    app.stop().await;
}

/// A TCP connection to `target` from the loopback address 127.0.0.`peer`, as from another host
/// (Linux routes all of 127.0.0.0/8 to the loopback interface).
async fn connect_from(target: SocketAddr, peer: u8) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, peer], 0)))
        .expect("bind a loopback address");
    socket.connect(target).await.expect("connect")
}

/// Whether the server closes `stream` within `within`: it reads until end of stream or an error
/// (a TLS alert may come first); still open when the time is up.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 512];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Issue 12, D3: connections that sent nothing or a partial ClientHello were held for more than
/// 300 s, 400 of them at once. Now each is closed after the handshake timeout, and a normal
/// client is served while they are open.
#[tokio::test]
async fn idle_and_half_open_connections_are_closed_and_clients_are_served_meanwhile() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let mut held = Vec::new();
    for n in 0..300 {
        // From 20 loopback addresses, 15 each: within the cap on one IP's handshakes.
        let mut stream = connect_from(app.address, 10 + (n / 15) as u8).await;
        if n % 2 == 1 {
            // A TLS record header announcing a 200-byte ClientHello, and one byte of it.
            stream
                .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
                .await
                .expect("partial ClientHello");
        }
        held.push(stream);
    }
    // Served while they are open.
    let listed = app
        .directory_as(MARKET_BUREAU)
        .await
        .list_agencies(pb::ListAgenciesRequest::default())
        .await
        .expect("a normal client is served");
    assert!(!listed.into_inner().agencies.is_empty());
    tokio::time::sleep(HANDSHAKE_TIMEOUT).await;
    let mut still_open = 0;
    for stream in &mut held {
        if !closed_within(stream, Duration::from_secs(3)).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open,
        0,
        "of {} idle or half-open connections",
        held.len()
    );
    app.stop().await;
}

/// Issue 12, D3: one peer cannot crowd out the rest. Handshakes from one IP beyond its cap are
/// closed at once while other addresses are served; connections with one client certificate
/// beyond its cap are closed after the handshake while other agencies are served.
#[tokio::test]
async fn one_ip_or_one_certificate_cannot_crowd_out_the_others() {
    let mut app = spawn_app().await;
    let mut held = Vec::new();
    for _ in 0..CAPS.handshakes_per_ip {
        held.push(connect_from(app.address, 50).await);
    }
    let mut one_more = connect_from(app.address, 50).await;
    assert!(
        closed_within(&mut one_more, Duration::from_secs(1)).await,
        "a handshake beyond the IP's cap is closed at once, long before the timeout"
    );
    app.directory_as(MARKET_BUREAU)
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("another address is served");
    drop(held);

    let mut config = app.config_with(&app.backend.form_key.clone());
    config.connections.per_certificate = 2;
    let (capped, _) = app.another_gateway_with(config).await;
    let identity = |agency: &str| {
        Some(Identity::from_pem(
            app.pki_file(&format!("agencies/{agency}.pem")),
            app.pki_file(&format!("agencies/{agency}.key")),
        ))
    };
    let who_am_i = |channel: tonic::transport::Channel| async move {
        DirectoryServiceClient::new(channel)
            .who_am_i(pb::WhoAmIRequest {})
            .await
    };
    let first = app
        .connect_at(capped, identity(MARKET_BUREAU))
        .await
        .expect("first");
    let second = app
        .connect_at(capped, identity(MARKET_BUREAU))
        .await
        .expect("second");
    for channel in [&first, &second] {
        who_am_i(channel.clone()).await.expect("served");
    }
    match app.connect_at(capped, identity(MARKET_BUREAU)).await {
        Err(_) => {}
        Ok(third) => {
            who_am_i(third)
                .await
                .expect_err("a third connection with the certificate is closed");
        }
    }
    let police = app
        .connect_at(capped, identity(CITY_POLICE))
        .await
        .expect("another agency connects");
    assert_eq!(
        who_am_i(police).await.expect("served").into_inner().code,
        CITY_POLICE
    );
    drop(first);
    let again = testing::eventually("a closed connection's place", PROMPTLY, || async {
        let channel = app.connect_at(capped, identity(MARKET_BUREAU)).await.ok()?;
        who_am_i(channel).await.ok()
    })
    .await;
    assert_eq!(again.into_inner().code, MARKET_BUREAU);
    drop(second);
    app.stop().await;
}

/// Issue 12, D8: ListAgencies accepted a malformed region and kind 99, and a list filtered by a
/// status the family does not have came back empty. Each is now refused on its field.
#[tokio::test]
async fn filters_that_cannot_match_are_refused_on_their_field() {
    use casebridge_proto::v1::transfer_service_client::TransferServiceClient;
    let app = spawn_app().await;
    let mut directory = app.directory_as(MARKET_BUREAU).await;
    for (request, field) in [
        (
            pb::ListAgenciesRequest {
                kind: 99,
                region: String::new(),
            },
            "kind",
        ),
        (
            pb::ListAgenciesRequest {
                kind: 0,
                region: "35010X".into(),
            },
            "region",
        ),
    ] {
        let refused = directory.list_agencies(request).await.expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(violated_fields(&refused), [field]);
    }
    let police = directory
        .list_agencies(pb::ListAgenciesRequest {
            kind: pb::AgencyKind::Police.into(),
            region: "350100".into(),
        })
        .await
        .expect("a valid filter")
        .into_inner();
    assert_eq!(police.agencies.len(), 1);

    let mut transfers = TransferServiceClient::new(app.channel_as(MARKET_BUREAU).await);
    let refused = transfers
        .list_transfers(pb::ListCasesRequest {
            status: "filed".into(),
            ..pb::ListCasesRequest::default()
        })
        .await
        .expect_err("a referral status is no transfer status");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["status"]);
    assert!(
        refused.message().contains("objected"),
        "{}",
        refused.message()
    );
    transfers
        .list_transfers(pb::ListCasesRequest {
            status: "objected".into(),
            ..pb::ListCasesRequest::default()
        })
        .await
        .expect("a transfer status");
    app.stop().await;
}

#[tokio::test]
async fn health_reports_the_referral_service_as_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel_as(CITY_POLICE).await);

    let response = health
        .check(HealthCheckRequest {
            service: "casebridge.v1.ReferralService".into(),
        })
        .await
        .expect("health check")
        .into_inner();

    assert_eq!(response.status(), ServingStatus::Serving);
    app.stop().await;
}

#[tokio::test]
async fn from_october_a_missing_next_year_calendar_shows_on_the_board_and_in_health() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    for (start, missing) in [
        ("2026-09-30T10:00:00+08:00", false),
        ("2026-10-01T10:00:00+08:00", true),
    ] {
        let app = spawn_app_at(start).await;
        let mut health = HealthClient::new(app.channel_as(PROCURATORATE).await);
        let calendar = health
            .check(HealthCheckRequest {
                service: casebridge_gateway::CALENDAR_HEALTH.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        let gateway = health
            .check(HealthCheckRequest {
                service: "casebridge.v1.ReferralService".into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(gateway.status(), ServingStatus::Serving, "{start}");
        let board = console::board_as(&app, PROCURATORATE).await;
        if missing {
            assert_eq!(calendar.status(), ServingStatus::NotServing, "{start}");
            assert!(
                board.contains("calendar-missing")
                    && board.contains("2027年国务院节假日安排尚未安装"),
                "{board}"
            );
        } else {
            assert_eq!(calendar.status(), ServingStatus::Serving, "{start}");
            assert!(!board.contains("calendar-missing"), "{board}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn reflection_lists_every_casebridge_service() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.channel_as(CITY_POLICE).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };

    let mut responses = reflection
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .expect("reflection stream")
        .into_inner();
    let response: ServerReflectionResponse = responses
        .message()
        .await
        .expect("a reflection response")
        .expect("one response per request");

    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("not a service list: {response:?}");
    };
    let casebridge: BTreeSet<String> = list
        .service
        .into_iter()
        .map(|s| s.name)
        .filter(|name| name.starts_with("casebridge."))
        .collect();
    assert_eq!(
        casebridge,
        BTreeSet::from([
            "casebridge.v1.CaseService".to_owned(),
            "casebridge.v1.DeadlineService".to_owned(),
            "casebridge.v1.DirectoryService".to_owned(),
            "casebridge.v1.DisputeService".to_owned(),
            "casebridge.v1.EvidenceService".to_owned(),
            "casebridge.v1.ExportService".to_owned(),
            "casebridge.v1.InboxService".to_owned(),
            "casebridge.v1.LeadService".to_owned(),
            "casebridge.v1.MonitorService".to_owned(),
            "casebridge.v1.OpinionService".to_owned(),
            "casebridge.v1.PenaltyService".to_owned(),
            "casebridge.v1.RectificationService".to_owned(),
            "casebridge.v1.ReferralService".to_owned(),
            "casebridge.v1.TransferService".to_owned(),
        ])
    );
    drop(responses);
    app.stop().await;
}

#[tokio::test]
async fn who_am_i_names_the_calling_agency() {
    let app = spawn_app().await;

    let police = app
        .directory_as(CITY_POLICE)
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("who am i")
        .into_inner();
    let procuratorate = app
        .directory_as(PROCURATORATE)
        .await
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("who am i")
        .into_inner();

    assert_eq!(police.code, CITY_POLICE);
    assert_eq!(police.name, "福州市公安局");
    assert_eq!(police.kind(), pb::AgencyKind::Police);
    assert_eq!(procuratorate.code, PROCURATORATE);
    app.stop().await;
}

#[tokio::test]
async fn listing_police_agencies_returns_exactly_the_two_police_organs() {
    let app = spawn_app().await;

    let agencies = app
        .directory_as(MARKET_BUREAU)
        .await
        .list_agencies(pb::ListAgenciesRequest {
            kind: pb::AgencyKind::Police.into(),
            region: String::new(),
        })
        .await
        .expect("list agencies")
        .into_inner()
        .agencies;

    let codes: BTreeSet<&str> = agencies.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from([CITY_POLICE, DISTRICT_POLICE]));
    assert_eq!(agencies.len(), 2, "{agencies:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_inbox_watcher_receives_a_new_referral_without_waiting_for_a_poll() {
    let app = spawn_app().await;
    let first = submitted_referral(&app, "req-first").await;
    let mut inbox = app.inbox_as(CITY_POLICE).await;
    // Wait until the first referral is in the police inbox, so its wake-up is behind us.
    testing::eventually("the first referral in the police inbox", PROMPTLY, || {
        let mut inbox = inbox.clone();
        let first = first.clone();
        async move {
            let mut backlog = inbox
                .watch_inbox(pb::WatchInboxRequest {
                    after_cursor: Some(0),
                    follow: false,
                })
                .await
                .ok()?
                .into_inner();
            while let Some(entry) = backlog.message().await.ok()? {
                if entry.case_id == first {
                    return Some(());
                }
            }
            None
        }
    })
    .await;

    let mut watcher = inbox
        .watch_inbox(pb::WatchInboxRequest {
            after_cursor: Some(0),
            follow: true,
        })
        .await
        .expect("watch the inbox")
        .into_inner();
    let backlog = tokio::time::timeout(PROMPTLY, watcher.message())
        .await
        .expect("the backlog arrives")
        .expect("stream ok")
        .expect("one entry");
    assert_eq!(backlog.case_id, first);
    // The watcher has sent its backlog and is now idle: its next poll is WATCHER_POLL away, so
    // an entry that arrives well before then came through the wake-up.
    let idle_since = Instant::now();

    let second = submitted_referral(&app, "req-second").await;
    let entry = tokio::time::timeout(PROMPTLY, watcher.message())
        .await
        .expect("the new referral reaches the watcher")
        .expect("stream ok")
        .expect("the stream stays open");
    let latency = idle_since.elapsed();

    assert_eq!(entry.case_id, second);
    assert_eq!(entry.family, "referral");
    assert_eq!(entry.event, "submitted");
    assert_eq!(entry.actor, MARKET_BUREAU);
    assert!(entry.cursor > backlog.cursor);
    assert!(
        latency < WATCHER_POLL - Duration::from_millis(500),
        "the entry took {latency:?}: it came from the poll, not the wake-up"
    );
    drop(watcher);
    drop(inbox);
    app.stop().await;
}

#[tokio::test]
async fn acknowledging_beyond_the_newest_inbox_entry_names_up_to_cursor() {
    let app = spawn_app().await;
    let referral_id = submitted_referral(&app, "req-submit").await;
    let mut inbox = app.inbox_as(CITY_POLICE).await;
    let mut watcher = inbox
        .watch_inbox(pb::WatchInboxRequest {
            after_cursor: Some(0),
            follow: true,
        })
        .await
        .expect("watch the inbox")
        .into_inner();
    let newest = tokio::time::timeout(PROMPTLY, watcher.message())
        .await
        .expect("the referral reaches the inbox")
        .expect("stream ok")
        .expect("one entry");
    assert_eq!(newest.case_id, referral_id);
    drop(watcher);

    let status = inbox
        .acknowledge_inbox(pb::AcknowledgeInboxRequest {
            up_to_cursor: newest.cursor + 1,
        })
        .await
        .expect_err("there is no such entry yet");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["up_to_cursor"]);

    // Up to the newest entry is fine.
    let acknowledged = inbox
        .acknowledge_inbox(pb::AcknowledgeInboxRequest {
            up_to_cursor: newest.cursor,
        })
        .await
        .expect("acknowledge the newest entry")
        .into_inner();
    assert_eq!(acknowledged.acknowledged_cursor, newest.cursor);
    drop(inbox);
    app.stop().await;
}

fn open_obligations(case_id: &str) -> pb::ListObligationsRequest {
    pb::ListObligationsRequest {
        view: pb::ObligationView::Open.into(),
        case_id: case_id.into(),
        ..pb::ListObligationsRequest::default()
    }
}

#[tokio::test]
async fn a_submitted_referral_shows_its_receipt_obligation_to_the_parties_only() {
    let app = spawn_app().await;
    let case_id = submitted_referral(&app, "monitor-1").await;
    let mut police = app.monitor_as(CITY_POLICE).await;
    let listed = eventually_listed(&mut police, &case_id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let receipt = &listed[0];
    assert_eq!(receipt.rule, "RCPT");
    assert_eq!(receipt.owed_by, CITY_POLICE);
    assert_eq!(receipt.owed_to, MARKET_BUREAU);
    assert_eq!(receipt.supervisor, PROCURATORATE);
    assert!(receipt.step.contains("回执"), "{}", receipt.step);
    // Today's date decides the due time; past the shipped calendars it is withheld, and says so.
    let explained = receipt.explanation.join("\n");
    match &receipt.due_at {
        Some(_) => assert!(explained.contains("working day"), "{explained}"),
        None => assert!(explained.contains("no holiday calendar"), "{explained}"),
    }
    for party in [MARKET_BUREAU, PROCURATORATE] {
        let mut monitor = app.monitor_as(party).await;
        let seen = monitor
            .list_obligations(open_obligations(&case_id))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(seen.obligations.len(), 1, "{party} sees the obligation");
    }
    let mut outsider = app.monitor_as(DISTRICT_POLICE).await;
    let hidden = outsider
        .list_obligations(open_obligations(&case_id))
        .await
        .expect("list")
        .into_inner();
    assert!(hidden.obligations.is_empty(), "a non-party sees nothing");
    // Overdue a week later, as of then.
    let later = pb::ListObligationsRequest {
        view: pb::ObligationView::Overdue.into(),
        as_of: Some(prost_types::Timestamp {
            seconds: now_seconds() + 30 * 86_400,
            nanos: 0,
        }),
        case_id: case_id.clone(),
        ..pb::ListObligationsRequest::default()
    };
    let overdue = police
        .list_obligations(later)
        .await
        .expect("list")
        .into_inner();
    if receipt.due_at.is_some() {
        assert_eq!(overdue.obligations.len(), 1);
        assert!(overdue.obligations[0].overdue_hours > 24.0);
    }
    app.stop().await;
}

async fn eventually_listed(
    monitor: &mut MonitorServiceClient<Channel>,
    case_id: &str,
) -> Vec<pb::Obligation> {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let page = monitor
            .list_obligations(open_obligations(case_id))
            .await
            .expect("list")
            .into_inner();
        if !page.obligations.is_empty() || Instant::now() > deadline {
            return page.obligations;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_monitor_query_with_bad_filters_names_each_field() {
    let app = spawn_app().await;
    let mut monitor = app.monitor_as(PROCURATORATE).await;
    let status = monitor
        .list_obligations(pb::ListObligationsRequest {
            view: 0,
            agency: "not-a-code".into(),
            family: "parking".into(),
            region: "35".into(),
            page_size: 10_000,
            page_token: "garbage".into(),
            ..pb::ListObligationsRequest::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
    let expected: BTreeSet<String> = [
        "view",
        "agency",
        "family",
        "region",
        "page_size",
        "page_token",
    ]
    .map(String::from)
    .into();
    assert_eq!(fields, expected);
    let period = monitor
        .get_statistics(pb::GetStatisticsRequest {
            // 2026-03-01 00:00 UTC and a little after: a period that ends before it begins.
            from: Some(prost_types::Timestamp {
                seconds: 1_772_323_200 + 2_000,
                nanos: 0,
            }),
            to: Some(prost_types::Timestamp {
                seconds: 1_772_323_200 + 1_000,
                nanos: 0,
            }),
            agency: String::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&period), ["to"]);
    app.stop().await;
}

#[tokio::test]
async fn statistics_show_supervisors_every_agency_and_others_their_own() {
    let app = spawn_app().await;
    let case_id = submitted_referral(&app, "stats-1").await;
    let mut police = app.monitor_as(CITY_POLICE).await;
    eventually_listed(&mut police, &case_id).await;
    let now = now_seconds();
    let period = pb::GetStatisticsRequest {
        from: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        to: Some(prost_types::Timestamp {
            seconds: now + 3600,
            nanos: 0,
        }),
        agency: String::new(),
    };
    let mut procuratorate = app.monitor_as(PROCURATORATE).await;
    let all = procuratorate
        .get_statistics(period.clone())
        .await
        .expect("statistics")
        .into_inner()
        .agencies;
    let police_row = all
        .iter()
        .find(|s| s.agency == CITY_POLICE)
        .expect("police row");
    assert_eq!((police_row.received, police_row.still_open), (1, 1));
    let market_row = all
        .iter()
        .find(|s| s.agency == MARKET_BUREAU)
        .expect("market row");
    assert_eq!(
        market_row.sent, 1,
        "one deadline (期限) owed to the market bureau"
    );
    // Cases (案件): the referral once, sent by the market bureau and received by the police,
    // whose receipt is still owed.
    let referrals = |row: &pb::AgencyStatistics| {
        row.cases
            .iter()
            .find(|c| c.family == "referral")
            .map(|c| (c.cases_sent, c.cases_received, c.open, c.overdue))
    };
    assert_eq!(referrals(market_row), Some((1, 0, 0, 0)));
    assert_eq!(referrals(police_row), Some((0, 1, 1, 0)));
    let mut market = app.monitor_as(MARKET_BUREAU).await;
    let own = market
        .get_statistics(period)
        .await
        .expect("statistics")
        .into_inner()
        .agencies;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].agency, MARKET_BUREAU);
    app.stop().await;
}

// ---- evidence attachments ----

/// The messages of an upload of `content`: metadata declaring its size (and `sha256`, when
/// given), then chunks of `chunk` bytes with their offsets.
fn upload_messages(
    content: &[u8],
    chunk: usize,
    sha256: Option<String>,
) -> Vec<pb::UploadEvidenceRequest> {
    use pb::upload_evidence_request::Part;
    let metadata = pb::EvidenceMetadata {
        file_name: "现场照片01.jpg".into(),
        content_type: "image/jpeg".into(),
        size: content.len() as u64,
        sha256: sha256.unwrap_or_default(),
    };
    let mut messages = vec![pb::UploadEvidenceRequest {
        part: Some(Part::Metadata(metadata)),
    }];
    let mut offset = 0u64;
    for piece in content.chunks(chunk) {
        messages.push(pb::UploadEvidenceRequest {
            part: Some(Part::Chunk(pb::EvidenceChunk {
                offset,
                data: bytes::Bytes::copy_from_slice(piece),
            })),
        });
        offset += piece.len() as u64;
    }
    messages
}

/// Sends `messages` as one upload as `agency`.
async fn send_upload(
    app: &TestApp,
    agency: &str,
    messages: Vec<pb::UploadEvidenceRequest>,
) -> Result<pb::UploadEvidenceResponse, Status> {
    app.evidence_as(agency)
        .await
        .upload_evidence(futures_util::stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

/// Uploads `content` as `agency` in 64 KiB chunks; returns its digest.
async fn uploaded(app: &TestApp, agency: &str, content: &[u8]) -> String {
    send_upload(app, agency, upload_messages(content, 64 * 1024, None))
        .await
        .expect("the upload is accepted")
        .sha256
}

/// Downloads `sha256` as `agency`: the metadata and the content, checking the chunk offsets.
async fn download(
    app: &TestApp,
    agency: &str,
    sha256: &str,
) -> Result<(pb::Evidence, Vec<u8>), Status> {
    use pb::download_evidence_response::Part;
    let mut stream = app
        .evidence_as(agency)
        .await
        .download_evidence(pb::DownloadEvidenceRequest {
            sha256: sha256.into(),
        })
        .await?
        .into_inner();
    let Some(pb::DownloadEvidenceResponse {
        part: Some(Part::Metadata(metadata)),
    }) = stream.message().await?
    else {
        panic!("a download must start with the metadata");
    };
    let mut content = Vec::new();
    while let Some(message) = stream.message().await? {
        let Some(Part::Chunk(chunk)) = message.part else {
            panic!("metadata after the first message");
        };
        assert_eq!(chunk.offset, content.len() as u64, "chunks come in order");
        content.extend_from_slice(&chunk.data);
    }
    Ok((metadata, content))
}

fn sha256_hex(content: &[u8]) -> String {
    casebridge_core::ids::Sha256Digest::of(content).to_hex()
}

/// Content of `len` bytes that no other test uploads.
fn distinct_content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

#[tokio::test]
async fn evidence_round_trips_through_upload_stat_and_download() {
    let app = spawn_app().await;
    // Several storage parts (5 MiB each) in chunks that do not divide them.
    let content = distinct_content(11 * 1024 * 1024 + 17, 1);
    let digest = sha256_hex(&content);

    let response = send_upload(
        &app,
        MARKET_BUREAU,
        upload_messages(&content, 300_001, Some(digest.clone())),
    )
    .await
    .expect("the upload is accepted");
    assert_eq!(response.sha256, digest);
    assert_eq!(response.size, content.len() as u64);
    assert!(!response.already_stored);

    let stat = app
        .evidence_as(MARKET_BUREAU)
        .await
        .get_evidence(pb::GetEvidenceRequest {
            sha256: digest.clone(),
        })
        .await
        .expect("the uploader may read its upload")
        .into_inner();
    assert_eq!(stat.size, content.len() as u64);
    assert_eq!(stat.file_name, "现场照片01.jpg");
    assert_eq!(stat.content_type, "image/jpeg");

    let (metadata, downloaded) = download(&app, MARKET_BUREAU, &digest)
        .await
        .expect("the uploader may download its upload");
    assert_eq!(metadata, stat);
    assert!(
        downloaded == content,
        "the download differs from the upload"
    );
    assert_eq!(
        app.stored_files(),
        vec![format!("sha256/{}/{digest}", &digest[..2])],
        "one file, under its digest, nothing temporary left"
    );
    app.stop().await;
}

#[tokio::test]
async fn uploading_stored_content_again_keeps_one_copy_and_says_so() {
    let app = spawn_app().await;
    let content = distinct_content(200_000, 2);
    let first = send_upload(&app, MARKET_BUREAU, upload_messages(&content, 65_536, None))
        .await
        .expect("first upload");
    assert!(!first.already_stored);

    // Another agency holding the same bytes proves it by sending them, and may then read them.
    let second = send_upload(
        &app,
        JUSTICE_BUREAU,
        upload_messages(&content, 10_000, None),
    )
    .await
    .expect("second upload");
    assert!(second.already_stored);
    assert_eq!(second.sha256, first.sha256);
    assert_eq!(app.stored_files().len(), 1);
    let (_, downloaded) = download(&app, JUSTICE_BUREAU, &second.sha256)
        .await
        .expect("the second uploader may read it");
    assert!(downloaded == content);
    app.stop().await;
}

#[tokio::test]
async fn content_that_is_not_the_declared_digest_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let content = distinct_content(100_000, 3);
    let declared = sha256_hex(b"what the sender meant to send");

    let status = send_upload(
        &app,
        MARKET_BUREAU,
        upload_messages(&content, 65_536, Some(declared.clone())),
    )
    .await
    .expect_err("a digest mismatch is refused");

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["metadata.sha256"]);
    assert!(
        status.message().contains(&sha256_hex(&content)),
        "the message names the actual digest: {}",
        status.message()
    );
    assert_eq!(app.stored_files(), Vec::<String>::new());
    for digest in [declared, sha256_hex(&content)] {
        let status = app
            .evidence_as(MARKET_BUREAU)
            .await
            .get_evidence(pb::GetEvidenceRequest { sha256: digest })
            .await
            .expect_err("nothing was recorded");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_naming_the_limit() {
    let app = spawn_app_with_evidence_limit(1024 * 1024).await;
    let content = distinct_content(1024 * 1024 + 1, 4);

    let status = send_upload(&app, MARKET_BUREAU, upload_messages(&content, 65_536, None))
        .await
        .expect_err("too large");

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["metadata.size"]);
    assert!(
        status
            .message()
            .contains("1048576 bytes (1MiB, setting evidence.max_size)"),
        "the message names the limit: {}",
        status.message()
    );
    assert_eq!(app.stored_files(), Vec::<String>::new());

    // Declaring less than is sent does not get around the limit.
    let mut messages = upload_messages(&content, 65_536, None);
    if let Some(pb::upload_evidence_request::Part::Metadata(m)) = &mut messages[0].part {
        m.size = 1000;
    }
    let status = send_upload(&app, MARKET_BUREAU, messages)
        .await
        .expect_err("more bytes than declared");
    assert_eq!(violated_fields(&status), ["chunk.data"]);
    assert_eq!(app.stored_files(), Vec::<String>::new());
    app.stop().await;
}

#[tokio::test]
async fn chunks_out_of_order_or_an_upload_without_metadata_first_are_refused() {
    use pb::upload_evidence_request::Part;
    let app = spawn_app().await;
    let content = distinct_content(3 * 65_536, 5);

    let mut swapped = upload_messages(&content, 65_536, None);
    swapped.swap(1, 2);
    let mut repeated = upload_messages(&content, 65_536, None);
    repeated.insert(2, repeated[1].clone());
    let mut short = upload_messages(&content, 65_536, None);
    short.pop();
    let mut headless = upload_messages(&content, 65_536, None);
    headless.remove(0);
    let mut twice = upload_messages(&content, 65_536, None);
    twice.insert(2, twice[0].clone());
    let nothing = Vec::new();

    for (case, messages, field) in [
        ("chunks swapped", swapped, "chunk.offset"),
        ("a chunk repeated", repeated, "chunk.offset"),
        ("the last chunk missing", short, "metadata.size"),
        ("no metadata", headless, "metadata"),
        ("metadata twice", twice, "metadata"),
        ("an empty stream", nothing, "metadata"),
    ] {
        let status = send_upload(&app, MARKET_BUREAU, messages)
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::InvalidArgument, "{case}: {status:?}");
        assert_eq!(violated_fields(&status), [field], "{case}");
    }
    assert_eq!(app.stored_files(), Vec::<String>::new());

    // An empty file, and empty chunks, are fine.
    let mut empty = upload_messages(b"", 1, Some(sha256_hex(b"")));
    empty.push(pb::UploadEvidenceRequest {
        part: Some(Part::Chunk(pb::EvidenceChunk {
            offset: 0,
            data: bytes::Bytes::new(),
        })),
    });
    let response = send_upload(&app, MARKET_BUREAU, empty)
        .await
        .expect("an empty file");
    assert_eq!(response.size, 0);
    let (metadata, downloaded) = download(&app, MARKET_BUREAU, &response.sha256)
        .await
        .expect("download the empty file");
    assert_eq!(metadata.size, 0);
    assert!(downloaded.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn only_the_uploader_and_the_parties_to_a_referral_that_references_a_file_may_read_it() {
    let app = spawn_app().await;
    let content = distinct_content(300_000, 6);
    let digest = uploaded(&app, MARKET_BUREAU, &content).await;

    // Before any case references it, the police may not read it (and learn nothing about it).
    let status = app
        .evidence_as(CITY_POLICE)
        .await
        .get_evidence(pb::GetEvidenceRequest {
            sha256: digest.clone(),
        })
        .await
        .expect_err("not a party to anything yet");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        !status.message().contains("现场照片"),
        "{}",
        status.message()
    );
    let status = download(&app, CITY_POLICE, &digest)
        .await
        .expect_err("no download either");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let unknown = app
        .evidence_as(CITY_POLICE)
        .await
        .get_evidence(pb::GetEvidenceRequest {
            sha256: sha256_hex(b"never uploaded"),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    let mut request = submission("req-with-evidence");
    request.documents[2].sha256 = digest.clone();
    app.referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(request)
        .await
        .expect("a referral naming an uploaded file is accepted");

    // The parties learn of it asynchronously, from the referral's event.
    for party in [CITY_POLICE, PROCURATORATE] {
        let deadline = Instant::now() + PROMPTLY;
        let downloaded = loop {
            match download(&app, party, &digest).await {
                Ok((_, downloaded)) => break downloaded,
                Err(status) if status.code() == Code::PermissionDenied => {
                    assert!(Instant::now() < deadline, "{party} never got access");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(status) => panic!("{party}: {status:?}"),
            }
        };
        assert!(downloaded == content, "{party} read other bytes");
    }
    for stranger in [DISTRICT_POLICE, JUSTICE_BUREAU] {
        let status = download(&app, stranger, &digest)
            .await
            .expect_err("not a party");
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{stranger}: {status:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_referral_naming_a_file_never_uploaded_is_refused_on_that_document() {
    let app = spawn_app().await;
    let unknown = sha256_hex(b"never uploaded");
    // Someone else's upload is no better: naming a file must not grant access to it.
    let theirs = uploaded(&app, JUSTICE_BUREAU, &distinct_content(1000, 7)).await;
    let mut request = submission("req-unknown-evidence");
    request.documents[0].sha256 = theirs.clone();
    request.documents[2].sha256 = unknown.clone();

    let status = app
        .referrals_as(MARKET_BUREAU)
        .await
        .submit_referral(request)
        .await
        .expect_err("unknown attachments are refused");

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violated_fields(&status),
        ["documents[0].sha256", "documents[2].sha256"]
    );
    assert!(
        status.message().contains("upload the file first"),
        "the message says what to do: {}",
        status.message()
    );
    assert!(status.message().contains(&unknown), "{}", status.message());
    app.stop().await;
}

#[tokio::test]
async fn a_supplement_naming_a_file_never_uploaded_is_refused_on_that_document() {
    let app = spawn_app().await;
    let referral_id = submitted_referral(&app, "req-submit").await;
    let mut police = app.referrals_as(CITY_POLICE).await;
    police
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "req-receipt".into(),
            referral_id: referral_id.clone(),
        })
        .await
        .expect("receipt");
    police
        .request_supplement(pb::RequestSupplementRequest {
            request_id: "req-ask".into(),
            referral_id: referral_id.clone(),
            missing: vec![pb::DocumentKind::TestReport.into()],
            note: String::new(),
        })
        .await
        .expect("supplement requested");
    let report = distinct_content(5000, 8);
    let uploaded_report = uploaded(&app, MARKET_BUREAU, &report).await;
    let document = |sha256: String| pb::Document {
        kind: pb::DocumentKind::TestReport.into(),
        title: "检验报告".into(),
        sha256,
    };
    let mut market = app.referrals_as(MARKET_BUREAU).await;

    let status = market
        .supplement_referral(pb::SupplementReferralRequest {
            request_id: "req-supplement".into(),
            referral_id: referral_id.clone(),
            documents: vec![
                document(uploaded_report.clone()),
                document(sha256_hex(b"not uploaded")),
            ],
            note: String::new(),
        })
        .await
        .expect_err("an unknown attachment is refused");
    assert_eq!(violated_fields(&status), ["documents[1].sha256"]);

    market
        .supplement_referral(pb::SupplementReferralRequest {
            request_id: "req-supplement-2".into(),
            referral_id,
            documents: vec![document(uploaded_report)],
            note: String::new(),
        })
        .await
        .expect("a supplement naming an uploaded file is accepted");
    app.stop().await;
}

#[tokio::test]
async fn a_stored_file_damaged_on_disk_ends_its_download_with_data_loss() {
    let app = spawn_app().await;
    let content = distinct_content(600_000, 9);
    let digest = uploaded(&app, MARKET_BUREAU, &content).await;
    let path = app
        .dir
        .path()
        .join("evidence")
        .join(format!("sha256/{}/{digest}", &digest[..2]));

    // Same length, one byte flipped: caught only by the digest at the end of the stream.
    let mut damaged = content.clone();
    damaged[400_000] ^= 0xff;
    std::fs::write(&path, &damaged).expect("damage the stored file");
    let status = download(&app, MARKET_BUREAU, &digest)
        .await
        .expect_err("a damaged file never downloads completely");
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");

    // Truncated: caught before the first byte.
    std::fs::write(&path, &content[..1000]).expect("truncate the stored file");
    let status = download(&app, MARKET_BUREAU, &digest)
        .await
        .expect_err("a truncated file is not served");
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");
    app.stop().await;
}

/// A referral whose receipt the police signed, so the S1-8 decision runs against them.
async fn received_referral(app: &TestApp, request_id: &str) -> String {
    let case_id = submitted_referral(app, request_id).await;
    app.referrals_as(CITY_POLICE)
        .await
        .sign_receipt(pb::SignReceiptRequest {
            request_id: format!("{request_id}-receipt"),
            referral_id: case_id.clone(),
        })
        .await
        .expect("receipt signed");
    case_id
}

/// The case's deadlines once `rule` is among them, as `agency`.
async fn case_deadlines_with(
    app: &TestApp,
    agency: &str,
    case_id: &str,
    rule: &str,
) -> Vec<pb::Obligation> {
    let mut deadlines = app.deadlines_as(agency).await;
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let listed = deadlines
            .list_case_deadlines(pb::ListCaseDeadlinesRequest {
                case_id: case_id.into(),
            })
            .await
            .map(|r| r.into_inner().obligations);
        match listed {
            Ok(obligations) if obligations.iter().any(|o| o.rule == rule) => return obligations,
            _ if Instant::now() > deadline => panic!("{rule} not listed for {case_id}: {listed:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn extend_request(request_id: &str, case_id: &str, tier: u32) -> pb::ExtendDeadlineRequest {
    pb::ExtendDeadlineRequest {
        request_id: request_id.into(),
        case_id: case_id.into(),
        rule: "S1-8".into(),
        target: Some(pb::extend_deadline_request::Target::Tier(tier)),
        approval_reference: "榕公刑延〔2026〕12号".into(),
        reason: "major case".into(),
    }
}

/// Issue 12, D2: a non-party asking to extend someone's deadline learned who owed the step and
/// whether the rule was open. Now it gets the answer a case without that obligation gets.
#[tokio::test]
async fn a_non_party_learns_nothing_from_a_refused_extension() {
    let app = spawn_app().await;
    let case_id = received_referral(&app, "extend-stranger").await;
    case_deadlines_with(&app, CITY_POLICE, &case_id, "S1-8").await;
    let mut stranger = app.deadlines_as(EMERGENCY_BUREAU).await;
    let open = stranger
        .extend_deadline(extend_request("s-1", &case_id, 1))
        .await
        .expect_err("refused");
    let unknown = "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7f";
    let nothing = stranger
        .extend_deadline(extend_request("s-2", unknown, 1))
        .await
        .expect_err("refused");
    let mut not_open = extend_request("s-3", &case_id, 1);
    not_open.rule = "S1-9b".into();
    let closed = stranger
        .extend_deadline(not_open)
        .await
        .expect_err("refused");
    for status in [&open, &nothing, &closed] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        for secret in ["福州市公安局", CITY_POLICE, "AUTH-OBLIGOR", "owes the step"] {
            assert!(!status.message().contains(secret), "{}", status.message());
        }
    }
    assert_eq!(
        open.message().replace(&case_id, "<id>"),
        nothing.message().replace(unknown, "<id>")
    );
    assert_eq!(
        open.message().replace("S1-8", "<rule>"),
        closed.message().replace("S1-9b", "<rule>")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_police_extend_their_review_and_only_they_may() {
    let app = spawn_app().await;
    let case_id = received_referral(&app, "extend-1").await;
    let before = case_deadlines_with(&app, CITY_POLICE, &case_id, "S1-8").await;
    let decide = before
        .iter()
        .find(|o| o.rule == "S1-8")
        .expect("S1-8")
        .clone();
    assert_eq!(
        decide.extension_tiers,
        ["7 calendar days", "30 calendar days"]
    );
    assert_eq!(decide.period, "3 calendar days");
    // The same in Chinese, over the wire (issue 15 item 4).
    assert_eq!(decide.extension_tiers_zh, ["7日", "30日"]);
    assert_eq!(decide.period_zh, "3日");
    assert!(
        decide.step_zh.starts_with("自接受移送之日起对案件进行审查"),
        "{}",
        decide.step_zh
    );
    assert_eq!(decide.explanation_zh.len(), decide.explanation.len());
    assert_eq!(
        decide.explanation_zh[0],
        format!("规则 S1-8（S1 第8条；S2 第180条）：{}", decide.step_zh)
    );
    assert!(
        decide
            .explanation_zh
            .iter()
            .any(|l| l.starts_with("期限届满：") && l.ends_with("24:00（北京时间）")),
        "{:#?}",
        decide.explanation_zh
    );

    // Not the owing agency: the sender may not extend the police's deadline.
    let refused = app
        .deadlines_as(MARKET_BUREAU)
        .await
        .extend_deadline(extend_request("m-1", &case_id, 1))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("AUTH-OBLIGOR"),
        "{}",
        refused.message()
    );

    // A tier the rule does not have names the field.
    let mut police = app.deadlines_as(CITY_POLICE).await;
    let no_tier = police
        .extend_deadline(extend_request("p-0", &case_id, 9))
        .await
        .expect_err("refused");
    assert_eq!(no_tier.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&no_tier), ["tier"]);

    let extended = police
        .extend_deadline(extend_request("p-1", &case_id, 1))
        .await;
    match &decide.due_at {
        Some(due) => {
            let extended = extended.expect("extended").into_inner();
            assert!(!extended.replayed);
            let o = extended.obligation.expect("the obligation");
            // Tier 1 is 7 calendar days from the start: later than the 3 days it replaces (by
            // fewer than 4 when the 3rd day fell on a weekend and was rolled to Monday).
            let extended_due = o.due_at.as_ref().expect("a due time").seconds;
            let started = o.started_at.as_ref().expect("a start").seconds;
            assert!(
                extended_due > due.seconds,
                "the extension moves the due time later"
            );
            assert!(
                extended_due >= started + 7 * 86_400,
                "7 days from the start"
            );
            assert_eq!(o.extensions.len(), 1);
            assert_eq!(o.extensions[0].tier, 1);
            assert_eq!(o.extensions[0].by, CITY_POLICE);
            assert_eq!(o.extensions[0].approval_reference, "榕公刑延〔2026〕12号");
            // Signed by the operator's key, on the deadlines chain; a retry gets the same one.
            let receipt = extended.receipt.expect("a receipt");
            let verifier = casebridge_platform::ledger::Verifier::from_hex(&app.public_key)
                .expect("public key");
            assert!(verifier.receipt_is_genuine(&receipts::domain(&receipt)));
            assert_eq!(
                (receipt.service.as_str(), receipt.step.as_str()),
                ("deadlines", "extend_deadline")
            );
            assert_eq!(receipt.case_id, case_id);
            let again = police
                .extend_deadline(extend_request("p-1", &case_id, 1))
                .await
                .expect("replayed")
                .into_inner();
            assert!(again.replayed);
            assert_eq!(again.receipt, Some(receipt));
            let conflict = police
                .extend_deadline(extend_request("p-1", &case_id, 2))
                .await
                .expect_err("other content");
            assert_eq!(conflict.code(), Code::AlreadyExists);
            // The procuratorate reads the same ledger.
            let seen = case_deadlines_with(&app, PROCURATORATE, &case_id, "S1-8").await;
            let seen = seen.iter().find(|o| o.rule == "S1-8").expect("S1-8");
            assert_eq!(seen.extensions.len(), 1);
            assert!(seen.explanation.iter().any(|l| l.contains("tier 1")));
        }
        // Past the shipped calendars no due time exists, so nothing can be extended; it says why.
        None => {
            let status = extended.expect_err("refused");
            assert_eq!(status.code(), Code::FailedPrecondition);
            assert!(
                status.message().contains("no holiday calendar"),
                "{}",
                status.message()
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_case_s_deadlines_are_for_its_parties_only() {
    let app = spawn_app().await;
    let case_id = submitted_referral(&app, "case-1").await;
    for party in [CITY_POLICE, MARKET_BUREAU, PROCURATORATE] {
        let listed = case_deadlines_with(&app, party, &case_id, "RCPT").await;
        assert_eq!(listed.len(), 1, "{party}");
        assert!(listed[0].explanation[0].contains("rule RCPT"));
    }
    let outsider = app
        .deadlines_as(DISTRICT_POLICE)
        .await
        .list_case_deadlines(pb::ListCaseDeadlinesRequest {
            case_id: case_id.clone(),
        })
        .await
        .expect_err("refused");
    assert_eq!(outsider.code(), Code::PermissionDenied);
    let unknown = app
        .deadlines_as(CITY_POLICE)
        .await
        .list_case_deadlines(pb::ListCaseDeadlinesRequest {
            case_id: CaseId::generate().to_string(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn reports_come_as_json_or_csv_files() {
    let app = spawn_app().await;
    let case_id = submitted_referral(&app, "report-1").await;
    case_deadlines_with(&app, PROCURATORATE, &case_id, "RCPT").await;
    let today = test_clock().now().to_cst();
    let mut monitor = app.monitor_as(PROCURATORATE).await;
    let json = monitor
        .get_report(pb::GetReportRequest {
            kind: pb::ReportKind::Monthly.into(),
            year: chrono::Datelike::year(&today),
            month: chrono::Datelike::month(&today),
            quarter: 0,
            format: pb::ReportFormat::Json.into(),
        })
        .await
        .expect("report")
        .into_inner();
    assert_eq!(json.content_type, "application/json");
    let value: serde_json::Value = serde_json::from_slice(&json.content).expect("JSON");
    assert_eq!(value["report"], "monthly_reminder");
    let police = value["statistics"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agency"] == CITY_POLICE))
        .expect("the police row");
    assert_eq!(police["received"], 1);
    let csv = monitor
        .get_report(pb::GetReportRequest {
            kind: pb::ReportKind::Annual.into(),
            year: chrono::Datelike::year(&today),
            month: 0,
            quarter: 0,
            format: pb::ReportFormat::Csv.into(),
        })
        .await
        .expect("report")
        .into_inner();
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert!(csv.file_name.ends_with(".csv"));
    let text = String::from_utf8(csv.content).expect("UTF-8");
    assert!(text.starts_with("report,period,"), "{text}");
    assert!(text.contains("by_rule,RCPT,referral,"), "{text}");
    assert!(
        text.contains(&format!("\r\ncases,{CITY_POLICE},")),
        "the police received the referral: {text}"
    );
    let bad = monitor
        .get_report(pb::GetReportRequest {
            kind: 0,
            year: 2026,
            month: 0,
            quarter: 0,
            format: 0,
        })
        .await
        .expect_err("refused");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["kind", "format"]);
    app.stop().await;
}

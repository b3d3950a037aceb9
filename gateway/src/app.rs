//! Building and running the gateway: bind first (so the port is known), then serve until
//! shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::LiveCalendar;
use casebridge_core::directory::Directory;
use casebridge_core::time::Clock;
use casebridge_platform::bus::Bus;
use casebridge_proto::v1::case_service_server::CaseServiceServer;
use casebridge_proto::v1::deadline_service_server::DeadlineServiceServer;
use casebridge_proto::v1::directory_service_server::DirectoryServiceServer;
use casebridge_proto::v1::dispute_service_server::DisputeServiceServer;
use casebridge_proto::v1::evidence_service_server::EvidenceServiceServer;
use casebridge_proto::v1::export_service_server::ExportServiceServer;
use casebridge_proto::v1::inbox_service_server::InboxServiceServer;
use casebridge_proto::v1::lead_service_server::LeadServiceServer;
use casebridge_proto::v1::monitor_service_server::MonitorServiceServer;
use casebridge_proto::v1::opinion_service_server::OpinionServiceServer;
use casebridge_proto::v1::penalty_service_server::PenaltyServiceServer;
use casebridge_proto::v1::rectification_service_server::RectificationServiceServer;
use casebridge_proto::v1::referral_service_server::ReferralServiceServer;
use casebridge_proto::v1::transfer_service_server::TransferServiceServer;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::transport::Server;

use crate::cases::CasesGrpc;
use crate::console::{Console, ConsoleConfig};
use crate::context::{Context, EvidenceConfig, StartError, TlsMaterial, bind};
use crate::directory::DirectoryGrpc;
use crate::disputes::DisputesGrpc;
use crate::evidence::EvidenceGrpc;
use crate::export::ExportGrpc;
use crate::inbox::InboxGrpc;
use crate::leads::LeadsGrpc;
use crate::limits::{Caps, Limits};
use crate::monitor::{DeadlinesGrpc, MonitorGrpc};
use crate::opinions::OpinionsGrpc;
use crate::penalties::PenaltiesGrpc;
use crate::rectifications::RectificationsGrpc;
use crate::referrals::ReferralsGrpc;
use crate::transfers::TransfersGrpc;
use crate::trust::{Revoked, Trust, TrustFiles};

/// Every gRPC service the gateway serves, by the name health checks ask about.
const SERVICES: [&str; 14] = [
    <ReferralServiceServer<ReferralsGrpc> as NamedService>::NAME,
    <TransferServiceServer<TransfersGrpc> as NamedService>::NAME,
    <DisputeServiceServer<DisputesGrpc> as NamedService>::NAME,
    <OpinionServiceServer<OpinionsGrpc> as NamedService>::NAME,
    <PenaltyServiceServer<PenaltiesGrpc> as NamedService>::NAME,
    <LeadServiceServer<LeadsGrpc> as NamedService>::NAME,
    <RectificationServiceServer<RectificationsGrpc> as NamedService>::NAME,
    <CaseServiceServer<CasesGrpc> as NamedService>::NAME,
    <InboxServiceServer<InboxGrpc> as NamedService>::NAME,
    <MonitorServiceServer<MonitorGrpc> as NamedService>::NAME,
    <DeadlineServiceServer<DeadlinesGrpc> as NamedService>::NAME,
    <DirectoryServiceServer<DirectoryGrpc> as NamedService>::NAME,
    <EvidenceServiceServer<EvidenceGrpc> as NamedService>::NAME,
    <ExportServiceServer<ExportGrpc> as NamedService>::NAME,
];

/// What the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub tls: TlsMaterial,
    /// How long to wait for a service's reply before answering UNAVAILABLE.
    pub request_timeout: Duration,
    pub evidence: EvidenceConfig,
    /// The web console, on its own listener; `None` serves none.
    pub console: Option<ConsoleConfig>,
    /// Now, for the boards' "as of" and the calendar check (injected so tests set the date).
    pub clock: Arc<dyn Clock>,
    /// How long a connection may take over its TLS handshake, and on the console over a
    /// request's headers, before it is closed (`gateway.handshake_timeout`).
    pub handshake_timeout: Duration,
    /// The connections the gRPC port holds: in total (`gateway.max_connections`), per IP while
    /// handshaking (`gateway.max_handshakes_per_ip`) and per client certificate
    /// (`gateway.max_connections_per_certificate`).
    pub connections: Caps,
    /// The legal calendar in force, for the operator's warning that a year's official holiday
    /// schedule is missing (on the supervisors' board and in the health service).
    pub calendar: LiveCalendar,
    /// The directory and revocation files to reload while running; `None` keeps the directory
    /// given at build and revokes nothing.
    pub trust_files: Option<TrustFiles>,
    /// The process's readiness, which the gRPC health service follows (every service name,
    /// and the overall `""`); `None`: SERVING from start to shutdown.
    pub readiness: Option<casebridge_platform::admin::Health>,
}

/// How often the gRPC health service re-reads the process's readiness.
const READINESS_POLL: Duration = Duration::from_secs(5);

/// The gRPC health service name that reports the legal calendar: NOT_SERVING while this year,
/// or from 1 October the next year, has no official holiday schedule installed (due times in it
/// are provisional). The gateway itself keeps serving.
pub const CALENDAR_HEALTH: &str = "casebridge.calendar";

/// The most concurrent requests (HTTP/2 streams) one connection may have open.
const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// How often the gateway re-checks the calendar for its health service.
const CALENDAR_HEALTH_POLL: Duration = Duration::from_secs(60);

/// A bound, not yet serving gateway.
#[derive(Debug)]
pub struct Gateway {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: rustls::ServerConfig,
    handshake_timeout: Duration,
    connections: Caps,
    ctx: Arc<Context>,
    console: Option<Console>,
    trust_files: Option<TrustFiles>,
    readiness: Option<casebridge_platform::admin::Health>,
}

impl Gateway {
    /// Binds the listening socket.
    pub async fn build(
        config: GatewayConfig,
        bus: Bus,
        directory: Arc<Directory>,
    ) -> Result<Gateway, StartError> {
        let (listener, local_addr) = bind(config.listen).await?;
        let (wakeups, _) = broadcast::channel(1024);
        let revoked = match config
            .trust_files
            .as_ref()
            .and_then(|f| f.revoked.as_deref())
        {
            Some(path) => Trust::read_revoked(path)?,
            None => Revoked::default(),
        };
        let ctx = Arc::new(Context {
            bus,
            trust: Arc::new(Trust::new(directory, revoked)),
            request_timeout: config.request_timeout,
            wakeups,
            evidence: config.evidence,
            clock: config.clock,
            calendar: config.calendar,
            stopping: CancellationToken::new(),
        });
        // A peer that sends a partial ClientHello, or nothing, is dropped after
        // handshake_timeout (issue 12, D3); a revoked certificate fails the handshake.
        let tls = crate::tls::grpc_server_config(&config.tls, ctx.trust.clone())
            .map_err(|e| StartError::Tls(e.to_string()))?;
        let console = match &config.console {
            Some(console) => Some(
                Console::build(console, &config.tls, config.handshake_timeout, ctx.clone()).await?,
            ),
            None => None,
        };
        Ok(Gateway {
            listener,
            local_addr,
            tls,
            handshake_timeout: config.handshake_timeout,
            connections: config.connections,
            ctx,
            console,
            trust_files: config.trust_files,
            readiness: config.readiness,
        })
    }

    /// The web console's bound address, when it is served.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().map(Console::local_addr)
    }

    /// A new one-time sign-in link to the console, when demo sign-in is on.
    pub fn console_signin_link(&self) -> Option<String> {
        self.console.as_ref().and_then(Console::signin_link)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown`, then stops accepting and lets open calls finish.
    pub async fn run_until_stopped(
        mut self,
        shutdown: CancellationToken,
    ) -> Result<(), StartError> {
        let wakeups = crate::inbox::listen_for_wakeups(&self.ctx, shutdown.clone()).await?;
        let trust_reload = self
            .trust_files
            .take()
            .map(|files| tokio::spawn(self.ctx.trust.clone().watch(files, shutdown.clone())));
        let console = self
            .console
            .take()
            .map(|console| tokio::spawn(console.run_until_stopped(shutdown.clone())));
        let (health, health_service) = tonic_health::server::health_reporter();
        for service in SERVICES {
            health
                .set_service_status(service, tonic_health::ServingStatus::Serving)
                .await;
        }
        let calendar_health = {
            let (health, ctx, stop) = (health.clone(), self.ctx.clone(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    let missing = ctx.missing_calendar_years();
                    let status = if missing.is_empty() {
                        tonic_health::ServingStatus::Serving
                    } else {
                        tracing::warn!(years = ?missing, "official holiday schedule not installed: due times there are provisional (casebridge calendar status)");
                        tonic_health::ServingStatus::NotServing
                    };
                    health.set_service_status(CALENDAR_HEALTH, status).await;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(CALENDAR_HEALTH_POLL) => {}
                    }
                }
            })
        };
        // While running, every service's status follows the process's readiness (the bus,
        // the stores, the calendar when it gates). Shutting down: first say so to health
        // checks and load balancers (readiness off), then end the open inbox streams; tonic
        // meanwhile refuses new calls and lets the ones in flight finish. One task sets every
        // status, so a readiness answer computed just before shutdown cannot undo it.
        let draining = {
            let (health, stopping, stop) =
                (health.clone(), self.ctx.stopping.clone(), shutdown.clone());
            let readiness = self.readiness.take();
            tokio::spawn(async move {
                let set_all = |status| {
                    let health = health.clone();
                    async move {
                        health.set_service_status("", status).await;
                        for service in SERVICES {
                            health.set_service_status(service, status).await;
                        }
                    }
                };
                if let Some(readiness) = readiness {
                    loop {
                        let status = match readiness.readiness().await.is_ready() {
                            true => tonic_health::ServingStatus::Serving,
                            false => tonic_health::ServingStatus::NotServing,
                        };
                        if stop.is_cancelled() {
                            break;
                        }
                        set_all(status).await;
                        tokio::select! {
                            () = stop.cancelled() => break,
                            () = tokio::time::sleep(READINESS_POLL) => {}
                        }
                    }
                }
                stop.cancelled().await;
                set_all(tonic_health::ServingStatus::NotServing).await;
                stopping.cancel();
            })
        };
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(casebridge_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartError::Reflection(e.to_string()))?;
        tracing::info!(addr = %self.local_addr, "gateway serving gRPC with mutual TLS");
        let served = Server::builder()
            // Dead peers are found by HTTP/2 pings and their connections closed; one connection
            // cannot open streams without bound.
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
            .layer(crate::observe::ObserveLayer)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(ReferralServiceServer::new(ReferralsGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(TransferServiceServer::new(TransfersGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(DisputeServiceServer::new(DisputesGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(OpinionServiceServer::new(OpinionsGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(PenaltyServiceServer::new(PenaltiesGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(LeadServiceServer::new(LeadsGrpc::new(self.ctx.clone())))
            .add_service(RectificationServiceServer::new(RectificationsGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(CaseServiceServer::new(CasesGrpc::new(self.ctx.clone())))
            .add_service(InboxServiceServer::new(InboxGrpc::new(self.ctx.clone())))
            .add_service(MonitorServiceServer::new(MonitorGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(DeadlineServiceServer::new(DeadlinesGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(DirectoryServiceServer::new(DirectoryGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(EvidenceServiceServer::new(EvidenceGrpc::new(
                self.ctx.clone(),
            )))
            .add_service(ExportServiceServer::new(ExportGrpc::new(self.ctx.clone())))
            .serve_with_incoming_shutdown(
                crate::tls::accept(
                    self.listener,
                    self.tls,
                    self.handshake_timeout,
                    Limits::new(self.connections),
                    shutdown.clone(),
                ),
                shutdown.clone().cancelled_owned(),
            )
            .await
            .map_err(StartError::Serve);
        shutdown.cancel();
        let _ = draining.await;
        let _ = wakeups.await;
        if let Some(reload) = trust_reload {
            let _ = reload.await;
        }
        let _ = calendar_health.await;
        if let Some(console) = console {
            match console.await {
                Ok(Err(error)) => tracing::warn!(%error, "the console stopped with an error"),
                Err(error) => tracing::warn!(%error, "the console task failed"),
                Ok(Ok(())) => {}
            }
        }
        served
    }
}

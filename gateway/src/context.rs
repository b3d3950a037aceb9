//! What every endpoint of the gateway and the console shares, below the composition root
//! (`app.rs`): the [`Context`] they ask services through, the TLS material, the evidence
//! settings, start-up errors and binding a listener. Endpoints import this module, never
//! `app.rs`, so the composition root can import every endpoint without a circle.

use casebridge_platform::reply::ServiceReply;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::{LiveCalendar, cst_date};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_core::time::Clock;
use casebridge_evidence::storage::Storage;
use casebridge_platform::bus::{Bus, Message};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::error::GatewayError;

/// PEM material for mutual TLS.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The gateway's certificate chain.
    pub cert_pem: String,
    /// The gateway's private key.
    pub key_pem: String,
    /// The CA that signs agency client certificates; only its certificates are accepted.
    pub client_ca_pem: String,
}

/// Where evidence files go and how large they may be.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// The object storage every gateway of a deployment shares.
    pub storage: Storage,
    /// The largest file accepted, in bytes (`evidence.max_size`).
    pub max_size: u64,
}

/// Start-up and serving failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS configuration rejected: {0}")]
    Tls(String),
    #[error("the console cannot start: {0}")]
    ConsoleTls(String),
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    #[error("gRPC server failed: {0}")]
    Serve(tonic::transport::Error),
    #[error("cannot subscribe to inbox wake-ups: {0}")]
    Bus(#[from] casebridge_platform::bus::BusError),
    #[error("cannot read the revoked certificates: {0}")]
    Trust(#[from] crate::trust::TrustError),
}

/// What every endpoint shares.
#[derive(Debug)]
pub struct Context {
    pub bus: Bus,
    /// The agency directory and revoked certificates in force (reloaded without a restart).
    pub trust: Arc<crate::trust::Trust>,
    pub request_timeout: Duration,
    /// Agencies whose inbox just grew.
    pub wakeups: broadcast::Sender<AgencyCode>,
    pub evidence: EvidenceConfig,
    pub clock: Arc<dyn Clock>,
    pub calendar: LiveCalendar,
    /// Cancelled when the gateway begins to shut down: open inbox streams end with UNAVAILABLE
    /// so their clients reconnect (to another gateway, or this one restarted) from their cursor.
    pub stopping: tokio_util::sync::CancellationToken,
}

impl Context {
    /// The years whose official holiday schedule the operator must install now.
    pub fn missing_calendar_years(&self) -> Vec<i32> {
        self.calendar
            .current()
            .missing_official(cst_date(self.clock.now()))
    }

    /// The calling agency, from the client certificate.
    pub fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Agency, GatewayError> {
        crate::auth::caller(request, &self.trust)
    }

    /// The agency directory in force.
    pub fn directory(&self) -> Arc<Directory> {
        self.trust.directory()
    }

    /// Sends `request` to `service` over the bus and decodes its reply.
    pub async fn ask<Req, Rep>(
        &self,
        service: &'static str,
        request: &Req,
    ) -> Result<Rep, GatewayError>
    where
        Req: serde::Serialize,
        Rep: serde::de::DeserializeOwned,
    {
        let message = Message::json(service, request).map_err(|e| GatewayError::bus(service, e))?;
        let reply = self
            .bus
            .request(service, message, self.request_timeout)
            .await
            .map_err(|e| GatewayError::bus(service, e))?;
        reply.decode().map_err(|e| GatewayError::bus(service, e))
    }

    /// Asks `service` and takes the answer `pick` expects; any other reply is
    /// [`GatewayError::unanswered`].
    pub async fn ask_for<Req, Rep, T>(
        &self,
        service: &'static str,
        request: &Req,
        pick: impl FnOnce(Rep) -> Result<T, Rep>,
    ) -> Result<T, GatewayError>
    where
        Req: serde::Serialize,
        Rep: ServiceReply + serde::de::DeserializeOwned,
    {
        let reply = self.ask(service, request).await?;
        pick(reply).map_err(|other| GatewayError::unanswered(service, other))
    }
}

/// Binds `addr`; returns the listener and the address actually bound (useful with port 0).
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let local_addr = listener.local_addr().map_err(failed)?;
    Ok((listener, local_addr))
}

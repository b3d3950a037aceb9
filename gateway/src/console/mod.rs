//! The web console (网页控制台), for the people among CaseBridge's users: the supervisors'
//! overdue board, case timelines with their receipts, the coordination office's dispute desk,
//! the police referral desk, and statistics with downloadable reports.
//!
//! The gateway serves it on its own HTTPS listener (`console.listen`) with the gateway's
//! certificate. A browser signs in with the agency's client certificate, offered during the
//! handshake: optional here (unlike the gRPC port), so a browser without one gets a sign-in page
//! rather than a failed handshake. For the local demo, `casebridge up` prints a one-time sign-in
//! link (`console.demo_signin`): see [`session`].
//!
//! Every page calls the gateway's own gRPC endpoints in-process as the signed-in agency (marked
//! with [`crate::auth::ConsoleCaller`]): the same conversion, authorization table and refusals
//! as any agency system gets, so the console can never show or do more than the API allows.
//!
//! - [`session`]: one-time links, demo sessions, form tokens.
//! - [`html`]: `Markup` and escaping, the page frame, Chinese and English, times and ageing.
//! - [`viewer`]: who a page is for, and the state every page shares.
//! - [`pages`]: one handler per page and per form, a file per part of the console.

pub mod html;
mod pages;
pub mod session;
mod viewer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

use crate::cases::CasesGrpc;
use crate::context::{Context, StartError, TlsMaterial};
use crate::disputes::DisputesGrpc;
use crate::leads::LeadsGrpc;
use crate::limits::{Arriving, Caps, Limits};
use crate::monitor::{DeadlinesGrpc, MonitorGrpc};
use crate::opinions::OpinionsGrpc;
use crate::penalties::PenaltiesGrpc;
use crate::rectifications::RectificationsGrpc;
use crate::referrals::ReferralsGrpc;
use crate::transfers::TransfersGrpc;
use session::Sessions;
use viewer::{PeerAgency, State};

/// How the console is served.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Where to listen (HTTPS).
    pub listen: SocketAddr,
    /// Accept one-time sign-in links (`casebridge up` only: a demo session may act as any
    /// agency of the directory).
    pub demo_signin: bool,
    /// How long a demo session may stay idle before it ends (`console.session_idle`).
    pub session_idle: Duration,
    /// Signs form tokens; the same on every gateway of a deployment (`console.form_key`).
    pub form_key: session::FormKey,
    /// Where demo sign-in links and sessions are kept across restarts (`casebridge up`); `None`
    /// keeps them in memory.
    pub sessions_file: Option<std::path::PathBuf>,
    /// The connections the console holds: in total (`console.max_connections`), per IP while
    /// handshaking and per client certificate (the gateway's settings for both).
    pub connections: Caps,
}

/// A bound, not yet serving console.
#[derive(Debug)]
pub struct Console {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    /// The longest a connection may take over its TLS handshake, and over a request's headers.
    handshake_timeout: Duration,
    limits: Arc<Limits>,
}

impl Console {
    /// Binds the console's listener with the gateway's certificate; client certificates are
    /// optional and, when offered, must chain to the agencies' CA.
    pub async fn build(
        config: &ConsoleConfig,
        tls: &TlsMaterial,
        handshake_timeout: Duration,
        ctx: Arc<Context>,
    ) -> Result<Console, StartError> {
        let (listener, local_addr) = crate::context::bind(config.listen).await?;
        let tls = Arc::new(server_tls(tls).map_err(|e| StartError::ConsoleTls(e.to_string()))?);
        let sessions = match &config.sessions_file {
            Some(file) => Sessions::persistent(config.session_idle, &config.form_key, file.clone()),
            None => Sessions::new(config.session_idle, &config.form_key),
        };
        Ok(Console {
            listener,
            local_addr,
            tls,
            handshake_timeout,
            limits: Limits::new(config.connections),
            state: Arc::new(State {
                sessions,
                demo_signin: config.demo_signin,
                referrals: ReferralsGrpc::new(ctx.clone()),
                transfers: TransfersGrpc::new(ctx.clone()),
                opinions: OpinionsGrpc::new(ctx.clone()),
                penalties: PenaltiesGrpc::new(ctx.clone()),
                leads: LeadsGrpc::new(ctx.clone()),
                rectifications: RectificationsGrpc::new(ctx.clone()),
                disputes: DisputesGrpc::new(ctx.clone()),
                cases: CasesGrpc::new(ctx.clone()),
                monitor: MonitorGrpc::new(ctx.clone()),
                deadlines: DeadlinesGrpc::new(ctx.clone()),
                ctx,
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A new one-time sign-in link, when demo sign-in is on.
    pub fn signin_link(&self) -> Option<String> {
        if !self.state.demo_signin {
            return None;
        }
        let token = self.state.sessions.new_link().ok()?;
        Some(format!("https://{}/signin?token={token}", self.local_addr))
    }

    /// Serves until `shutdown`. Each connection is its own task, owned here; open ones get a
    /// short grace period, then are dropped.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartError> {
        let router = pages::router()
            .with_state(self.state)
            .layer(axum::middleware::map_response(security_headers))
            .layer(axum::middleware::from_fn(same_origin));
        tracing::info!(addr = %self.local_addr, "console serving HTTPS");
        let acceptor = TlsAcceptor::from(self.tls);
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.cancelled() => break,
            };
            while connections.try_join_next().is_some() {}
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "console accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let arriving = match self.limits.arrive(peer.ip()) {
                Ok(arriving) => arriving,
                Err(full) => {
                    tracing::warn!(%peer, "console connection refused: {full}");
                    continue;
                }
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            let timeout = self.handshake_timeout;
            connections.spawn(async move {
                if let Err(error) = serve_connection(acceptor, router, tcp, arriving, timeout).await
                {
                    tracing::debug!(%error, %peer, "console connection ended with an error");
                }
            });
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.abort_all();
        Ok(())
    }
}

/// The console's TLS: the gateway's identity, HTTP/1.1, and client certificates optional.
fn server_tls(
    tls: &TlsMaterial,
) -> Result<rustls::ServerConfig, Box<dyn std::error::Error + Send + Sync>> {
    // Certificates are optional here: a browser without one signs in by a demo link, or not.
    crate::tls::server_config(tls, b"http/1.1", |ca| {
        Ok(ca.allow_unauthenticated().build()?)
    })
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    router: Router,
    tcp: tokio::net::TcpStream,
    arriving: Arriving,
    timeout: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = tcp.set_nodelay(true);
    let stream = tokio::time::timeout(timeout, acceptor.accept(tcp)).await??;
    // Held until the connection closes.
    let _places = arriving.established(crate::tls::client_serial(&stream).as_deref())?;
    // rustls has checked the chain and validity; the code inside is checked against the
    // directory on every request, as on the gRPC port.
    let agency = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| crate::auth::certified_agency(leaf.as_ref()).ok());
    let service = hyper::service::service_fn(
        move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(PeerAgency(agency.clone()));
            tower::ServiceExt::oneshot(router.clone(), request)
        },
    );
    hyper::server::conn::http1::Builder::new()
        // A slow-header (Slowloris) client is dropped once the headers take longer than this.
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await?;
    Ok(())
}

/// The headers every console response carries (issue 12, D6): the pages show personal data, so
/// nothing but this site's own stylesheet loads, no other site may frame them, browsers keep to
/// HTTPS and to the declared types, no address leaks to other sites, and nothing is cached
/// unless the response says otherwise. The console has no script and no inline style.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    use axum::http::HeaderValue;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // same-origin: no address reaches another site, and a browser still names this console as
        // the Origin of its own forms (no-referrer would make it send `Origin: null`).
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Refuses a POST whose `Origin` is not this console (issue 12, item 6), in addition to the form
/// token: a browser names the page a form was sent from, so another site's form is stopped
/// before any step. A POST without `Origin` (not a browser) still needs its form token.
pub(crate) async fn same_origin(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::POST {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let same = origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix("https://"))
                .is_some_and(|o| Some(o) == host);
            if !same {
                return (
                    axum::http::StatusCode::FORBIDDEN,
                    "cross-site request refused: the form was not sent from this console",
                )
                    .into_response();
            }
        }
    }
    next.run(request).await
}

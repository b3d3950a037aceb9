//! The gRPC port's own TLS acceptor: mutual TLS with the agencies' CA, in which a revoked
//! certificate is refused in the handshake itself with the `certificate_revoked` alert, and one
//! that names no agency of the directory with `access_denied` ([`Trust`], reloaded without a
//! restart; a connection opened before a change is refused per call, [`crate::auth`]). tonic's acceptor takes a CA but no revocation list, so the
//! gateway accepts connections itself and hands tonic the finished TLS streams (tonic still reads
//! the peer's certificates from them for [`crate::auth`]).
//!
//! Each handshake runs in its own task, bounded by the handshake timeout, so a peer that sends
//! nothing holds no other connection back; and the port holds connections within its
//! [`Limits`] (in total, per IP while handshaking, per certificate after), so no number of
//! peers can exhaust the gateway's sockets and memory, and no one peer can crowd out the rest.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use crate::context::TlsMaterial;
use crate::limits::{Established, Limits};
use crate::trust::Trust;

/// Verifies client certificates as the CA's verifier does, then refuses revoked ones and those
/// that name no agency of the directory.
#[derive(Debug)]
struct TrustVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    trust: Arc<Trust>,
}

impl ClientCertVerifier for TrustVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let serial = crate::pki::certificate_serial(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if self.trust.is_revoked(&serial) {
            tracing::info!(
                serial = %hex::encode(&serial),
                "a revoked client certificate was refused in the handshake"
            );
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        // The contract (common.proto) refuses an unknown agency during the handshake: a
        // certificate the CA issued for a code that is malformed or not (or no longer) in the
        // directory opens no connection.
        let admitted = crate::auth::certified_agency(end_entity.as_ref())
            .ok()
            .filter(|code| self.trust.directory().get(code).is_some());
        if admitted.is_none() {
            tracing::info!(
                serial = %hex::encode(&serial),
                "a client certificate naming no agency of the directory was refused in the handshake"
            );
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A TLS server configuration with the gateway's certificate and key, speaking `alpn`, whose
/// client certificates are checked against the agencies' CA by the verifier `verifier` makes
/// of the CA's verifier builder. Shared by the gRPC port and the console.
pub(crate) fn server_config(
    tls: &TlsMaterial,
    alpn: &[u8],
    verifier: impl FnOnce(
        rustls::server::ClientCertVerifierBuilder,
    ) -> Result<Arc<dyn ClientCertVerifier>, BoxError>,
) -> Result<rustls::ServerConfig, BoxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(tls.client_ca_pem.as_bytes()) {
        roots.add(ca?)?;
    }
    let verifier = verifier(rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    ))?;
    let chain =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The gRPC port's TLS configuration: a client certificate from the agencies' CA required,
/// revoked ones and those of agencies outside the directory refused, and HTTP/2 only.
pub fn grpc_server_config(
    tls: &TlsMaterial,
    trust: Arc<Trust>,
) -> Result<rustls::ServerConfig, BoxError> {
    server_config(tls, b"h2", |ca| {
        Ok(Arc::new(TrustVerifier {
            inner: ca.build()?,
            trust,
        }))
    })
}

/// A served connection, holding its places in the port's [`Limits`] until it closes.
#[derive(Debug)]
pub struct Held {
    tls: TlsStream<TcpStream>,
    _places: Established,
}

impl Connected for Held {
    type ConnectInfo = <TlsStream<TcpStream> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.tls.connect_info()
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

/// Accepts connections on `listener` until `stop`, within `limits` (a connection beyond them
/// is closed: before its handshake when the port or its IP is full, after it when its client
/// certificate is), and sends each one whose TLS handshake completes within `handshake_timeout`
/// to the returned stream, for tonic to serve.
pub fn accept(
    listener: TcpListener,
    config: rustls::ServerConfig,
    handshake_timeout: Duration,
    limits: Arc<Limits>,
    stop: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Held>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let arriving = match limits.arrive(peer.ip()) {
                Ok(arriving) => arriving,
                Err(full) => {
                    tracing::warn!(%peer, "connection refused: {full}");
                    continue;
                }
            };
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot turn off Nagle's algorithm on a connection");
            }
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => return tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => return tracing::debug!("TLS handshake timed out"),
                };
                let serial = client_serial(&tls);
                match arriving.established(serial.as_deref()) {
                    Ok(places) => {
                        let _ = tx
                            .send(Ok(Held {
                                tls,
                                _places: places,
                            }))
                            .await;
                    }
                    Err(full) => tracing::warn!(%peer, "connection closed: {full}"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The serial number of the client certificate a finished handshake presented, if any.
pub(crate) fn client_serial<IO>(tls: &TlsStream<IO>) -> Option<Vec<u8>> {
    let leaf = tls.get_ref().1.peer_certificates()?.first()?;
    crate::pki::certificate_serial(leaf.as_ref()).ok()
}

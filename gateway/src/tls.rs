//! The gRPC port's own TLS acceptor: mutual TLS with the agencies' CA, in which a revoked
//! certificate ([`Trust`], reloaded without a restart) is refused in the handshake itself, with
//! the `certificate_revoked` alert. tonic's acceptor takes a CA but no revocation list, so the
//! gateway accepts connections itself and hands tonic the finished TLS streams (tonic still reads
//! the peer's certificates from them for [`crate::auth`]).
//!
//! Each handshake runs in its own task, bounded by the handshake timeout, so a peer that sends
//! nothing holds no other connection back; and the port holds at most `gateway.max_connections`
//! connections at a time, so no number of peers can exhaust the gateway's sockets and memory.

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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use crate::context::TlsMaterial;
use crate::trust::Trust;

/// Verifies client certificates as the CA's verifier does, then refuses revoked ones.
#[derive(Debug)]
struct RevocationAwareVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    trust: Arc<Trust>,
}

impl ClientCertVerifier for RevocationAwareVerifier {
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
/// revoked ones refused, and HTTP/2 only.
pub fn grpc_server_config(
    tls: &TlsMaterial,
    trust: Arc<Trust>,
) -> Result<rustls::ServerConfig, BoxError> {
    server_config(tls, b"h2", |ca| {
        Ok(Arc::new(RevocationAwareVerifier {
            inner: ca.build()?,
            trust,
        }))
    })
}

/// A served connection, holding one of the port's connection permits until it closes.
#[derive(Debug)]
pub struct Held {
    tls: TlsStream<TcpStream>,
    _permit: OwnedSemaphorePermit,
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

/// Accepts connections on `listener` until `stop`, at most `max_connections` at a time (one more
/// is closed at once, before its handshake), and sends each one whose TLS handshake completes
/// within `handshake_timeout` to the returned stream, for tonic to serve.
pub fn accept(
    listener: TcpListener,
    config: rustls::ServerConfig,
    handshake_timeout: Duration,
    max_connections: usize,
    stop: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Held>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let permits = Arc::new(Semaphore::new(max_connections));
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!(
                    max_connections,
                    "connection refused: the gateway holds as many as it may"
                );
                continue;
            };
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot turn off Nagle's algorithm on a connection");
            }
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx
                            .send(Ok(Held {
                                tls,
                                _permit: permit,
                            }))
                            .await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

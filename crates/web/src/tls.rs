//! TLS for the `https` listener of `cachet serve`, which carries EST (RFC 7030 §3.2.2: EST
//! runs only over TLS) beside the routes of the http listener.
//!
//! - [`server_config`]: a rustls server over the aws-lc-rs provider (DESIGN.md), TLS 1.2 and
//!   1.3, HTTP/1.1 by ALPN, that *offers* client authentication without requiring it.
//! - [`OptionalClientAuth`]: the client-certificate verifier. Cachet's certificates are
//!   S/MIME certificates (extKeyUsage emailProtection only, as the S/MIME BR require), so a
//!   WebPKI client-auth verifier, which wants clientAuth, would refuse every one of them. At
//!   the TLS layer any chain is therefore accepted, but the handshake signature is checked,
//!   so the client proves it holds the certificate's key (RFC 7030 §3.3.2). Whether the
//!   certificate authorises anything is decided per request by
//!   [`cachet_service::Cachet::est_client_account`]: only a live certificate Cachet issued
//!   to an active account does.
//! - [`TlsListener`]: an axum [`Listener`] that accepts TCP connections and runs each TLS
//!   handshake in its own task with a deadline ([`HANDSHAKE_TIMEOUT`]) and a bound on
//!   handshakes in progress, so a slow or silent client never stalls the accept loop.
//!   Each connection carries a [`TlsPeer`] (the remote address and the client's certificate),
//!   which handlers read as `ConnectInfo<TlsPeer>` when the router is served with
//!   `into_make_service_with_connect_info::<TlsPeer>()`.
//!
//! This module binds nothing: `cachet serve` binds the socket and hands it over.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete the TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many TLS handshakes may be in progress at once; further connections wait in the
/// kernel's backlog until one finishes or times out.
pub const MAX_HANDSHAKES: usize = 256;

/// Who is at the other end of a TLS connection.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    /// The client's address.
    pub remote: SocketAddr,
    /// The client's certificate (DER), when it presented one and proved it holds its key.
    pub certificate: Option<Arc<[u8]>>,
}

impl Connected<IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Accepts any client certificate chain at the TLS layer, verifying only the handshake
/// signature with the provider's algorithms; see the module documentation for why.
#[derive(Debug)]
pub struct OptionalClientAuth {
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl OptionalClientAuth {
    /// A verifier over `provider`'s signature algorithms. `hint_subjects` (DER Names, e.g.
    /// the issuing CA's subject) are sent in the CertificateRequest, so that clients holding
    /// several certificates offer one Cachet issued (RFC 8446 §4.2.4).
    pub fn new(provider: &CryptoProvider, hint_subjects: &[Vec<u8>]) -> Self {
        OptionalClientAuth {
            algorithms: provider.signature_verification_algorithms,
            hints: hint_subjects
                .iter()
                .map(|s| DistinguishedName::from(s.clone()))
                .collect(),
        }
    }
}

impl ClientCertVerifier for OptionalClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// EST clients may authenticate with HTTP Basic instead (RFC 7030 §3.2.3), and the
    /// publication routes are public.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Authorisation is per request (`est_client_account`): only a certificate Cachet
        // issued and still considers current is accepted there.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The rustls configuration of the https listener: the aws-lc-rs provider, the safe default
/// protocol versions (TLS 1.2 and 1.3), the server's `chain` (DER, leaf first) and PKCS#8
/// `key`, optional client certificates ([`OptionalClientAuth`] with `hint_subjects`), and
/// ALPN `http/1.1` (the only HTTP version served). Errors are sentences.
pub fn server_config(
    chain: Vec<Vec<u8>>,
    key_pkcs8: &[u8],
    hint_subjects: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, String> {
    if chain.is_empty() {
        return Err("the TLS certificate file holds no certificate".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(OptionalClientAuth::new(&provider, hint_subjects));
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key cannot be used together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS listener for `axum::serve`: TCP connections are accepted by one task and each
/// handshake runs in its own task (bounded by [`MAX_HANDSHAKES`] and [`HANDSHAKE_TIMEOUT`]);
/// finished handshakes are handed to the server. Dropping it stops accepting.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, TlsPeer)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on the bound `tcp` socket.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        Self::with_timeout(tcp, config, HANDSHAKE_TIMEOUT)
    }

    /// As [`TlsListener::new`] with another handshake deadline.
    pub fn with_timeout(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        timeout: Duration,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx, timeout));
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, TlsPeer)>,
    timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                use std::io::ErrorKind as K;
                if !matches!(
                    e.kind(),
                    K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
                ) {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::error!(error = %e, "https accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let certificate = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| Arc::<[u8]>::from(c.as_ref()));
                    let peer = TlsPeer {
                        remote,
                        certificate,
                    };
                    // The server has stopped when nobody receives: the connection is dropped.
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = TlsPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            None => {
                // Only if the accept task died; there is nothing left to accept.
                tracing::error!("the https accept task stopped");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(TlsPeer {
            remote: self.local,
            certificate: None,
        })
    }
}

//! The TLS probe behind the `tls` import: connect with a time limit, send SNI, take the
//! chain the server presents whatever it is (self-signed, expired, for another name), and
//! report what a client would have judged of it, apart: trusted by the configured roots,
//! valid for the name, expired. Failures are told apart: timed out, refused, not TLS,
//! handshake failure, unreachable.
//!
//! The grant checks (which addresses and ports, how fast) are the capability's
//! (`runtime/capabilities/tls.rs`); this module only talks to the network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::runtime::bindings::tls::{Peer, ProbeError};

/// Roots the "trusted" verdict is judged against.
pub struct ProbeRoots(pub RootCertStore);

impl ProbeRoots {
    /// The certificates in `pem_files`, and the operating system's when `system` is set.
    pub fn load(pem_files: &[std::path::PathBuf], system: bool) -> anyhow::Result<Self> {
        let mut roots = RootCertStore::empty();
        for file in pem_files {
            let pem = std::fs::read(file).map_err(|e| {
                anyhow::anyhow!("cannot read TLS probe roots {}: {e}", file.display())
            })?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
                roots.add(cert).map_err(|e| {
                    anyhow::anyhow!("{}: a root is not usable: {e}", file.display())
                })?;
                added += 1;
            }
            if added == 0 {
                anyhow::bail!("{}: no PEM certificate in it", file.display());
            }
        }
        if system {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system root rustls cannot use is skipped, as every client skips it.
                let _ = roots.add(cert);
            }
        }
        Ok(Self(roots))
    }
}

/// What to probe: an address the capability already checked against the grants.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// Sent as SNI and judged for the name match; `None` probes by address.
    pub server_name: Option<String>,
    pub timeout: Duration,
}

/// Connects to endpoints; one per host, shared by every job.
#[async_trait::async_trait]
pub trait TlsProber: Send + Sync {
    async fn probe(&self, target: &Target) -> Result<Peer, ProbeError>;
}

/// The probe made with rustls.
pub struct RustlsProber {
    roots: RootCertStore,
    provider: Arc<CryptoProvider>,
    /// One client configuration for every probe, built once.
    connector: tokio_rustls::TlsConnector,
}

impl RustlsProber {
    pub fn new(roots: ProbeRoots) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("ring supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TakeAnyChain(provider.clone())))
            .with_no_client_auth();
        config.enable_sni = true;
        // Every probe a full handshake: a resumed session would report the chain stored
        // from an earlier probe, not what the server presents now.
        config.resumption = rustls::client::Resumption::disabled();
        Self {
            roots: roots.0,
            provider,
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }
}

#[async_trait::async_trait]
impl TlsProber for RustlsProber {
    async fn probe(&self, target: &Target) -> Result<Peer, ProbeError> {
        let deadline = tokio::time::Instant::now() + target.timeout;
        let ms = target.timeout.as_millis();
        let addr = target.addr;
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(ProbeError::TimedOut(format!(
                    "{addr}: no answer to the connection within {ms} ms"
                )));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ProbeError::Refused(format!("{addr}: connection refused")));
            }
            Ok(Err(e)) => return Err(ProbeError::Unreachable(format!("{addr}: {e}"))),
            Ok(Ok(s)) => s,
        };
        let name = match &target.server_name {
            Some(n) => ServerName::try_from(n.clone()).map_err(|_| {
                ProbeError::Handshake(format!("{n:?} is not a server name TLS can send"))
            })?,
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let tls =
            match tokio::time::timeout_at(deadline, self.connector.connect(name.clone(), stream))
                .await
            {
                Err(_) => {
                    return Err(ProbeError::TimedOut(format!(
                        "{addr}: connected, but no TLS handshake within {ms} ms"
                    )));
                }
                Ok(Err(e)) => return Err(handshake_failure(addr, &e)),
                Ok(Ok(tls)) => tls,
            };
        let (_, conn) = tls.get_ref();
        let chain: Vec<CertificateDer<'static>> = conn
            .peer_certificates()
            .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
            .unwrap_or_default();
        let protocol = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        let verdict = judge(&chain, &name, &self.roots, &self.provider);
        Ok(Peer {
            address: addr.to_string(),
            chain: chain.iter().map(|c| c.to_vec()).collect(),
            protocol,
            cipher_suite,
            trusted: verdict.trust_error.is_none(),
            trust_error: verdict.trust_error,
            name_matches: verdict.name_matches,
            expired: verdict.expired,
        })
    }
}

/// A failed handshake, by kind: bytes that are not TLS, or TLS that went wrong.
fn handshake_failure(addr: SocketAddr, e: &std::io::Error) -> ProbeError {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidMessage(m)) => {
            ProbeError::NotTls(format!("{addr}: the answer is not TLS ({m:?})"))
        }
        Some(rustls::Error::AlertReceived(alert)) => ProbeError::Handshake(format!(
            "{addr}: the server ended the handshake ({alert:?})"
        )),
        Some(other) => ProbeError::Handshake(format!("{addr}: {other}")),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => ProbeError::Handshake(format!(
            "{addr}: the connection closed during the handshake"
        )),
        None if e.kind() == std::io::ErrorKind::ConnectionReset => ProbeError::Handshake(format!(
            "{addr}: the connection was reset during the handshake"
        )),
        None => ProbeError::Handshake(format!("{addr}: {e}")),
    }
}

/// What a client would have judged of a chain, each verdict apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Why the chain does not lead to a configured root (`None`: it does). Judged at a
    /// time inside the leaf's validity, so an expired certificate from a trusted CA is
    /// "trusted, expired", not "untrusted".
    pub trust_error: Option<String>,
    pub name_matches: bool,
    pub expired: bool,
}

/// Judges `chain` (leaf first) for `name` against `roots`, now.
pub fn judge(
    chain: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    roots: &RootCertStore,
    provider: &CryptoProvider,
) -> Verdict {
    let Some(leaf) = chain.first() else {
        return Verdict {
            trust_error: Some("the server sent no certificate".into()),
            name_matches: false,
            expired: false,
        };
    };
    let parsed = match ParsedCertificate::try_from(leaf) {
        Ok(p) => p,
        Err(e) => {
            return Verdict {
                trust_error: Some(format!("the certificate does not parse: {e}")),
                name_matches: false,
                expired: false,
            };
        }
    };
    let now = UnixTime::now().as_secs();
    let (not_before, not_after) = validity(leaf).unwrap_or((0, u64::MAX));
    let expired = now > not_after || now < not_before;
    let at = if now > not_after {
        not_after
    } else if now < not_before {
        not_before
    } else {
        now
    };
    let trust_error = rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        roots,
        &chain[1..],
        UnixTime::since_unix_epoch(Duration::from_secs(at)),
        provider.signature_verification_algorithms.all,
    )
    .err()
    .map(|e| e.to_string());
    let name_matches = rustls::client::verify_server_name(&parsed, name).is_ok();
    Verdict {
        trust_error,
        name_matches,
        expired,
    }
}

/// The leaf's validity as Unix seconds (before 1970 counts as 0), read the way every
/// certificate on the host is ([`crate::certificates::parse::summarize`]).
fn validity(der: &[u8]) -> Option<(u64, u64)> {
    let summary = crate::certificates::parse::summarize(der).ok()?;
    let secs = |t: chrono::DateTime<chrono::Utc>| u64::try_from(t.timestamp()).unwrap_or(0);
    Some((secs(summary.not_before), secs(summary.not_after)))
}

/// Takes whatever chain the server presents (the verdicts are judged afterwards, apart),
/// but still checks the handshake's signatures, so the chain reported is the one whose
/// key the server holds.
#[derive(Debug)]
struct TakeAnyChain(Arc<CryptoProvider>);

impl ServerCertVerifier for TakeAnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

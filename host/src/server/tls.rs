//! HTTPS for `keywarden serve`: the server certificate (operator files, or one issued by
//! an internal CA kept in `<data-dir>/tls/`), optional client certificates, and the accept
//! loop that hands each request the certificate its client presented.
//!
//! Client certificates are optional at the TLS layer on purpose: an agent registering
//! for the first time has none, and whether a route needs one (and which CA must have
//! issued it) is the application's decision, answered with a clear 4xx instead of a
//! failed handshake the client cannot explain. The TLS layer still makes a client that
//! presents a certificate prove it holds the key (the handshake signature is verified),
//! so [`PeerCertificate`] never names a certificate the peer merely copied.
//!
//! Plain HTTP connections (no [`TlsConfig`]) go through `axum::serve` as before and carry
//! no [`PeerCertificate`] extension; handlers take `Option<Extension<PeerCertificate>>`
//! and treat a missing extension like `PeerCertificate(None)`.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::authority::config::LocalCaConfig;
use crate::authority::csr;
use crate::authority::files::write_private;
use crate::authority::local::{self, LocalCa};

/// Folder of the internal CA and its server certificate, inside the data dir.
pub const TLS_DIR: &str = "tls";
/// The internal CA's certificate: what clients put in their trust store.
pub const CA_CERT_FILE: &str = local::ROOT_CERT_FILE;
pub const CA_KEY_FILE: &str = local::ROOT_KEY_FILE;
/// The server certificate (leaf, then the CA) and its key, issued by the internal CA.
pub const SERVER_CERT_FILE: &str = "server-cert.pem";
pub const SERVER_KEY_FILE: &str = "server-key.pem";
/// Names every internally issued server certificate carries, so local clients can always
/// verify it whatever address they use for this host.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// How long a client may take to finish its handshake before the connection is dropped,
/// so a client that connects and stalls cannot hold a task forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server certificate is issued again at start when it has less than this left.
const RENEW_WITHIN_DAYS: i64 = 30;
/// Validity of an internally issued server certificate. It is only renewed at start, so
/// it is long enough for a server that runs for months between restarts.
const SERVER_CERT_DAYS: u32 = 365;
/// Validity of the internal CA: clients trust it, so it should outlive many servers.
const CA_DAYS: u32 = 3650;

/// Where `serve` gets its server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsOptions {
    /// PEM files of the operator: `cert` holds the leaf, optionally followed by its chain;
    /// `key` is PKCS#8, PKCS#1 or SEC1 (not encrypted).
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate issued by Keywarden's own CA in `<data-dir>/tls/`, naming
    /// [`DEFAULT_NAMES`] and `names` (DNS names or IP addresses).
    InternalCa { names: Vec<String> },
}

/// The client certificate of the connection a request came on: the leaf as DER, `None`
/// when the client presented none. Inserted as a request extension on every request of
/// a TLS connection (plain HTTP requests carry no such extension). The TLS layer checked
/// only that the client holds its key; the application decides whether it trusts it.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Option<Arc<[u8]>>);

/// A server TLS configuration, ready for [`serve_router`]. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
    ca_cert: Option<PathBuf>,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_cert", &self.ca_cert)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// The configuration `options` describe; the internal CA keeps its files in
    /// `<data_dir>/tls/`.
    pub fn load(options: &TlsOptions, data_dir: &Path) -> anyhow::Result<Self> {
        match options {
            TlsOptions::Files { cert, key } => Self::from_pem_files(cert, key),
            TlsOptions::InternalCa { names } => Self::internal_ca(data_dir, names),
        }
    }

    /// A certificate chain and key from PEM files.
    pub fn from_pem_files(cert_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert_file)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .with_context(|| format!("cannot read the certificates of {}", cert_file.display()))?;
        if chain.is_empty() {
            anyhow::bail!("{} holds no PEM certificate", cert_file.display());
        }
        let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| {
            format!(
                "{} holds no unencrypted PKCS#8, PKCS#1 or SEC1 PEM private key",
                key_file.display()
            )
        })?;
        Self::new(chain, key).with_context(|| {
            format!(
                "cannot serve TLS with {} and {}",
                cert_file.display(),
                key_file.display()
            )
        })
    }

    /// A server certificate issued by the internal CA in `<data_dir>/tls/` (the CA is
    /// created at the first call), naming [`DEFAULT_NAMES`] and `names`. The certificate
    /// is issued again when it is missing, expires within 30 days, names other names,
    /// was not issued by the CA or does not match its key.
    pub fn internal_ca(data_dir: &Path, names: &[String]) -> anyhow::Result<Self> {
        let dir = data_dir.join(TLS_DIR);
        let (cert, key) = ensure_server_certificate(&dir, names)?;
        let mut config = Self::from_pem_files(&cert, &key)?;
        // Absolute, because the path is printed for operators to copy into clients.
        let ca_cert = dir.join(CA_CERT_FILE);
        config.ca_cert = Some(std::path::absolute(&ca_cert).unwrap_or(ca_cert));
        Ok(config)
    }

    /// A configuration serving `chain` (leaf first) with `key`, offering (not requiring)
    /// client authentication.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(OptionalClientCert {
            algorithms: provider.signature_verification_algorithms,
        });
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("the TLS provider supports no safe protocol version")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .context("the certificate and key cannot serve TLS (do they belong together?)")?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            server: Arc::new(server),
            ca_cert: None,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        })
    }

    /// The internal CA's certificate (the clients' trust anchor), when it issued the
    /// server certificate.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// Replaces [`HANDSHAKE_TIMEOUT`] (tests use a short one).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

/// Offers client authentication without requiring it, accepts whatever chain is
/// presented (the application checks it against the CA a route trusts), and verifies the
/// handshake signature so a presented certificate is one whose key the client holds.
#[derive(Debug)]
struct OptionalClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for OptionalClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    /// No hints: clients pick their certificate by themselves (an agent has one).
    fn root_hint_subjects(&self) -> &[TlsName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
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

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets
/// running requests finish and returns. Without `tls` this is `axum::serve` (plain
/// HTTP); with it, each connection's handshake must finish within the configured timeout
/// and every request carries a [`PeerCertificate`] extension.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match tls {
        None => axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed"),
        Some(tls) => {
            serve_tls(listener, router, tls, shutdown).await;
            Ok(())
        }
    }
}

async fn serve_tls(
    mut listener: TcpListener,
    router: Router,
    tls: TlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = TlsAcceptor::from(tls.server.clone());
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    // Ends handshakes still in progress at shutdown; their connections never served a
    // request, so there is nothing to finish.
    let stopping = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            // axum's accept: skips per-connection errors, waits a second on others (EMFILE).
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
        };
        let connection = Connection {
            acceptor: acceptor.clone(),
            handshake_timeout: tls.handshake_timeout,
            builder: builder.clone(),
            router: router.clone(),
            // Taken before the task starts, so shutdown waits for this connection too.
            watcher: graceful.watcher(),
            stopping: stopping.clone(),
        };
        tokio::spawn(connection.run(tcp, remote));
    }
    drop(listener);
    stopping.cancel();
    graceful.shutdown().await;
}

/// What one accepted TCP connection needs to become a served TLS connection.
struct Connection {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    watcher: Watcher,
    stopping: CancellationToken,
}

impl Connection {
    async fn run(self, tcp: TcpStream, remote: SocketAddr) {
        let _ = tcp.set_nodelay(true);
        let handshake = tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(tcp));
        let stream = tokio::select! {
            () = self.stopping.cancelled() => return,
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, timeout = ?self.handshake_timeout, "TLS handshake timed out");
                    return;
                }
            },
        };
        let peer = PeerCertificate(
            stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(<[_]>::first)
                .map(|leaf| Arc::from(leaf.as_ref())),
        );
        let router = self.router;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(peer.clone());
            router.clone().oneshot(request)
        });
        let served = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        if let Err(e) = self.watcher.watch(served.into_owned()).await {
            tracing::debug!(%remote, error = %e, "HTTPS connection ended with an error");
        }
    }
}

/// One subject alternative name of the server certificate, compared case-insensitively
/// (DNS) or by value (IP), so `::1` and `0:0::1` are one name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ServerName {
    Dns(String),
    Ip(IpAddr),
}

impl ServerName {
    fn parse(name: &str) -> anyhow::Result<Self> {
        let name = name.trim();
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').enumerate().all(|(i, label)| {
                (label == "*" && i == 0)
                    || (!label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            });
        if !valid {
            anyhow::bail!(
                "TLS name {name:?} is neither an IP address nor a DNS name (ASCII letters, digits and hyphens between dots)"
            );
        }
        Ok(Self::Dns(name.to_ascii_lowercase()))
    }

    fn san(&self) -> anyhow::Result<SanType> {
        Ok(match self {
            Self::Dns(name) => SanType::DnsName(Ia5String::try_from(name.as_str())?),
            Self::Ip(ip) => SanType::IpAddress(*ip),
        })
    }
}

/// The names a server certificate must carry: the defaults and the operator's.
fn wanted_names(extra: &[String]) -> anyhow::Result<BTreeSet<ServerName>> {
    DEFAULT_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(extra.iter().cloned())
        .map(|n| ServerName::parse(&n))
        .collect()
}

/// Opens (or creates) the internal CA in `dir` and makes sure its server certificate is
/// current; returns the server certificate and key files.
fn ensure_server_certificate(dir: &Path, names: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let wanted = wanted_names(names)?;
    create_private_dir(dir)?;
    let ca = open_ca(dir, SERVER_CERT_DAYS)?;
    let cert = dir.join(SERVER_CERT_FILE);
    let key = dir.join(SERVER_KEY_FILE);
    let now = OffsetDateTime::now_utc();
    if let Err(reason) = check_server_certificate(&cert, &key, ca.ca_certificate(), &wanted, now) {
        tracing::info!(%reason, cert = %cert.display(), "issuing a server certificate from the internal CA");
        issue_server_certificate(&ca, &wanted, &cert, &key)?;
    }
    Ok((cert, key))
}

/// The internal CA, its root generated (owner-only files) when `dir` holds none.
fn open_ca(dir: &Path, validity_days: u32) -> anyhow::Result<LocalCa> {
    let config = LocalCaConfig {
        cert_file: None,
        key_file: None,
        validity_days,
        common_name: Some("Keywarden internal server CA".to_owned()),
        root_validity_days: CA_DAYS,
    };
    LocalCa::open("server-tls", &config, dir)
}

/// Creates `dir` (owner-only: it holds the CA key) or narrows an existing one to 0700.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} owner-only", dir.display()))?;
    }
    Ok(())
}

/// `Ok` when the server certificate in `cert`/`key` can be served as it is; otherwise
/// why it must be issued again.
fn check_server_certificate(
    cert: &Path,
    key: &Path,
    ca_der: &[u8],
    wanted: &BTreeSet<ServerName>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let Ok(cert_pem) = std::fs::read(cert) else {
        return Err("there is none".into());
    };
    let Ok(key_pem) = std::fs::read_to_string(key) else {
        return Err("its key is missing".into());
    };
    let leaf = CertificateDer::from_pem_slice(&cert_pem)
        .map_err(|e| format!("it holds no PEM certificate ({e})"))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| format!("it is not an X.509 certificate ({e})"))?;
    let left = parsed.validity().not_after.to_datetime() - now;
    if left < time::Duration::days(RENEW_WITHIN_DAYS) {
        return Err(format!("it expires within {RENEW_WITHIN_DAYS} days"));
    }
    let names = certificate_names(&parsed)?;
    if &names != wanted {
        return Err(format!("it names {names:?}, not {wanted:?}"));
    }
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der)
        .map_err(|e| format!("the CA certificate does not parse ({e})"))?;
    parsed
        .verify_signature(Some(ca.public_key()))
        .map_err(|_| "the current internal CA did not issue it".to_owned())?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| format!("its key does not load ({e})"))?;
    if parsed.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice() {
        return Err("its key file holds another key".into());
    }
    Ok(())
}

fn certificate_names(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> Result<BTreeSet<ServerName>, String> {
    use x509_parser::extensions::GeneralName;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("its subject alternative names do not parse ({e})"))?
        .ok_or("it names no subject alternative name")?;
    let mut names = BTreeSet::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(dns) => {
                names.insert(ServerName::Dns(dns.to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                let ip = match bytes.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("length checked")),
                    16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("length checked")),
                    _ => return Err("it names a malformed IP address".into()),
                };
                names.insert(ServerName::Ip(ip));
            }
            _ => return Err("it names something other than DNS names and IP addresses".into()),
        }
    }
    Ok(names)
}

/// Issues a server certificate for `names` through the CA's own CSR path (so it gets
/// what any certificate of this CA gets) and writes key, then chain, owner-only.
fn issue_server_certificate(
    ca: &LocalCa,
    names: &BTreeSet<ServerName>,
    cert_file: &Path,
    key_file: &Path,
) -> anyhow::Result<()> {
    let key = KeyPair::generate().context("cannot generate the server key")?;
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, "localhost");
    subject.push(DnType::OrganizationName, "Keywarden");
    params.distinguished_name = subject;
    params.subject_alt_names = names
        .iter()
        .map(ServerName::san)
        .collect::<Result<_, _>>()?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let request = params
        .serialize_request(&key)
        .context("cannot make the server certificate request")?;
    let verified = csr::verify(request.der()).map_err(anyhow::Error::msg)?;
    let chain = ca.issue(&verified).map_err(anyhow::Error::msg)?;
    let pem: String = chain
        .iter()
        .map(|der| crate::certificates::parse::pem_certificate(der))
        .collect();
    // Key first: a certificate without its key is issued again at the next start anyway.
    write_private(key_file, &key.serialize_pem())?;
    write_private(cert_file, &pem)?;
    Ok(())
}

#[cfg(test)]
mod tests;

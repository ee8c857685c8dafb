use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use axum::Extension;
use axum::routing::get;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(cert: &Path) -> BTreeSet<ServerName> {
    let pem = std::fs::read(cert).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    certificate_names(&parsed).unwrap()
}

#[test]
fn the_internal_ca_issues_a_server_certificate_and_keeps_it_while_it_is_current() {
    let data = tempfile::tempdir().unwrap();
    let config = TlsConfig::internal_ca(data.path(), &[]).unwrap();
    let dir = data.path().join(TLS_DIR);
    assert_eq!(config.ca_cert(), Some(dir.join(CA_CERT_FILE).as_path()));
    assert_eq!(mode(&dir), 0o700);
    for file in [CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    let cert = dir.join(SERVER_CERT_FILE);
    assert_eq!(names(&cert), wanted_names(&[]).unwrap());
    let first = std::fs::read(&cert).unwrap();

    // Same names: nothing is issued.
    TlsConfig::internal_ca(data.path(), &[]).unwrap();
    assert_eq!(std::fs::read(&cert).unwrap(), first);

    // Another name: issued again, by the same CA.
    let ca = std::fs::read(dir.join(CA_CERT_FILE)).unwrap();
    let extra = vec!["Keywarden.Example".to_owned(), "10.1.2.3".to_owned()];
    TlsConfig::internal_ca(data.path(), &extra).unwrap();
    let second = std::fs::read(&cert).unwrap();
    assert_ne!(second, first);
    assert_eq!(std::fs::read(dir.join(CA_CERT_FILE)).unwrap(), ca);
    let named = names(&cert);
    assert!(named.contains(&ServerName::Dns("keywarden.example".into())));
    assert!(named.contains(&ServerName::Ip("10.1.2.3".parse().unwrap())));
    // Names compare case-insensitively: no new certificate for another spelling.
    TlsConfig::internal_ca(
        data.path(),
        &["keywarden.example".into(), "10.1.2.3".into()],
    )
    .unwrap();
    assert_eq!(std::fs::read(&cert).unwrap(), second);
}

#[test]
fn a_certificate_expiring_within_30_days_is_issued_again() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(TLS_DIR);
    create_private_dir(&dir).unwrap();
    let short = open_ca(&dir, 20).unwrap();
    let cert = dir.join(SERVER_CERT_FILE);
    let key = dir.join(SERVER_KEY_FILE);
    issue_server_certificate(&short, &wanted_names(&[]).unwrap(), &cert, &key).unwrap();
    let wanted = wanted_names(&[]).unwrap();
    let now = OffsetDateTime::now_utc();
    let ca = short.ca_certificate().to_vec();
    let reason = check_server_certificate(&cert, &key, &ca, &wanted, now).unwrap_err();
    assert!(reason.contains("expires"), "{reason}");

    ensure_server_certificate(&dir, &[]).unwrap();
    check_server_certificate(&cert, &key, &ca, &wanted, now).unwrap();
}

#[test]
fn a_certificate_of_another_ca_or_with_another_key_is_issued_again() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(TLS_DIR);
    let (cert, key) = ensure_server_certificate(&dir, &[]).unwrap();
    let wanted = wanted_names(&[]).unwrap();
    let now = OffsetDateTime::now_utc();

    // The key file replaced by another key.
    let first_key = std::fs::read(&key).unwrap();
    write_private(&key, &KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let ca = open_ca(&dir, SERVER_CERT_DAYS).unwrap();
    let reason =
        check_server_certificate(&cert, &key, ca.ca_certificate(), &wanted, now).unwrap_err();
    assert!(reason.contains("another key"), "{reason}");
    ensure_server_certificate(&dir, &[]).unwrap();
    assert_ne!(std::fs::read(&key).unwrap(), first_key);

    // The CA deleted: a new one, and a certificate from it.
    std::fs::remove_file(dir.join(CA_CERT_FILE)).unwrap();
    std::fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
    let new_ca = open_ca(&dir, SERVER_CERT_DAYS).unwrap();
    let reason =
        check_server_certificate(&cert, &key, new_ca.ca_certificate(), &wanted, now).unwrap_err();
    assert!(reason.contains("did not issue"), "{reason}");
    ensure_server_certificate(&dir, &[]).unwrap();
    check_server_certificate(&cert, &key, new_ca.ca_certificate(), &wanted, now).unwrap();
}

#[test]
fn server_names_are_dns_names_or_ip_addresses() {
    assert_eq!(
        ServerName::parse("0:0::1").unwrap(),
        ServerName::parse("::1").unwrap()
    );
    assert_eq!(
        ServerName::parse("Node-1.Example.COM").unwrap(),
        ServerName::Dns("node-1.example.com".into())
    );
    assert!(ServerName::parse("*.example.com").is_ok());
    for bad in [
        "",
        "two words",
        "a..b",
        "-a.example",
        "münchen.de",
        "a.*.example",
    ] {
        assert!(ServerName::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn operator_files_load_with_a_chain_and_refuse_a_key_of_another_certificate() {
    let data = tempfile::tempdir().unwrap();
    let (cert, key) = ensure_server_certificate(&data.path().join(TLS_DIR), &[]).unwrap();
    TlsConfig::from_pem_files(&cert, &key).unwrap();
    let other = data.path().join("other-key.pem");
    write_private(&other, &KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let err = TlsConfig::from_pem_files(&cert, &other).unwrap_err();
    assert!(format!("{err:#}").contains("belong together"), "{err:#}");
    let err = TlsConfig::from_pem_files(&key, &key).unwrap_err();
    assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
}

/// A router that answers what the request's [`PeerCertificate`] extension holds, and
/// one slow route for the shutdown test.
fn peer_router() -> Router {
    Router::new()
        .route(
            "/peer",
            get(|peer: Option<Extension<PeerCertificate>>| async move {
                match peer {
                    None => "no extension".to_owned(),
                    Some(Extension(PeerCertificate(None))) => "none".to_owned(),
                    Some(Extension(PeerCertificate(Some(der)))) => hex::encode(&der[..]),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                "done"
            }),
        )
}

struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(tls: Option<TlsConfig>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_router(listener, peer_router(), tls, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

/// A TLS configuration from the internal CA in `data`, and the CA certificate's PEM.
fn internal(data: &Path) -> (TlsConfig, Vec<u8>) {
    let config = TlsConfig::internal_ca(data, &[]).unwrap();
    let ca = std::fs::read(config.ca_cert().unwrap()).unwrap();
    (config, ca)
}

fn client(ca_pem: &[u8], identity: Option<reqwest::Identity>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap());
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder.build().unwrap()
}

/// A self-signed client certificate (no CA: the TLS layer accepts any): DER, and PEM of
/// key and certificate together.
fn client_certificate() -> (Vec<u8>, String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["agent-1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = format!("{}{}", key.serialize_pem(), cert.pem());
    (cert.der().to_vec(), pem, key)
}

#[tokio::test]
async fn handlers_see_the_client_certificate_of_a_tls_connection() {
    let data = tempfile::tempdir().unwrap();
    let (tls, ca) = internal(data.path());
    let server = start(Some(tls)).await;
    let url = format!("https://localhost:{}/peer", server.addr.port());
    let (der, pem, _) = client_certificate();

    let with = client(
        &ca,
        Some(reqwest::Identity::from_pem(pem.as_bytes()).unwrap()),
    );
    let body = with.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, hex::encode(&der));
    // Every request of the connection carries it, not only the first.
    let again = with.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(again, hex::encode(&der));

    let without = client(&ca, None);
    let body = without
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "none");
    server.stop().await;

    // Plain HTTP carries no extension at all.
    let plain = start(None).await;
    let body = reqwest::get(format!("http://{}/peer", plain.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "no extension");
    plain.stop().await;
}

/// Presents the certificate of one key and signs the handshake with another.
#[derive(Debug)]
struct Presents(Arc<CertifiedKey>);

impl ResolvesClientCert for Presents {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Sends one HTTP/1.1 request over a rustls client presenting `cert` signed with `key`
/// and returns what came back (empty or an error when the server ended the connection).
async fn raw_request(
    addr: SocketAddr,
    ca: &[u8],
    version: &'static rustls::SupportedProtocolVersion,
    cert: Vec<u8>,
    key: &KeyPair,
) -> Result<String, std::io::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(cert)],
            signer,
        )))));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_must_hold_the_key_of_the_certificate_it_presents() {
    let data = tempfile::tempdir().unwrap();
    let (tls, ca) = internal(data.path());
    let server = start(Some(tls)).await;
    let (der, _, key) = client_certificate();
    let other = KeyPair::generate().unwrap();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let answer = raw_request(server.addr, &ca, version, der.clone(), &key)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&hex::encode(&der)), "{answer}");

        let refused = raw_request(server.addr, &ca, version, der.clone(), &other).await;
        assert!(
            refused.as_ref().is_err() || refused.as_ref().is_ok_and(String::is_empty),
            "{version:?}: a signature by another key was accepted: {refused:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_handshake_neither_blocks_others_nor_lives_past_its_timeout() {
    let data = tempfile::tempdir().unwrap();
    let (tls, ca) = internal(data.path());
    let server = start(Some(tls.with_handshake_timeout(Duration::from_millis(500)))).await;
    // Connects and never says hello.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let body = client(&ca, None)
        .get(format!("https://localhost:{}/peer", server.addr.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "none");
    assert!(started.elapsed() < Duration::from_millis(500));
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut buf))
        .await
        .expect("the server drops a stalled handshake");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_running_requests_finish() {
    let data = tempfile::tempdir().unwrap();
    let (tls, ca) = internal(data.path());
    let server = start(Some(tls)).await;
    let url = format!("https://localhost:{}/slow", server.addr.port());
    let request = tokio::spawn(async move { client(&ca, None).get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = server.addr.port();
    server.stop().await;
    let response = request
        .await
        .unwrap()
        .expect("the running request is answered");
    assert_eq!(response.text().await.unwrap(), "done");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no longer listening"
    );
}

//! `serve` over HTTPS with the internal CA, seen by real TLS clients on loopback: reqwest
//! trusting only `<data-dir>/tls/ca-cert.pem`, `openssl s_client` verifying chain and
//! name, and `curl` with and without a client certificate (optional at the TLS layer).
//! The CLI's `--tls-cert/--tls-key` path is tested in `host/tests/cli_tls.rs`, where the
//! binary is at hand.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden::server::tls::{CA_CERT_FILE, CA_KEY_FILE, SERVER_KEY_FILE, TLS_DIR};
use keywarden_tests::server::TestServer;
use reqwest::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

/// An authenticated route of the CipherTrust dialect.
const JOBS: &str = "/api/v1/scheduler/jobs";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn port(server: &TestServer) -> u16 {
    server
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("base ends with the port")
}

/// Runs a command to completion off the test's runtime (the server shares it), returning
/// exit success and stdout + stderr.
async fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn the_api_answers_over_https_with_the_internal_ca() {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let tls = server.data_dir.path().join(TLS_DIR);
    assert_eq!(
        server.ca_cert.as_deref(),
        Some(tls.join(CA_CERT_FILE).as_path())
    );
    // The CA key and the server key are the owner's alone, in an owner-only folder.
    assert_eq!(mode(&tls), 0o700);
    for key in [CA_KEY_FILE, SERVER_KEY_FILE] {
        assert_eq!(mode(&tls.join(key)), 0o600, "{key}");
    }

    let (status, body) = server.call(Method::GET, JOBS, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], 401, "{body}");
    let (status, body) = server.get(&server.admin, JOBS).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Plain HTTP on the HTTPS port gets no API answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", port(&server)))
        .bearer_auth(&server.admin)
        .send()
        .await;
    assert!(
        !plain.as_ref().is_ok_and(|r| r.status().is_success()),
        "{plain:?}"
    );
    // A client that does not trust the internal CA refuses the server.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let err = stranger
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn openssl_verifies_the_chain_and_the_name_localhost_and_is_offered_client_auth() {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    let ca = server.ca_cert.clone().unwrap();
    let connect = format!("127.0.0.1:{}", port(&server));
    let s_client = |name: &'static str| {
        let ca = ca.display().to_string();
        let connect = connect.clone();
        async move {
            run(
                "openssl",
                &[
                    "s_client",
                    "-connect",
                    &connect,
                    "-servername",
                    "localhost",
                    "-verify_hostname",
                    name,
                    "-CAfile",
                    &ca,
                    "-verify_return_error",
                ],
            )
            .await
        }
    };
    let (ok, out) = s_client("localhost").await;
    assert!(ok, "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("Verified peername: localhost"), "{out}");
    // The server asked for a client certificate (CertificateRequest) naming no CA.
    assert!(out.contains("Requested Signature Algorithms"), "{out}");
    assert!(out.contains("No client certificate CA names sent"), "{out}");

    let (ok, out) = s_client("elsewhere.example").await;
    assert!(!ok, "a name the certificate does not carry verified: {out}");
    assert!(out.contains("hostname mismatch"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn curl_is_answered_with_and_without_a_client_certificate() {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    let ca = server.ca_cert.clone().unwrap().display().to_string();
    // A client certificate no CA of Keywarden issued: the TLS layer accepts any.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("agent-cert.pem").display().to_string();
    let key = dir.path().join("agent-key.pem").display().to_string();
    let (ok, out) = run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            "/CN=agent-1",
            "-days",
            "1",
        ],
    )
    .await;
    assert!(ok, "{out}");

    let port = port(&server);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{JOBS}");
    let auth = format!("Authorization: Bearer {}", server.admin);
    let base = [
        "-sS",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ];
    let curl = async |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.push(&url);
        run("curl", &args).await
    };
    for client_cert in [&[][..], &["--cert", &cert, "--key", &key][..]] {
        let (ok, out) = curl(client_cert).await;
        assert!(ok, "{client_cert:?}: {out}");
        assert_eq!(out, "401", "{client_cert:?}");
        let mut with_token = client_cert.to_vec();
        with_token.extend(["-H", &auth]);
        let (ok, out) = curl(&with_token).await;
        assert!(ok, "{client_cert:?}: {out}");
        assert_eq!(out, "200", "{client_cert:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_stalled_in_its_handshake_does_not_block_others() {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    let addr = format!("127.0.0.1:{}", port(&server));
    // One connects and says nothing, another sends the first bytes of a ClientHello
    // and stops.
    let _silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        // A fresh client each time: a new connection and handshake.
        let client = keywarden_tests::server::client_trusting(server.ca_cert.as_deref().unwrap());
        let response = client
            .get(format!("{}{JOBS}", server.base))
            .bearer_auth(&server.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served in {:?}",
        started.elapsed()
    );
    server.stop().await;
}

//! The ACME CA against pebble (`eval "$(bash .ci/pebble.sh)"`; `cargo xtask test` does it).

use std::time::Duration;

use keywarden::authority::http01::Http01Responder;
use keywarden::runtime::capabilities::enrollment::{AuthorityError, CertificateAuthority};

use crate::support::{openssl_csr, openssl_describe, openssl_verify, rcgen_csr, registry, tempdir};

/// Pebble's directory URL and the CA of its HTTPS listeners; `None` (after a visible
/// SKIPPED line) when pebble is not configured — a failure under CI.
struct Pebble {
    directory: String,
    ca_file: String,
    roots_url: String,
}

impl Pebble {
    fn from_env(case: &str) -> Option<Self> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        match (
            var("KEYWARDEN_TEST_PEBBLE_DIRECTORY"),
            var("KEYWARDEN_TEST_PEBBLE_CA_FILE"),
            var("KEYWARDEN_TEST_PEBBLE_ROOTS_URL"),
        ) {
            (Some(directory), Some(ca_file), Some(roots_url)) => Some(Self {
                directory,
                ca_file,
                roots_url,
            }),
            _ if std::env::var_os("CI").is_some() => panic!(
                "CI is set but pebble is not: run eval \"$(bash .ci/pebble.sh)\" (cargo xtask test does)"
            ),
            _ => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED acme::{case}: run eval \"$(bash .ci/pebble.sh)\" to set KEYWARDEN_TEST_PEBBLE_*"
                );
                None
            }
        }
    }

    fn config(&self, extra: &str) -> String {
        format!(
            "[authorities.pebble]\nkind = \"acme\"\ndirectory = {:?}\nca_file = {:?}\ncontact = [\"mailto:pki@keywarden.test\"]\n{extra}",
            self.directory, self.ca_file
        )
    }

    /// The root pebble issues under (a new one at every pebble start), from its
    /// management port.
    async fn root_pem(&self) -> String {
        let ca = std::fs::read(&self.ca_file).unwrap();
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let rsp = client.get(&self.roots_url).send().await.unwrap();
        assert!(rsp.status().is_success(), "{}", rsp.status());
        rsp.text().await.unwrap()
    }
}

#[tokio::test]
async fn pebble_issues_for_dns_and_ip_sans_and_the_chain_verifies_against_its_root() {
    let Some(pebble) = Pebble::from_env("pebble_issues_for_dns_and_ip_sans") else {
        return;
    };
    let (_t, dir) = tempdir();
    let ca = registry(&pebble.config(""), &dir.join("data"));
    let csr = openssl_csr(
        &dir,
        "ec",
        "/CN=app.keywarden.test",
        Some("DNS:app.keywarden.test,DNS:api.keywarden.test,IP:192.0.2.10"),
    );
    let chain = ca.sign(&csr, Some("pebble")).await.expect("pebble issues");
    assert!(chain.len() >= 2, "leaf and pebble's intermediate");
    let root = pebble.root_pem().await;
    let verdict = openssl_verify(&dir, &root, &chain);
    assert!(verdict.contains("verify-leaf.pem: OK"), "{verdict}");
    let text = openssl_describe(&dir, &chain[0]);
    for name in [
        "DNS:app.keywarden.test",
        "DNS:api.keywarden.test",
        "IP Address:192.0.2.10",
    ] {
        assert!(text.contains(name), "{name} missing: {text}");
    }
    // The account is kept (owner-only) and used again for the next order.
    let account_file = dir.join("data/authorities/pebble/acme-account.json");
    let account = std::fs::read(&account_file).expect("the account is kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&account_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the account key is not readable by others");
    }
    drop(ca);
    let ca = registry(&pebble.config(""), &dir.join("data"));
    let csr = rcgen_csr(
        "svc.keywarden.test",
        &["svc.keywarden.test", "198.51.100.4"],
    );
    let chain = ca
        .sign(&csr, None)
        .await
        .expect("pebble issues an rcgen CSR");
    assert!(openssl_verify(&dir, &root, &chain).contains("verify-leaf.pem: OK"));
    let text = openssl_describe(&dir, &chain[0]);
    assert!(text.contains("DNS:svc.keywarden.test"), "{text}");
    assert!(text.contains("IP Address:198.51.100.4"), "{text}");
    assert_eq!(
        std::fs::read(&account_file).unwrap(),
        account,
        "same account"
    );
}

/// Pebble refuses 5% of good nonces; a handful of orders at once makes a refusal likely
/// somewhere, and every order must still succeed.
#[tokio::test]
async fn concurrent_orders_all_succeed_despite_pebbles_nonce_refusals() {
    let Some(pebble) = Pebble::from_env("concurrent_orders") else {
        return;
    };
    let (_t, dir) = tempdir();
    let ca = registry(&pebble.config(""), &dir.join("data"));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let ca = ca.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("n{i}.keywarden.test");
            let csr = rcgen_csr(&name, &[name.as_str()]);
            ca.sign(&csr, None).await
        }));
    }
    for task in tasks {
        let chain = task.await.unwrap().expect("every order succeeds");
        assert!(chain.len() >= 2);
    }
}

#[tokio::test]
async fn acme_refuses_csrs_it_cannot_order_with_a_reason() {
    let Some(pebble) = Pebble::from_env("acme_refuses_csrs") else {
        return;
    };
    let (_t, dir) = tempdir();
    let ca = registry(&pebble.config(""), &dir.join("data"));
    let csr = openssl_csr(&dir, "ec", "/CN=no-sans.keywarden.test", None);
    let rejected = |e: AuthorityError| match e {
        AuthorityError::Rejected(why) => why,
        other => panic!("expected a rejection, got {other:?}"),
    };
    let err = rejected(ca.sign(&csr, None).await.unwrap_err());
    assert!(
        err.starts_with(
            "certificate authority \"pebble\": the CSR names no DNS name or IP address"
        ),
        "{err}"
    );
    let err = rejected(ca.sign(b"\x30\x03\x02\x01\x00", None).await.unwrap_err());
    assert!(err.contains("not a DER PKCS#10"), "{err}");
    // A name the CA's policy refuses comes back with the server's reason.
    let csr = openssl_csr(&dir, "ec", "/CN=x", Some("DNS:bad_name..keywarden.test"));
    let err = rejected(ca.sign(&csr, None).await.unwrap_err());
    assert!(err.contains("the ACME server refused the order"), "{err}");
}

#[tokio::test]
async fn an_unreachable_acme_directory_fails_within_the_timeout() {
    let (_t, dir) = tempdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = format!(
        "[authorities.gone]\nkind = \"acme\"\ndirectory = \"https://127.0.0.1:{port}/dir\"\ntimeout_secs = 5\n"
    );
    let ca = registry(&toml, &dir);
    let csr = rcgen_csr("a.test", &["a.test"]);
    let started = std::time::Instant::now();
    let err = ca.sign(&csr, None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing answered: the CA is unavailable (a host fault), not a refusal of the CSR.
    assert!(
        matches!(&err, AuthorityError::Unavailable(why) if why.starts_with("certificate authority \"gone\": ")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_http01_listener_answers_published_tokens_only() {
    let responder = Http01Responder::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!(
        "http://{}/.well-known/acme-challenge",
        responder.local_addr()
    );
    responder.insert("tok123", "tok123.thumbprint");
    let client = reqwest::Client::new();
    let rsp = client.get(format!("{base}/tok123")).send().await.unwrap();
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.text().await.unwrap(), "tok123.thumbprint");
    assert_eq!(
        client
            .get(format!("{base}/other"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    responder.remove("tok123");
    assert_eq!(
        client
            .get(format!("{base}/tok123"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// A pebble of this test's own on free ports that refuses half of all good nonces (the
/// shared one refuses 5%): `instant-acme` alone gives up after three refusals of one
/// request, so orders succeed only because the CA sends refused requests again. Uses the
/// shared pebble's binary and listener certificate; killed on drop.
struct NonceRejectingPebble {
    child: std::process::Child,
    directory: String,
    _dir: tempfile::TempDir,
}

impl NonceRejectingPebble {
    fn start(shared: &Pebble, percent: u32) -> Self {
        Self::start_with(shared, percent, None)
    }

    /// With `http_port`, challenges are really validated: pebble fetches the http-01
    /// answer from that port of each identifier.
    fn start_with(shared: &Pebble, percent: u32, http_port: Option<u16>) -> Self {
        let listener_dir = std::path::Path::new(&shared.ca_file).parent().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{}", free_port()),
            "certificate": listener_dir.join("cert.pem"),
            "privateKey": listener_dir.join("key.pem"),
            "httpPort": http_port.unwrap_or_else(free_port),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        let config_file = dir.path().join("pebble-config.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let mut cmd = std::process::Command::new("pebble");
        if http_port.is_none() {
            cmd.env("PEBBLE_VA_ALWAYS_VALID", "1");
        }
        let child = cmd
            .arg("-config")
            .arg(&config_file)
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", percent.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pebble runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            directory: format!("https://127.0.0.1:{port}/dir"),
            _dir: dir,
        }
    }
}

impl Drop for NonceRejectingPebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn orders_succeed_when_pebble_refuses_half_of_all_nonces() {
    let Some(shared) = Pebble::from_env("orders_succeed_when_pebble_refuses_half_of_all_nonces")
    else {
        return;
    };
    let pebble = NonceRejectingPebble::start(&shared, 50);
    let (_t, dir) = tempdir();
    let toml = format!(
        "[authorities.flaky]\nkind = \"acme\"\ndirectory = {:?}\nca_file = {:?}\n",
        pebble.directory, shared.ca_file
    );
    let ca = registry(&toml, &dir.join("data"));
    for i in 0..3 {
        let name = format!("nonce{i}.keywarden.test");
        let csr = rcgen_csr(&name, &[name.as_str(), "192.0.2.99"]);
        let chain = ca
            .sign(&csr, None)
            .await
            .unwrap_or_else(|e| panic!("order {i}: {e}"));
        let text = openssl_describe(&dir, &chain[0]);
        assert!(text.contains(&format!("DNS:{name}")), "{text}");
    }
}

#[tokio::test]
async fn http01_challenges_are_really_validated_through_the_hosts_listener() {
    let Some(shared) = Pebble::from_env("http01_challenges_are_really_validated") else {
        return;
    };
    let http_port = free_port();
    let pebble = NonceRejectingPebble::start_with(&shared, 5, Some(http_port));
    let (_t, dir) = tempdir();
    let toml = format!(
        "[authorities.real]\nkind = \"acme\"\ndirectory = {:?}\nca_file = {:?}\nhttp01_listen = \"127.0.0.1:{http_port}\"\n",
        pebble.directory, shared.ca_file
    );
    let ca = registry(&toml, &dir.join("data"));
    // An IP identifier: pebble's VA connects to it directly, no DNS needed.
    let csr = rcgen_csr("127.0.0.1", &["127.0.0.1"]);
    let chain = ca.sign(&csr, None).await.expect("validated and issued");
    assert!(openssl_describe(&dir, &chain[0]).contains("IP Address:127.0.0.1"));

    // An authority without a listener of its own: the first one's listener still holds the
    // port but serves only tokens its own orders published, so pebble's VA gets a 404 and
    // refuses the identifier.
    let (_t2, dir2) = tempdir();
    let toml = format!(
        "[authorities.mute]\nkind = \"acme\"\ndirectory = {:?}\nca_file = {:?}\ntimeout_secs = 30\n",
        pebble.directory, shared.ca_file
    );
    let ca = registry(&toml, &dir2.join("data"));
    let csr = rcgen_csr("127.0.0.1", &["127.0.0.1"]);
    // The CA could not validate the name: a refusal of this request.
    let AuthorityError::Rejected(err) = ca.sign(&csr, None).await.unwrap_err() else {
        panic!("expected a rejection")
    };
    assert!(
        err.starts_with(
            "certificate authority \"mute\": the ACME order failed while waiting for authorization"
        ),
        "{err}"
    );
    assert!(
        err.contains("returned 404") && err.contains("unauthorized"),
        "{err}"
    );
}

//! Fixtures made with `openssl` and the helpers every certificate-store scenario uses.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use keywarden::operator_config::OperatorConfig;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const STORES: &str = "/KeyfactorAPI/CertificateStores";
pub const WAIT: Duration = Duration::from_secs(60);

/// Certificates and stores made by `openssl` in a host directory the plugins get as
/// `/stores`: a CA (10 years), a leaf for web.example.com (20 days) with SANs, the leaf
/// as a PEM file with chain and key, and as a PKCS#12 (`openssl pkcs12 -export`).
pub struct Fixtures {
    pub dir: tempfile::TempDir,
}

pub fn openssl(dir: &Path, args: &[&str]) {
    run(dir, "openssl", args);
}

/// Runs a tool in `dir`, asserts it succeeded, and returns its standard output.
pub fn run(dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Fixtures {
    pub fn make() -> Fixtures {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=Keywarden Test Root CA/O=Keywarden Tests",
        ]);
        openssl(d, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=web.example.com/O=Example Inc",
        ]);
        openssl(d, &csr);
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=DNS:web.example.com,DNS:www.example.com,IP:10.0.0.5\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "20",
                "-extfile",
                "san.ext",
                "-out",
                "leaf.pem",
            ],
        );
        openssl(
            d,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-out", "leaf.pk8",
            ],
        );
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        std::fs::create_dir(d.join("stores")).unwrap();
        std::fs::write(
            d.join("stores/web.pem"),
            format!("{}{}{}", read("leaf.pem"), read("ca.pem"), read("leaf.pk8")),
        )
        .unwrap();
        openssl(
            d,
            &[
                "pkcs12",
                "-export",
                "-in",
                "leaf.pem",
                "-inkey",
                "leaf.key",
                "-certfile",
                "ca.pem",
                "-name",
                "web",
                "-out",
                "stores/web.p12",
                "-passout",
                "pass:changeit",
            ],
        );
        Fixtures { dir }
    }

    pub fn stores(&self) -> String {
        self.dir.path().join("stores").display().to_string()
    }

    pub fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// The operator config: both store plugins get `/stores`, the store password and CSR
    /// enrollment with a local CA.
    pub fn config(&self) -> OperatorConfig {
        let toml = format!(
            r#"
            [secrets]
            p12_password = {{ value = "changeit" }}
            not_granted = {{ value = "x" }}
            leaf_key = {{ file = {key:?} }}
            [authorities.local]
            kind = "local"
            common_name = "Keywarden Test Issuing CA"
            validity_days = 45
            {pebble}
            [plugins.jks-store]
            secrets = ["p12_password"]
            csr_enrollment = true
            dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
            [plugins.pem-store]
            secrets = ["leaf_key"]
            csr_enrollment = true
            dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
            [plugins.pkcs12-store]
            secrets = ["p12_password"]
            csr_enrollment = true
            dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
            "#,
            stores = self.stores(),
            key = self.dir.path().join("leaf.pk8").display().to_string(),
            pebble = pebble_authority().unwrap_or_default(),
        );
        toml::from_str(&toml).expect("test config parses")
    }
}

/// The `[authorities.pebble]` table for the pebble that `.ci/pebble.sh` starts, when its
/// variables are set.
pub fn pebble_authority() -> Option<String> {
    let directory = std::env::var("KEYWARDEN_TEST_PEBBLE_DIRECTORY").ok()?;
    let ca_file = std::env::var("KEYWARDEN_TEST_PEBBLE_CA_FILE").ok()?;
    Some(format!(
        "[authorities.pebble]\nkind = \"acme\"\ndirectory = {directory:?}\nca_file = {ca_file:?}\n"
    ))
}

/// Runs `scenario` on SQLite and, when configured, PostgreSQL, each with fresh fixtures.
pub async fn on_each_backend(scenario: impl AsyncFn(&TestServer, &Fixtures)) {
    let fx = Fixtures::make();
    let server = TestServer::sqlite_with(fx.config()).await;
    scenario(&server, &fx).await;
    server.stop().await;
    let fx = Fixtures::make();
    if let Some(server) = TestServer::postgres_with(fx.config()).await {
        scenario(&server, &fx).await;
        server.stop().await;
    }
}

pub async fn create_store(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, store) = s.post(token, STORES, &body).await;
    assert_eq!(status, StatusCode::OK, "{store}");
    store
}

pub fn pem_store(path: &str) -> Value {
    json!({"ClientMachine": "web01", "Storepath": path, "CertStoreType": 2})
}

pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode, field: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Every job of the account with this operation, newest first.
pub async fn jobs(s: &TestServer, token: &str, operation: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            token,
            &format!("/api/v1/scheduler/jobs?operation={operation}&limit=100&include=params,logs"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["resources"].as_array().cloned().unwrap_or_default()
}

pub async fn inventory_now(s: &TestServer, token: &str, store_id: &str) -> Value {
    let before = jobs(s, token, "Inventory").await.len();
    let (status, body) = s
        .post(
            token,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [store_id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let all = jobs(s, token, "Inventory").await;
    assert_eq!(all.len(), before + 1, "one inventory job queued");
    let id = all[0]["id"].as_str().unwrap().to_owned();
    s.wait_job(token, &id, WAIT).await
}

//! The two-team lab: a stores folder with a folder per team (PEM stores made by
//! `openssl`), one local CA, and the operator config granting each team its own part.

use std::path::Path;
use std::time::Duration;

use keywarden_tests::openssl;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const STORES: &str = "/KeyfactorAPI/CertificateStores";
pub const WAIT: Duration = Duration::from_secs(60);

/// The stores folder (plugins see it as `/stores`) with `team-a/web.pem` and
/// `team-b/web.pem`, each team's key in a PKCS#8 file for its key secret.
pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn make() -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for team in ["team-a", "team-b"] {
            std::fs::create_dir_all(d.join("stores").join(team)).unwrap();
            keywarden_tests::self_signed_ec(
                d,
                &format!("{team}.key"),
                &format!("{team}.pem"),
                20,
                &format!("/CN=web.{team}.example"),
            );
            openssl(
                d,
                &[
                    "pkcs8",
                    "-topk8",
                    "-nocrypt",
                    "-in",
                    &format!("{team}.key"),
                    "-out",
                    &format!("{team}.pk8"),
                ],
            );
            let store = format!(
                "{}{}",
                self_read(d, &format!("{team}.pem")),
                self_read(d, &format!("{team}.pk8"))
            );
            std::fs::write(d.join("stores").join(team).join("web.pem"), store).unwrap();
        }
        Lab { dir }
    }

    pub fn read(&self, rel: &str) -> String {
        self_read(self.dir.path(), rel)
    }

    /// The operator config: the store plugin gets all of `/stores`, both key secrets
    /// and CSR enrollment; each team gets its folder, its key and names under its domain.
    pub fn config(&self, secrets: &str, extra: &str) -> String {
        let d = self.dir.path();
        format!(
            r#"
[secrets]
a_key = {{ file = {a:?} }}
b_key = {{ file = {b:?} }}
{secrets}
[authorities.local]
kind = "local"
common_name = "Keywarden Tenancy CA"
validity_days = 365
[plugins.pem-store]
secrets = ["a_key", "b_key"]
csr_enrollment = true
dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
[plugins.noop]
[accounts.team-a.plugins.pem-store]
dirs = ["/stores/team-a"]
secrets = ["a_key"]
[accounts.team-a.plugins.noop]
[accounts.team-a.authorities.local]
allowed_domains = ["team-a.example"]
allow_subdomains = true
max_validity_days = 30
[accounts.team-b.plugins.pem-store]
dirs = ["/stores/team-b"]
secrets = ["b_key"]
[accounts.team-b.authorities.local]
allowed_domains = ["team-b.example"]
allow_subdomains = true
max_validity_days = 30
{extra}
"#,
            a = d.join("team-a.pk8").display().to_string(),
            b = d.join("team-b.pk8").display().to_string(),
            stores = d.join("stores").display().to_string(),
        )
    }
}

fn self_read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A running lab server and a token for each team.
pub struct Teams {
    pub server: TestServer,
    pub a: String,
    pub b: String,
}

impl Teams {
    pub async fn start(lab: &Lab, postgres: bool) -> Option<Teams> {
        Self::start_with(lab, postgres, "", "").await
    }

    /// [`start`](Self::start) with more secrets (lines of the `[secrets]` table) and
    /// more operator config (TOML tables after the lab's).
    pub async fn start_with(
        lab: &Lab,
        postgres: bool,
        secrets: &str,
        extra: &str,
    ) -> Option<Teams> {
        let toml = lab.config(secrets, extra);
        let server = if postgres {
            TestServer::postgres_with_toml(&toml).await?
        } else {
            TestServer::sqlite_with_toml(&toml).await
        };
        let a = server.token("team-a", false).await;
        let b = server.token("team-b", false).await;
        Some(Teams { server, a, b })
    }
}

/// Runs `scenario` on SQLite and, when configured, PostgreSQL, each with a fresh lab.
pub async fn on_each_backend(scenario: impl AsyncFn(&Teams, &Lab)) {
    for postgres in [false, true] {
        let lab = Lab::make();
        let Some(teams) = Teams::start(&lab, postgres).await else {
            continue;
        };
        scenario(&teams, &lab).await;
        teams.server.stop().await;
    }
}

/// Asserts a refusal: its status, the field it names and words of its message.
pub fn assert_refused(status: StatusCode, body: &Value, want: StatusCode, field: &str, says: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["field"], field, "{body}");
    let message = body["message"]
        .as_str()
        .or_else(|| body["Message"].as_str())
        .unwrap_or_default();
    assert!(message.contains(says), "expected {says:?} in {body}");
}

pub fn pem_store(path: &str) -> Value {
    json!({"ClientMachine": "web01", "Storepath": path, "CertStoreType": 2})
}

pub async fn create_store(s: &TestServer, token: &str, path: &str) -> String {
    let (status, store) = s.post(token, STORES, &pem_store(path)).await;
    assert_eq!(status, StatusCode::OK, "{store}");
    store["Id"].as_str().unwrap().to_owned()
}

/// Every job of the caller's account with this operation, newest first.
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

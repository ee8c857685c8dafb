//! What every backup scenario uses: a backup key made by `age-keygen` (the CLI users
//! decrypt with), the operator config naming it, data seeded into a server, a backup taken
//! through the API, `keywarden restore` run as a process, and what a user sees of a
//! server, to compare before and after.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{CertificateSource, CertificateStore, InventoryEntry, SyncedKey};
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub const CONFIGS: &str = "/api/v1/scheduler/job-configs";
pub const WAIT: Duration = Duration::from_secs(120);

/// A backup key in a file, as `age-keygen -o` writes it, and its value.
pub struct Key {
    /// Holds the key file until the test ends.
    pub _dir: tempfile::TempDir,
    pub file: PathBuf,
    pub value: String,
}

/// A new age X25519 identity from `age-keygen`.
pub fn age_keygen() -> Key {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("backup.key");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen runs (Debian package age; .ci/tools.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let value = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line")
        .to_owned();
    Key {
        _dir: dir,
        file,
        value,
    }
}

/// The operator config: teams `alice` and `bob` run `hello` and `noop` (as the test
/// servers' own config), the secret `backup_key` holds `key`, and any `extra` TOML.
pub fn config(key: &Key, extra: &str) -> keywarden::operator_config::OperatorConfig {
    keywarden_tests::server::parse_config(&format!(
        r#"{}
        [secrets]
        backup_key = {{ file = {:?} }}
        short_key = {{ value = "tooshort" }}
        {extra}
        "#,
        keywarden_tests::server::TEST_ACCOUNTS,
        key.file.display().to_string()
    ))
}

/// Seeds what a user sees: configs and finished jobs of the admin and of a team (through
/// the API), and a certificate store with inventory and synchronized keys (through the
/// storage trait, as a plugin's job would keep them). Returns alice's token.
pub async fn seed(s: &TestServer) -> String {
    let alice = s.token("alice", false).await;
    for (token, name) in [(&s.admin, "admin-hello"), (&alice, "alice-hello")] {
        let config = s
            .create_config(
                token,
                &json!({"name": name, "operation": "hello", "run_at": "0 0 1 1 *",
                        "params": {"name": name, "repeat": 2}}),
            )
            .await;
        let id = config["id"].as_str().unwrap();
        let (status, run) = s
            .post(token, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        let job = s
            .wait_job(token, run["job_id"].as_str().unwrap(), WAIT)
            .await;
        assert_eq!(job["status"], "completed", "{job}");
    }
    let db = keywarden_db::connect(&url_of(s))
        .await
        .expect("open the server's database");
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let store = db
        .insert_certificate_store(&CertificateStore {
            id: Uuid::new_v4(),
            account_id: "alice".into(),
            client_machine: "web-1".into(),
            store_path: "/stores/web.pem".into(),
            store_type: "PEM".into(),
            container_id: None,
            approved: true,
            create_if_missing: false,
            properties: json!({}),
            agent_id: None,
            password_secret: None,
            inventory_config_id: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .expect("store");
    db.replace_inventory(
        "alice",
        store.id,
        &[InventoryEntry {
            store_id: store.id,
            source: CertificateSource::Store,
            account_id: "alice".into(),
            alias: "web".into(),
            thumbprint: "AB".repeat(20),
            serial_number: "01".into(),
            subject: "CN=web.example.com".into(),
            issuer: "CN=Lab CA".into(),
            sans: vec!["dns:web.example.com".into()],
            not_before: now,
            not_after: now + chrono::Duration::days(20),
            has_private_key: true,
            chain_length: 1,
            certificate: "MIIB".into(),
            job_id: None,
            inventoried_at: now,
        }],
    )
    .await
    .expect("inventory");
    db.replace_cloud_keys(
        "admin",
        "aws/eu",
        &[SyncedKey {
            account_id: "admin".into(),
            source: "aws/eu".into(),
            cloud_name: "aws".into(),
            key_id: "k-1".into(),
            resource_name: Some("arn:aws:kms:eu-west-1:1:key/k-1".into()),
            aliases: vec!["alias/orders".into()],
            state: "Enabled".into(),
            created_at: Some(now),
            rotated_at: None,
            attributes: json!({"key_spec": "SYMMETRIC_DEFAULT"}),
            synced_at: now,
        }],
    )
    .await
    .expect("keys");
    alice
}

/// The URL `keywarden_db::connect` opens the server's database with.
pub fn url_of(s: &TestServer) -> String {
    s.database_url().to_owned()
}

/// Creates a `database_backup` config as `token` and runs it now; returns the finished job.
pub async fn backup(s: &TestServer, params: Value) -> Value {
    let name = format!("backup-{}", Uuid::new_v4().simple());
    let config = s
        .create_config(
            &s.admin,
            &json!({"name": name, "operation": "database_backup", "run_at": "0 0 1 1 *",
                    "database_backup_params": params}),
        )
        .await;
    let id = config["id"].as_str().unwrap();
    let (status, run) = s
        .post(&s.admin, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    s.wait_job(&s.admin, run["job_id"].as_str().unwrap(), WAIT)
        .await
}

/// The backup file a completed job wrote.
pub fn file_of(job: &Value) -> PathBuf {
    assert_eq!(job["status"], "completed", "{job}");
    PathBuf::from(
        job["details"]["details"]["file"]
            .as_str()
            .expect("details.details.file"),
    )
}

/// Runs `keywarden restore` (the real binary) with `args`, the key given by `key_env`
/// through `KEYWARDEN_BACKUP_KEY` when set.
pub fn restore(args: &[&str], key_env: Option<&str>) -> Output {
    let mut cmd = Command::new(keywarden_tests::keywarden_binary());
    cmd.arg("restore")
        .args(args)
        .env_remove("KEYWARDEN_BACKUP_KEY");
    for var in [
        "KEYWARDEN_DATABASE_URL",
        "KEYWARDEN_CONFIG",
        "KEYWARDEN_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    if let Some(k) = key_env {
        cmd.env("KEYWARDEN_BACKUP_KEY", k);
    }
    cmd.output().expect("keywarden runs")
}

/// What a user sees of a server, as admin: configs, jobs, stores, inventory, kept keys
/// (ids and the fields that do not move on their own).
pub async fn seen(s: &TestServer) -> Value {
    let t = &s.admin;
    let get = async |path: &str| {
        let (status, body) = s.get(t, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    };
    let configs = get(&format!("{CONFIGS}?limit=100")).await;
    let jobs = get("/api/v1/scheduler/jobs?limit=100&include=params").await;
    let stores = get("/KeyfactorAPI/CertificateStores").await;
    let inventory = get("/KeyfactorAPI/CertificateStores/Inventory").await;
    let keys = get("/api/v1/cckm/keys").await;
    let pick = |list: &Value, fields: &[&str]| -> Vec<Value> {
        let mut out: Vec<Value> = list
            .as_array()
            .or_else(|| list["resources"].as_array())
            .expect("a list")
            .iter()
            .map(|item| {
                Value::Object(
                    fields
                        .iter()
                        .map(|f| ((*f).to_owned(), item[*f].clone()))
                        .collect(),
                )
            })
            .collect();
        out.sort_by_key(|v| v.to_string());
        out
    };
    json!({
        "configs": pick(&configs, &["id", "name", "account", "operation", "run_at"]),
        "jobs": pick(&jobs, &["id", "name", "account", "status", "job_config_params"]),
        "stores": pick(&stores, &["Id", "ClientMachine", "StorePath", "CertStoreType"]),
        "inventory": inventory,
        "keys": pick(&keys, &["id", "key_id", "aliases", "cloud_name"]),
    })
}

/// Whether `needle` appears anywhere in the text of `path`'s bytes.
pub fn file_contains(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

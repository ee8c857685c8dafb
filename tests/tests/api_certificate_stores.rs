//! `/KeyfactorAPI/CertificateStores` over HTTP against a real server with the real store
//! plugins: CRUD, validation and account scoping; inventory schedules; inventories of
//! stores made by `openssl` (a PEM file and a PKCS#12 from `openssl pkcs12 -export`)
//! landing in the inventory endpoint; Management add/remove jobs; Reenrollment
//! requests; Discovery. SQLite and, when configured, PostgreSQL.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use keywarden::config::OperatorConfig;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const STORES: &str = "/KeyfactorAPI/CertificateStores";
const WAIT: Duration = Duration::from_secs(60);

/// Certificates and stores made by `openssl` in a host directory the plugins get as
/// `/stores`: a CA (10 years), a leaf for web.example.com (20 days) with SANs, the leaf
/// as a PEM file with chain and key, and as a PKCS#12 (`openssl pkcs12 -export`).
struct Fixtures {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    run(dir, "openssl", args);
}

/// Runs a tool in `dir`, asserts it succeeded, and returns its standard output.
fn run(dir: &Path, tool: &str, args: &[&str]) -> String {
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
    fn make() -> Fixtures {
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

    fn stores(&self) -> String {
        self.dir.path().join("stores").display().to_string()
    }

    fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// The operator config: both store plugins get `/stores`, the store password and CSR
    /// enrollment with a local CA.
    fn config(&self) -> OperatorConfig {
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
fn pebble_authority() -> Option<String> {
    let directory = std::env::var("KEYWARDEN_TEST_PEBBLE_DIRECTORY").ok()?;
    let ca_file = std::env::var("KEYWARDEN_TEST_PEBBLE_CA_FILE").ok()?;
    Some(format!(
        "[authorities.pebble]\nkind = \"acme\"\ndirectory = {directory:?}\nca_file = {ca_file:?}\n"
    ))
}

/// Runs `scenario` on SQLite and, when configured, PostgreSQL, each with fresh fixtures.
async fn on_each_backend(scenario: impl AsyncFn(&TestServer, &Fixtures)) {
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

async fn create_store(s: &TestServer, token: &str, body: Value) -> Value {
    let (status, store) = s.post(token, STORES, &body).await;
    assert_eq!(status, StatusCode::OK, "{store}");
    store
}

fn pem_store(path: &str) -> Value {
    json!({"ClientMachine": "web01", "Storepath": path, "CertStoreType": 2})
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, field: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Every job of the account with this operation, newest first.
async fn jobs(s: &TestServer, token: &str, operation: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            token,
            &format!("/api/v1/scheduler/jobs?operation={operation}&limit=100"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["resources"].as_array().cloned().unwrap_or_default()
}

async fn crud_validation_and_scoping(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let created = create_store(
        s,
        t,
        json!({"clientmachine": "web01", "StorePath": "/stores/web.p12", "CertStoreType": "pkcs12",
               "Properties": "{}", "AgentId": "test-node", "ContainerId": 3,
               "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let id = created["Id"].as_str().unwrap().to_owned();
    assert_eq!(created["ClientMachine"], "web01");
    assert_eq!(created["Storepath"], "/stores/web.p12");
    assert_eq!(created["CertStoreType"], 102);
    assert_eq!(created["CertStoreTypeName"], "PKCS12");
    assert_eq!(created["Approved"], true);
    assert_eq!(created["AgentId"], "test-node");
    assert_eq!(created["ContainerId"], 3);
    assert_eq!(created["Properties"], "{}");
    assert_eq!(created["Password"], json!({"SecretName": "p12_password"}));
    assert_eq!(created["CertStoreInventoryJobId"], Value::Null);
    let (status, got) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));

    // Validation: each mistake names its field.
    let cases = [
        (
            json!({"Storepath": "/stores/a.pem", "CertStoreType": 2}),
            StatusCode::BAD_REQUEST,
            "ClientMachine",
        ),
        (
            json!({"ClientMachine": "w", "CertStoreType": 2}),
            StatusCode::BAD_REQUEST,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": 77}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "CertStoreType",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": "IIS"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "CertStoreType",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/etc/a.pem", "CertStoreType": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/../etc/a.pem", "CertStoreType": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": "changeit"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretValue": "changeit"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretName": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password.SecretName",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretName": "not_granted"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password.SecretName",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": {"ServerPassword": {"SecretValue": "x"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Properties.ServerPassword.SecretValue",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": {"colour": "red"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Properties.colour",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": "{not json"}),
            StatusCode::BAD_REQUEST,
            "Properties",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Approved": "yes"}),
            StatusCode::BAD_REQUEST,
            "Approved",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Colour": 1}),
            StatusCode::BAD_REQUEST,
            "Colour",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "InventorySchedule": {"Interval": {"Minutes": 7}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "InventorySchedule.Interval.Minutes",
        ),
    ];
    for (body, want, field) in cases {
        let (status, err) = s.post(t, STORES, &body).await;
        assert_error(status, &err, want, field);
    }
    let (status, err) = s
        .post(
            t,
            STORES,
            &json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": 77}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("PEM (2)") && message.contains("PKCS12 (102)"),
        "{message}"
    );
    // Same machine, path and type again: conflict.
    let (status, err) = s
        .post(t, STORES, &json!({"ClientMachine": "web01", "Storepath": "/stores/web.p12", "CertStoreType": 102}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");

    // List: filters, paging, x-total-count.
    create_store(s, t, pem_store("/stores/b.pem")).await;
    create_store(s, t, pem_store("/stores/a.pem")).await;
    let (status, page, total) = s
        .get_counted(
            t,
            &format!("{STORES}?CertStoreType=2&SortField=Storepath&ReturnLimit=1&PageReturned=2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(total, Some(2));
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["Storepath"], "/stores/b.pem");
    let (_, _, total) = s.get_counted(t, STORES).await;
    assert_eq!(total, Some(3));
    let (status, err) = s.get(t, &format!("{STORES}?SortField=Password")).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "SortField");

    // PUT replaces (Id in the body).
    let mut edited = created.clone();
    edited["Storepath"] = json!("/stores/moved.p12");
    edited["Approved"] = json!(false);
    let (status, put) = s.put(t, STORES, &edited).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["Storepath"], "/stores/moved.p12");
    assert_eq!(put["Approved"], false);
    assert_eq!(put["Password"], json!({"SecretName": "p12_password"}));
    let (status, err) = s.put(t, STORES, &json!({"ClientMachine": "w"})).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Id");

    // Another account sees none of it.
    let other = s.token("team-b", false).await;
    for path in [format!("{STORES}/{id}"), format!("{STORES}/{id}/Inventory")] {
        let (status, _) = s.get(&other, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, page, total) = s.get_counted(&other, STORES).await;
    assert_eq!((total, page), (Some(0), json!([])));
    let (status, _) = s.put(&other, STORES, &edited).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&other, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = s
        .post(
            &other,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "StoreIds[0]");
    let (status, _) = s.call(reqwest::Method::GET, STORES, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, doc) = s
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    for path in [
        "/KeyfactorAPI/CertificateStores",
        "/KeyfactorAPI/CertificateStores/{id}",
        "/KeyfactorAPI/CertificateStores/Schedule",
        "/KeyfactorAPI/CertificateStores/Reenrollment",
        "/KeyfactorAPI/CertificateStores/{id}/Inventory",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    let (status, _) = s.delete(t, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Schedules a store's inventory now and waits for that job.
async fn inventory_now(s: &TestServer, token: &str, store_id: &str) -> Value {
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

async fn inventories_land_in_the_inventory_endpoint(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let pem = create_store(s, t, pem_store("/stores/web.pem")).await;
    let p12 = create_store(
        s,
        t,
        json!({"ClientMachine": "web01", "Storepath": "/stores/web.p12", "CertStoreType": "PKCS12",
               "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let leaf_thumbprint = {
        let out = Command::new("openssl")
            .args(["x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha1"])
            .current_dir(fx.dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().replace(':', "")
    };
    for (store, alias) in [(&pem, None), (&p12, Some("web"))] {
        let id = store["Id"].as_str().unwrap();
        let job = inventory_now(s, t, id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["result"], "success", "{job}");
        let (status, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
        assert_eq!(status, StatusCode::OK, "{entries}");
        assert_eq!(total, Some(1), "{entries}");
        let e = &entries[0];
        if let Some(alias) = alias {
            assert_eq!(e["Alias"], alias, "{e}");
        }
        assert_eq!(e["Thumbprint"], leaf_thumbprint.as_str(), "{e}");
        let subject = e["IssuedDN"].as_str().unwrap();
        assert!(
            subject.contains("CN=web.example.com") && subject.contains("O=Example Inc"),
            "{e}"
        );
        assert!(
            e["IssuerDN"]
                .as_str()
                .unwrap()
                .contains("CN=Keywarden Test Root CA"),
            "{e}"
        );
        assert_eq!(
            e["SANs"],
            json!({"dns": ["web.example.com", "www.example.com"], "ip4": ["10.0.0.5"]}),
            "{e}"
        );
        assert_eq!(e["HasPrivateKey"], true, "{e}");
        assert_eq!(e["ChainLength"], 2, "{e}");
        assert_eq!(e["JobId"], job["id"], "{e}");
        let not_after =
            chrono::DateTime::parse_from_rfc3339(e["NotAfter"].as_str().unwrap()).unwrap();
        let days = (not_after.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
        assert!((19..=20).contains(&days), "leaf valid for 20 days: {e}");

        // Expiring filter.
        let (_, _, soon) = s
            .get_counted(t, &format!("{STORES}/{id}/Inventory?ExpiringWithinDays=30"))
            .await;
        assert_eq!(soon, Some(1));
        let (_, _, later) = s
            .get_counted(t, &format!("{STORES}/{id}/Inventory?ExpiringWithinDays=10"))
            .await;
        assert_eq!(later, Some(0));
    }
    let (_, all, total) = s
        .get_counted(
            t,
            &format!("{STORES}/Inventory?ExpiringWithinDays=30&SortField=Alias"),
        )
        .await;
    assert_eq!(total, Some(2), "{all}");
    let (status, err) = s
        .get(t, &format!("{STORES}/Inventory?ExpiringWithinDays=soon"))
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "ExpiringWithinDays");
}

async fn schedules_become_job_configs(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let store = create_store(s, t, pem_store("/stores/web.pem")).await;
    let id = store["Id"].as_str().unwrap();
    let schedule = |body: Value| {
        let body = json!({"StoreIds": [id], "Schedule": body});
        async move { s.post(t, &format!("{STORES}/Schedule"), &body).await }
    };
    let config_of = async |s: &TestServer| {
        let (_, store) = s.get(t, &format!("{STORES}/{id}")).await;
        let config_id = store["CertStoreInventoryJobId"]
            .as_str()
            .expect("has a schedule")
            .to_owned();
        let (status, config) = s
            .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{config}");
        (store, config)
    };
    let cases = [
        (json!({"Interval": {"Minutes": 15}}), "*/15 * * * *"),
        (json!({"Interval": {"Minutes": 120}}), "0 */2 * * *"),
        (
            json!({"Daily": {"Time": "2024-01-01T02:30:00Z"}}),
            "30 2 * * *",
        ),
        (
            json!({"Weekly": {"Days": ["Monday", "Friday"], "Time": "2024-01-01T23:05:00Z"}}),
            "5 23 * * 1,5",
        ),
        (
            json!({"Monthly": {"Day": 15, "Time": "2024-01-01T06:00:00Z"}}),
            "0 6 15 * *",
        ),
    ];
    let mut first_config = None;
    for (body, cron) in cases {
        let (status, err) = schedule(body.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
        let (store, config) = config_of(s).await;
        assert_eq!(config["run_at"], cron, "{config}");
        assert_eq!(config["operation"], "Inventory");
        assert!(config["next_run_at"].is_string(), "{config}");
        assert_eq!(
            config["job_config_params"],
            json!({"certificate_store_id": id})
        );
        assert_eq!(store["InventorySchedule"], body_roundtrip(&body), "{store}");
        // One config per store, kept across reschedules.
        let config_id = config["id"].clone();
        assert_eq!(first_config.get_or_insert(config_id.clone()), &config_id);
    }
    let at = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, _) = schedule(json!({"ExactlyOnce": {"Time": at}})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, config) = config_of(s).await;
    assert_eq!(config["start_date"], config["end_date"]);
    assert!(
        config["next_run_at"]
            .as_str()
            .unwrap()
            .starts_with(&at[..19]),
        "{config}"
    );

    // Bad schedules name their field and change nothing.
    for (body, field) in [
        (json!({}), "Schedule"),
        (
            json!({"Interval": {"Minutes": 0}}),
            "Schedule.Interval.Minutes",
        ),
        (
            json!({"Daily": {"Time": "half past two"}}),
            "Schedule.Daily.Time",
        ),
        (
            json!({"Weekly": {"Days": ["Funday"], "Time": "02:00"}}),
            "Schedule.Weekly.Days[0]",
        ),
        (
            json!({"Immediate": true, "Daily": {"Time": "02:00"}}),
            "Schedule",
        ),
        (json!({"Hourly": true}), "Schedule.Hourly"),
    ] {
        let (status, err) = schedule(body).await;
        assert_error(status, &err, StatusCode::BAD_REQUEST, field);
    }
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": ["nope"], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "StoreIds[0]");
    let (_, config) = config_of(s).await;
    assert_eq!(config["start_date"], config["end_date"], "unchanged");

    // Off removes the schedule and its config.
    let config_id = config["id"].as_str().unwrap().to_owned();
    let (status, _) = schedule(json!({"Off": true})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, store) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!(store["CertStoreInventoryJobId"], Value::Null);
    assert_eq!(store["InventorySchedule"], Value::Null);
    let (status, _) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A schedule given at creation; the store's deletion takes its config along.
    let mut body = pem_store("/stores/other.pem");
    body["InventorySchedule"] = json!({"Interval": {"Minutes": 30}});
    let other = create_store(s, t, body).await;
    let config_id = other["CertStoreInventoryJobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        other["InventorySchedule"],
        json!({"Interval": {"Minutes": 30}})
    );
    let (status, _) = s
        .delete(t, &format!("{STORES}/{}", other["Id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Times come back as `1970-01-01THH:MM:00Z` and days as full names.
fn body_roundtrip(body: &Value) -> Value {
    let mut out = body.clone();
    for kind in ["Daily", "Weekly", "Monthly"] {
        if let Some(time) = out.pointer_mut(&format!("/{kind}/Time")) {
            let hm = &time.as_str().unwrap()[11..16];
            *time = json!(format!("1970-01-01T{hm}:00Z"));
        }
    }
    out
}

async fn management_adds_and_removes_through_jobs(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let mut body = pem_store("/stores/trust.pem");
    body["CreateIfMissing"] = json!(true);
    body["Properties"] = json!({"trust_store": true});
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": fx.pem("ca.pem"),
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "test-root"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = s.wait_job(t, ids[0].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (job["status"].as_str(), job["result"].as_str()),
        (Some("completed"), Some("success")),
        "{job}"
    );
    assert_eq!(job["operation"], "Management");
    assert!(
        std::fs::read_to_string(Path::new(&fx.stores()).join("trust.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let job = inventory_now(s, t, id).await;
    assert_eq!(job["result"], "success", "{job}");
    let (_, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(1), "{entries}");
    assert_eq!(entries[0]["Alias"], "test-root");
    assert_eq!(entries[0]["HasPrivateKey"], false);

    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Remove"),
            &json!({
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "test-root"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = s.wait_job(t, ids[0].as_str().unwrap(), WAIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    inventory_now(s, t, id).await;
    let (_, _, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(0));

    // Bad requests.
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": "not a certificate",
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Certificate");
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": format!("{}{}", fx.pem("ca.pem"), fx.pem("ca.key")),
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Certificate");
    let (status, err) = s
        .post(t, &format!("{STORES}/Certificates/Remove"), &json!({
            "CertificateStores": [{"CertificateStoreId": uuid::Uuid::now_v7().to_string(), "Alias": "x"}]}))
        .await;
    assert_error(
        status,
        &err,
        StatusCode::NOT_FOUND,
        "CertificateStores[0].CertificateStoreId",
    );
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": fx.pem("leaf.pem"), "PrivateKeySecret": "p12_password",
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PrivateKeySecret",
    );
}

async fn reenrollment_requests(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let store = create_store(
        s,
        t,
        json!({"ClientMachine": "web01", "Storepath": "/stores/web.p12", "CertStoreType": 102,
               "AgentId": "test-node", "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let id = store["Id"].as_str().unwrap();
    let valid = json!({
        "KeystoreId": id,
        "SubjectName": "CN=websrvr14.keyexample.com,OU=IT,O=\"Key Example, Inc.\",L=Independence,ST=OH,C=US",
        "AgentGuid": "test-node",
        "Alias": "web",
        "JobProperties": [{"KeyType": "ec-p384"}],
        "CertificateAuthority": "local",
        "SANs": {"dns": ["websrvr14.keyexample.com"], "ip4": ["10.1.2.3"]},
        "Metadata": {"Owner": "web team"},
    });
    let with = |k: &str, v: Value| {
        let mut b = valid.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let path = format!("{STORES}/Reenrollment");
    let cases = [
        (
            with("KeystoreId", Value::Null),
            StatusCode::BAD_REQUEST,
            "KeystoreId",
        ),
        (
            with("KeystoreId", json!("not-a-guid")),
            StatusCode::BAD_REQUEST,
            "KeystoreId",
        ),
        (
            with("KeystoreId", json!(uuid::Uuid::now_v7().to_string())),
            StatusCode::NOT_FOUND,
            "KeystoreId",
        ),
        (
            with("SubjectName", Value::Null),
            StatusCode::BAD_REQUEST,
            "SubjectName",
        ),
        (
            with("SubjectName", json!("websrvr14")),
            StatusCode::BAD_REQUEST,
            "SubjectName",
        ),
        (
            with("AgentGuid", Value::Null),
            StatusCode::BAD_REQUEST,
            "AgentGuid",
        ),
        (
            with("AgentGuid", json!("another-node")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "AgentGuid",
        ),
        (with("Alias", json!("")), StatusCode::BAD_REQUEST, "Alias"),
        (
            with("SANs", json!({"ip4": ["300.1.1.1"]})),
            StatusCode::BAD_REQUEST,
            "SANs.ip4[0]",
        ),
        (
            with("SANs", json!({"uri": ["https://x"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "SANs.uri",
        ),
        (
            with("JobProperties", json!({"KeyType": "dsa"})),
            StatusCode::BAD_REQUEST,
            "JobProperties.KeyType",
        ),
        (
            with("OwnerRoleId", json!(1))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("OwnerRoleName".into(), json!("x"));
                    Value::Object(o)
                })
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "OwnerRoleName",
        ),
        (
            with("Unknown", json!(1)),
            StatusCode::BAD_REQUEST,
            "Unknown",
        ),
    ];
    for (body, want, field) in cases {
        let (status, err) = s.post(t, &path, &body).await;
        assert_error(status, &err, want, field);
    }
    assert!(
        jobs(s, t, "Reenrollment").await.is_empty(),
        "refused requests queue nothing"
    );
    let other = s.token("team-c", false).await;
    let (status, err) = s.post(&other, &path, &valid).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "KeystoreId");

    let (status, body) = s.post(t, &path, &valid).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "204 has no body");
    let queued = jobs(s, t, "Reenrollment").await;
    assert_eq!(queued.len(), 1);
    let job = &queued[0];
    assert_eq!(job["run_on"], "test-node", "{job}");
    let params = &job["job_config_params"];
    assert_eq!(params["certificate_store_id"], id, "{job}");
    let r = &params["reenrollment"];
    assert_eq!(r["alias"], "web");
    assert_eq!(r["key_type"], "ec-p384");
    assert_eq!(r["sans"], json!(["websrvr14.keyexample.com", "10.1.2.3"]));
    assert_eq!(r["authority"], "local");
    assert_eq!(r["metadata"], json!({"Owner": "web team"}));
    // The plugin generates the key in the store, the host's local CA signs, and the new
    // certificate replaces the entry: the next inventory shows it.
    let done = s.wait_job(t, job["id"].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (done["status"].as_str(), done["result"].as_str()),
        (Some("completed"), Some("success")),
        "{done}"
    );
    inventory_now(s, t, id).await;
    let (_, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(1), "{entries}");
    let e = &entries[0];
    assert_eq!(e["Alias"], "web", "{e}");
    let subject = e["IssuedDN"].as_str().unwrap();
    assert!(
        subject.contains("CN=websrvr14.keyexample.com") && subject.contains("Key Example"),
        "{e}"
    );
    assert!(
        e["IssuerDN"]
            .as_str()
            .unwrap()
            .contains("CN=Keywarden Test Issuing CA"),
        "{e}"
    );
    assert_eq!(
        e["SANs"],
        json!({"dns": ["websrvr14.keyexample.com"], "ip4": ["10.1.2.3"]}),
        "{e}"
    );
    assert_eq!(e["HasPrivateKey"], true, "{e}");
    let not_after = chrono::DateTime::parse_from_rfc3339(e["NotAfter"].as_str().unwrap()).unwrap();
    let days = (not_after.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (44..=45).contains(&days),
        "issued for the CA's 45 days: {e}"
    );
}

/// A JKS made by `keytool` is re-enrolled through pebble (ACME): the jks-store plugin makes
/// the key and CSR inside the sandbox, the host orders the certificate, the plugin installs
/// it, and both `keytool` and the inventory endpoint see the new certificate.
async fn reenrollment_through_acme(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let stores = fx.dir.path().join("stores");
    run(
        &stores,
        "keytool",
        &[
            "-genkeypair",
            "-keystore",
            "app.jks",
            "-storetype",
            "JKS",
            "-storepass",
            "changeit",
            "-keypass",
            "changeit",
            "-alias",
            "app",
            "-keyalg",
            "EC",
            "-groupname",
            "secp256r1",
            "-dname",
            "CN=old.keyexample.test",
            "-validity",
            "2",
        ],
    );
    let store = create_store(
        s,
        t,
        json!({"ClientMachine": "app01", "Storepath": "/stores/app.jks", "CertStoreType": 0,
               "AgentId": "test-node", "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let id = store["Id"].as_str().unwrap();
    let request = json!({
        "KeystoreId": id,
        "SubjectName": "CN=app.keyexample.test",
        "AgentGuid": "test-node",
        "Alias": "app",
        "JobProperties": [{"KeyType": "ec-p256"}],
        "CertificateAuthority": "pebble",
        "SANs": {"dns": ["app.keyexample.test", "api.keyexample.test"]},
    });
    let (status, body) = s.post(t, &format!("{STORES}/Reenrollment"), &request).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let job = jobs(s, t, "Reenrollment").await.remove(0);
    let done = s.wait_job(t, job["id"].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (done["status"].as_str(), done["result"].as_str()),
        (Some("completed"), Some("success")),
        "{done}"
    );
    // keytool reads the store the plugin rewrote: the alias now holds pebble's certificate.
    let listing = run(
        &stores,
        "keytool",
        &[
            "-list",
            "-v",
            "-keystore",
            "app.jks",
            "-storepass",
            "changeit",
            "-alias",
            "app",
        ],
    );
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");
    assert!(
        listing.to_lowercase().contains("pebble"),
        "issued by pebble: {listing}"
    );
    assert!(
        listing.contains("DNSName: app.keyexample.test")
            && listing.contains("DNSName: api.keyexample.test"),
        "{listing}"
    );
    inventory_now(s, t, id).await;
    let (_, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(1), "{entries}");
    let e = &entries[0];
    assert_eq!(e["Alias"], "app", "{e}");
    assert!(
        e["IssuedDN"]
            .as_str()
            .unwrap()
            .contains("CN=app.keyexample.test"),
        "{e}"
    );
    assert!(
        e["IssuerDN"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("pebble"),
        "{e}"
    );
    assert_eq!(
        e["SANs"],
        json!({"dns": ["app.keyexample.test", "api.keyexample.test"]}),
        "{e}"
    );
    assert_eq!(e["HasPrivateKey"], true, "{e}");
    // The job is in Keyfactor's job history as a successful, completed Reenrollment.
    let (status, history, _) = s
        .get_counted(
            t,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobType%20-eq%20%22Reenrollment%22",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let entries = history.as_array().expect("a JSON array");
    assert_eq!(entries.len(), 1, "{history}");
    assert_eq!(entries[0]["JobType"], "Reenrollment", "{history}");
    assert_eq!(
        (entries[0]["Result"].as_i64(), entries[0]["Status"].as_i64()),
        (Some(2), Some(3)),
        "{history}"
    );
}

async fn discovery_finds_store_files(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let (status, err) = s
        .put(
            t,
            &format!("{STORES}/DiscoveryJob"),
            &json!({"ClientMachine": "web01", "Type": 2, "Dirs": "/stores", "Extensions": "pem"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    let queued = jobs(s, t, "Discovery").await;
    let job = s.wait_job(t, queued[0]["id"].as_str().unwrap(), WAIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (status, paths, total) = s
        .get_counted(t, &format!("{STORES}/DiscoveredPaths?CertStoreType=PEM"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total, Some(1), "{paths}");
    assert_eq!(paths[0]["Storepath"], "/stores/web.pem");
    assert_eq!(paths[0]["ClientMachine"], "web01");
    let (status, err) = s
        .put(
            t,
            &format!("{STORES}/DiscoveryJob"),
            &json!({"ClientMachine": "web01", "Type": 2}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Dirs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_store_crud_validation_and_scoping() {
    on_each_backend(crud_validation_and_scoping).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventories_of_openssl_made_stores() {
    on_each_backend(inventories_land_in_the_inventory_endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_schedules() {
    on_each_backend(schedules_become_job_configs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_jobs() {
    on_each_backend(management_adds_and_removes_through_jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reenrollment() {
    on_each_backend(reenrollment_requests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reenrollment_of_a_keytool_jks_through_pebble() {
    if pebble_authority().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide pebble: eval \"$(bash .ci/pebble.sh)\""
        );
        eprintln!(
            "SKIPPED reenrollment_of_a_keytool_jks_through_pebble: run eval \"$(bash .ci/pebble.sh)\""
        );
        return;
    }
    on_each_backend(reenrollment_through_acme).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery() {
    on_each_backend(discovery_finds_store_files).await;
}

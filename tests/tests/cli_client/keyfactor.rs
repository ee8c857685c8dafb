//! `/KeyfactorAPI` commands: stores, history, custom jobs, agents and SSL discovery.

use std::time::{Duration, Instant};

use keywarden_tests::server::{TEST_ACCOUNTS, TestServer};
use serde_json::{Value, json};

use crate::support::{Kw, shows};

const UNKNOWN: &str = "0190d2a8-0000-7000-8000-000000000000";

/// The test accounts, the PEM store plugin with a folder as `/stores`, and TLS probing of
/// loopback for the SSL scans.
async fn server(stores: &std::path::Path) -> TestServer {
    TestServer::sqlite_with_toml(&format!(
        r#"{TEST_ACCOUNTS}
        [plugins.pem-store]
        dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
        [plugins.ssl-scan]
        tls_probe = true
        tls_networks = ["127.0.0.0/24"]
        tls_ports = ["1-65535"]
        "#,
        stores = stores.display().to_string()
    ))
    .await
}

/// Waits until `path` (an API list) answers a non-empty array whose rows all pass `done`.
async fn rows(s: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = s.get(&s.admin, path).await;
        if let Some(rows) = body
            .as_array()
            .filter(|r| !r.is_empty() && r.iter().all(&done))
        {
            return rows.clone();
        }
        assert!(Instant::now() < deadline, "{path} stayed empty: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn write(dir: &std::path::Path, name: &str, body: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn stores_history_and_custom_jobs() {
    let stores = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let s = server(stores.path()).await;
    let kw = Kw::new(&s, &s.admin);
    let base = "/KeyfactorAPI/CertificateStores";
    let cert = rcgen::generate_simple_self_signed(vec!["cli.example".to_owned()]).unwrap();
    std::fs::write(stores.path().join("cli.pem"), cert.cert.pem()).unwrap();

    let created = kw
        .json(&[
            "stores",
            "create",
            "--client-machine",
            "local",
            "--storepath",
            "/stores/cli.pem",
            "--type",
            "PEM",
            "--create-if-missing",
            "true",
            "--properties",
            r#"{"trust_store": true}"#,
        ])
        .await;
    let id = created["Id"].as_str().unwrap().to_owned();
    let (_, api) = s.get(&s.admin, &format!("{base}/{id}")).await;
    assert_eq!(kw.json(&["stores", "get", &id]).await, api);
    let (_, api) = s.get(&s.admin, base).await;
    assert_eq!(kw.json(&["stores", "list"]).await, api);
    shows(
        &kw.ok(&["stores", "list", "--filter", "ClientMachine=local"])
            .await,
        &["STORE PATH", &id, "/stores/cli.pem", "PEM", "1 of 1"],
    );
    // stores are filtered by field, not by a query: the server says so, exit 5
    let err = kw
        .fails(&["stores", "list", "--query", "ClientMachine -eq \"x\""], 5)
        .await;
    assert!(err.contains("(field: QueryString)"), "{err}");
    let mut whole = api[0].clone();
    whole["ClientMachine"] = json!("local2");
    let file = write(files.path(), "store.json", &whole);
    let replaced = kw.json(&["stores", "update", &id, "--file", &file]).await;
    assert_eq!(replaced["ClientMachine"], "local2");

    // an inventory now, seen in the job history
    kw.ok(&[
        "stores",
        "schedule",
        "--store",
        &id,
        "--schedule",
        r#"{"Immediate": true}"#,
    ])
    .await;
    let history = rows(&s, "/KeyfactorAPI/OrchestratorJobs/JobHistory", |r| {
        r["OperationEnd"].is_string()
    })
    .await;
    let audit_id = history[0]["JobAuditId"].to_string();
    shows(
        &kw.ok(&["history", "list"]).await,
        &["AUDIT ID", &audit_id, "Inventory"],
    );
    let (_, api) = s
        .get(
            &s.admin,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?SortField=JobId&SortAscending=1",
        )
        .await;
    assert_eq!(
        kw.json(&["history", "list", "--sort-field", "JobId"]).await,
        api
    );
    let err = kw
        .fails(&["history", "list", "--query", "Result -eq"], 5)
        .await;
    assert!(err.contains("(field: QueryString)"), "{err}");
    kw.fails(&["history", "reschedule", "999999"], 3).await;
    kw.fails(&["history", "acknowledge", "999999"], 3).await;

    // inventory, certificates in and out, discovery
    let (_, api) = s.get(&s.admin, &format!("{base}/{id}/Inventory")).await;
    assert_eq!(kw.json(&["stores", "inventory", &id]).await, api);
    let (_, api) = s.get(&s.admin, &format!("{base}/Inventory")).await;
    assert_eq!(kw.json(&["stores", "inventory"]).await, api);
    let add = write(
        files.path(),
        "add.json",
        &json!({
        "Certificate": cert.cert.pem(),
        "CertificateStores": [{"CertificateStoreId": id, "Alias": "cli"}]}),
    );
    kw.ok(&["stores", "add", "--file", &add]).await;
    let remove = write(
        files.path(),
        "remove.json",
        &json!({
        "CertificateStores": [{"CertificateStoreId": id, "Alias": "cli"}]}),
    );
    kw.ok(&["stores", "remove", "--file", &remove]).await;
    let err = kw
        .fails(
            &[
                "stores",
                "reenroll",
                "--file",
                &write(files.path(), "r.json", &json!({})),
            ],
            5,
        )
        .await;
    assert!(err.contains("(field: "), "{err}");
    kw.fails(&["stores", "add"], 1).await;
    let discover = write(
        files.path(),
        "discover.json",
        &json!({"ClientMachine": "local", "Type": "PEM", "Dirs": "/stores", "Extensions": "pem"}),
    );
    kw.ok(&["stores", "discover", "--file", &discover]).await;
    let found = rows(&s, &format!("{base}/DiscoveredPaths"), |_| true).await;
    assert_eq!(
        kw.json(&["stores", "discovered-paths"]).await,
        Value::Array(found)
    );
    shows(
        &kw.ok(&["stores", "discovered-paths"]).await,
        &["Storepath", "/stores/cli.pem"],
    );

    // a custom job at once, followed to its end
    let custom = kw
        .json(&[
            "custom",
            "create",
            "--type",
            "hello",
            "--schedule",
            r#"{"Immediate": true}"#,
            "--fields",
            r#"{"name": "Kf"}"#,
        ])
        .await;
    let job = custom["JobId"].as_str().unwrap().to_owned();
    assert_eq!(
        kw.json(&["jobs", "get", &job, "--wait"]).await["message"],
        "Hello, Kf!"
    );

    kw.ok(&["stores", "delete", &id]).await;
    kw.fails(&["stores", "get", &id], 3).await;
    s.stop().await;
}

#[tokio::test]
async fn agents_and_ssl_discovery() {
    let stores = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let s = server(stores.path()).await;
    let kw = Kw::new(&s, &s.admin);

    // agents: none yet; refusals for unknown ones; registration credentials
    let (_, api) = s.get(&s.admin, "/KeyfactorAPI/Agents").await;
    assert_eq!(kw.json(&["agents", "list"]).await, api);
    shows(&kw.ok(&["agents", "list"]).await, &["AGENT ID", "0 of 0"]);
    for args in [
        vec!["agents", "get", UNKNOWN],
        vec!["agents", "approve", UNKNOWN],
        vec!["agents", "disapprove", UNKNOWN],
        vec!["agents", "reset", UNKNOWN],
        vec!["agents", "reset", UNKNOWN, UNKNOWN],
        vec!["agents", "fetch-logs", UNKNOWN],
    ] {
        kw.fails(&args, 3).await;
    }
    let err = kw.fails(&["agents", "approve", "not-a-guid"], 5).await;
    assert!(err.contains("(field: "), "{err}");
    let renewal = kw.run(&["agents", "reenroll", UNKNOWN, "--require"]).await;
    assert!([0, 3].contains(&renewal.code), "{renewal:?}");
    let credential = kw
        .json(&[
            "agents",
            "credentials",
            "create",
            "--username",
            "web01-reg",
            "--client-machine",
            "web01",
        ])
        .await;
    assert_eq!(credential["client_machine"], "web01");
    assert!(credential["password"].as_str().unwrap().len() >= 16);
    kw.fails(
        &["agents", "credentials", "create", "--username", "web01-reg"],
        5,
    )
    .await;
    kw.ok(&["agents", "credentials", "delete", "web01-reg"])
        .await;
    kw.fails(&["agents", "credentials", "delete", "web01-reg"], 3)
        .await;

    // SSL: a network, its ranges, a scan, the results
    let network = kw
        .json(&[
            "ssl",
            "networks",
            "create",
            "--name",
            "lab",
            "--description",
            "the lab",
            "--agent-pool-name",
            "Default Agent Pool",
        ])
        .await;
    let id = network["NetworkId"].as_str().unwrap().to_owned();
    let (_, api) = s.get(&s.admin, "/KeyfactorAPI/SSL/Networks/lab").await;
    assert_eq!(kw.json(&["ssl", "networks", "get", "lab"]).await, api);
    shows(
        &kw.ok(&["ssl", "networks", "list"]).await,
        &["NETWORK ID", &id, "lab"],
    );
    let mut whole = api.clone();
    whole["Description"] = json!("changed");
    let file = write(files.path(), "network.json", &whole);
    assert_eq!(
        kw.json(&["ssl", "networks", "update", "--file", &file])
            .await["Description"],
        "changed"
    );

    kw.ok(&[
        "ssl",
        "ranges",
        "add",
        "--network",
        &id,
        "--range",
        "127.0.0.1/32:1",
    ])
    .await;
    kw.ok(&[
        "ssl",
        "ranges",
        "replace",
        "--network",
        &id,
        "--range",
        "127.0.0.1/32:1,2",
    ])
    .await;
    let (_, api) = s
        .get(&s.admin, &format!("/KeyfactorAPI/SSL/NetworkRanges/{id}"))
        .await;
    assert_eq!(kw.json(&["ssl", "ranges", "get", &id]).await, api);
    shows(&kw.ok(&["ssl", "ranges", "get", &id]).await, &["127.0.0.1"]);
    let checked = kw
        .json(&[
            "ssl",
            "ranges",
            "validate",
            "--network",
            &id,
            "--range",
            "300.0.0.1:443",
        ])
        .await;
    assert!(checked.to_string().contains("300.0.0.1"), "{checked}");

    assert_eq!(
        kw.ok(&["ssl", "scan", &id, "--discovery"]).await.trim(),
        "scan started"
    );
    let parts = rows(&s, &format!("/KeyfactorAPI/SSL/Networks/{id}/Parts"), |p| {
        p["EndTime"].is_string()
    })
    .await;
    let (_, api) = s
        .get(&s.admin, &format!("/KeyfactorAPI/SSL/Networks/{id}/Parts"))
        .await;
    assert_eq!(kw.json(&["ssl", "parts", &id]).await, api);
    let part = parts[0]["ScanJobPartId"].as_str().unwrap();
    let (_, api) = s
        .get(&s.admin, &format!("/KeyfactorAPI/SSL/Parts/{part}"))
        .await;
    assert_eq!(kw.json(&["ssl", "part", part]).await, api);
    let (_, api) = s.get(&s.admin, "/KeyfactorAPI/SSL").await;
    assert_eq!(kw.json(&["ssl", "results"]).await, api);
    kw.fails(&["ssl", "endpoint", UNKNOWN], 3).await;
    kw.fails(&["ssl", "endpoint-history", UNKNOWN], 3).await;
    kw.fails(&["ssl", "monitor", UNKNOWN], 3).await;
    kw.fails(&["ssl", "review", UNKNOWN, "--off"], 3).await;
    kw.ok(&["ssl", "monitor-all", "--query", "Port -eq 1"])
        .await;
    kw.ok(&["ssl", "review-all"]).await;

    kw.ok(&["ssl", "ranges", "delete", &id]).await;
    kw.ok(&["ssl", "networks", "delete", &id]).await;
    kw.fails(&["ssl", "networks", "get", &id], 3).await;
    s.stop().await;
}

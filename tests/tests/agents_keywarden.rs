//! `keywarden agent` as a process of its own against `keywarden serve` over HTTPS on
//! loopback: it registers with a registration credential, waits for approval, enrolls its
//! client certificate, and runs the Inventory, Management and Reenrollment jobs of a
//! PKCS#12 store in a directory only the agent is granted, with its pre- and post-job
//! commands. Killed with SIGKILL in the middle of a job, the job fails by lease and is not
//! run twice.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden_tests::openssl;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `(subject, upper-case SHA-1)` of each certificate in a PKCS#12 file, by openssl.
fn p12_certificates(file: &Path) -> Vec<(String, String)> {
    let out = Command::new("openssl")
        .args(["pkcs12", "-nokeys", "-passin", "pass:changeit", "-in"])
        .arg(file)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut found = Vec::new();
    for block in text.split("-----END CERTIFICATE-----") {
        let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
            continue;
        };
        let pem = format!("{}-----END CERTIFICATE-----\n", &block[start..]);
        let mut child = Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-fingerprint", "-sha1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        let lines = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let mut subject = String::new();
        let mut sha1 = String::new();
        for line in lines.lines() {
            if let Some(s) = line.strip_prefix("subject=") {
                subject = s.trim().to_owned();
            } else if let Some((_, hex)) = line.split_once('=') {
                sha1 = hex.replace(':', "").to_ascii_uppercase();
            }
        }
        found.push((subject, sha1));
    }
    found
}

/// A plugins folder with only the PKCS#12 store plugin: what the agent (and the server
/// process) compile at start, kept small so the tests do not wait on unrelated plugins.
fn pkcs12_plugins(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("plugins");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(
        keywarden_tests::plugins_dir().join("pkcs12-store.wasm"),
        out.join("pkcs12-store.wasm"),
    )
    .unwrap();
    out
}

struct AgentProcess {
    child: Child,
}

impl AgentProcess {
    fn start(args: &[String], password: &str) -> Self {
        let child = Command::new(keywarden_tests::keywarden_binary())
            .args(args)
            .env("KEYWARDEN_AGENT_PASSWORD", password)
            .env("KEYWARDEN_LOG", "info")
            .env("NO_PROXY", "*")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keywarden agent starts");
        AgentProcess { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn until<T>(what: &str, timeout: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn job_done(server: &TestServer, id: &str) -> Option<Value> {
    let (_, job) = server
        .get(&server.admin, &format!("/api/v1/scheduler/jobs/{id}"))
        .await;
    ["completed", "failed"]
        .contains(&job["status"].as_str().unwrap_or(""))
        .then_some(job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keywarden_agent_runs_store_jobs_on_its_own_machine() {
    let fixtures = tempfile::tempdir().unwrap();
    let f = fixtures.path();
    let stores = f.join("stores");
    std::fs::create_dir(&stores).unwrap();
    openssl(
        f,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "web.key",
            "-out",
            "web.pem",
            "-days",
            "30",
            "-subj",
            "/CN=web.example",
        ],
    );
    openssl(
        f,
        &[
            "pkcs12",
            "-export",
            "-in",
            "web.pem",
            "-inkey",
            "web.key",
            "-name",
            "web",
            "-out",
            "stores/web.p12",
            "-passout",
            "pass:changeit",
        ],
    );
    openssl(
        f,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "extra.key",
            "-out",
            "extra.pem",
            "-days",
            "30",
            "-subj",
            "/CN=extra.example",
        ],
    );
    let store_file = stores.join("web.p12");

    let server_config: OperatorConfig = toml::from_str(
        r#"
        [authorities.local]
        kind = "local"
        common_name = "Keywarden Agent Issuing CA"
        [agents]
        job_lease_secs = 3
        "#,
    )
    .unwrap();
    let server = TestServer::sqlite_tls(server_config).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let (status, credential) = server
        .post(
            &server.admin,
            "/api/v1/agents/registration-credentials",
            &json!({"username": "fleet-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    let password = credential["password"].as_str().unwrap().to_owned();

    // The agent's own operator config: only it is granted the stores directory.
    let hooks_log = f.join("hooks.log");
    let agent_dir = f.join("agent");
    let agent_config = f.join("agent.toml");
    std::fs::write(
        &agent_config,
        format!(
            r#"
            [secrets]
            p12_password = {{ value = "changeit" }}
            [plugins.pkcs12-store]
            secrets = ["p12_password"]
            csr_enrollment = true
            dirs = [{{ host = {stores:?}, guest = "/stores", writable = true }}]
            [agent_hooks.PKCS12]
            pre = ["sh", "-c", "test ! -e {stall} || sleep 60"]
            post = ["sh", "-c", "echo \"$KEYWARDEN_OPERATION $KEYWARDEN_JOB_RESULT $KEYWARDEN_STORE_PATH\" >> {log}"]
            timeout_secs = 120
            "#,
            stores = stores.display().to_string(),
            stall = f.join("stall").display(),
            log = hooks_log.display(),
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "agent",
        "--server",
        &format!("https://localhost:{port}"),
        "--data-dir",
        agent_dir.to_str().unwrap(),
        "--plugins-dir",
        pkcs12_plugins(f).to_str().unwrap(),
        "--config",
        agent_config.to_str().unwrap(),
        "--server-ca",
        server.ca_cert.as_ref().unwrap().to_str().unwrap(),
        "--client-machine",
        "kw-agent-1",
        "--registration-user",
        "fleet-2",
        "--heartbeat-secs",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut agent = AgentProcess::start(&args, &password);

    // Registered and New; approved; enrolled.
    let id = until(
        "the agent to register",
        Duration::from_secs(60),
        async || {
            let (_, list, _) = server
                .get_counted(&server.admin, "/KeyfactorAPI/Agents")
                .await;
            list[0]["AgentId"].as_str().map(str::to_owned)
        },
    )
    .await;
    let (_, view) = server
        .get(&server.admin, &format!("/KeyfactorAPI/Agents/{id}"))
        .await;
    assert_eq!(view["Status"], 1, "{view}");
    assert!(
        view["Capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CertStores.PKCS12.Inventory")),
        "{view}"
    );
    let (status, _) = server
        .post(&server.admin, "/KeyfactorAPI/Agents/Approve", &json!([id]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    until(
        "the agent's certificate",
        Duration::from_secs(30),
        async || {
            let (_, view) = server
                .get(&server.admin, &format!("/KeyfactorAPI/Agents/{id}"))
                .await;
            (view["LastThumbprintUsed"].is_string()
                && view["LastThumbprintUsed"] == view["Thumbprint"])
                .then_some(())
        },
    )
    .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["agent-key.pem", "agent-cert.pem"] {
            let mode = std::fs::metadata(agent_dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    // Inventory of the PKCS#12 store, through the server's API.
    let (status, store) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores",
            &json!({"ClientMachine": "kw-agent-1", "Storepath": "/stores/web.p12",
                    "CertStoreType": "PKCS12", "AgentId": id,
                    "Password": {"SecretName": "p12_password"},
                    "InventorySchedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{store}");
    let store_id = store["Id"].as_str().unwrap().to_owned();
    let inventory_path = format!("/KeyfactorAPI/CertificateStores/{store_id}/Inventory");
    let inventory = until("the inventory", Duration::from_secs(30), async || {
        let (_, inv) = server.get(&server.admin, &inventory_path).await;
        (!inv.as_array()?.is_empty()).then_some(inv)
    })
    .await;
    let expected = p12_certificates(&store_file);
    assert_eq!(
        inventory[0]["Thumbprint"]
            .as_str()
            .map(str::to_ascii_uppercase),
        Some(expected[0].1.clone())
    );

    // Management Add, then the file holds the new certificate.
    let extra = std::fs::read_to_string(f.join("extra.pem")).unwrap();
    let (status, ids) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Certificates/Add",
            &json!({"Certificate": extra, "CertificateStores": [{"CertificateStoreId": store_id, "Alias": "extra"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = until("the Add job", Duration::from_secs(30), async || {
        job_done(&server, ids[0].as_str().unwrap()).await
    })
    .await;
    assert_eq!(job["result"], "success", "{job}");
    let subjects: Vec<String> = p12_certificates(&store_file)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("extra.example")),
        "{subjects:?}"
    );

    // Reenrollment: the plugin makes the key, the server's local CA signs the CSR.
    let (status, body) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Reenrollment",
            &json!({"KeystoreId": store_id, "SubjectName": "CN=renewed.example", "AgentGuid": id,
                    "Alias": "renewed", "CertificateAuthority": "local"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, history, _) = server
        .get_counted(
            &server.admin,
            "/api/v1/scheduler/jobs?operation=Reenrollment",
        )
        .await;
    let reenroll_id = history["resources"][0]["id"].as_str().map(str::to_owned);
    let reenroll_id = reenroll_id.expect("a reenrollment job");
    let job = until(
        "the Reenrollment job",
        Duration::from_secs(30),
        async || job_done(&server, &reenroll_id).await,
    )
    .await;
    assert_eq!(job["result"], "success", "{job}");
    let subjects: Vec<String> = p12_certificates(&store_file)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("renewed.example")),
        "{subjects:?}"
    );
    let hooks = std::fs::read_to_string(&hooks_log).unwrap_or_default();
    assert!(
        hooks.contains("Inventory success /stores/web.p12"),
        "{hooks}"
    );
    assert!(
        hooks.contains("Management success /stores/web.p12"),
        "{hooks}"
    );
    assert!(hooks.contains("Reenrollment success"), "{hooks}");

    // Discovery on the agent's machine finds the store file where the agent's grant puts it.
    let (status, body) = server
        .put(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/DiscoveryJob",
            &json!({"ClientMachine": "kw-agent-1", "AgentId": id, "Type": "PKCS12", "Dirs": "/stores", "Extensions": "p12"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let paths = until(
        "the discovered paths",
        Duration::from_secs(30),
        async || {
            let (_, paths, total) = server
                .get_counted(
                    &server.admin,
                    "/KeyfactorAPI/CertificateStores/DiscoveredPaths?CertStoreType=PKCS12",
                )
                .await;
            (total == Some(1)).then_some(paths)
        },
    )
    .await;
    assert!(paths.to_string().contains("/stores/web.p12"), "{paths}");

    // A store on the agent's machine without an AgentId belongs to that agent.
    let (status, second) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores",
            &json!({"ClientMachine": "kw-agent-1", "Storepath": "/stores/other.p12", "CertStoreType": "PKCS12"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["AgentId"], id.as_str(), "{second}");

    // Killed in the middle of a job (its pre-job command stalls): the job fails by lease,
    // and the agent started again does not run it a second time.
    std::fs::write(f.join("stall"), "").unwrap();
    let (status, _) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Schedule",
            &json!({"StoreIds": [store_id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let running = until(
        "the stalled job to start",
        Duration::from_secs(30),
        async || {
            let (_, jobs) = server
                .get(&server.admin, "/api/v1/scheduler/jobs?status=running")
                .await;
            jobs["resources"][0]["id"].as_str().map(str::to_owned)
        },
    )
    .await;
    agent.kill();
    let job = until(
        "the lease to end the job",
        Duration::from_secs(30),
        async || job_done(&server, &running).await,
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["details"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("did not complete the job within its lease")
            || job
                .to_string()
                .contains("did not complete the job within its lease"),
        "{job}"
    );
    std::fs::remove_file(f.join("stall")).unwrap();
    let runs_before = std::fs::read_to_string(&hooks_log)
        .unwrap_or_default()
        .matches("Inventory")
        .count();
    let _agent = AgentProcess::start(&args, "not needed any more");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs_after = std::fs::read_to_string(&hooks_log)
        .unwrap_or_default()
        .matches("Inventory")
        .count();
    assert_eq!(runs_before, runs_after, "the failed job is not run again");
    let (_, view) = server
        .get(&server.admin, &format!("/KeyfactorAPI/Agents/{id}"))
        .await;
    assert_eq!(
        view["Status"], 2,
        "the restarted agent keeps its identity: {view}"
    );
    server.stop().await;
}

/// `keywarden serve` as a process of its own, over HTTPS with its internal CA.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(data_dir: &Path, port: u16, config: &Path, plugins: &Path) -> Self {
        let child = Command::new(keywarden_tests::keywarden_binary())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--tls-internal-ca",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--plugins-dir")
            .arg(plugins)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("keywarden serve starts");
        ServerProcess { child }
    }

    /// SIGTERM, then waits for the orderly shutdown.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_under_a_running_agent_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stores = d.join("stores");
    std::fs::create_dir(&stores).unwrap();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "web.key",
            "-out",
            "web.pem",
            "-days",
            "30",
            "-subj",
            "/CN=web.example",
        ],
    );
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-in",
            "web.pem",
            "-inkey",
            "web.key",
            "-name",
            "web",
            "-out",
            "stores/web.p12",
            "-passout",
            "pass:changeit",
        ],
    );
    let server_config = d.join("server.toml");
    std::fs::write(&server_config, "[agents]\nauto_approve = true\n").unwrap();
    let agent_config = d.join("agent.toml");
    std::fs::write(
        &agent_config,
        format!(
            "[secrets]\np12_password = {{ value = \"changeit\" }}\n[plugins.pkcs12-store]\nsecrets = [\"p12_password\"]\ndirs = [{{ host = {:?}, guest = \"/stores\" }}]\n",
            stores.display().to_string()
        ),
    )
    .unwrap();
    let plugins = pkcs12_plugins(d);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = d.join("server");
    let mut server = ServerProcess::start(&data, port, &server_config, &plugins);
    let base = format!("https://localhost:{port}");
    let ca = data.join("tls").join("ca-cert.pem");
    let healthy = async |base: &str| {
        until("the server", Duration::from_secs(60), async || {
            let client = keywarden_tests::server::client_trusting(
                std::fs::metadata(&ca).ok().map(|_| ca.as_path())?,
            );
            let r = client.get(format!("{base}/healthz")).send().await.ok()?;
            r.status().is_success().then_some(client)
        })
        .await
    };
    let client = healthy(&base).await;
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let call =
        async |method: reqwest::Method, path: &str, body: Option<Value>| -> (StatusCode, Value) {
            let mut r = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(&admin);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let r = r.send().await.expect("request");
            let status = r.status();
            (status, r.json().await.unwrap_or(Value::Null))
        };
    let (status, credential) = call(
        reqwest::Method::POST,
        "/api/v1/agents/registration-credentials",
        Some(json!({"username": "fleet-3"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    let args: Vec<String> = [
        "agent",
        "--server",
        &base,
        "--data-dir",
        d.join("agent").to_str().unwrap(),
        "--plugins-dir",
        plugins.to_str().unwrap(),
        "--config",
        agent_config.to_str().unwrap(),
        "--server-ca",
        ca.to_str().unwrap(),
        "--client-machine",
        "kw-agent-2",
        "--registration-user",
        "fleet-3",
        "--heartbeat-secs",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _agent = AgentProcess::start(&args, credential["password"].as_str().unwrap());

    let view = until(
        "the agent's certificate",
        Duration::from_secs(60),
        async || {
            let (_, list) = call(reqwest::Method::GET, "/KeyfactorAPI/Agents", None).await;
            let v = list.get(0)?.clone();
            (v["LastThumbprintUsed"].is_string() && v["LastThumbprintUsed"] == v["Thumbprint"])
                .then_some(v)
        },
    )
    .await;
    let id = view["AgentId"].as_str().unwrap().to_owned();
    let (status, store) = call(
        reqwest::Method::POST,
        "/KeyfactorAPI/CertificateStores",
        Some(json!({
        "ClientMachine": "kw-agent-2", "Storepath": "/stores/web.p12", "CertStoreType": "PKCS12",
        "Password": {"SecretName": "p12_password"}, "InventorySchedule": {"Immediate": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{store}");
    assert_eq!(store["AgentId"], id.as_str());
    let store_id = store["Id"].as_str().unwrap().to_owned();
    let inventoried = async || {
        let (_, total) = {
            let (_, h) = call(reqwest::Method::GET,
                "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobType%20-eq%20%22Inventory%22%20AND%20Result%20-eq%202", None).await;
            ((), h.as_array().map_or(0, Vec::len))
        };
        total
    };
    until("the first inventory", Duration::from_secs(30), async || {
        (inventoried().await == 1).then_some(())
    })
    .await;

    // The server stops and comes back on the same port and data; the agent carries on.
    server.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut server = ServerProcess::start(&data, port, &server_config, &plugins);
    healthy(&base).await;
    let (status, _) = call(
        reqwest::Method::POST,
        "/KeyfactorAPI/CertificateStores/Schedule",
        Some(json!({"StoreIds": [store_id], "Schedule": {"Immediate": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    until(
        "the inventory after the restart",
        Duration::from_secs(60),
        async || (inventoried().await == 2).then_some(()),
    )
    .await;
    let (_, list) = call(reqwest::Method::GET, "/KeyfactorAPI/Agents", None).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "no second enrollment: {list}"
    );
    assert_eq!(
        list[0]["Thumbprint"], view["Thumbprint"],
        "the same certificate"
    );
    let (_, inventory) = call(
        reqwest::Method::GET,
        &format!("/KeyfactorAPI/CertificateStores/{store_id}/Inventory"),
        None,
    )
    .await;
    assert_eq!(inventory.as_array().map(Vec::len), Some(1), "{inventory}");
    server.stop();
}

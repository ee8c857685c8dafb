//! Keyfactor's reference C agent, built from source and run unmodified as a separate
//! process against `keywarden serve` over HTTPS on loopback: registration, approval,
//! client-certificate enrollment, inventory of a PEM store in its own directory, and
//! client-certificate renewal asked by the server.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use keywarden::operator_config::OperatorConfig;
use keywarden_tests::cagent::{AgentConfig, CAgent};
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RUN: Duration = Duration::from_secs(60);

/// Upper-case SHA-1 hex of the first certificate in a PEM file, as openssl prints it.
fn openssl_thumbprints(pem_file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(pem_file).expect("store file");
    let mut out = Vec::new();
    for block in text.split("-----END CERTIFICATE-----") {
        let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else {
            continue;
        };
        let pem = format!("{}-----END CERTIFICATE-----\n", &block[start..]);
        let mut child = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha1"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let line = String::from_utf8(output.stdout).unwrap();
        let hex = line.trim().rsplit('=').next().unwrap().replace(':', "");
        out.push(hex.to_ascii_uppercase());
    }
    out.sort();
    out
}

/// A self-signed certificate made by openssl, appended to `file`.
fn openssl_certificate(dir: &Path, cn: &str, file: &Path) {
    let cert = dir.join(format!("{cn}.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(dir.join(format!("{cn}.key")))
        .arg("-out")
        .arg(&cert)
        .args(["-days", "30", "-subj", &format!("/CN={cn}")])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let mut store = std::fs::read_to_string(file).unwrap_or_default();
    store.push_str(&std::fs::read_to_string(cert).unwrap());
    std::fs::write(file, store).unwrap();
}

async fn agent_view(server: &TestServer, id: &str) -> Value {
    let (status, body) = server
        .get(&server.admin, &format!("/KeyfactorAPI/Agents/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_agent_registers_enrolls_and_inventories() {
    let config: OperatorConfig = toml::from_str(
        r#"
        [authorities.local]
        kind = "local"
        common_name = "Keywarden Agent Test Issuing CA"
        "#,
    )
    .unwrap();
    let server = TestServer::sqlite_tls(config).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let (status, credential) = server
        .post(
            &server.admin,
            "/api/v1/agents/registration-credentials",
            &json!({"username": "fleet"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{credential}");
    let password = credential["password"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_path_buf();
    let mut config = AgentConfig::new(
        &work,
        "TestAgent1",
        &format!("localhost:{port}"),
        server.ca_cert.as_ref().unwrap(),
    );
    config.username = Some("fleet".into());
    config.password = Some(password.clone());
    let agent = CAgent::at(&work, config);

    // First run: registered, New, no certificate.
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let (status, list, total) = server
        .get_counted(
            &server.admin,
            "/KeyfactorAPI/Agents?QueryString=ClientMachine%20-eq%20%22TestAgent1%22",
        )
        .await;
    assert_eq!((status, total), (StatusCode::OK, Some(1)), "{list}");
    let view = &list[0];
    assert_eq!(view["Status"], 1, "{view}");
    assert_eq!(view["AgentPlatform"], 5);
    assert_eq!(view["Version"], "2.19.0.0");
    assert_eq!(view["Username"], "fleet");
    assert!(view["Thumbprint"].is_null());
    assert!(
        view["Capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CertStores.PEM.Inventory"))
    );
    assert_eq!(agent.config()["EnrollOnStartup"], true, "still enrolling");
    let id = view["AgentId"].as_str().unwrap().to_owned();

    // Approved: the next run enrolls its certificate, then registers over mTLS.
    let (status, body) = server
        .post(&server.admin, "/KeyfactorAPI/Agents/Approve", &json!([id]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let saved = agent.config();
    assert_eq!(saved["AgentId"], id.as_str(), "{}", run.log);
    assert_eq!(saved["EnrollOnStartup"], false);
    let issued = openssl_thumbprints(agent.agent_cert_path());
    let view = agent_view(&server, &id).await;
    assert_eq!(view["Status"], 2);
    assert_eq!(
        view["Thumbprint"].as_str(),
        issued.first().map(String::as_str)
    );
    assert_eq!(
        view["LastThumbprintUsed"], view["Thumbprint"],
        "the second registration came over mTLS with the new certificate: {}",
        run.log
    );

    // A PEM store in the agent's own directory, bound to it, inventoried at once.
    let store_file = work.join("store.pem");
    openssl_certificate(&work, "one.example", &store_file);
    openssl_certificate(&work, "two.example", &store_file);
    let (status, store) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores",
            &json!({
                "ClientMachine": "TestAgent1",
                "Storepath": store_file.to_str().unwrap(),
                "CertStoreType": "PEM",
                "AgentId": id,
                "InventorySchedule": {"Immediate": true},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{store}");
    let store_id = store["Id"].as_str().unwrap().to_owned();
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let (status, inventory) = server
        .get(
            &server.admin,
            &format!("/KeyfactorAPI/CertificateStores/{store_id}/Inventory"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{inventory}");
    let mut seen: Vec<String> = inventory
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Thumbprint"].as_str().unwrap().to_ascii_uppercase())
        .collect();
    seen.sort();
    assert_eq!(seen, openssl_thumbprints(&store_file), "{}", run.log);
    let (_, history, _) = server
        .get_counted(
            &server.admin,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobType%20-eq%20%22Inventory%22",
        )
        .await;
    let job = &history[0];
    assert_eq!(job["Result"], 2, "success: {job}");
    assert_eq!(job["AgentId"], id.as_str(), "{job}");

    // Management: an Add puts a certificate into the file, a Remove takes one out.
    openssl_certificate(&work, "three.example", &work.join("three-only.pem"));
    let three = std::fs::read_to_string(work.join("three.example.pem")).unwrap();
    let three_thumbprint = openssl_thumbprints(&work.join("three-only.pem"))[0].clone();
    let (status, ids) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Certificates/Add",
            &json!({"Certificate": three,
                    "CertificateStores": [{"CertificateStoreId": store_id, "Alias": "three"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let add_job = ids[0].as_str().unwrap().to_owned();
    let one_thumbprint = openssl_thumbprints(&work.join("one.example.pem"))[0].clone();
    let (status, ids) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Certificates/Remove",
            &json!({"CertificateStores": [{"CertificateStoreId": store_id, "Alias": one_thumbprint}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let remove_job = ids[0].as_str().unwrap().to_owned();
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    for job in [&add_job, &remove_job] {
        let job = server
            .wait_job(&server.admin, job, Duration::from_secs(5))
            .await;
        assert_eq!(
            (job["status"].as_str(), job["result"].as_str()),
            (Some("completed"), Some("success")),
            "{job}\n{}",
            run.log
        );
    }
    let now_in_file = openssl_thumbprints(&store_file);
    assert!(
        now_in_file.contains(&three_thumbprint),
        "added: {now_in_file:?}"
    );
    assert!(
        !now_in_file.contains(&one_thumbprint),
        "removed: {now_in_file:?}"
    );
    assert_eq!(now_in_file.len(), 2);

    // Reenrollment: the agent makes the key and CSR, the local CA signs it.
    let device_file = work.join("device.pem");
    let (status, device) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores",
            &json!({"ClientMachine": "TestAgent1", "Storepath": device_file.to_str().unwrap(),
                    "CertStoreType": "PEM", "AgentId": id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    let (status, body) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Reenrollment",
            &json!({"KeystoreId": device["Id"], "SubjectName": "CN=device1,O=Org,C=US",
                    "AgentGuid": id, "Alias": "device", "CertificateAuthority": "local"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let issued = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-issuer", "-in"])
        .arg(&device_file)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&issued.stdout);
    assert!(
        text.contains("CN = device1") && text.contains("Keywarden Agent Test Issuing CA"),
        "{text}\n{}",
        run.log
    );
    let key = std::fs::read_to_string(&device_file).unwrap();
    assert!(
        key.contains("PRIVATE KEY"),
        "the key stays in the store on the agent"
    );

    // FetchLogs: the agent's log (of its earlier runs) lands in the job's result.
    let (status, fetch) = server
        .post(
            &server.admin,
            &format!("/KeyfactorAPI/Agents/{id}/FetchLogs"),
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fetch}");
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let job = server
        .wait_job(
            &server.admin,
            fetch["JobId"].as_str().unwrap(),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(job["result"], "success", "{job}");
    let log = job["details"]["details"]["log"]
        .as_str()
        .unwrap_or_default();
    assert!(
        log.contains("completed successfully") && log.len() <= 4000,
        "the tail of its earlier runs' log (the reenrollment): {job}"
    );

    // What the agent did is in the audit log, naming it: the certificate issued to its
    // CSR, its inventory reports and the outcomes of its jobs.
    let (status, log) = server.get(&server.admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["chain_intact"], true);
    let by_agent: Vec<&Value> = log["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["node"] == id.as_str())
        .collect();
    let actions: Vec<&str> = by_agent
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in ["agent enroll", "agent inventory", "job completed"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    let enroll = by_agent
        .iter()
        .find(|e| e["action"] == "agent enroll")
        .unwrap();
    assert_eq!(enroll["result"], "issued", "{enroll}");
    assert!(
        by_agent
            .iter()
            .all(|e| e["detail"]["agent_machine"].is_string()),
        "{by_agent:?}"
    );

    // Renewal required: the next run renews its client certificate.
    let (status, body) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment",
            &json!({"OrchestratorIds": [id], "Status": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["FailedOrchestratorIds"], json!([]));
    let before = agent_view(&server, &id).await["Thumbprint"].clone();
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let view = agent_view(&server, &id).await;
    assert_ne!(view["Thumbprint"], before, "{}", run.log);
    assert_eq!(view["LegacyThumbprint"], before);
    assert_eq!(view["AuthCertificateReenrollment"], 0);
    assert_eq!(
        view["Thumbprint"].as_str(),
        openssl_thumbprints(agent.agent_cert_path())
            .first()
            .map(String::as_str),
        "the agent keeps the renewed certificate"
    );

    // Disapproved: its next registration opens no session, so it gets no job.
    let (status, _) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/Agents/Disapprove",
            &json!([id]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/CertificateStores/Schedule",
            &json!({"StoreIds": [store_id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let run = agent.run_async(RUN).await;
    assert!(run.success(), "{run}");
    let (_, history, _) = server
        .get_counted(
            &server.admin,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobType%20-eq%20%22Inventory%22%20AND%20Status%20-eq%201",
        )
        .await;
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "still waiting: {history}"
    );
    server.stop().await;
}

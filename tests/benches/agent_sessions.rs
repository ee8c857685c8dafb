//! Agent sessions per second: N simulated agents (default 1,000), each opening one session
//! over mTLS with its own client certificate (a new TLS connection, as the reference agent
//! makes on every run) and running the one inventory job it is handed (configuration,
//! update, completion), against one `keywarden serve` over HTTPS on SQLite; next to the same
//! number of plain bearer-authenticated API calls (`GET /KeyfactorAPI/Agents/{id}`) on a
//! kept-alive connection, in the same run.
//!
//! `cargo bench -p keywarden-tests --bench agent_sessions` (KW_BENCH_SESSIONS, default 1000;
//! KW_BENCH_CONCURRENCY, default 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use keywarden::operator_config::OperatorConfig;
use keywarden_tests::server::{TestServer, client_trusting};
use rcgen::{CertificateParams, DnType, KeyPair};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct SimAgent {
    id: String,
    client: reqwest::Client,
}

fn csr(name: &str) -> (KeyPair, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let der = params.serialize_request(&key).unwrap().der().to_vec();
    (key, der)
}

fn pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn registration(machine: &str, csr: Option<&[u8]>) -> Value {
    json!({"AgentPlatform": 5, "AgentVersion": "bench", "ClientMachine": machine,
           "CSR": csr.map(|c| B64.encode(c)), "AgentId": "",
           "Capabilities": ["CertStores.PEM.Inventory"]})
}

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() as f64) * 0.95).ceil() as usize - 1]
}

async fn measured<F, Fut>(count: usize, concurrency: usize, one: F) -> (Duration, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            one(i).await;
            drop(permit);
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    (started.elapsed(), p95(latencies))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count: usize = std::env::var("KW_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let concurrency: usize = std::env::var("KW_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let config: OperatorConfig = toml::from_str("[agents]\nauto_approve = true\n").unwrap();
    let server = TestServer::sqlite_tls(config).await;
    let ca = server.ca_cert.clone().unwrap();
    let base = server.base.replace("127.0.0.1", "localhost");
    let (_, credential) = server
        .post(
            &server.admin,
            "/api/v1/agents/registration-credentials",
            &json!({"username": "bench"}),
        )
        .await;
    let password = credential["password"].as_str().unwrap().to_owned();
    let enroll_client = client_trusting(&ca);
    // One certificate for every inventory report.
    let store_cert = {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["leaf.example".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    };

    println!("agent_sessions: {count} sessions, concurrency {concurrency}, SQLite, HTTPS");
    let setup = Instant::now();
    let mut agents = Vec::with_capacity(count);
    for i in 0..count {
        let machine = format!("bench-{i}");
        let (key, der) = csr(&machine);
        let answer: Value = enroll_client
            .post(format!("{base}/KeyfactorAgents/Session/Register"))
            .basic_auth("bench", Some(&password))
            .json(&registration(&machine, Some(&der)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = &answer["Session"];
        let cert = B64
            .decode(session["Certificate"].as_str().expect("issued"))
            .unwrap();
        let id = session["AgentId"].as_str().unwrap().to_owned();
        let identity = format!("{}{}", key.serialize_pem(), pem(&cert));
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap(),
            )
            .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let (status, store) = server
            .post(&server.admin, "/KeyfactorAPI/CertificateStores", &json!({
                "ClientMachine": machine, "Storepath": format!("/stores/{i}.pem"), "CertStoreType": "PEM",
                "AgentId": id, "InventorySchedule": {"Immediate": true}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{store}");
        agents.push(SimAgent { id, client });
    }
    println!(
        "  setup (enroll {count} agents, bind a store to each): {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let agents = Arc::new(agents);
    let (base2, cert_b64) = (base.clone(), B64.encode(&store_cert));
    let sessions = agents.clone();
    let (took, p95_session) = measured(count, concurrency, move |i| {
        let agents = sessions.clone();
        let base = base2.clone();
        let cert = cert_b64.clone();
        async move {
            let a = &agents[i];
            let reg: Value = a.client.post(format!("{base}/KeyfactorAgents/Session/Register"))
                .json(&registration(&format!("bench-{i}"), None))
                .send().await.unwrap().json().await.unwrap();
            let token = reg["Session"]["Token"].as_str().expect("a session").to_owned();
            let jobs = reg["Session"]["Jobs"].as_array().unwrap();
            assert_eq!(jobs.len(), 1, "{reg}");
            let job = jobs[0]["JobId"].as_str().unwrap();
            let call = |path: &str, body: Value| {
                a.client.post(format!("{base}/KeyfactorAgents{path}")).json(&body).send()
            };
            let conf = call("/Inventory/Configuration", json!({"SessionToken": token, "JobId": job})).await.unwrap();
            assert!(conf.status().is_success());
            let upd = call("/Inventory/Update", json!({"SessionToken": token, "JobId": job,
                "Inventory": [{"ItemStatus": 1, "Alias": "leaf", "PrivateKeyEntry": false, "Certificates": [cert]}]})).await.unwrap();
            assert!(upd.status().is_success());
            let done = call("/Inventory/Complete", json!({"SessionToken": token, "JobId": job, "Status": 2, "AuditId": 0, "Message": ""})).await.unwrap();
            assert!(done.status().is_success());
        }
    })
    .await;
    println!(
        "  agent sessions (mTLS register + inventory configuration, update, completion): {:.0} sessions/s, p95 {:.1} ms",
        count as f64 / took.as_secs_f64(),
        p95_session.as_secs_f64() * 1000.0
    );

    let api = server.client().clone();
    let (admin, base3) = (server.admin.clone(), server.base.clone());
    let ids: Arc<Vec<String>> = Arc::new(agents.iter().map(|a| a.id.clone()).collect());
    let (took, p95_api) = measured(count, concurrency, move |i| {
        let (api, admin, base, ids) = (api.clone(), admin.clone(), base3.clone(), ids.clone());
        async move {
            let r = api
                .get(format!("{base}/KeyfactorAPI/Agents/{}", ids[i]))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.bytes().await.unwrap();
        }
    })
    .await;
    println!(
        "  baseline, authenticated API calls (GET /KeyfactorAPI/Agents/{{id}}, kept-alive): {:.0} calls/s, p95 {:.1} ms",
        count as f64 / took.as_secs_f64(),
        p95_api.as_secs_f64() * 1000.0
    );
    let (_, history, total) = server
        .get_counted(
            &server.admin,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=Result%20-eq%202&ReturnLimit=1",
        )
        .await;
    assert_eq!(
        total,
        Some(count as i64),
        "every session's job succeeded: {history}"
    );
    server.stop().await;
}

//! Endpoints, seeded jobs of every kind, and the calls every scenario makes.

use std::time::Duration;

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const HISTORY: &str = "/KeyfactorAPI/OrchestratorJobs/JobHistory";
pub const RESCHEDULE: &str = "/KeyfactorAPI/OrchestratorJobs/Reschedule";
pub const ACKNOWLEDGE: &str = "/KeyfactorAPI/OrchestratorJobs/Acknowledge";
pub const CUSTOM: &str = "/KeyfactorAPI/OrchestratorJobs/Custom";
pub const WAIT: Duration = Duration::from_secs(60);

pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GET JobHistory with `params` (name, value); the page and X-Total-Count.
pub async fn history(s: &TestServer, token: &str, params: &[(&str, &str)]) -> (Vec<Value>, i64) {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = format!("{}{HISTORY}?{}", s.base, query.join("&"));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let total = response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{params:?}: {body}");
    (body.as_array().unwrap().clone(), total)
}

/// Audit ids matching `query` (ascending).
pub async fn select(s: &TestServer, token: &str, query: &str) -> Vec<i64> {
    let (page, total) = history(s, token, &[("QueryString", query), ("ReturnLimit", "1000")]).await;
    assert_eq!(total, page.len() as i64, "{query}");
    page.iter()
        .map(|e| e["JobAuditId"].as_i64().unwrap())
        .collect()
}

/// The history entry of a job (by GUID).
pub async fn entry(s: &TestServer, token: &str, job_id: &str) -> Value {
    let (page, _) = history(s, token, &[("QueryString", &format!("JobId -eq {job_id}"))]).await;
    assert_eq!(page.len(), 1, "{job_id}");
    page[0].clone()
}

pub async fn config(
    s: &TestServer,
    name: &str,
    operation: &str,
    run_at: &str,
    params: Value,
) -> String {
    let c = s
        .create_config(
            &s.admin,
            &json!({"name": name, "operation": operation, "run_at": run_at, "params": params}),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

/// Runs a config now and waits for the job; returns its history entry.
pub async fn run(s: &TestServer, config_id: &str) -> Value {
    let (status, body) = s
        .post(
            &s.admin,
            &format!("/api/v1/scheduler/job-configs/{config_id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job_id = body["job_id"].as_str().unwrap();
    s.wait_job(&s.admin, job_id, WAIT).await;
    entry(s, &s.admin, job_id).await
}

/// Starts an immediate custom job and waits for it; returns its history entry.
pub async fn custom_now(s: &TestServer, job_type: &str, fields: Value) -> Value {
    let (status, body) = s
        .post(
            &s.admin,
            CUSTOM,
            &json!({"JobTypeName": job_type, "Schedule": {"Immediate": true}, "JobFields": fields}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job_id = body["JobId"].as_str().unwrap();
    s.wait_job(&s.admin, job_id, WAIT).await;
    let e = entry(s, &s.admin, job_id).await;
    assert_eq!(e["JobAuditId"], body["JobAuditId"]);
    e
}

pub fn id(e: &Value) -> i64 {
    e["JobAuditId"].as_i64().unwrap()
}

/// Jobs of every kind the tests need: two successful `hello` runs of a yearly config, one
/// failing `panic` run each from a weekly, a monthly and a daily config, and immediate
/// custom jobs (`hello` succeeding, `panic` failing).
pub struct Seeded {
    pub greet: [Value; 2],
    pub weekly: Value,
    pub monthly: Value,
    pub daily: Value,
    pub hello_now: Value,
    pub panic_now: Value,
}

pub async fn seed(s: &TestServer) -> Seeded {
    let greet = config(s, "greet", "hello", "0 0 1 1 *", json!({"name": "Ada"})).await;
    let weekly = config(s, "weekly-panic", "panic", "0 9 * * mon", json!({})).await;
    let monthly = config(s, "monthly-panic", "panic", "0 3 15 * *", json!({})).await;
    let daily = config(s, "daily-panic", "panic", "30 2 * * *", json!({})).await;
    Seeded {
        greet: [run(s, &greet).await, run(s, &greet).await],
        weekly: run(s, &weekly).await,
        monthly: run(s, &monthly).await,
        daily: run(s, &daily).await,
        hello_now: custom_now(s, "hello", json!({"name": "Grace"})).await,
        panic_now: custom_now(s, "panic", json!({})).await,
    }
}

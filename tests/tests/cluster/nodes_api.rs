//! `GET /api/v1/nodes` and a job pinned to a node that is not alive: the job says what
//! it waits for, the listing marks the node dead, the config's missed-run alert is raised;
//! had the node died while running it, lease recovery fails it and raises the config's
//! failure alerts.

use std::time::{Duration, Instant};

use keywarden_tests::server::{TEST_ACCOUNTS, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One-second heartbeats, so a dead node is noticed within a second.
fn toml() -> String {
    format!("{TEST_ACCOUNTS}\n[server]\nheartbeat_secs = 1\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_listed_and_a_dead_nodes_jobs_say_so() {
    let s = TestServer::sqlite_with_toml(&toml()).await;
    scenario(&s).await;
    s.stop().await;
    if let Some(s) = TestServer::postgres_with_toml(&toml()).await {
        scenario(&s).await;
        s.stop().await;
    }
}

async fn nodes(s: &TestServer, token: &str, query: &str) -> Value {
    let (status, body) = s.get(token, &format!("/api/v1/nodes{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn node<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {page}"))
}

/// Runs `config` now; the job's id.
async fn run_now(s: &TestServer, token: &str, config: &Value) -> String {
    let path = format!(
        "/api/v1/scheduler/job-configs/{}/run-now",
        config["id"].as_str().unwrap()
    );
    let (status, run) = s.post(token, &path, &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run["job_id"].as_str().unwrap().to_owned()
}

async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(s: &TestServer) {
    let admin = s.admin.as_str();
    let (alice, bob) = (s.token("alice", false).await, s.token("bob", false).await);

    // This node, as it announced itself.
    let page = nodes(s, admin, "").await;
    assert_eq!(
        (page["skip"].as_i64(), page["total"].as_i64()),
        (Some(0), Some(1)),
        "{page}"
    );
    let me = node(&page, "test-node");
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (me["alive"].as_bool(), me["running_jobs"].as_i64()),
        (Some(true), Some(0))
    );
    let started = chrono::DateTime::parse_from_rfc3339(me["started_at"].as_str().unwrap()).unwrap();
    let seen = chrono::DateTime::parse_from_rfc3339(me["last_seen_at"].as_str().unwrap()).unwrap();
    assert!(started <= seen, "{me}");

    // A node that stopped an hour ago (as a crashed process leaves its row).
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).timestamp_micros();
    s.execute_sql(&format!(
        "INSERT INTO nodes (id, first_seen_at, last_seen_at, version, started_at, heartbeat_ms) \
         VALUES ('gone', {hour_ago}, {hour_ago}, '0.0.9', {hour_ago}, 1000)"
    ))
    .await;
    let gone = nodes(s, &alice, "").await;
    assert_eq!(node(&gone, "gone")["alive"], false, "{gone}");
    assert_eq!(node(&gone, "test-node")["alive"], true, "{gone}");

    // A config pinned to it: its job waits, says for what, and raises the alert.
    let config = s
        .create_config(
            &alice,
            &json!({"name": "pinned", "operation": "hello", "run_at": "0 0 1 1 *",
                    "run_on": "gone", "alerts": {"on_missed_run": true, "on_failure": true,
                                                "on_retries_exhausted": true},
                    "params": {"name": "x"}}),
        )
        .await;
    let job_id = run_now(s, &alice, &config).await;
    let last_seen = chrono::DateTime::from_timestamp_micros(hour_ago)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let job = wait_for("the job to say it waits", async || {
        let (_, job) = s
            .get(&alice, &format!("/api/v1/scheduler/jobs/{job_id}"))
            .await;
        job["message"]
            .as_str()
            .is_some_and(|m| m.contains("waits for node"))
            .then_some(job)
    })
    .await;
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(
        job["message"],
        format!(
            "waits for node gone which is not alive (last seen at {last_seen}); it runs once \
             that node is back, or change run_on"
        )
    );
    let alerts = wait_for("the node_unavailable alert", async || {
        let (_, page) = s.get(&alice, "/api/v1/alerts?kind=node_unavailable").await;
        (page["total"] == 1).then_some(page)
    })
    .await;
    let alert = &alerts["resources"][0];
    assert_eq!(
        (alert["job_id"].as_str(), alert["subject"].as_str()),
        (Some(job_id.as_str()), Some("pinned"))
    );
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("waits for node gone"),
        "{alert}"
    );
    let (_, others) = s.get(&bob, "/api/v1/alerts?kind=node_unavailable").await;
    assert_eq!(others["total"], 0, "another team's alert: {others}");

    // Had `gone` taken the job before it died, lease recovery fails it (its only
    // attempt) naming the node, and the config's failure alerts are raised.
    let expired = (chrono::Utc::now() - chrono::Duration::minutes(5)).timestamp_micros();
    s.execute_sql(&format!(
        "UPDATE jobs SET status = 'running', processing_node = 'gone', attempt = 1, \
         started_at = {expired}, lease_expires_at = {expired} WHERE id = '{job_id}'"
    ))
    .await;
    let job = wait_for("lease recovery to fail the job", async || {
        let (_, job) = s
            .get(&alice, &format!("/api/v1/scheduler/jobs/{job_id}"))
            .await;
        (job["status"] == "failed").then_some(job)
    })
    .await;
    assert_eq!(
        job["message"], "node gone stopped while running the job (lease expired)",
        "{job}"
    );
    for kind in ["job_failed", "retries_exhausted"] {
        let page = wait_for(kind, async || {
            let (_, page) = s.get(&alice, &format!("/api/v1/alerts?kind={kind}")).await;
            (page["total"] == 1).then_some(page)
        })
        .await;
        assert_eq!(page["resources"][0]["job_id"], job_id.as_str(), "{page}");
    }

    // Running jobs are counted at read, per account for teams.
    let slow = s
        .create_config(
            &alice,
            &json!({"name": "slow", "operation": "hello", "run_at": "0 0 1 1 *",
                    "params": {"name": "x", "delay_ms": 5000}}),
        )
        .await;
    run_now(s, &alice, &slow).await;
    wait_for("alice's job to run on test-node", async || {
        let page = nodes(s, &alice, "").await;
        (node(&page, "test-node")["running_jobs"] == 1).then_some(page)
    })
    .await;
    assert_eq!(
        node(&nodes(s, admin, "").await, "test-node")["running_jobs"],
        1
    );
    assert_eq!(
        node(&nodes(s, &bob, "").await, "test-node")["running_jobs"],
        0,
        "not bob's"
    );

    // Pages like the other listings; bad input names its field.
    let second = nodes(s, &bob, "?skip=1&limit=1").await;
    assert_eq!(
        (second["total"].as_i64(), second["limit"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(second["resources"].as_array().unwrap().len(), 1);
    assert_eq!(
        second["resources"][0]["id"], "test-node",
        "by id: gone, test-node"
    );
    let (status, body) = s.get(&bob, "/api/v1/nodes?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("limit"), "{body}");
    let (status, body) = s.get(&bob, "/api/v1/nodes?alive=true").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = s.get("not-a-token", "/api/v1/nodes").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

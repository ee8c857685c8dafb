//! One job per target with the real cloud plugin: while another job (here, of another
//! node, its lock written behind the server's back) works on the account's AWS keys, a
//! synchronization waits in the queue without spending an attempt, saying what for, or,
//! when its config says `when_target_busy = skip`, ends cancelled; once the target is
//! free the waiting job runs. Both databases.

use std::time::{Duration, Instant};

use keywarden_tests::aws::SECRET_KEY;
use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn job_until(s: &TestServer, id: &str, what: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = s
            .get(&s.admin, &format!("/api/v1/scheduler/jobs/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if what(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_now(s: &TestServer, config: &str) -> String {
    let (status, run) = s
        .post(&s.admin, &format!("{CONFIGS}/{config}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run["job_id"].as_str().unwrap().to_owned()
}

async fn target_lock(s: &TestServer, moto: &Moto) {
    setup(
        moto,
        json!([{"name": "locked", "aliases": ["alias/locked"]}]),
    );
    let waits = create(s, "sync-waits", "cckm_synchronization", json!({})).await;
    let skips = s
        .create_config(
            &s.admin,
            &json!({"name": "sync-skips", "operation": "cckm_synchronization", "run_at": "0 3 * * *",
                    "when_target_busy": "skip",
                    "cckm_synchronization_params": {"cloud_name": "aws"}}),
        )
        .await;
    assert_eq!(skips["when_target_busy"], "skip");
    let holder = uuid::Uuid::now_v7();
    let far = (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp_micros();
    s.execute_sql(&format!(
        "INSERT INTO target_locks (target, job_id, expires_at) VALUES ('cloud:admin:aws', '{holder}', {far})"
    ))
    .await;

    let waiting = run_now(s, &waits).await;
    // Between its checks of the target it is queued; during one, for a moment, running.
    let waits_queued = |j: &Value| {
        j["status"] == "queued"
            && j["message"]
                .as_str()
                .is_some_and(|m| m.contains("waiting for"))
    };
    let job = job_until(s, &waiting, waits_queued).await;
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains(r#"the "aws" keys of account "admin""#),
        "{job}"
    );
    assert_eq!(job["attempt"], 0, "waiting spends no attempt: {job}");

    let skipped = run_now(s, skips["id"].as_str().unwrap()).await;
    let job = s
        .wait_job(&s.admin, &skipped, Duration::from_secs(60))
        .await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert!(
        job["message"].as_str().unwrap().starts_with("skipped"),
        "{job}"
    );

    // Still waiting a few seconds on (it came back and found the target busy again).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let job = job_until(s, &waiting, waits_queued).await;
    assert!(job["result"].is_null(), "{job}");
    assert_eq!(job["attempt"], 0, "still no attempt spent: {job}");

    // The other job ends: the waiting one runs.
    s.execute_sql("DELETE FROM target_locks WHERE target = 'cloud:admin:aws'")
        .await;
    let job = s
        .wait_job(&s.admin, &waiting, Duration::from_secs(60))
        .await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(job["attempt"], 1, "{job}");
    keywarden_tests::cloud_jobs::assert_no_secret(&job, &[SECRET_KEY]);
    // The lock went with it.
    assert_eq!(
        s.query_count("SELECT COUNT(*) FROM target_locks WHERE target = 'cloud:admin:aws'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_lock_sqlite() {
    let moto = Moto::start();
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    target_lock(&s, &moto).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_lock_postgres() {
    let moto = Moto::start();
    let Some(s) = TestServer::postgres_with_toml(&grants(&moto)).await else {
        return;
    };
    target_lock(&s, &moto).await;
    s.stop().await;
}

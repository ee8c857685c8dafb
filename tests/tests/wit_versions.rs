//! A plugin built against the frozen `keywarden:plugin@0.1.0` (`plugins/legacy-v1`,
//! bound straight to `wit/v0.1.0/`) still loads and runs jobs on a host that speaks
//! 0.2.0, its plugin state kept between runs through the 0.1.0 imports; a dry run of it
//! is refused with a 422 naming `dry_run` and the contract version, before anything is
//! queued. The real server on port 0, SQLite and PostgreSQL.

use keywarden_tests::cloud_jobs::{self, CONFIGS, details};
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

async fn scenario(s: &TestServer) {
    let (_, plugins) = s.get(&s.admin, "/api/v1/plugins").await;
    assert!(
        plugins.to_string().contains("legacy-v1"),
        "the 0.1.0 plugin did not load: {plugins}"
    );
    let config = cloud_jobs::create(s, "legacy", "cckm_key_rotation", "legacy", json!({})).await;

    // It runs, and what it keeps in its state is there on the next run.
    for n in 1..=2 {
        let job = cloud_jobs::run(s, &config, &[]).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["result"], "success", "{job}");
        assert_eq!(details(&job)["rotations"], n, "{job}");
        assert_eq!(job["dry_run"], false, "{job}");
    }

    // No dry run: 0.1.0 cannot be told to hold back.
    let body = cloud_jobs::refused_dry_run(s, &config).await;
    assert_eq!(
        body["message"],
        "dry_run: plugin legacy-v1 implements keywarden:plugin@0.1.0, which has no dry run",
        "{body}"
    );

    // dry_run=false is an ordinary run.
    let (status, started) = s
        .post(
            &s.admin,
            &format!("{CONFIGS}/{config}/run-now?dry_run=false"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_plugin_runs_and_refuses_dry_runs_sqlite() {
    let s = TestServer::sqlite().await;
    scenario(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_plugin_runs_and_refuses_dry_runs_postgres() {
    if let Some(s) = TestServer::postgres().await {
        scenario(&s).await;
        s.stop().await;
    }
}

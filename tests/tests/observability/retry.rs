//! `POST /api/v1/scheduler/jobs/{id}/retry`: an ended job runs again as a new job.

use std::time::Duration;

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::json;

/// A failed job (hello asked for a secret it was not granted) is retried: a new job with
/// the same config and params, which fails the same way; a running job, another
/// account's job and a read-only token are refused.
async fn an_ended_job_is_retried(s: &TestServer) {
    let alice = s.token("alice", false).await;
    let config = s
        .create_config(
            &alice,
            &json!({"name": "doomed", "operation": "hello", "run_at": "0 0 1 1 *",
                    "max_retries": 0, "params": {"name": "Ada", "secret": "not_granted"}}),
        )
        .await;
    let config_id = config["id"].as_str().unwrap();
    let (status, run) = s
        .post(
            &alice,
            &format!("/api/v1/scheduler/job-configs/{config_id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let job_id = run["job_id"].as_str().unwrap();
    let failed = s.wait_job(&alice, job_id, Duration::from_secs(60)).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    let (status, retried) = s
        .post(
            &alice,
            &format!("/api/v1/scheduler/jobs/{job_id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    let new_id = retried["id"].as_str().unwrap();
    assert_ne!(new_id, job_id);
    assert_eq!(retried["job_config_id"], config_id);
    assert_eq!(retried["operation"], "hello");
    assert_eq!(retried["job_config_params"], failed["job_config_params"]);
    assert!(
        ["queued", "running"].contains(&retried["status"].as_str().unwrap()),
        "{retried}"
    );
    // Not ended yet: refused, naming the job.
    let (status, body) = s
        .post(
            &alice,
            &format!("/api/v1/scheduler/jobs/{new_id}/retry"),
            &json!({}),
        )
        .await;
    if status != StatusCode::CREATED {
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body.to_string()
                .contains("only an ended job can be retried"),
            "{body}"
        );
    }
    let second = s.wait_job(&alice, new_id, Duration::from_secs(60)).await;
    assert_eq!(second["status"], "failed", "{second}");

    let bob = s.token("bob", false).await;
    let (status, body) = s
        .post(
            &bob,
            &format!("/api/v1/scheduler/jobs/{job_id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, reader) = s
        .post(
            &s.admin,
            "/api/v1/tokens",
            &json!({"account": "alice", "role": "read-only", "label": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let (status, body) = s
        .post(
            reader["token"].as_str().unwrap(),
            &format!("/api/v1/scheduler/jobs/{job_id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ended_jobs_can_be_retried() {
    on_each_backend(an_ended_job_is_retried).await;
}

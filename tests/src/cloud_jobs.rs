//! What the cloud key-rotation tests share: a job config for one cloud, run now through
//! the REST API, waited for, and checked for a leaked secret.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server::{TestServer, parse_config};

pub const CONFIGS: &str = "/api/v1/scheduler/job-configs";

/// Creates a config of `operation` for `cloud` with `params` (cloud_name added); its id.
pub async fn create(
    s: &TestServer,
    name: &str,
    operation: &str,
    cloud: &str,
    mut params: Value,
) -> String {
    params["cloud_name"] = json!(cloud);
    let created = s
        .create_config(
            &s.admin,
            &json!({"name": name, "operation": operation, "run_at": "0 3 * * *",
                    format!("{operation}_params"): params}),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

/// Runs config `config_id` now and returns the finished job, after checking that no
/// `secret` shows anywhere in it.
pub async fn run(s: &TestServer, config_id: &str, secrets: &[&str]) -> Value {
    run_with(s, config_id, "", secrets).await
}

/// [`run`] as a dry run (`run-now?dry_run=true`).
pub async fn dry_run(s: &TestServer, config_id: &str, secrets: &[&str]) -> Value {
    run_with(s, config_id, "?dry_run=true", secrets).await
}

/// Asks for a dry run of config `config_id` that must be refused: a 422 naming
/// `dry_run`, and no job queued. The error body.
pub async fn refused_dry_run(s: &TestServer, config_id: &str) -> Value {
    let (_, before) = s.get(&s.admin, "/api/v1/scheduler/jobs").await;
    let (status, body) = s
        .post(
            &s.admin,
            &format!("{CONFIGS}/{config_id}/run-now?dry_run=true"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "dry_run", "{body}");
    let (_, after) = s.get(&s.admin, "/api/v1/scheduler/jobs").await;
    assert_eq!(after["total"], before["total"], "a job was queued");
    body
}

/// [`run`] with `query` (`?dry_run=true`, or empty) on the run-now request.
async fn run_with(s: &TestServer, config_id: &str, query: &str, secrets: &[&str]) -> Value {
    let (status, started) = s
        .post(
            &s.admin,
            &format!("{CONFIGS}/{config_id}/run-now{query}"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let job = s
        .wait_job(
            &s.admin,
            started["job_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert_no_secret(&job, secrets);
    job
}

/// Panics when any of `secrets` shows in `job` (its details, message and logs), raw or
/// as JSON would escape it.
pub fn assert_no_secret(job: &Value, secrets: &[&str]) {
    let text = job.to_string();
    for secret in secrets {
        let escaped = Value::String((*secret).to_owned()).to_string();
        let escaped = escaped.trim_matches('"');
        assert!(
            !text.contains(secret) && !text.contains(escaped),
            "a secret leaked into the job: {job}"
        );
    }
}

/// Panics when any of `tokens` (a fake's issued bearer tokens) shows in any job the
/// server lists, with params and logs.
pub async fn assert_no_token_in_jobs(s: &TestServer, tokens: &[String]) {
    let (_, jobs) = s
        .get(
            &s.admin,
            "/api/v1/scheduler/jobs?include=params,logs&limit=100",
        )
        .await;
    assert_no_secret(
        &jobs,
        &tokens.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

/// The plugin's details of a finished job.
pub fn details(job: &Value) -> &Value {
    &job["details"]["details"]
}

/// A server (SQLite) configured by `toml` whose only plugin is `package` built with the
/// test-only cargo `features`, e.g. a `spec-break` build its fake must catch.
pub async fn variant_server(package: &str, features: &str, toml: &str) -> TestServer {
    let plugins = crate::plugin_variant(package, features);
    TestServer::with_plugins(false, parse_config(toml), plugins)
        .await
        .expect("sqlite")
}

//! Rotations per second through Keywarden (REST API → scheduler job → the `aws-kms`
//! plugin in its sandbox → SigV4-signed wasi:http calls) against moto's KMS, next to a
//! plain boto3 loop making the same calls against the same moto server, in one run.
//!
//! `cargo bench -p keywarden-tests --bench aws_rotation` (KW_BENCH_KEYS, default 1000).
//! Each side starts from the same state: moto reset, N keys each with one alias.

use std::time::{Duration, Instant};

use keywarden_tests::aws::{KmsServer, plugin_grants};
use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

fn grants(moto: &Moto) -> String {
    plugin_grants(moto, "timeout_secs = 1800")
}

fn setup(moto: &Moto, keys: usize) -> Duration {
    moto.reset();
    let started = Instant::now();
    let out = moto.boto3(&["bench-setup", &keys.to_string()], None);
    assert_eq!(out["created"], keys);
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let keys: usize = std::env::var("KW_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let moto = Moto::start_plain();
    println!("aws_rotation: {keys} keys, moto at {}", moto.endpoint());

    // Keywarden.
    let took = setup(&moto, keys);
    println!(
        "  setup (boto3 create_key + create_alias): {:.1} s",
        took.as_secs_f64()
    );
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    let created = s
        .create_config(
            &s.admin,
            &json!({"name": "bench", "operation": "cckm_key_rotation", "run_at": "0 3 * * *",
                    "cckm_key_rotation_params": {"cloud_name": "aws"}}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let started = Instant::now();
    let (status, run) = s
        .post(
            &s.admin,
            &format!("/api/v1/scheduler/job-configs/{id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let job = s
        .wait_job(
            &s.admin,
            run["job_id"].as_str().unwrap(),
            Duration::from_secs(1800),
        )
        .await;
    let kw_secs = started.elapsed().as_secs_f64();
    let rotated = job["details"]["details"]["num_rotated"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(rotated as usize, keys, "{job}");
    s.stop().await;
    println!(
        "  keywarden (run-now to completed): {rotated} rotations in {kw_secs:.2} s = {:.1} rotations/s",
        rotated as f64 / kw_secs
    );

    // The same calls from a plain boto3 loop.
    setup(&moto, keys);
    let out = moto.boto3(&["bench-rotate"], None);
    let py_rotated = out["rotated"].as_u64().unwrap();
    let py_secs = out["seconds"].as_f64().unwrap();
    assert_eq!(py_rotated as usize, keys, "{out}");

    println!(
        "  boto3 loop (same calls):          {py_rotated} rotations in {py_secs:.2} s = {:.1} rotations/s",
        py_rotated as f64 / py_secs
    );
    println!(
        "  ratio keywarden/boto3: {:.2}",
        (rotated as f64 / kw_secs) / (py_rotated as f64 / py_secs)
    );
}

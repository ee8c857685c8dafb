//! Three real `keywarden serve` processes on one PostgreSQL schema, one config firing
//! every second for about ten seconds: every fire time gets exactly one job, whichever
//! node's scheduler gets there first (`fire_config` compare-and-sets the next fire).

use std::time::Duration;

use serde_json::json;

use crate::processes::{Cluster, call};

const SERVER: &str = "heartbeat_secs = 1\nconcurrency = 4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_fires_once_per_fire_time_across_three_processes() {
    let Some(cluster) = Cluster::new("cron_once").await else {
        return;
    };
    let (nodes, token) = cluster.start_all(&["cron-1", "cron-2", "cron-3"], SERVER);
    let base = nodes[0].base.clone();

    // Every second; `all` catch-up and `allow` overlap, so no fire is ever skipped on
    // purpose: a missing second would be a lost fire, a repeated one a double fire.
    let config = call(
        &base,
        &token,
        reqwest::Method::POST,
        "/api/v1/scheduler/job-configs",
        Some(
            json!({"name": "every-second", "operation": "hello", "run_at": "* * * * * *",
                    "catch_up": "all", "overlap": "allow", "params": {"name": "tick"}}),
        ),
    )
    .await;
    let id = config["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(10)).await;
    call(
        &base,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/scheduler/job-configs/{id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    // A fire already being written when the config was disabled lands within a tick.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let jobs = call(
        &nodes[2].base,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/scheduler/jobs?job_config_id={id}&limit=1000&sort=scheduled_for"),
        None,
    )
    .await;
    let mut fires: Vec<chrono::DateTime<chrono::Utc>> = jobs["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["scheduled_for"].as_str().unwrap().parse().unwrap())
        .collect();
    fires.sort();
    assert!(
        fires.len() >= 8,
        "about ten fires in ten seconds, got {fires:?}"
    );
    for pair in fires.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "each second fired exactly once (a 0 is a double fire, more than 1 a lost one): {fires:?}"
        );
    }
    cluster.finish(nodes).await;
}

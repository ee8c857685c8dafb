//! A scan survives a restart: the server is stopped (as SIGTERM does) mid-scan and started
//! again on the same database; the parts that ended before are not probed again, the rest
//! run after the restart, and the scan completes with each part's job run once.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const NETWORKS: &str = "/KeyfactorAPI/SSL/Networks";
const PARTS: usize = 6;

/// One job at a time; one endpoint a part.
fn config(block: u8) -> String {
    format!(
        r#"
        [server]
        concurrency = 1
        [tls_probing]
        system_roots = false
        part_endpoints = 1
        [plugins.ssl-scan]
        tls_probe = true
        tls_networks = ["127.0.{block}.0/24"]
        tls_ports = ["1-65535"]
        [accounts.team-a.plugins.ssl-scan]
        tls_probe = true
        "#
    )
}

async fn parts(s: &TestServer, t: &str, id: &str) -> Vec<Value> {
    let (status, parts) = s.get(t, &format!("{NETWORKS}/{id}/Parts")).await;
    assert_eq!(status, StatusCode::OK, "{parts}");
    parts.as_array().unwrap().clone()
}

async fn scenario(s: TestServer, block: u8) {
    // Listeners that accept and never answer: each probe waits for its time limit.
    let silent: Vec<TcpListener> = (1..=PARTS)
        .map(|i| TcpListener::bind(format!("127.0.{block}.{i}:0")).unwrap())
        .collect();
    let ranges: Vec<String> = silent
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let t = s.token("team-a", false).await;
    let (status, network) = s
        .post(
            &t,
            NETWORKS,
            &json!({"Name": "slow", "DiscoverTimeoutMs": 800}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{network}");
    let id = network["NetworkId"].as_str().unwrap().to_owned();
    let (status, body) = s
        .post(
            &t,
            "/KeyfactorAPI/SSL/NetworkRanges",
            &json!({"NetworkId": id, "Ranges": ranges}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = s
        .post(
            &t,
            &format!("{NETWORKS}/{id}/Scan"),
            &json!({"Discovery": true, "Monitoring": false}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Wait for two parts to end, then restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ended = parts(&s, &t, &id)
            .await
            .iter()
            .filter(|p| p["Status"] == 3)
            .count();
        if ended >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no part ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = s.restart().await;
    let after_restart = parts(&s, &t, &id).await;
    assert_eq!(after_restart.len(), PARTS);
    let ended_before: Vec<(String, String)> = after_restart
        .iter()
        .filter(|p| p["Status"] == 3)
        .map(|p| {
            (
                p["ScanJobPartId"].as_str().unwrap().to_owned(),
                p["EndTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        ended_before.len() >= 2 && ended_before.len() < PARTS,
        "{after_restart:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, n) = s.get(&t, &format!("{NETWORKS}/{id}")).await;
        if n["DiscoverPercentComplete"] == 100 {
            assert_eq!(n["DiscoverStatus"], 3, "no part failed: {n}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scan did not finish after the restart: {n}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = parts(&s, &t, &id).await;
    assert_eq!(all.len(), PARTS, "no part was added");
    for (part_id, end) in &ended_before {
        let p = all
            .iter()
            .find(|p| p["ScanJobPartId"] == part_id.as_str())
            .unwrap();
        assert_eq!(
            p["EndTime"].as_str().unwrap(),
            end,
            "a part that ended is not probed again"
        );
    }
    for p in &all {
        let (status, part) = s
            .get(
                &t,
                &format!(
                    "/KeyfactorAPI/SSL/Parts/{}",
                    p["ScanJobPartId"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{part}");
        assert_eq!(part["StatTimedOutConnectingCount"], 1, "{part}");
        let (_, job) = s
            .get(
                &t,
                &format!(
                    "/api/v1/scheduler/jobs/{}",
                    part["AgentJobId"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(
            (job["status"].as_str(), job["attempt"].as_i64()),
            (Some("completed"), Some(1)),
            "each part's job ran once: {job}"
        );
    }
    drop(silent);
    s.stop().await;
}

#[tokio::test]
async fn a_scan_survives_a_restart_sqlite() {
    scenario(TestServer::sqlite_with_toml(&config(43)).await, 43).await;
}

#[tokio::test]
async fn a_scan_survives_a_restart_postgres() {
    if let Some(s) = TestServer::postgres_with_toml(&config(44)).await {
        scenario(s, 44).await;
    }
}

//! Scans of a fleet of real TLS endpoints (`openssl s_server` on loopback addresses) by
//! the bundled `ssl-scan` plugin through the server: a discovery scan split into parts
//! finds exactly the TLS endpoints, with openssl's SHA-1 thumbprints and the host's
//! verdicts; a monitoring scan after a certificate renewal records the change; progress
//! fields and parts tell where a scan is; another team sees nothing of it.

use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use keywarden_tests::tls_fleet::{Endpoint, Fleet};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NETWORKS: &str = "/KeyfactorAPI/SSL/Networks";

fn config(fleet: &Fleet, block: u8) -> String {
    format!(
        r#"
        [tls_probing]
        roots = [{ca:?}]
        system_roots = false
        part_endpoints = 50
        [plugins.ssl-scan]
        tls_probe = true
        tls_rate_per_sec = 1000
        tls_concurrency = 8
        tls_networks = ["127.0.{block}.0/24"]
        tls_ports = ["1-65535"]
        [accounts.team-a.plugins.ssl-scan]
        tls_probe = true
        [accounts.team-b.plugins.ssl-scan]
        tls_probe = true
        "#,
        ca = fleet.ca
    )
}

/// Every port of the fleet, on 127.0.<block>.11 to .26 (16 addresses).
fn range(fleet: &Fleet, block: u8) -> String {
    let all = [
        &fleet.valid,
        &fleet.expired,
        &fleet.self_signed,
        &fleet.mismatch,
        &fleet.tls13_only,
        &fleet.tls12_only,
        &fleet.not_tls,
        &fleet.closed,
        &fleet.silent,
    ];
    let ports: Vec<String> = all.iter().map(|e| e.addr.port().to_string()).collect();
    format!("127.0.{block}.11-127.0.{block}.26:{}", ports.join(","))
}

/// Waits until the network's newest scan of `kind` (`Discover`/`Monitor`) has ended.
async fn wait_scanned(s: &TestServer, t: &str, id: &str, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, n) = s.get(t, &format!("{NETWORKS}/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{n}");
        if n[format!("{kind}PercentComplete")] == 100 {
            return n;
        }
        assert!(Instant::now() < deadline, "the scan did not end: {n}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The endpoint whose address is `e`'s, from a results page.
fn found<'a>(results: &'a [Value], e: &Endpoint) -> &'a Value {
    results
        .iter()
        .find(|r| r["IpAddress"] == e.addr.to_string())
        .unwrap_or_else(|| panic!("{} not among {results:?}", e.addr))
}

async fn scenario(s: &TestServer, fleet: &mut Fleet, block: u8) {
    let a = s.token("team-a", false).await;
    let b = s.token("team-b", false).await;
    let (status, network) = s
        .post(
            &a,
            NETWORKS,
            &json!({"Name": "fleet", "DiscoverTimeoutMs": 700, "MonitorTimeoutMs": 700,
                    "AutoMonitor": true, "ExpirationAlertDays": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{network}");
    assert_eq!(
        (
            network["DiscoverStatus"].as_i64(),
            network["DiscoverPercentComplete"].as_i64()
        ),
        (Some(0), Some(0)),
        "never scanned"
    );
    let id = network["NetworkId"].as_str().unwrap().to_owned();
    let scan = format!("{NETWORKS}/{id}/Scan");
    let (status, body) = s
        .post(&a, &scan, &json!({"Discovery": true, "Monitoring": false}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no ranges yet: {body}");
    let (status, body) = s
        .post(
            &a,
            "/KeyfactorAPI/SSL/NetworkRanges",
            &json!({"NetworkId": id, "Ranges": [range(fleet, block)]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = s
        .post(&a, &scan, &json!({"Discovery": true, "Monitoring": false}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = s
        .post(&a, &scan, &json!({"Discovery": true, "Monitoring": false}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a discovery scan is running: {body}"
    );
    let (status, _) = s
        .post(&b, &scan, &json!({"Discovery": true, "Monitoring": false}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another team's network");

    let network = wait_scanned(s, &a, &id, "Discover").await;
    // 16 addresses × 9 ports, at most 50 endpoints a part: whole addresses, 5 a part.
    assert_eq!(network["DiscoverJobParts"], 4, "{network}");
    assert_eq!(network["DiscoverStatus"], 3, "{network}");
    assert!(network["DiscoverLastScanned"].is_string(), "{network}");

    let (status, parts, total) = s.get_counted(&a, &format!("{NETWORKS}/{id}/Parts")).await;
    assert_eq!(status, StatusCode::OK, "{parts}");
    assert_eq!(total, Some(4));
    let mut sums = [0i64; 5];
    for p in parts.as_array().unwrap() {
        assert_eq!(p["Status"], 3, "{p}");
        let (status, part) = s
            .get(
                &a,
                &format!(
                    "/KeyfactorAPI/SSL/Parts/{}",
                    p["ScanJobPartId"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{part}");
        assert!(
            part["EstimatedEndpointCount"].as_i64().unwrap() <= 50,
            "{part}"
        );
        for (i, key) in [
            "StatTotalEndpointCount",
            "StatCertificateFoundCount",
            "StatNotSslCount",
            "StatTimedOutConnectingCount",
            "StatConnectionRefusedCount",
        ]
        .iter()
        .enumerate()
        {
            sums[i] += part[key].as_i64().unwrap();
        }
    }
    assert_eq!(
        sums,
        [144, 6, 1, 1, 136],
        "total, found, not TLS, timed out, refused"
    );

    // Exactly the six TLS endpoints, with openssl's thumbprints and the host's verdicts.
    let (status, results, total) = s
        .get_counted(&a, &format!("/KeyfactorAPI/SSL?NetworkId={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(total, Some(6), "{results}");
    let results = results.as_array().unwrap().clone();
    for e in fleet.serving() {
        let r = found(&results, e);
        assert_eq!(
            r["Thumbprint"].as_str().unwrap().to_ascii_lowercase(),
            fleet.openssl_sha1(e),
            "{r}"
        );
        assert_eq!(
            (
                r["CertificateFound"].as_bool(),
                r["MonitorStatus"].as_bool()
            ),
            (Some(true), Some(true))
        );
        assert_eq!(r["NetworkName"], "fleet");
    }
    let verdicts = |e: &Endpoint| {
        let r = found(&results, e);
        (
            r["Trusted"].as_bool().unwrap(),
            r["NameMatches"].as_bool().unwrap(),
        )
    };
    assert_eq!(verdicts(&fleet.valid), (true, true));
    assert!(!verdicts(&fleet.self_signed).0, "self-signed: not trusted");
    assert!(!verdicts(&fleet.mismatch).1, "another name");
    let (_, expiring, total) = s
        .get_counted(
            &a,
            &format!("/KeyfactorAPI/SSL?NetworkId={id}&ExpiringWithinDays=30"),
        )
        .await;
    assert_eq!(total, Some(1), "{expiring}");
    assert_eq!(expiring[0]["IpAddress"], fleet.expired.addr.to_string());

    // Another team sees none of it.
    let (_, theirs, total) = s.get_counted(&b, "/KeyfactorAPI/SSL").await;
    assert_eq!(total, Some(0), "{theirs}");
    let valid_id = found(&results, &fleet.valid)["EndpointId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = s
        .get(&b, &format!("/KeyfactorAPI/SSL/Endpoints/{valid_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Renewal, then monitoring: the change is in the endpoint's history.
    let before = fleet.openssl_sha1(&fleet.valid);
    fleet.reissue_valid();
    let after = fleet.openssl_sha1(&fleet.valid);
    assert_ne!(before, after);
    let (status, body) = s
        .post(&a, &scan, &json!({"Discovery": false, "Monitoring": true}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let network = wait_scanned(s, &a, &id, "Monitor").await;
    assert_eq!(
        network["MonitorJobParts"], 1,
        "six monitored endpoints: {network}"
    );
    let (status, endpoint) = s
        .get(&a, &format!("/KeyfactorAPI/SSL/Endpoints/{valid_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{endpoint}");
    assert_eq!(
        endpoint["Thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        after
    );
    let (status, history, total) = s
        .get_counted(
            &a,
            &format!("/KeyfactorAPI/SSL/Endpoints/{valid_id}/History"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(total, Some(2), "{history}");
    assert_eq!(
        history[0]["JobType"], 1,
        "newest first: the monitoring probe"
    );
    assert_eq!(history[0]["Changed"], true, "{history}");
    assert_eq!(
        history[0]["HistoryCertificates"][0]["Thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        after
    );
    assert_eq!(history[1]["Changed"], false, "{history}");
    assert_eq!(
        history[1]["HistoryCertificates"][0]["Thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        before
    );
    // An unchanged endpoint's monitoring probe is not a change.
    let expired_id = found(&results, &fleet.expired)["EndpointId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, history) = s
        .get(
            &a,
            &format!("/KeyfactorAPI/SSL/Endpoints/{expired_id}/History"),
        )
        .await;
    assert_eq!(history[0]["Changed"], false, "{history}");

    // Flags: stop monitoring one; the next monitoring scan leaves it out.
    let (status, _) = s
        .put(
            &a,
            "/KeyfactorAPI/SSL/Endpoints/MonitorStatus",
            &json!({"Id": expired_id, "Status": false}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .put(
            &b,
            "/KeyfactorAPI/SSL/Endpoints/ReviewStatus",
            &json!({"Id": expired_id, "Status": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another team's endpoint");
    let (_, monitored, total) = s
        .get_counted(
            &a,
            &format!("/KeyfactorAPI/SSL?NetworkId={id}&MonitorStatus=true"),
        )
        .await;
    assert_eq!(total, Some(5), "{monitored}");

    // Deleting the network removes what its scans found.
    let (status, _) = s.delete(&a, &format!("{NETWORKS}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .get(&a, &format!("/KeyfactorAPI/SSL/Endpoints/{valid_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scans_of_a_fleet_sqlite() {
    let block = 41;
    let mut fleet = Fleet::start(block);
    let s = TestServer::sqlite_with_toml(&config(&fleet, block)).await;
    scenario(&s, &mut fleet, block).await;
    s.stop().await;
}

#[tokio::test]
async fn scans_of_a_fleet_postgres() {
    let block = 42;
    let mut fleet = Fleet::start(block);
    if let Some(s) = TestServer::postgres_with_toml(&config(&fleet, block)).await {
        scenario(&s, &mut fleet, block).await;
        s.stop().await;
    }
}

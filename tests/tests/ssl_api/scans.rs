//! Scans of a fleet of real TLS endpoints (`openssl s_server` on loopback addresses) by
//! the bundled `ssl-scan` plugin through the server: a discovery scan split into parts
//! finds exactly the TLS endpoints, with openssl's SHA-1 thumbprints and the host's
//! verdicts; a monitoring scan after a certificate renewal records the change; progress
//! fields and parts tell where a scan is; another team sees nothing of it. Alerts: each
//! condition raised once, held back during quiet hours, delivered to a webhook receiver
//! in the test signed with HMAC-SHA256 (checked with `openssl dgst`), retried after a
//! failed delivery, never sent twice.

use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use keywarden_tests::tls_fleet::{Endpoint, Fleet};
use keywarden_tests::webhook::{Received, Receiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NETWORKS: &str = "/KeyfactorAPI/SSL/Networks";

const HMAC_SECRET: &str = "alert-signing-secret";

fn config(fleet: &Fleet, block: u8, webhook: &str) -> String {
    format!(
        r#"
        [secrets]
        alert-hmac = {{ value = "{HMAC_SECRET}" }}
        [alerts]
        webhook_url = "{webhook}"
        webhook_secret = "alert-hmac"
        backoff_secs = 1
        interval_ms = 200
        quiet_recheck_secs = 1
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

/// Quiet all week.
fn always_quiet() -> Value {
    json!([{"StartDay": 0, "StartTime": "00:00", "EndDay": 6, "EndTime": "23:59"},
           {"StartDay": 6, "StartTime": "23:59", "EndDay": 0, "EndTime": "00:00"}])
}

/// The HMAC-SHA256 openssl computes for `message` under the test's secret, as the
/// server's `sha256=<hex>` header.
fn openssl_hmac(message: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", HMAC_SECRET, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.split_whitespace().next().unwrap())
}

/// The alerts the receiver accepted, checked one by one: a valid signature, and no alert
/// accepted twice.
fn accepted(received: &[Received]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for r in received {
        let header = |name: &str| r.headers[name].to_str().unwrap().to_owned();
        let mut message = header("x-keywarden-timestamp").into_bytes();
        message.push(b'.');
        message.extend_from_slice(&r.body);
        assert_eq!(header("x-keywarden-signature"), openssl_hmac(&message));
        let alert: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            alert["id"].as_str().unwrap(),
            header("x-keywarden-alert-id")
        );
        if r.status.is_success() {
            assert!(
                !out.iter().any(|a| a["id"] == alert["id"]),
                "delivered twice: {alert}"
            );
            out.push(alert);
        }
    }
    out
}

/// Waits until the receiver accepted `n` alerts.
async fn wait_accepted(receiver: &Receiver, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = accepted(&receiver.received());
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} alerts arrived: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kinds(alerts: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = alerts
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

/// Every port of the fleet, on 127.0.<block>.11 to .26 (16 addresses).
fn range(fleet: &Fleet, block: u8) -> String {
    let ports: Vec<String> = fleet
        .all()
        .iter()
        .map(|e| e.addr.port().to_string())
        .collect();
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

async fn scenario(s: &TestServer, fleet: &mut Fleet, block: u8, receiver: &Receiver) {
    let a = s.token("team-a", false).await;
    let b = s.token("team-b", false).await;
    let (status, network) = s
        .post(
            &a,
            NETWORKS,
            &json!({"Name": "fleet", "DiscoverTimeoutMs": 700, "MonitorTimeoutMs": 700,
                    "AutoMonitor": true, "ExpirationAlertDays": 30,
                    "QuietHours": always_quiet(), "SslAlertRecipients": ["ops@example.com"]}),
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

    // Alerts: the expired certificate, the self-signed one, and three not valid for the
    // address probed (another name; the TLS 1.3 and 1.2 servers serve .11's certificate).
    // All held back: the network is quiet all week.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        receiver.received().is_empty(),
        "nothing is sent during quiet hours"
    );
    let (status, page) = s.get(&a, &format!("/api/v1/alerts?network_id={id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 5, "{page}");
    let listed: Vec<Value> = page["resources"].as_array().unwrap().clone();
    assert_eq!(
        kinds(&listed),
        [
            "certificate_expiring",
            "certificate_untrusted",
            "name_mismatch",
            "name_mismatch",
            "name_mismatch"
        ]
    );
    assert!(
        listed
            .iter()
            .all(|a| a["state"] == "pending" && a["attempts"] == 0),
        "{page}"
    );
    let (_, theirs) = s.get(&b, "/api/v1/alerts").await;
    assert_eq!(theirs["total"], 0, "another team's alerts: {theirs}");
    // Quiet hours lifted: each alert arrives once, signed; the first attempt the receiver
    // refused is retried.
    let (_, mut current) = s.get(&a, &format!("{NETWORKS}/{id}")).await;
    current["QuietHours"] = json!([]);
    let (status, body) = s.put(&a, NETWORKS, &current).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let delivered = wait_accepted(receiver, 5).await;
    assert_eq!(kinds(&delivered), kinds(&listed));
    assert!(
        receiver.received()[0].status.is_server_error(),
        "the first try was refused"
    );
    let expiring = delivered
        .iter()
        .find(|a| a["kind"] == "certificate_expiring")
        .unwrap();
    assert_eq!(expiring["subject"], fleet.expired.addr.to_string());
    assert_eq!(expiring["recipients"], json!(["ops@example.com"]));
    assert_eq!(expiring["network"]["name"], "fleet");
    assert_eq!(
        expiring["details"]["thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        fleet.openssl_sha1(&fleet.expired)
    );
    let (_, page) = s.get(&a, "/api/v1/alerts?state=delivered").await;
    assert_eq!(page["total"], 5, "{page}");

    // A second discovery, started by the network's schedule (Immediate: the scheduler
    // fires it once), raises nothing new.
    let (_, mut current) = s.get(&a, &format!("{NETWORKS}/{id}")).await;
    current["DiscoverSchedule"] = json!({"Immediate": true});
    let (status, body) = s.put(&a, NETWORKS, &current).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, parts) = s.get_counted(&a, &format!("{NETWORKS}/{id}/Parts")).await;
        if parts == Some(8) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled scan did not start: {parts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_scanned(s, &a, &id, "Discover").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, _, parts) = s.get_counted(&a, &format!("{NETWORKS}/{id}/Parts")).await;
    assert_eq!(parts, Some(8), "an immediate schedule fires once");
    let (_, page) = s.get(&a, "/api/v1/alerts").await;
    assert_eq!(page["total"], 5, "raised once: {page}");

    // The certificates the endpoints serve are in the account's certificate listing too,
    // so "what expires within 30 days" covers stores and endpoints alike.
    let (status, inventory, total) = s
        .get_counted(
            &a,
            "/KeyfactorAPI/CertificateStores/Inventory?ExpiringWithinDays=30",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{inventory}");
    assert_eq!(total, Some(1), "{inventory}");
    let row = &inventory[0];
    assert_eq!(row["Source"], "SslEndpoint", "{row}");
    assert_eq!(row["Alias"], fleet.expired.addr.to_string());
    assert_eq!(row["SslNetworkId"], id.as_str());
    assert!(row["CertificateStoreId"].is_null(), "{row}");
    assert_eq!(
        row["Thumbprint"].as_str().unwrap().to_ascii_lowercase(),
        fleet.openssl_sha1(&fleet.expired)
    );
    let (_, all, total) = s
        .get_counted(&a, "/KeyfactorAPI/CertificateStores/Inventory")
        .await;
    assert_eq!(total, Some(6), "{all}");
    let (_, none, total) = s
        .get_counted(
            &a,
            "/KeyfactorAPI/CertificateStores/Inventory?IncludeSslEndpoints=false",
        )
        .await;
    assert_eq!(total, Some(0), "{none}");

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
    assert_eq!(
        total,
        Some(3),
        "two discoveries and a monitoring probe: {history}"
    );
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
        history[2]["HistoryCertificates"][0]["Thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        before
    );
    // The change is alerted, once.
    let delivered = wait_accepted(receiver, 6).await;
    let changed = delivered
        .iter()
        .find(|a| a["kind"] == "certificate_changed")
        .unwrap();
    assert_eq!(changed["subject"], fleet.valid.addr.to_string());
    assert_eq!(
        changed["details"]["thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        after
    );
    assert_eq!(
        changed["details"]["previous_thumbprint"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        before
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        accepted(&receiver.received()).len(),
        6,
        "nothing sent twice"
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

    // The query language, sorting, and flags set one by one (Keyfactor's list of
    // {Id, Status}) or by query.
    let q = |query: &str| query.replace(' ', "%20").replace('"', "%22");
    let (status, untrusted, total) = s
        .get_counted(
            &a,
            &format!("/KeyfactorAPI/SSL?QueryString={}", q("Trusted -eq false")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{untrusted}");
    assert_eq!(total, Some(1), "{untrusted}");
    assert_eq!(
        untrusted[0]["IpAddress"],
        fleet.self_signed.addr.to_string()
    );
    let query = format!(
        "CertificateFound -eq true AND (Port -eq {} OR IpAddress -startswith \"127.0.{block}.14\")",
        fleet.valid.addr.port()
    );
    let (_, both, total) = s
        .get_counted(&a, &format!("/KeyfactorAPI/SSL?QueryString={}", q(&query)))
        .await;
    assert_eq!(total, Some(2), "{both}");
    let (_, sorted) = s
        .get(&a, "/KeyfactorAPI/SSL?SortField=Port&SortAscending=1")
        .await;
    let ports: Vec<i64> = sorted
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Port"].as_i64().unwrap())
        .collect();
    assert!(
        ports.windows(2).all(|w| w[0] >= w[1]) && ports.len() == 6,
        "{ports:?}"
    );
    let (status, body) = s
        .get(
            &a,
            &format!("/KeyfactorAPI/SSL?QueryString={}", q("Colour -eq \"red\"")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "QueryString", "{body}");
    let (status, body) = s
        .put(
            &a,
            &format!(
                "/KeyfactorAPI/SSL/Endpoints/ReviewAll?query={}",
                q("NameMatches -eq false")
            ),
            &Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, reviewed, total) = s
        .get_counted(
            &a,
            &format!("/KeyfactorAPI/SSL?NetworkId={id}&Reviewed=true"),
        )
        .await;
    assert_eq!(
        total,
        Some(3),
        "the three not valid for the address probed: {reviewed}"
    );
    let (_, theirs, total) = s.get_counted(&b, "/KeyfactorAPI/SSL?Reviewed=true").await;
    assert_eq!(total, Some(0), "{theirs}");

    // Flags: stop monitoring one; the next monitoring scan leaves it out.
    let (status, body) = s
        .put(
            &a,
            "/KeyfactorAPI/SSL/Endpoints/MonitorStatus",
            &json!([{"Id": expired_id, "Status": false}]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
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
    let receiver = Receiver::start(1).await;
    let s = TestServer::sqlite_with_toml(&config(&fleet, block, &receiver.url)).await;
    scenario(&s, &mut fleet, block, &receiver).await;
    s.stop().await;
}

#[tokio::test]
async fn scans_of_a_fleet_postgres() {
    let block = 42;
    let mut fleet = Fleet::start(block);
    let receiver = Receiver::start(1).await;
    if let Some(s) = TestServer::postgres_with_toml(&config(&fleet, block, &receiver.url)).await {
        scenario(&s, &mut fleet, block, &receiver).await;
        s.stop().await;
    }
}

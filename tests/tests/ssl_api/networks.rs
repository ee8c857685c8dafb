//! Networks and ranges: create, read by name and id, list, replace, ranges added,
//! replaced, validated and removed; every kind of bad input gets a 4xx naming the field.

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const NETWORKS: &str = "/KeyfactorAPI/SSL/Networks";
const RANGES: &str = "/KeyfactorAPI/SSL/NetworkRanges";

/// Two teams; at most 1,024 addresses per network.
const CONFIG: &str = r#"
    [plugins.noop]
    [accounts.team-a.plugins.noop]
    [accounts.team-b.plugins.noop]
    [tls_probing]
    max_network_addresses = 1024
"#;

fn network(name: &str) -> Value {
    json!({"Name": name, "Description": "the lab", "AgentPoolName": "Default Agent Pool",
           "DiscoverSchedule": {"Interval": {"Minutes": 60}}, "DiscoverTimeoutMs": 800,
           "ExpirationAlertDays": 14,
           "QuietHours": [{"StartDay": 6, "StartTime": "22:00", "EndDay": 0, "EndTime": "2024-01-07T06:30:00Z"}],
           "SslAlertRecipients": ["ops@example.com"], "AutoMonitor": true})
}

/// A refusal: its status and the field it names.
fn refused(status: StatusCode, body: &Value, want: StatusCode, field: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(
        !body["message"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
}

async fn scenario(s: &TestServer) {
    let a = s.token("team-a", false).await;
    let b = s.token("team-b", false).await;

    let (status, created) = s.post(&a, NETWORKS, &network("lab")).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["NetworkId"].as_str().unwrap().to_owned();
    assert_eq!(created["Name"], "lab");
    assert_eq!(created["DiscoverTimeoutMs"], 800);
    assert_eq!(created["MonitorTimeoutMs"], 5000, "the default");
    assert_eq!(
        created["DiscoverSchedule"],
        json!({"Interval": {"Minutes": 60}})
    );
    assert_eq!(
        created["QuietHours"],
        json!([{"StartDay": 6, "StartTime": "22:00", "EndDay": 0, "EndTime": "06:30"}])
    );

    // By name and by id; team-b sees neither.
    for ident in ["lab", id.as_str()] {
        let (status, got) = s.get(&a, &format!("{NETWORKS}/{ident}")).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["NetworkId"], id.as_str());
        let (status, _) = s.get(&b, &format!("{NETWORKS}/{ident}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, dup) = s.post(&a, NETWORKS, &network("lab")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    let (status, _) = s.post(&b, NETWORKS, &network("lab")).await;
    assert_eq!(status, StatusCode::OK, "names are per account");

    // Ranges: added, normalised, shown with their item type.
    let (status, body) = s
        .post(&a, RANGES, &json!({"NetworkId": id, "Ranges": ["127.0.0.1/30:443", " 127.0.1.5-127.0.1.9:8443,443 "]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = s
        .post(
            &a,
            RANGES,
            &json!({"NetworkId": id, "Ranges": ["localhost:8443"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, ranges) = s.get(&a, &format!("{RANGES}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{ranges}");
    assert_eq!(
        ranges,
        json!([{"ItemType": 2, "Value": "127.0.0.0/30:443"},
               {"ItemType": 1, "Value": "127.0.1.5-127.0.1.9:443,8443"},
               {"ItemType": 3, "Value": "localhost:8443"}])
    );
    let (status, _) = s.get(&b, &format!("{RANGES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another account's network");
    let (status, _) = s
        .put(
            &b,
            RANGES,
            &json!({"NetworkId": id, "Ranges": ["127.0.0.9"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another account's network");

    // Bad ranges: syntax 400, limits 422, each naming the range; nothing changes.
    for (bad, want) in [
        ("127.0.0.0/33", StatusCode::BAD_REQUEST),
        ("127.0.0.1/8x", StatusCode::BAD_REQUEST),
        ("127.0.0.1:0", StatusCode::BAD_REQUEST),
        ("127.0.0.9-127.0.0.1", StatusCode::UNPROCESSABLE_ENTITY),
        ("127.0.0.1:9000-8000", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = s
            .post(
                &a,
                RANGES,
                &json!({"NetworkId": id, "Ranges": ["127.0.0.7", bad]}),
            )
            .await;
        refused(status, &body, want, "Ranges[1]");
    }
    let (status, body) = s
        .put(
            &a,
            RANGES,
            &json!({"NetworkId": id, "Ranges": ["127.0.0.0/21"]}),
        )
        .await;
    refused(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "Ranges");
    assert!(body["message"].as_str().unwrap().contains("2048"), "{body}");
    let (_, after) = s.get(&a, &format!("{RANGES}/{id}")).await;
    assert_eq!(after, ranges, "refused requests change nothing");
    let unknown = "0191d6a0-0000-7000-8000-000000000000";
    let (status, body) = s
        .post(
            &a,
            RANGES,
            &json!({"NetworkId": unknown, "Ranges": ["127.0.0.1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = s
        .post(
            &a,
            RANGES,
            &json!({"NetworkId": "nope", "Ranges": ["127.0.0.1"]}),
        )
        .await;
    refused(status, &body, StatusCode::BAD_REQUEST, "NetworkId");

    // Validate reads each range and stores nothing.
    let (status, v) = s
        .post(
            &a,
            &format!("{RANGES}/Validate"),
            &json!({"Ranges": ["10.0.0.0/24:443", "10.0.0.0/33"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["Valid"], false);
    assert_eq!(v["Ranges"][0]["Normal"], "10.0.0.0/24:443");
    assert_eq!(v["Ranges"][1]["Valid"], false);
    assert!(
        v["Ranges"][1]["Reason"]
            .as_str()
            .unwrap()
            .contains("10.0.0.0/33"),
        "{v}"
    );

    // Bad network fields, each named.
    for (key, value, field) in [
        ("Name", json!("  "), "Name"),
        ("Name", json!("a\u{7}b"), "Name"),
        ("DiscoverTimeoutMs", json!(0), "DiscoverTimeoutMs"),
        ("MonitorTimeoutMs", json!(30_001), "MonitorTimeoutMs"),
        ("ExpirationAlertDays", json!(-1), "ExpirationAlertDays"),
        (
            "QuietHours",
            json!([{"StartDay": 1, "StartTime": "25:00", "EndDay": 2, "EndTime": "06:00"}]),
            "QuietHours[0].StartTime",
        ),
        (
            "QuietHours",
            json!([{"StartDay": 9, "StartTime": "22:00", "EndDay": 2, "EndTime": "06:00"}]),
            "QuietHours[0].StartDay",
        ),
        (
            "SslAlertRecipients",
            json!(["ops@example.com", ""]),
            "SslAlertRecipients",
        ),
        ("Surprise", json!(1), "Surprise"),
    ] {
        let mut body = network("other");
        body[key] = value;
        let (status, answer) = s.post(&a, NETWORKS, &body).await;
        refused(status, &answer, StatusCode::BAD_REQUEST, field);
    }

    // Replace (its ranges stay); list with paging; delete.
    let mut replaced = network("lab-2");
    replaced["NetworkId"] = json!(id);
    replaced["Enabled"] = json!(false);
    let (status, got) = s.put(&a, NETWORKS, &replaced).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        (got["Name"].as_str(), got["Enabled"].as_bool()),
        (Some("lab-2"), Some(false))
    );
    let (_, kept) = s.get(&a, &format!("{RANGES}/{id}")).await;
    assert_eq!(kept, ranges);
    let (status, _) = s.post(&a, NETWORKS, &network("lab-3")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, found, total) = s
        .get_counted(
            &a,
            &format!("{NETWORKS}?QueryString=Name%20-contains%20%223%22"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(total, Some(1), "{found}");
    assert_eq!(found[0]["Name"], "lab-3");
    let (status, page, total) = s
        .get_counted(
            &a,
            &format!("{NETWORKS}?SortField=Name&SortAscending=1&ReturnLimit=1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(total, Some(2), "team-a's two networks");
    assert_eq!(page[0]["Name"], "lab-3");
    let (status, _) = s.delete(&b, &format!("{NETWORKS}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&a, &format!("{NETWORKS}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&a, &format!("{RANGES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn networks_and_ranges_sqlite() {
    let s = TestServer::sqlite_with_toml(CONFIG).await;
    scenario(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn networks_and_ranges_postgres() {
    if let Some(s) = TestServer::postgres_with_toml(CONFIG).await {
        scenario(&s).await;
        s.stop().await;
    }
}

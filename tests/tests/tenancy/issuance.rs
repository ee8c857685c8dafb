//! Attack 4: certificates for any name from any authority. Each team's issuance policy
//! (allowed domains, wildcards, IP ranges, maximum validity) is checked before anything
//! is queued, and again on the CSR before the CA sees it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn names_outside_the_policy_are_refused(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let store = create_store(s, &t.b, "/stores/team-b/web.pem").await;
    let valid = json!({
        "KeystoreId": store, "SubjectName": "CN=www.team-b.example,O=Team B",
        "AgentGuid": "test-node", "Alias": "web", "CertificateAuthority": "local",
        "JobProperties": [{"KeyType": "ec-p256"}],
        "SANs": {"dns": ["www.team-b.example", "api.team-b.example"]},
    });
    let with = |k: &str, v: Value| {
        let mut b = valid.clone();
        b[k] = v;
        b
    };
    let path = format!("{STORES}/Reenrollment");
    for (body, field, says) in [
        (
            with("SubjectName", json!("CN=www.team-a.example")),
            "SubjectName",
            "common name \"www.team-a.example\"",
        ),
        (
            with(
                "SubjectName",
                json!("2.5.4.3=api.team-a.example,CN=b.team-b.example"),
            ),
            "SubjectName",
            "2 common names",
        ),
        (
            with("SANs", json!({"dns": ["*.team-b.example"]})),
            "SANs",
            "allow_wildcards is false",
        ),
        (
            with("SANs", json!({"dns": ["team-b.example.evil.example"]})),
            "SANs",
            "allowed_domains: team-b.example",
        ),
        (
            with("SANs", json!({"ip4": ["127.0.0.1"]})),
            "SANs",
            "allowed_ip_ranges (none)",
        ),
        (
            with("JobProperties", json!([{"KeyType": "rsa-2048"}])),
            "SubjectName",
            "",
        ),
    ] {
        let (status, err) = s.post(&t.b, &path, &body).await;
        if says.is_empty() {
            // RSA 2048 is within the default policy (min_rsa_bits = 2048).
            assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
            continue;
        }
        assert_refused(status, &err, StatusCode::FORBIDDEN, field, says);
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("account \"team-b\""),
            "{err}"
        );
    }
    let (status, err) = s
        .post(
            &t.b,
            &path,
            &with("CertificateAuthority", json!("elsewhere")),
        )
        .await;
    assert_refused(
        status,
        &err,
        StatusCode::FORBIDDEN,
        "SubjectName",
        "may not use certificate authority \"elsewhere\"",
    );
    for job in jobs(s, &t.b, "Reenrollment").await {
        // Let the one accepted above finish before the next.
        s.wait_job(&t.b, job["id"].as_str().unwrap(), WAIT).await;
    }

    // Within the policy: issued, for the policy's 30 days, not the CA's 365.
    let (status, body) = s.post(&t.b, &path, &valid).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let job = jobs(s, &t.b, "Reenrollment").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = s.wait_job(&t.b, &job, WAIT).await;
    assert_eq!(done["result"], "success", "{done}");
    let (status, body) = s
        .post(
            &t.b,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [store], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let inventory = jobs(s, &t.b, "Inventory").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_job(&t.b, &inventory, WAIT).await;
    let (_, entries, _) = s
        .get_counted(&t.b, &format!("{STORES}/{store}/Inventory"))
        .await;
    let e = &entries[0];
    assert!(
        e["IssuedDN"]
            .as_str()
            .unwrap()
            .contains("CN=www.team-b.example"),
        "{e}"
    );
    let not_after = chrono::DateTime::parse_from_rfc3339(e["NotAfter"].as_str().unwrap()).unwrap();
    let days = (not_after.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (29..=30).contains(&days),
        "issued for the policy's 30 days: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_policy() {
    on_each_backend(names_outside_the_policy_are_refused).await;
}

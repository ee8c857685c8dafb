//! Token lifecycle: roles, expiry, listing without secrets, revocation, and the audit log
//! that records who did what (tamper-evident), never a secret.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const TOKENS: &str = "/api/v1/tokens";
const CONFIGS: &str = "/api/v1/scheduler/job-configs";

async fn issue(s: &keywarden_tests::server::TestServer, body: Value) -> Value {
    let (status, token) = s.post(&s.admin, TOKENS, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    token
}

async fn roles_expiry_and_revocation(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let noop = json!({"name": "n", "operation": "noop", "run_at": "@daily"});

    // A read-only token reads its account and changes nothing.
    let reader = issue(
        s,
        json!({"account": "team-a", "role": "read-only", "label": "dashboard"}),
    )
    .await;
    assert_eq!(reader["role"], "read-only");
    let r = reader["token"].as_str().unwrap();
    let (status, body) = s.get(r, CONFIGS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.post(r, CONFIGS, &noop).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
    let (status, body) = s
        .delete(r, &format!("{STORES}/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Only admins manage tokens.
    let (status, body) = s
        .post(&t.a, TOKENS, &json!({"account": "team-a", "role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = s.get(&t.a, TOKENS).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = s
        .post(
            &s.admin,
            TOKENS,
            &json!({"account": "team-a", "role": "root"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("role")),
        "{body}"
    );

    // An expiring token works until it expires.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let brief = issue(s, json!({"account": "team-a", "expires_at": at})).await;
    let b = brief["token"].as_str().unwrap();
    assert_eq!(s.get(b, CONFIGS).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(s.get(b, CONFIGS).await.0, StatusCode::UNAUTHORIZED);

    // Listed without secrets; revoked from now on; a token does not revoke itself.
    let (status, listed) = s.get(&s.admin, &format!("{TOKENS}?account=team-a")).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let text = listed.to_string();
    assert!(
        !text.contains(r) && !text.contains(&t.a) && !text.contains("hash"),
        "{listed}"
    );
    let views = listed["resources"].as_array().unwrap();
    assert_eq!(
        views.len(),
        3,
        "team-a's token, the reader, the expired one: {listed}"
    );
    let expired = views.iter().find(|v| v["id"] == brief["id"]).unwrap();
    assert_eq!(expired["active"], false, "{expired}");
    let (status, body) = s
        .delete(
            &s.admin,
            &format!("{TOKENS}/{}", reader["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(s.get(r, CONFIGS).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = s.delete(&s.admin, &format!("{TOKENS}/no-such-token")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, mine) = s.get(&s.admin, &format!("{TOKENS}?account=admin")).await;
    let own = mine["resources"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = s.delete(&s.admin, &format!("{TOKENS}/{own}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(s.get(&s.admin, CONFIGS).await.0, StatusCode::OK);
}

async fn the_audit_log_records_who_did_what(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    // An admin minting an admin token is recorded with the issuer.
    let (_, mine) = s.get(&s.admin, "/api/v1/tokens?account=admin").await;
    let issuer = mine["resources"][0]["id"].as_str().unwrap().to_owned();
    let minted = issue(
        s,
        json!({"account": "ops", "role": "admin", "label": "second admin"}),
    )
    .await;
    // Team B tries what it may not and does what it may.
    let (status, _) = s
        .post(
            &t.b,
            CONFIGS,
            &json!({"name": "n", "operation": "noop", "run_at": "@daily"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let store = create_store(s, &t.b, "/stores/team-b/web.pem").await;
    let (status, _) = s
        .post(
            &t.b,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [store], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let job = jobs(s, &t.b, "Inventory").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_job(&t.b, &job, WAIT).await;

    let (status, body) = s.get(&t.b, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins read it: {body}");
    // The job's outcome is written once its batch is recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let (status, log) = s.get(&s.admin, "/api/v1/audit?limit=1000").await;
        assert_eq!(status, StatusCode::OK, "{log}");
        if log.to_string().contains(&job) || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(log["chain_intact"], true, "{log}");
    let entries = log["resources"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| entries.iter().find(|e| pred(e)).cloned();
    let mint = find(&|e| e["action"] == "token issued" && e["target"] == minted["id"])
        .expect("minting audited");
    assert_eq!(mint["token_id"], issuer.as_str(), "{mint}");
    assert_eq!(mint["detail"]["role"], "admin", "{mint}");
    assert_eq!(mint["detail"]["account"], "ops", "{mint}");
    let refused =
        find(&|e| e["account"] == "team-b" && e["action"] == "POST /api/v1/scheduler/job-configs")
            .expect("the refused request audited");
    assert_eq!(refused["result"], "403", "{refused}");
    let created =
        find(&|e| e["action"] == "POST /KeyfactorAPI/CertificateStores").expect("store creation");
    assert_eq!(
        (created["account"].as_str(), created["result"].as_str()),
        (Some("team-b"), Some("200"))
    );
    assert_eq!(
        created["target"], "/KeyfactorAPI/CertificateStores",
        "{created}"
    );
    let outcome = find(&|e| e["target"] == job.as_str()).expect("the job's outcome");
    assert_eq!(outcome["action"], "job completed", "{outcome}");
    assert_eq!(outcome["result"], "success", "{outcome}");
    assert_eq!(outcome["detail"]["operation"], "Inventory", "{outcome}");
    // Never a secret: no token, no key.
    let text = log.to_string();
    assert!(
        !text.contains(minted["token"].as_str().unwrap())
            && !text.contains(&t.b)
            && !text.contains("PRIVATE KEY")
    );
    // Filters.
    let (_, only_b) = s
        .get(
            &s.admin,
            "/api/v1/audit?account=team-b&action=POST&limit=100",
        )
        .await;
    assert!(
        only_b["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["account"] == "team-b" && e["action"].as_str().unwrap().starts_with("POST")),
        "{only_b}"
    );
    let (status, body) = s.get(&s.admin, "/api/v1/audit?after_seq=-1").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("after_seq")),
        "{body}"
    );

    // Tamper-evident: an entry changed behind the server's back breaks the chain.
    s.execute_sql("UPDATE audit_log SET result = 'forged' WHERE seq = 2")
        .await;
    let (_, log) = s.get(&s.admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(log["chain_intact"], false, "{log}");
}

/// The bootstrap admin token file can go after first use: `keywarden tokens create` on
/// the host makes a new admin token from the data dir.
async fn a_lost_admin_token_is_made_again_on_the_host(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let file = s.data_dir.path().join("admin-token");
    std::fs::remove_file(&file).unwrap();
    let out = std::process::Command::new(keywarden_tests::keywarden_binary())
        .args([
            "tokens",
            "create",
            "--account",
            "admin",
            "--role",
            "admin",
            "--label",
            "recovery",
        ])
        .arg("--data-dir")
        .arg(s.data_dir.path())
        .env_remove("KEYWARDEN_CONFIG")
        .env_remove("KEYWARDEN_DATABASE_URL")
        .args(database_args(s))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = s.get(&token, TOKENS).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new token is an admin's: {body}"
    );
    let (_, log) = s.get(&token, "/api/v1/audit?action=token&limit=100").await;
    assert!(log.to_string().contains("keywarden tokens create"), "{log}");
}

fn database_args(s: &keywarden_tests::server::TestServer) -> Vec<String> {
    if s.backend == "postgres" {
        vec!["--database-url".into(), s.database_url().to_owned()]
    } else {
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifecycle() {
    on_each_backend(roles_expiry_and_revocation).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log() {
    on_each_backend(the_audit_log_records_who_did_what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_recovery() {
    on_each_backend(a_lost_admin_token_is_made_again_on_the_host).await;
}

//! What one team has, the other cannot see or touch: every route answers 404 for what is
//! not the caller's, and an account the operator granted nothing can run nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

async fn nothing_of_a_reaches_b(t: &Teams, lab: &Lab) {
    let s = &t.server;
    // A's store, a job on it, and a job of a config.
    let store = create_store(s, &t.a, "/stores/team-a/web.pem").await;
    let (status, body) = s
        .post(
            &t.a,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [store], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let inventory = jobs(s, &t.a, "Inventory").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = s.wait_job(&t.a, &inventory, WAIT).await;
    assert_eq!(job["result"], "success", "{job}");
    let config = s
        .create_config(
            &t.a,
            &json!({"name": "a", "operation": "noop", "run_at": "@daily"}),
        )
        .await;
    let config = config["id"].as_str().unwrap().to_owned();

    // Reads.
    for path in [
        format!("{STORES}/{store}"),
        format!("{STORES}/{store}/Inventory"),
        format!("{CONFIGS}/{config}"),
        format!("/api/v1/scheduler/jobs/{inventory}"),
    ] {
        let (status, body) = s.get(&t.b, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    for path in [
        STORES.to_owned(),
        format!("{STORES}/Inventory"),
        CONFIGS.to_owned(),
        "/api/v1/scheduler/jobs".to_owned(),
        "/KeyfactorAPI/OrchestratorJobs/JobHistory".to_owned(),
    ] {
        let (status, body) = s.get(&t.b, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(&store) && !text.contains(&config) && !text.contains(&inventory),
            "{path} shows team-a's: {body}"
        );
    }
    // Writes and runs.
    let (status, body) = s
        .post(
            &t.b,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": lab.read("team-b.pem"),
                    "CertificateStores": [{"CertificateStoreId": store, "Alias": "x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = s
        .post(
            &t.b,
            &format!("{STORES}/Reenrollment"),
            &json!({"KeystoreId": store, "SubjectName": "CN=www.team-b.example",
                    "AgentGuid": "test-node", "Alias": "web"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for (method, path) in [
        ("POST", format!("{CONFIGS}/{config}/run-now")),
        ("DELETE", format!("{CONFIGS}/{config}")),
        ("DELETE", format!("{STORES}/{store}")),
        ("DELETE", format!("/api/v1/scheduler/jobs/{inventory}")),
    ] {
        let (status, body) = match method {
            "POST" => s.post(&t.b, &path, &json!({})).await,
            _ => s.delete(&t.b, &path).await,
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (status, body) = s.get(&t.a, &format!("{STORES}/{store}")).await;
    assert_eq!(status, StatusCode::OK, "A's store is still there: {body}");
}

/// Nothing is reachable unless a grant says so: a plugin the account has no table for,
/// an account with no table at all.
async fn only_granted_plugins_run(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let noop = json!({"name": "n", "operation": "noop", "run_at": "@daily"});
    let (status, body) = s.post(&t.b, CONFIGS, &noop).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "operation",
        "[accounts.team-b.plugins.noop]",
    );
    let c = s.token("team-c", false).await;
    let (status, body) = s.post(&c, CONFIGS, &noop).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "operation",
        "no [accounts.team-c] table",
    );
    let (status, body) = s
        .post(&c, STORES, &pem_store("/stores/team-b/web.pem"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Granted: team-a runs it.
    let config = s.create_config(&t.a, &noop).await;
    let (status, started) = s
        .post(
            &t.a,
            &format!("{CONFIGS}/{}/run-now", config["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let job = s
        .wait_job(
            &t.a,
            started["job_id"].as_str().unwrap(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(job["status"], "completed", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_reads_and_writes() {
    on_each_backend(nothing_of_a_reaches_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_plugins() {
    on_each_backend(only_granted_plugins_run).await;
}

/// The contract a team reads names only what its account may use: not another team's
/// directories or secrets, not plugins it is not granted.
async fn the_contract_shows_a_team_its_own_grants(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let (status, admin) = s.get(&s.admin, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let admin = admin.to_string();
    assert!(admin.contains("a_key") && admin.contains("b_key") && admin.contains("noop"));
    let (status, b) = s.get(&t.b, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let b = b.to_string();
    assert!(
        b.contains("b_key") && b.contains("/stores/team-b"),
        "its own grants"
    );
    for other in ["a_key", "/stores/team-a", "\"noop\""] {
        assert!(!b.contains(other), "team-b's contract names {other}");
    }

    // The plugin listing too: team-b sees the plugins it may use, by file name.
    let names = |listing: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = listing
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let (status, all) = s.get(&s.admin, "/api/v1/plugins").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(
        names(&all).len() > 2,
        "the admin sees the whole folder: {all}"
    );
    let (_, a) = s.get(&t.a, "/api/v1/plugins").await;
    assert_eq!(names(&a), ["noop", "pem-store"]);
    let (_, b) = s.get(&t.b, "/api/v1/plugins").await;
    assert_eq!(names(&b), ["pem-store"]);
    assert_eq!(b[0]["file"], "pem-store.wasm", "no host path: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_per_account() {
    on_each_backend(the_contract_shows_a_team_its_own_grants).await;
}

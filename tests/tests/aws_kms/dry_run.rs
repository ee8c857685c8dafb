//! A dry run of `cckm_key_rotation` through `run-now?dry_run=true`: the job names the
//! keys it would rotate, and KMS (moto, read back with boto3) and the plugin's durable
//! state are exactly as before; a real run afterwards rotates them. A dry run of an
//! operation that has none is refused with a 422 naming `dry_run`, before anything is
//! queued. On SQLite and PostgreSQL.

use keywarden_tests::aws::SECRET_KEY;
use keywarden_tests::cloud_jobs;
use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The plugin's durable last-rotation date of `key` in config `config`'s scope.
async fn last_rotation(s: &TestServer, config: &str, key: &str) -> Option<String> {
    let store = keywarden_db::connect(s.database_url()).await.unwrap();
    store
        .state_get("aws-kms", config, &format!("last_rotation/{key}"))
        .await
        .unwrap()
}

async fn scenario(s: &TestServer, moto: &Moto) {
    let ids = setup(
        moto,
        json!([
            {"name": "app", "aliases": ["alias/dry-app"], "tags": {"team": "dry"}},
            {"name": "plain", "tags": {"team": "dry"}},
            {"name": "other", "aliases": ["alias/dry-other"], "tags": {"team": "wet"}},
        ]),
    );
    let app = ids["app"].as_str().unwrap();
    let plain = ids["plain"].as_str().unwrap();
    let config = create(
        s,
        "dry",
        "cckm_key_rotation",
        json!({"aws_param": {"tags": {"team": "dry"}, "retain_alias": true}}),
    )
    .await;
    let before = kms(moto);

    // 1. The dry run names the two due keys and changes nothing.
    let job = cloud_jobs::dry_run(s, &config, &[SECRET_KEY]).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(job["dry_run"], true, "{job}");
    let d = details(&job);
    assert_eq!(d["dry_run"], true, "{job}");
    assert_eq!(d["total_keys"], 2, "{job}");
    assert_eq!(d["num_would_rotate"], 2, "{job}");
    assert_eq!(d["num_rotated"], 0, "{job}");
    assert_eq!(d["rotated"], json!([]), "{job}");
    let mut would: Vec<&str> = d["would_rotate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    would.sort_unstable();
    let mut due = vec![app, plain];
    due.sort_unstable();
    assert_eq!(would, due, "{job}");
    assert!(
        job["details"]["message"]
            .as_str()
            .unwrap()
            .starts_with("dry run: 2 of 2 keys would be rotated"),
        "{job}"
    );
    assert_eq!(kms(moto), before, "KMS changed in a dry run");
    for key in [app, plain] {
        assert_eq!(last_rotation(s, &config, key).await, None, "state written");
    }
    // The light listing shows the flag too.
    let (_, listed) = s
        .get(
            &s.admin,
            &format!("/api/v1/scheduler/jobs?job_config_id={config}"),
        )
        .await;
    let resources = listed["resources"].as_array().unwrap();
    assert!(
        resources
            .iter()
            .any(|j| j["id"] == job["id"] && j["dry_run"] == true),
        "{listed}"
    );

    // 2. A real run afterwards rotates them.
    let job = run(s, &config).await;
    assert_eq!(job["dry_run"], false, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    assert!(details(&job).get("would_rotate").is_none(), "{job}");
    let keys = kms(moto);
    assert_eq!(key(&keys, app)["KeyState"], "Disabled");
    let moved = holder(&keys, "alias/dry-app")["KeyId"].as_str().unwrap();
    assert_ne!(moved, app);
    assert!(last_rotation(s, &config, moved).await.is_some());
    assert_eq!(
        holder(&keys, "alias/dry-other")["KeyId"],
        ids["other"],
        "out of scope"
    );

    // 3. Synchronization has no dry run: refused before anything is queued.
    let sync = create(s, "sync", "cckm_synchronization", json!({})).await;
    let body = cloud_jobs::refused_dry_run(s, &sync).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cckm_synchronization has no dry run"),
        "{body}"
    );
    // A value that is not a boolean names the field too.
    let (status, body) = s
        .post(
            &s.admin,
            &format!("{CONFIGS}/{config}/run-now?dry_run=maybe"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "dry_run", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_rotation_changes_nothing_sqlite() {
    let moto = Moto::start();
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    scenario(&s, &moto).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_rotation_changes_nothing_postgres() {
    let moto = Moto::start();
    if let Some(s) = TestServer::postgres_with_toml(&grants(&moto)).await {
        scenario(&s, &moto).await;
        s.stop().await;
    }
}

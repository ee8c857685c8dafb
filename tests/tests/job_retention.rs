//! Job retention and light listings against a real server: the jobs list leaves params and
//! logs out unless asked; finished jobs past `[retention] finished_jobs_days` are purged by
//! the server's own loop, and `GET /jobs/counts` still counts them; payloads no job names
//! are purged. SQLite and, when configured, PostgreSQL.

use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";
const JOBS: &str = "/api/v1/scheduler/jobs";

/// Every bundled plugin usable by admin and bob; finished jobs kept one day, looked at
/// every second.
const CONFIG: &str = r#"
    [plugins.noop]
    [plugins.hello]
    [accounts.bob.plugins.hello]
    [retention]
    finished_jobs_days = 1
    interval_secs = 1
"#;

async fn run_hello(s: &TestServer, t: &str, config_id: &str) -> String {
    let (status, body) = s
        .post(t, &format!("{CONFIGS}/{config_id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["job_id"].as_str().unwrap().to_owned();
    let job = s.wait_job(t, &id, Duration::from_secs(60)).await;
    assert_eq!(job["result"], "success", "{job}");
    id
}

/// The counts an account's token sees, as `(day, count)` pairs of its `hello` jobs.
async fn counts(s: &TestServer, t: &str, query: &str) -> Vec<(String, i64)> {
    let (status, page) = s.get(t, &format!("{JOBS}/counts?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["operation"], "hello", "{c}");
            assert_eq!(c["status"], "completed", "{c}");
            assert_eq!(c["result"], "success", "{c}");
            (
                c["day"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn scenario(s: &TestServer) {
    let t = s.admin.as_str();
    let config = s
        .create_config(
            t,
            &json!({"name": "greet", "operation": "hello", "run_at": "@yearly",
                    "params": {"name": "Keywarden", "repeat": 2}}),
        )
        .await;
    let config_id = config["id"].as_str().unwrap();
    let old = run_hello(s, t, config_id).await;
    let recent = run_hello(s, t, config_id).await;

    // Listings: params and logs only when asked.
    let listed = async |query: &str| -> Value {
        let (status, page) = s.get(t, &format!("{JOBS}?sort=createdAt&{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page["resources"][0].clone()
    };
    let plain = listed("").await;
    assert_eq!(plain["id"], old.as_str());
    assert_eq!(plain["status"], "completed", "{plain}");
    assert!(plain.get("job_config_params").is_none(), "{plain}");
    assert!(plain.get("logs").is_none(), "{plain}");
    let with_params = listed("include=params").await;
    assert_eq!(
        with_params["job_config_params"],
        json!({"name": "Keywarden", "repeat": 2})
    );
    assert!(with_params.get("logs").is_none(), "{with_params}");
    let both = listed("include=params,logs").await;
    assert!(
        both["logs"].as_array().is_some_and(|l| !l.is_empty()),
        "{both}"
    );
    let (_, one) = s.get(t, &format!("{JOBS}/{old}")).await;
    assert_eq!(one["logs"], both["logs"], "one job always has its logs");
    assert_eq!(one["job_config_params"], both["job_config_params"]);
    for bad in ["include=secrets", "include=params,everything"] {
        let (status, err) = s.get(t, &format!("{JOBS}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert!(err.to_string().contains("include"), "{err}");
    }

    // Counts before any purge.
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let by_config = format!("job_config_id={config_id}");
    assert_eq!(counts(s, t, &by_config).await, [(day(today), 2)]);
    let bob = s.token("bob", false).await;
    assert!(
        counts(s, &bob, "").await.is_empty(),
        "another account's counts are not bob's"
    );
    assert!(counts(s, &bob, "account=admin").await.is_empty());
    for bad in [
        "from=yesterday",
        "to=2024-13-01",
        "job_config_id=x",
        "colour=red",
    ] {
        let (status, err) = s.get(t, &format!("{JOBS}/counts?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }

    // The first job ended three days ago: the server purges it by itself.
    s.execute_sql(&format!(
        "UPDATE jobs SET finished_at = finished_at - {} WHERE id = '{old}'",
        3_i64 * 86_400_000_000
    ))
    .await;
    // And a stored certificate no job names, stored long ago.
    s.execute_sql(
        "INSERT INTO payloads (account_id, sha256, body, created_at) \
         VALUES ('admin', 'deadbeef', 'CERT', 0)",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.get(t, &format!("{JOBS}/{old}")).await.0 != StatusCode::NOT_FOUND {
        assert!(Instant::now() < deadline, "the old job was never purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, kept) = s.get(t, &format!("{JOBS}/{recent}")).await;
    assert_eq!(status, StatusCode::OK, "the recent job is kept: {kept}");
    let (_, page) = s.get(t, &format!("{JOBS}?{by_config}")).await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(
        counts(s, t, &by_config).await,
        [(day(today - chrono::Days::new(3)), 1), (day(today), 1)],
        "the purged job is still counted, on the day it ended"
    );
    assert_eq!(
        counts(s, t, &format!("{by_config}&from={}", day(today))).await,
        [(day(today), 1)]
    );
    assert_eq!(
        s.query_count("SELECT COUNT(*) FROM payloads WHERE sha256 = 'deadbeef'")
            .await,
        0,
        "the unreferenced payload is purged too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_counts_and_retention_sqlite() {
    let s = TestServer::sqlite_with_toml(CONFIG).await;
    scenario(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_counts_and_retention_postgres() {
    if let Some(s) = TestServer::postgres_with_toml(CONFIG).await {
        scenario(&s).await;
        s.stop().await;
    }
}

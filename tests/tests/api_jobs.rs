//! Run-now and `/api/v1/scheduler/jobs` over HTTP against a real server: the hello plugin
//! runs through the executor and its outcome shows in the job; the job list filters,
//! sorts and pages; jobs are private to their account. SQLite and, when configured,
//! PostgreSQL.

use std::time::Duration;

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::json;

const CONFIGS: &str = "/api/v1/scheduler/job-configs";
const JOBS: &str = "/api/v1/scheduler/jobs";

async fn run_now(s: &TestServer, token: &str, config_id: &str) -> String {
    let (status, body) = s
        .post(token, &format!("{CONFIGS}/{config_id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["job_config_id"], config_id);
    body["job_id"].as_str().unwrap().to_owned()
}

async fn run_and_inspect(s: &TestServer) {
    let t = s.admin.as_str();
    let config = s
        .create_config(
            t,
            &json!({"name": "greet", "operation": "hello", "description": "hi",
                    "run_at": "0 0 1 1 *", "params": {"name": "Keywarden", "repeat": 3}}),
        )
        .await;
    let config_id = config["id"].as_str().unwrap();
    let job_id = run_now(s, t, config_id).await;
    let job = s.wait_job(t, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(job["id"], job_id.as_str());
    assert_eq!(
        job["uri"],
        format!("keywarden:admin:scheduler:jobs:{job_id}")
    );
    assert_eq!(job["account"], "keywarden:keywarden:admin:accounts:admin");
    assert_eq!(job["name"], "greet");
    assert_eq!(job["description"], "hi");
    assert_eq!(job["operation"], "hello");
    assert_eq!(job["job_config_id"], config_id);
    assert_eq!(
        job["job_config_params"],
        json!({"name": "Keywarden", "repeat": 3})
    );
    assert_eq!(job["processing_node"], "test-node");
    assert_eq!(job["attempt"], 1);
    assert!(
        job["enqueued_at"].is_string() && job["finished_at"].is_string(),
        "{job}"
    );
    assert_eq!(job["progress"], json!({"done": 3, "total": 3}));
    assert!(
        job["logs"].as_array().is_some_and(|l| !l.is_empty()),
        "{job}"
    );
    let details = &job["details"];
    assert_eq!(details["job_id"], job_id.as_str());
    assert_eq!(details["job_config_id"], config_id);
    assert_eq!(details["status"], "completed");
    assert_eq!(details["details"]["greeting"], "Hello, Keywarden!");
    assert_eq!(details["details"]["repeat"], 3);

    // The list shows it; filters narrow it.
    let second = run_now(s, t, config_id).await;
    s.wait_job(t, &second, Duration::from_secs(60)).await;
    let noop = s
        .create_config(
            t,
            &json!({"name": "idle", "operation": "noop", "run_at": "@yearly"}),
        )
        .await;
    let third = run_now(s, t, noop["id"].as_str().unwrap()).await;
    let third_job = s.wait_job(t, &third, Duration::from_secs(60)).await;

    let list = async |query: &str| -> Vec<String> {
        let (status, page) = s.get(t, &format!("{JOBS}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (first, mid, last) = (job_id.as_str(), second.as_str(), third.as_str());
    assert_eq!(list("").await, [last, mid, first], "newest first");
    assert_eq!(list("sort=createdAt").await, [first, mid, last]);
    assert_eq!(list("sort=-enqueued_at").await, [last, mid, first]);
    assert_eq!(list("sort=operation,createdAt").await, [first, mid, last]);
    assert_eq!(list("sort=createdAt&skip=1&limit=1").await, [mid]);
    let (_, page) = s.get(t, &format!("{JOBS}?limit=2")).await;
    assert_eq!(
        (page["total"].as_i64(), page["limit"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(list(&format!("id={mid}")).await, [mid]);
    assert_eq!(list("name=idle").await, [last]);
    assert_eq!(list("operation=hello&sort=createdAt").await, [first, mid]);
    assert_eq!(
        list(&format!("job_config_id={config_id}&sort=createdAt")).await,
        [first, mid]
    );
    assert_eq!(list("status=completed").await.len(), 3);
    assert!(list("status=queued").await.is_empty());
    assert_eq!(list("processing_node=test-node").await.len(), 3);
    assert!(list("processing_node=elsewhere").await.is_empty());
    assert_eq!(list("account=admin").await.len(), 3);
    assert_eq!(
        list("account=keywarden:keywarden:admin:accounts:admin")
            .await
            .len(),
        3
    );
    let at = third_job["createdAt"].as_str().unwrap();
    assert_eq!(list(&format!("createdAfter={at}")).await, [last]);
    assert_eq!(
        list(&format!("createdBefore={at}&sort=createdAt")).await,
        [first, mid, last]
    );
    for bad in [
        "status=done",
        "job_config_id=x",
        "createdBefore=now",
        "sort=secret",
    ] {
        let (status, err) = s.get(t, &format!("{JOBS}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }

    // Delete a finished job.
    let path = format!("{JOBS}/{first}");
    assert_eq!(s.delete(t, &path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(t, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(t, &path).await.0, StatusCode::NOT_FOUND);
    // Deleting the config keeps its jobs.
    assert_eq!(
        s.delete(t, &format!("{CONFIGS}/{config_id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.get(t, &format!("{JOBS}/{mid}")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_runs_the_plugin_and_jobs_list() {
    on_each_backend(run_and_inspect).await;
}

async fn private_jobs(s: &TestServer) {
    let alice = s.token("alice", false).await;
    let bob = s.token("bob", false).await;
    let config = s
        .create_config(
            &alice,
            &json!({"name": "a", "operation": "noop", "run_at": "@daily"}),
        )
        .await;
    let job_id = run_now(s, &alice, config["id"].as_str().unwrap()).await;
    let job = s.wait_job(&alice, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["account"], "keywarden:keywarden:admin:accounts:alice");

    let path = format!("{JOBS}/{job_id}");
    assert_eq!(s.get(&bob, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(&bob, &path).await.0, StatusCode::NOT_FOUND);
    let (_, page) = s.get(&bob, JOBS).await;
    assert_eq!(page["total"], 0);
    let (_, page) = s.get(&bob, &format!("{JOBS}?account=alice")).await;
    assert_eq!(page["total"], 0, "a non-admin cannot list another account");
    let (_, page) = s.get(&alice, JOBS).await;
    assert_eq!(page["total"], 1);
    // Admins see every account and may filter by one.
    let (_, page) = s.get(&s.admin, &format!("{JOBS}?account=alice")).await;
    assert_eq!(page["total"], 1);
    assert_eq!(s.get(&s.admin, &path).await.0, StatusCode::OK);
    assert_eq!(s.delete(&alice, &path).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_private_to_their_account() {
    on_each_backend(private_jobs).await;
}

/// 10,005 finished jobs of alice's, 3 of them failed, written behind the server's back
/// (ten thousand runs would take minutes).
async fn seed_many_jobs(s: &TestServer) {
    let pg = s.backend == "postgres";
    let series = if pg {
        "SELECT i FROM generate_series(0, 10004) AS s(i)".to_owned()
    } else {
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 10004) SELECT i FROM s".to_owned()
    };
    let id = if pg {
        "lpad(to_hex(i), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0')"
    } else {
        "printf('%08x-0000-7000-8000-%012x', i, i)"
    };
    let now = chrono::Utc::now().timestamp_micros();
    s.execute_sql(&format!(
        "INSERT INTO jobs (id, account_id, name, operation, status, result, audit_id, \
         scheduled_for, enqueued_at, created_at, updated_at, finished_at, attempt) \
         SELECT {id}, 'alice', 'bulk-' || i, 'noop', \
         CASE WHEN i < 3 THEN 'failed' ELSE 'completed' END, \
         CASE WHEN i < 3 THEN 'failure' ELSE 'success' END, 5000000 + i, \
         {now}, {now}, {now} + i, {now} + i, {now} + i, 1 FROM ({series}) AS n"
    ))
    .await;
    s.execute_sql("UPDATE counters SET value = 5010005 WHERE name = 'job_audit_id'")
        .await;
}

async fn large_totals(s: &TestServer) {
    seed_many_jobs(s).await;
    let alice = s.token("alice", false).await;
    let bob = s.token("bob", false).await;

    // More than 10,000 matches: counting stops there and the page says so.
    let (status, page) = s.get(&alice, &format!("{JOBS}?limit=5")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (&page["total"], &page["total_exact"]),
        (&json!(10_000), &json!(false)),
        "{page}"
    );
    assert_eq!(page["resources"].as_array().map(Vec::len), Some(5));
    // Paging goes on past the bound.
    let (_, page) = s.get(&alice, &format!("{JOBS}?limit=5&skip=10000")).await;
    assert_eq!(
        page["resources"].as_array().map(Vec::len),
        Some(5),
        "{page}"
    );
    assert_eq!(page["total_exact"], false);
    // Fewer matches are counted exactly.
    let (_, page) = s.get(&alice, &format!("{JOBS}?status=failed")).await;
    assert_eq!(
        (&page["total"], &page["total_exact"]),
        (&json!(3), &json!(true)),
        "{page}"
    );
    let (_, page) = s.get(&bob, JOBS).await;
    assert_eq!(
        (&page["total"], &page["total_exact"]),
        (&json!(0), &json!(true))
    );

    // Keyfactor's JobHistory: the header says 10000 and that there are more.
    let (status, headers, body) = s
        .get_with_headers(
            &alice,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?pq.returnLimit=2",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["x-total-count"], "10000");
    assert_eq!(headers["x-total-count-exact"], "false");
    let (_, headers, _) = s
        .get_with_headers(
            &alice,
            "/KeyfactorAPI/OrchestratorJobs/JobHistory?pq.queryString=Result%20-eq%20%22Failure%22",
        )
        .await;
    assert_eq!(headers["x-total-count"], "3");
    assert!(
        headers.get("x-total-count-exact").is_none(),
        "an exact count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_lists_count_up_to_ten_thousand() {
    on_each_backend(large_totals).await;
}

async fn schedule_fires(s: &TestServer) {
    // Every second: the scheduler fires it and the executor runs it without run-now.
    let t = s.admin.as_str();
    let config = s
        .create_config(
            t,
            &json!({"name": "tick", "operation": "noop", "run_at": "* * * * * *"}),
        )
        .await;
    let query = format!(
        "{JOBS}?job_config_id={}&status=completed",
        config["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = s.get(t, &query).await;
        if page["total"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled run completed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = s
        .patch(
            t,
            &format!("{CONFIGS}/{}", config["id"].as_str().unwrap()),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_configs_fire() {
    on_each_backend(schedule_fires).await;
}

async fn running_job_conflicts(s: &TestServer) {
    let t = s.admin.as_str();
    let config = s
        .create_config(
            t,
            &json!({"name": "slow", "operation": "hello", "run_at": "@yearly",
                    "params": {"name": "slow", "delay_ms": 2000}}),
        )
        .await;
    let job_id = run_now(s, t, config["id"].as_str().unwrap()).await;
    let path = format!("{JOBS}/{job_id}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, job) = s.get(t, &path).await;
        if job["status"] == "running" {
            break;
        }
        assert_eq!(job["status"], "queued", "{job}");
        assert!(std::time::Instant::now() < deadline, "never started: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, err) = s.delete(t, &path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["code"], 409);
    let job = s.wait_job(t, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(s.delete(t, &path).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_running_job_conflicts() {
    on_each_backend(running_job_conflicts).await;
}

/// The `state` import keeps a plugin's values in the database. When the database fails
/// under a running server, a job that reads state ends as a host failure and is retried,
/// instead of the plugin reading "no value" (and, here, counting from zero again).
async fn state_failures_are_host_faults(s: &TestServer) {
    let t = s.admin.as_str();
    let config = s
        .create_config(
            t,
            &json!({"name": "counter", "operation": "hello", "run_at": "0 0 1 1 *",
                    "max_retries": 1, "retry_backoff_secs": 3600,
                    "params": {"name": "Ada", "count": true}}),
        )
        .await;
    let config_id = config["id"].as_str().unwrap();
    for expected in [1, 2] {
        let job_id = run_now(s, t, config_id).await;
        let job = s.wait_job(t, &job_id, Duration::from_secs(60)).await;
        assert_eq!(job["details"]["details"]["runs"], expected, "{job}");
    }
    s.execute_sql("DROP TABLE plugin_state").await;
    let job_id = run_now(s, t, config_id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let job = loop {
        let (_, job) = s.get(t, &format!("{JOBS}/{job_id}")).await;
        if job["attempt"] == 1 && job["status"] == "queued" {
            break job;
        }
        assert!(
            job["status"] != "completed",
            "the plugin must not run on without its state: {job}"
        );
        assert!(std::time::Instant::now() < deadline, "never retried: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = job["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "attempt 1 of 2 failed: the host failed while running the job: state: the plugin state could not be read"
        ),
        "{message}"
    );
    assert!(
        !message.contains("plugin_state"),
        "no database details: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_behind_state_is_a_host_fault() {
    on_each_backend(state_failures_are_host_faults).await;
}

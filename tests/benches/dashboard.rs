//! The dashboard's jobs page over 100,000 jobs: the API call behind it
//! (`GET /api/v1/scheduler/jobs?skip=0&limit=50&sort=-createdAt`, median of 20) beside the
//! page in headless Chromium from navigation to rendered rows (median of 10 loads, each
//! timed in the page with `performance.now()` when the rows are in the DOM). Printed
//! figures only; nothing is asserted about time.
//!
//! `cargo bench -p keywarden-tests --bench dashboard` (Playwright and chromium from
//! `.ci/playwright.sh`). A debug-profile server on SQLite, like the other benches' servers.

use std::time::{Duration, Instant};

use keywarden_db::{NewJob, RunOn, connect};
use keywarden_tests::browser::Browser;
use keywarden_tests::server::TestServer;
use serde_json::json;
use uuid::Uuid;

const JOBS: usize = 100_000;
const API_RUNS: usize = 20;
const PAGE_LOADS: usize = 10;
const PAGE_QUERY: &str = "/api/v1/scheduler/jobs?skip=0&limit=50&sort=-createdAt";

/// 100,000 finished hello jobs of the admin account. They are inserted due in a year (so
/// the executor leaves them alone) and then marked completed behind the server's back.
async fn seed(s: &TestServer) {
    let db = connect(s.database_url())
        .await
        .expect("the server's database");
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::days(365);
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(2_000) {
        let jobs: Vec<NewJob> = chunk
            .iter()
            .map(|&i| NewJob {
                id: Uuid::now_v7(),
                account_id: "admin".into(),
                job_config_id: None,
                name: format!("bench-{i}"),
                description: String::new(),
                operation: "hello".into(),
                target: None,
                params: json!({"name": format!("n{i}")}),
                run_on: RunOn::Any,
                schedule_kind: None,
                max_attempts: 1,
                retry_backoff_secs: 60,
                scheduled_for: later,
                start_by: None,
                enqueued_at: now,
            })
            .collect();
        db.insert_jobs(&jobs).await.expect("jobs");
    }
    s.execute_sql(
        "UPDATE jobs SET status = 'completed', result = 'success', started_at = created_at, \
         finished_at = created_at, progress_done = 1, progress_total = 1, \
         message = 'Hello!' WHERE name LIKE 'bench-%'",
    )
    .await;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let browser = Browser::find();
    let s = TestServer::sqlite().await;
    let started = Instant::now();
    seed(&s).await;
    println!(
        "seeded {JOBS} jobs in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut api = Vec::with_capacity(API_RUNS);
    for _ in 0..API_RUNS {
        let t = Instant::now();
        let (status, page) = s.get(&s.admin, PAGE_QUERY).await;
        api.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status.is_success(), "{page}");
        assert_eq!(page["total"], JOBS as i64, "every seeded job counted");
    }

    let out = browser.run(
        "bench_jobs_page.py",
        &[
            ("KEYWARDEN_BASE", s.base.clone()),
            ("KEYWARDEN_ADMIN_TOKEN", s.admin.clone()),
            ("KEYWARDEN_LOADS", PAGE_LOADS.to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "the browser script failed ({})",
        out.status
    );
    let loads: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("load_ms "))
        .map(|v| v.trim().parse().expect("a number"))
        .collect();
    assert_eq!(loads.len(), PAGE_LOADS, "one figure per load");

    println!("jobs page over {JOBS} jobs (debug server, SQLite):");
    println!(
        "  {:<58} median {:>8.1} ms of {API_RUNS}",
        format!("API alone: GET {PAGE_QUERY}"),
        median(api)
    );
    println!(
        "  {:<58} median {:>8.1} ms of {PAGE_LOADS}",
        "dashboard in headless Chromium: navigation to rendered rows",
        median(loads)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    s.stop().await;
}

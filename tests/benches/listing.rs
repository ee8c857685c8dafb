//! Listing at scale: with 100,000 job configs, 1,000,000 jobs and 100,000 inventory
//! entries (1,000 certificate stores) in the database, how long each list endpoint takes to
//! answer one page with its total count, on SQLite and (when `KEYWARDEN_TEST_DATABASE_URL`
//! is set) PostgreSQL. Each figure is the median of 15 calls through HTTP to the
//! in-process server, printed beside the 50 ms goal, with the total the page carried
//! (`>N` when counting stopped at the bound: "more than N").
//!
//! The rows are written with one SQL statement per table (a generated series), not through
//! the API: 1.2 million API calls would take longer than the benchmark's point.
//!
//! `cargo bench -p keywarden-tests --bench listing` (`KW_BENCH_CONFIGS`, `KW_BENCH_JOBS`,
//! `KW_BENCH_INVENTORY` change the sizes).

use std::time::Instant;

use keywarden_tests::server::TestServer;

const RUNS: usize = 15;
const GOAL_MS: f64 = 50.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A series `0..n` as rows of column `i`, in the backend's SQL.
fn series(postgres: bool, n: usize) -> String {
    if postgres {
        format!("SELECT i FROM generate_series(0, {}) AS s(i)", n - 1)
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) SELECT i FROM s",
            n - 1
        )
    }
}

/// A UUID-shaped id made from the number `i` and a tag digit.
fn id(postgres: bool, tag: u8) -> String {
    if postgres {
        format!("lpad(to_hex(i), 8, '0') || '-0000-7000-8{tag}00-' || lpad(to_hex(i), 12, '0')")
    } else {
        format!("printf('%08x-0000-7000-8{tag}00-%012x', i, i)")
    }
}

/// Inventory entries of 1,000 stores (fewer when `entries` is small), every tenth store
/// team-b's, expiring over the next 400 days.
async fn seed_inventory(s: &TestServer, entries: usize, base: i64) {
    let pg = s.backend == "postgres";
    let stores = entries.clamp(1, 1000);
    let store_id = id(pg, 3);
    s.execute_sql(&format!(
        "INSERT INTO certificate_stores (id, account_id, client_machine, store_path, store_type, \
         created_at, updated_at) \
         SELECT {store_id}, CASE WHEN i % 10 = 0 THEN 'team-b' ELSE 'admin' END, \
         'host-' || i, '/etc/ssl/store-' || i || '.pem', 'PEM', {base}, {base} FROM ({}) AS n",
        series(pg, stores)
    ))
    .await;
    // The store of entry i: i % stores, written like `store_id`.
    let owner = if pg {
        format!(
            "lpad(to_hex(i % {stores}), 8, '0') || '-0000-7000-8300-' || lpad(to_hex(i % {stores}), 12, '0')"
        )
    } else {
        format!("printf('%08x-0000-7000-8300-%012x', i % {stores}, i % {stores})")
    };
    let now = chrono::Utc::now().timestamp_micros();
    s.execute_sql(&format!(
        "INSERT INTO certificate_store_inventory (store_id, account_id, alias, thumbprint, \
         serial_number, subject, issuer, not_before, not_after, has_private_key, chain_length, \
         certificate, inventoried_at) \
         SELECT {owner}, CASE WHEN (i % {stores}) % 10 = 0 THEN 'team-b' ELSE 'admin' END, \
         'cert-' || i, 'AB' || i, '01' || i, 'CN=host-' || i, 'CN=Bench CA', {now}, \
         {now} + (i * 7919 % 400) * 86400000000, TRUE, 1, 'MIIB', {now} FROM ({}) AS n",
        series(pg, entries)
    ))
    .await;
}

async fn seed(s: &TestServer, configs: usize, jobs: usize, inventory: usize) {
    let pg = s.backend == "postgres";
    let base = chrono::Utc::now().timestamp_micros() - 40 * 86_400_000_000;
    let config_id = id(pg, 1);
    let sql = format!(
        "INSERT INTO job_configs (id, account_id, name, operation, run_at, params, params_key, \
         next_fire_at, created_at, updated_at) \
         SELECT {config_id}, CASE WHEN i % 10 = 0 THEN 'team-b' ELSE 'admin' END, \
         'config-' || i, 'hello', '0 3 * * *', '{{\"name\": \"x\"}}', 'params', \
         {base} + 86400000000 + i, {base} + i * 1000, {base} + i * 1000 FROM ({}) AS n",
        series(pg, configs)
    );
    s.execute_sql(&sql).await;
    let job_id = id(pg, 2);
    // The config of job i, as a config id (same formula, i % configs).
    let owner = if pg {
        format!(
            "lpad(to_hex(i % {configs}), 8, '0') || '-0000-7000-8100-' || lpad(to_hex(i % {configs}), 12, '0')"
        )
    } else {
        format!("printf('%08x-0000-7000-8100-%012x', i % {configs}, i % {configs})")
    };
    let sql = format!(
        "INSERT INTO jobs (id, account_id, job_config_id, name, operation, status, result, \
         message, audit_id, scheduled_for, enqueued_at, started_at, finished_at, created_at, \
         updated_at, attempt, progress_done, progress_total) \
         SELECT {job_id}, CASE WHEN i % 10 = 0 THEN 'team-b' ELSE 'admin' END, {owner}, \
         'job-' || i, 'hello', CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'completed' END, \
         CASE WHEN i % 7 = 0 THEN 'failure' ELSE 'success' END, 'Hello, x!', 1000000 + i, \
         {base} + i * 2000, {base} + i * 2000, {base} + i * 2000 + 10, {base} + i * 2000 + 500, \
         {base} + i * 2000, {base} + i * 2000 + 500, 1, 1, 1 FROM ({}) AS n",
        series(pg, jobs)
    );
    s.execute_sql(&sql).await;
    s.execute_sql(&format!(
        "UPDATE counters SET value = {} WHERE name = 'job_audit_id'",
        1_000_000 + jobs
    ))
    .await;
    seed_inventory(s, inventory, base).await;
    // What autovacuum (or an operator's ANALYZE) would know after such a load.
    s.execute_sql("ANALYZE").await;
}

/// Median milliseconds of `RUNS` GETs of `path`, and the total the page carried (`>N`
/// when it is a lower bound): in the body's `total` and `total_exact` (CipherTrust), or
/// in the `x-total-count` and `x-total-count-exact` headers (Keyfactor).
async fn time(s: &TestServer, path: &str) -> (f64, String) {
    let mut ms = Vec::with_capacity(RUNS);
    let mut total = String::new();
    let client = reqwest::Client::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let response = client
            .get(format!("{}{path}", s.base))
            .bearer_auth(&s.admin)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (count, exact) = (header("x-total-count"), header("x-total-count-exact"));
        let page: serde_json::Value = response.json().await.expect("a JSON page");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status.is_success(), "{path}: {page}");
        let (count, exact) = match count {
            Some(count) => (count, exact.as_deref() != Some("false")),
            None => (
                page["total"].as_i64().map_or("?".into(), |n| n.to_string()),
                page["total_exact"].as_bool() != Some(false),
            ),
        };
        total = if exact { count } else { format!(">{count}") };
    }
    ms.sort_by(f64::total_cmp);
    (ms[RUNS / 2], total)
}

async fn bench(s: &TestServer, configs: usize, jobs: usize, inventory: usize) {
    let started = Instant::now();
    seed(s, configs, jobs, inventory).await;
    println!(
        "{}: seeded {configs} configs, {jobs} jobs and {inventory} inventory entries in {:.1} s",
        s.backend,
        started.elapsed().as_secs_f64()
    );
    let q = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pages: Vec<(&str, String)> = vec![
        (
            "configs, newest first",
            "/api/v1/scheduler/job-configs?limit=50".into(),
        ),
        (
            "configs by name",
            "/api/v1/scheduler/job-configs?limit=50&sort=name".into(),
        ),
        (
            "configs by next run",
            "/api/v1/scheduler/job-configs?limit=50&sort=next_fire_at".into(),
        ),
        (
            "configs, one operation",
            "/api/v1/scheduler/job-configs?limit=50&operation=hello&sort=-createdAt".into(),
        ),
        (
            "jobs, newest first",
            "/api/v1/scheduler/jobs?limit=50&sort=-createdAt".into(),
        ),
        (
            "jobs, failed",
            "/api/v1/scheduler/jobs?limit=50&status=failed".into(),
        ),
        (
            "jobs of one config",
            "/api/v1/scheduler/jobs?limit=50&job_config_id=00000007-0000-7000-8100-000000000007"
                .into(),
        ),
        (
            "JobHistory, a query",
            format!(
                "/KeyfactorAPI/OrchestratorJobs/JobHistory?pq.pageReturned=1&pq.returnLimit=50&pq.queryString={}",
                q("Result -eq \"Failure\"")
            ),
        ),
        (
            "inventories, expiring first",
            "/KeyfactorAPI/CertificateStores/Inventory?pq.pageReturned=1&pq.returnLimit=50".into(),
        ),
        (
            "inventories, next 30 days",
            "/KeyfactorAPI/CertificateStores/Inventory?pq.pageReturned=1&pq.returnLimit=50&ExpiringWithinDays=30"
                .into(),
        ),
    ];
    println!();
    println!(
        "{:<26} {:>10} {:>10} {:>8}",
        "page of 50", "median ms", "total", "goal"
    );
    for (name, path) in pages {
        let (ms, count) = time(s, &path).await;
        println!(
            "{:<26} {:>10.1} {:>10} {:>8}",
            name,
            ms,
            count,
            if ms < GOAL_MS { "met" } else { "NOT met" }
        );
    }
    println!();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let configs = env_usize("KW_BENCH_CONFIGS", 100_000);
    let jobs = env_usize("KW_BENCH_JOBS", 1_000_000);
    let inventory = env_usize("KW_BENCH_INVENTORY", 100_000);
    println!(
        "listing: {configs} job configs, {jobs} jobs, page 50, median of {RUNS}, goal {GOAL_MS} ms, {} CPUs",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let s = TestServer::sqlite().await;
    bench(&s, configs, jobs, inventory).await;
    s.stop().await;
    if let Some(s) = TestServer::postgres().await {
        bench(&s, configs, jobs, inventory).await;
        s.stop().await;
    }
}

//! End-to-end throughput of no-op jobs: Keywarden on SQLite (and PostgreSQL when
//! `KEYWARDEN_TEST_DATABASE_URL` is set) against a peer queue, apalis 0.7 on SQLite (and on
//! the same PostgreSQL), in the same process on the same machine.
//!
//! ```sh
//! cargo bench -p keywarden-tests --bench throughput
//! KW_BENCH_JOBS=50000 KW_BENCH_CONCURRENCY=512 cargo bench -p keywarden-tests --bench throughput
//! KW_BENCH_ONLY=keywarden-postgres cargo bench -p keywarden-tests --bench throughput  # one row, to profile
//! ```
//!
//! `KW_BENCH_ONLY` names the rows to run (`keywarden-sqlite`, `keywarden-postgres`,
//! `apalis-sqlite`, `apalis-postgres`, comma-separated); every row runs without it.
//! `KW_BENCH_TIMELINE=1` prints, for Keywarden's rows, how many jobs started and finished
//! in each 100 ms after `T` (where a run stalls).
//!
//! Every run enqueues N jobs that all fall due at one instant `T` a little in the future,
//! starts the workers before `T`, and measures from `T` until every job is stored as
//! finished (polled every 10 ms): jobs/s = N / that time. Latency is due (`T`) → start of
//! each job: Keywarden's stored `started_at`, apalis's handler clock. Apalis compares
//! `run_at` in whole seconds (`run_at < now`), so its jobs are due at a whole second and
//! can start one second later at the earliest; that is the library's behaviour, kept.

#[path = "../tests/db/mod.rs"]
mod db;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_sql::postgres::PostgresStorage;
use apalis_sql::sqlite::SqliteStorage;
use chrono::{DateTime, Utc};
use keywarden::executor::{self, ExecutorConfig};
use keywarden_db::{Database, JobFilter, JobStatus, NewJob, RunOn, Sort};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const TARGET: f64 = 10_000.0;
const TIMEOUT: Duration = Duration::from_secs(600);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One row of the table.
struct Row {
    name: String,
    jobs: usize,
    secs: f64,
    p50_ms: f64,
    p95_ms: f64,
}

impl Row {
    fn new(name: &str, jobs: usize, secs: f64, mut latencies_us: Vec<i64>) -> Row {
        latencies_us.sort_unstable();
        let pct = |p: usize| {
            if latencies_us.is_empty() {
                f64::NAN
            } else {
                latencies_us[(latencies_us.len() - 1) * p / 100] as f64 / 1000.0
            }
        };
        Row {
            name: name.into(),
            jobs,
            secs,
            p50_ms: pct(50),
            p95_ms: pct(95),
        }
    }

    fn rate(&self) -> f64 {
        self.jobs as f64 / self.secs
    }
}

/// How often the benchmark counts finished jobs. Counting competes with the queue for
/// the same two cores, so not too often; Keywarden's end time comes from the stored
/// `finished_at` (exact), apalis's from the poll (at most `POLL` late, in its disfavour,
/// under 1% of its run), since apalis stores completion times in whole seconds.
const POLL: Duration = Duration::from_millis(100);

/// Instant at which the wall-clock time `t` falls.
fn instant_of(t: DateTime<Utc>) -> Instant {
    let ahead = (t - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + ahead
}

/// Keywarden: N jobs due at `T` inserted in batches of 1000 and announced to the executor
/// (due at `T`, as the server's enqueue announces its jobs), the executor with the noop
/// plugin, done when `list_jobs(status = completed)` counts N.
async fn keywarden(name: &str, db: Arc<dyn Database>, n: usize, concurrency: usize) -> Row {
    let registry = db::registry("").await;
    // Enough lead for the inserts (about 10 µs a job measured on SQLite, plus slack).
    let lead = Duration::from_millis(1500 + n as u64 / 10);
    let due = Utc::now() + lead;
    let enqueue = Instant::now();
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob {
            id: Uuid::now_v7(),
            account_id: "admin".into(), // the plugins' own grants
            job_config_id: None,
            name: format!("bench-{i}"),
            description: String::new(),
            operation: "noop".into(),
            target: None,
            params: json!({}),
            run_on: RunOn::Any,
            schedule_kind: None,
            max_attempts: 1,
            retry_backoff_secs: 0,
            scheduled_for: due,
            start_by: None,
            dry_run: false,
            enqueued_at: Utc::now(),
        })
        .collect();
    for chunk in jobs.chunks(1000) {
        db.insert_jobs(chunk).await.expect("insert jobs");
    }
    let enqueue = enqueue.elapsed();
    if Utc::now() >= due {
        eprintln!("warning: {name}: enqueue ({enqueue:?}) overran the lead ({lead:?})");
    }

    let mut cfg = ExecutorConfig::new("bench-node");
    cfg.concurrency = concurrency;
    // Claims as large as apalis's fetches (its buffer size is the concurrency).
    cfg.batch = concurrency;
    // Announced as the server's enqueue announces what it queues: the executor claims at
    // `T` rather than at its next idle poll (up to `idle_poll`, 1 s, after `T`).
    cfg.events.queued_for([due]);
    let token = CancellationToken::new();
    let handle = executor::spawn(db.clone(), registry, cfg, token.clone());

    let start = instant_of(due);
    tokio::time::sleep_until(start.into()).await;
    let filter = JobFilter {
        status: Some(JobStatus::Completed),
        ..JobFilter::default()
    };
    loop {
        let (done, _) = db
            .list_jobs(&filter, &Sort::default(), 0, 1)
            .await
            .expect("count jobs");
        if done >= n as i64 {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "{name}: only {done} of {n} done");
        tokio::time::sleep(POLL).await;
    }
    token.cancel();
    handle.await.expect("executor task");

    let (_, all) = db
        .list_jobs(&JobFilter::default(), &Sort::default(), 0, n as i64 + 1)
        .await
        .expect("list jobs");
    let latencies: Vec<i64> = all
        .iter()
        .filter_map(|j| {
            j.started_at
                .map(|s| (s - j.scheduled_for).num_microseconds())
        })
        .flatten()
        .collect();
    assert_eq!(latencies.len(), n, "{name}: every job has started_at");
    // The end is the last stored finish, not when the poll noticed it.
    let last = all
        .iter()
        .filter_map(|j| j.finished_at)
        .max()
        .expect("finished jobs");
    let secs = (last - due).num_microseconds().expect("duration") as f64 / 1e6;
    if std::env::var("KW_BENCH_TIMELINE").is_ok() {
        let mut starts = std::collections::BTreeMap::<i64, (usize, usize)>::new();
        for j in &all {
            if let Some(s) = j.started_at {
                starts
                    .entry((s - due).num_milliseconds() / 100)
                    .or_default()
                    .0 += 1;
            }
            if let Some(f) = j.finished_at {
                starts
                    .entry((f - due).num_milliseconds() / 100)
                    .or_default()
                    .1 += 1;
            }
        }
        for (slot, (s, f)) in starts {
            eprintln!("  {:>5} ms: started {s:>5} finished {f:>5}", slot * 100);
        }
    }
    Row::new(name, n, secs, latencies)
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Noop {
    i: u64,
}

/// Start times (Unix µs) the apalis handler records.
#[derive(Clone, Default)]
struct Starts(Arc<Mutex<Vec<i64>>>);

async fn noop_handler(_job: Noop, starts: Data<Starts>) -> Result<(), Error> {
    let now = Utc::now().timestamp_micros();
    starts.0.lock().expect("starts").push(now);
    Ok(())
}

/// Apalis 0.7 + apalis-sql on a temp SQLite file with the database's settings (WAL,
/// synchronous NORMAL, 8 connections): N jobs pushed one by one (its API has no batch
/// push), then all made due at one whole second `T`; one worker with the same
/// concurrency, fetching up to `concurrency` jobs every 50 ms (the executor's poll).
async fn apalis_sqlite(n: usize, concurrency: usize) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("apalis.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("open apalis db");
    SqliteStorage::setup(&pool)
        .await
        .expect("apalis migrations");
    let config = apalis_sql::Config::new("bench::Noop")
        .set_buffer_size(concurrency)
        .set_poll_interval(Duration::from_millis(50));
    let mut storage: SqliteStorage<Noop> = SqliteStorage::new_with_config(pool.clone(), config);
    for i in 0..n as u64 {
        storage.push(Noop { i }).await.expect("push");
    }
    // Due at a whole second at least one second away: apalis stores run_at in seconds.
    let due_secs = Utc::now().timestamp() + 2;
    sqlx::query("UPDATE Jobs SET run_at = ?1")
        .bind(due_secs)
        .execute(&pool)
        .await
        .expect("set run_at");
    let due = DateTime::from_timestamp(due_secs, 0).expect("due time");

    let starts = Starts::default();
    let worker = WorkerBuilder::new("bench-worker")
        .concurrency(concurrency)
        .data(starts.clone())
        .backend(storage)
        .build_fn(noop_handler);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let monitor = tokio::spawn(Monitor::new().register(worker).run_with_signal(async {
        let _ = stop_rx.await;
        Ok(())
    }));

    let (secs, latencies) = apalis_finish("apalis", due, n, &starts, stop_tx, monitor, || async {
        let (done,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs WHERE status = 'Done'")
            .fetch_one(&pool)
            .await
            .expect("count jobs");
        done
    })
    .await;
    pool.close().await;
    Row::new("apalis 0.7 (SQLite)", n, secs, latencies)
}

/// The part both apalis rows share once the worker runs: from `due`, polls `done` until
/// it counts `n`, stops the monitor (`stop`) and returns the run's seconds and each job's
/// start latency.
async fn apalis_finish<F, Fut>(
    name: &str,
    due: DateTime<Utc>,
    n: usize,
    starts: &Starts,
    stop: tokio::sync::oneshot::Sender<()>,
    monitor: tokio::task::JoinHandle<std::io::Result<()>>,
    done: F,
) -> (f64, Vec<i64>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let start = instant_of(due);
    tokio::time::sleep_until(start.into()).await;
    loop {
        let finished = done().await;
        if finished >= n as i64 {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{name}: only {finished} of {n} done"
        );
        tokio::time::sleep(POLL).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    if tokio::time::timeout(Duration::from_secs(10), monitor)
        .await
        .is_err()
    {
        eprintln!("warning: {name} monitor did not stop within 10 s");
    }
    let due_us = due.timestamp_micros();
    let latencies = starts
        .0
        .lock()
        .expect("starts")
        .iter()
        .map(|s| s - due_us)
        .collect();
    (secs, latencies)
}

/// Apalis 0.7 + apalis-sql on the PostgreSQL the Keywarden row used (its own `apalis`
/// schema, dropped before and after), run like [`apalis_sqlite`].
async fn apalis_postgres(url: &str, n: usize, concurrency: usize) -> Row {
    // apalis keeps its tables in schema `apalis` and records its migrations in the first
    // schema of the search path: `apalis_bench`, so dropping both starts afresh.
    let admin = sqlx::PgPool::connect(url)
        .await
        .expect("connect to PostgreSQL");
    for sql in [
        "DROP SCHEMA IF EXISTS apalis CASCADE",
        "DROP SCHEMA IF EXISTS apalis_bench CASCADE",
        "CREATE SCHEMA apalis_bench",
    ] {
        sqlx::query(sql).execute(&admin).await.expect(sql);
    }
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options.options([("search_path", "apalis_bench")]))
        .await
        .expect("connect to PostgreSQL");
    PostgresStorage::setup(&pool)
        .await
        .expect("apalis migrations");
    let config = apalis_sql::Config::new("bench::Noop")
        .set_buffer_size(concurrency)
        .set_poll_interval(Duration::from_millis(50));
    let mut storage: PostgresStorage<Noop> = PostgresStorage::new_with_config(pool.clone(), config);
    for i in 0..n as u64 {
        storage.push(Noop { i }).await.expect("push");
    }
    let due_secs = Utc::now().timestamp() + 2;
    sqlx::query("UPDATE apalis.jobs SET run_at = to_timestamp($1)")
        .bind(due_secs as f64)
        .execute(&pool)
        .await
        .expect("set run_at");
    let due = DateTime::from_timestamp(due_secs, 0).expect("due time");

    let starts = Starts::default();
    let worker = WorkerBuilder::new("bench-worker-pg")
        .concurrency(concurrency)
        .data(starts.clone())
        .backend(storage)
        .build_fn(noop_handler);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let monitor = tokio::spawn(Monitor::new().register(worker).run_with_signal(async {
        let _ = stop_rx.await;
        Ok(())
    }));

    let (secs, latencies) = apalis_finish(
        "apalis (PostgreSQL)",
        due,
        n,
        &starts,
        stop_tx,
        monitor,
        || async {
            let (done,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM apalis.jobs WHERE status = 'Done'")
                    .fetch_one(&pool)
                    .await
                    .expect("count jobs");
            done
        },
    )
    .await;
    pool.close().await;
    for sql in [
        "DROP SCHEMA IF EXISTS apalis CASCADE",
        "DROP SCHEMA IF EXISTS apalis_bench CASCADE",
    ] {
        let _ = sqlx::query(sql).execute(&admin).await;
    }
    admin.close().await;
    Row::new("apalis 0.7 (PostgreSQL)", n, secs, latencies)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env_usize("KW_BENCH_JOBS", 20_000);
    let concurrency = env_usize("KW_BENCH_CONCURRENCY", 512);
    println!(
        "throughput: {n} no-op jobs, concurrency {concurrency}, {} CPUs",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );

    let only = std::env::var("KW_BENCH_ONLY").unwrap_or_default();
    let runs = |row: &str| only.is_empty() || only.split(',').any(|o| o.trim() == row);
    let mut rows = Vec::new();

    if runs("keywarden-sqlite") {
        let sqlite = db::Db::sqlite().await;
        rows.push(
            keywarden(
                "keywarden (SQLite)",
                sqlite.database.clone(),
                n,
                concurrency,
            )
            .await,
        );
        sqlite.cleanup().await;
    }
    if runs("keywarden-postgres")
        && let Some(pg) = db::Db::postgres("throughput").await
    {
        rows.push(
            keywarden(
                "keywarden (PostgreSQL)",
                pg.database.clone(),
                n,
                concurrency,
            )
            .await,
        );
        pg.cleanup().await;
    }
    if runs("apalis-sqlite") {
        rows.push(apalis_sqlite(n, concurrency).await);
    }
    if runs("apalis-postgres")
        && let Ok(url) = std::env::var("KEYWARDEN_TEST_DATABASE_URL")
    {
        rows.push(apalis_postgres(&url, n, concurrency).await);
    }

    println!();
    println!(
        "{:<24} {:>8} {:>9} {:>10} {:>12} {:>12}",
        "queue", "jobs", "secs", "jobs/s", "p50 ms", "p95 ms"
    );
    for r in &rows {
        println!(
            "{:<24} {:>8} {:>9.3} {:>10.0} {:>12.1} {:>12.1}",
            r.name,
            r.jobs,
            r.secs,
            r.rate(),
            r.p50_ms,
            r.p95_ms
        );
    }
    println!();
    if let Some(kw) = rows.iter().find(|r| r.name == "keywarden (SQLite)") {
        println!(
            "target: >= 10,000 jobs/s on SQLite: {:.0} jobs/s, {}",
            kw.rate(),
            if kw.rate() >= TARGET {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    if let Some(pg) = rows.iter().find(|r| r.name == "keywarden (PostgreSQL)") {
        println!(
            "target: >= 10,000 jobs/s on PostgreSQL: {:.0} jobs/s, {}",
            pg.rate(),
            if pg.rate() >= TARGET {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!(
        "(latency = due time -> job start; jobs/s = N / (due time -> all stored as finished))"
    );
}

//! The executor against real plugins and real databases: outcomes, failures, retries,
//! lease recovery, graceful shutdown and durable plugin state.

mod db;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use db::{Db, is_final, registry, wait_job};
use keywarden::executor::{self, ExecutorConfig, StoreState};
use keywarden::plugins::PluginRegistry;
use keywarden::runtime::capabilities::state::StateBackend;
use keywarden_db::{Database, JobResult, JobStatus, NewJob, RunOn};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const NODE: &str = "node-a";

fn new_job(operation: &str, params: Value, max_attempts: i32, backoff: i64) -> NewJob {
    let now = Utc::now();
    NewJob {
        id: Uuid::now_v7(),
        // The admin account runs with the plugins' own grants (no [accounts] table here).
        account_id: "admin".into(),
        job_config_id: None,
        name: format!("test-{operation}"),
        description: String::new(),
        operation: operation.into(),
        target: None,
        params,
        run_on: RunOn::Any,
        schedule_kind: None,
        max_attempts,
        retry_backoff_secs: backoff,
        scheduled_for: now,
        start_by: None,
        dry_run: false,
        enqueued_at: now,
    }
}

async fn enqueue(db: &dyn Database, job: NewJob) -> Uuid {
    let id = job.id;
    db.insert_jobs(&[job]).await.expect("insert job");
    id
}

fn cfg() -> ExecutorConfig {
    let mut cfg = ExecutorConfig::new(NODE);
    cfg.concurrency = 4;
    cfg.recovery_interval = Duration::from_millis(200);
    cfg.drain_timeout = Duration::from_secs(10);
    cfg
}

fn start(
    db: &Arc<dyn Database>,
    registry: &Arc<PluginRegistry>,
    cfg: ExecutorConfig,
) -> (CancellationToken, JoinHandle<()>) {
    let token = CancellationToken::new();
    let handle = executor::spawn(db.clone(), registry.clone(), cfg, token.clone());
    (token, handle)
}

async fn stop(token: CancellationToken, handle: JoinHandle<()>) {
    token.cancel();
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .expect("executor stops")
        .expect("executor task");
}

const WAIT: Duration = Duration::from_secs(30);

async fn hello_job_completes_with_details_logs_and_progress(db: &Db) {
    let reg = registry("").await;
    let id = enqueue(
        &*db.database,
        new_job("hello", json!({"name": "Ada", "repeat": 2}), 1, 0),
    )
    .await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let job = wait_job(&*db.database, id, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert_eq!(job.result, Some(JobResult::Success));
    assert_eq!(job.message.as_deref(), Some("Hello, Ada!"));
    assert_eq!(
        job.details,
        Some(json!({"greeting": "Hello, Ada!", "repeat": 2}))
    );
    assert_eq!((job.progress_done, job.progress_total), (2, 2));
    assert_eq!(job.processing_node.as_deref(), Some(NODE));
    assert_eq!(job.attempt, 1);
    assert!(
        job.logs.iter().any(|l| l["message"] == "saying hello"),
        "logs: {:?}",
        job.logs
    );
}

async fn unknown_operation_fails_naming_what_is_available(db: &Db) {
    let reg = registry("").await;
    let id = enqueue(&*db.database, new_job("no_such_op", json!({}), 3, 0)).await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let job = wait_job(&*db.database, id, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.result, Some(JobResult::Failure));
    let message = job.message.unwrap_or_default();
    assert!(
        message.starts_with("no loaded plugin provides operation no_such_op (available: ")
            && message.contains("hello"),
        "{message}"
    );
}

/// A dry run that reached the queue without the domain's check (the plugin file replaced
/// since, or a job written behind the API's back) is still refused by the executor when
/// its plugin cannot make one: nothing is run, the plugin's state stays empty.
async fn dry_runs_the_plugin_cannot_make_fail_without_running(db: &Db) {
    let reg = registry("").await;
    let mut legacy = new_job("cckm_key_rotation", json!({"cloud_name": "legacy"}), 3, 0);
    legacy.target = Some("legacy".into());
    legacy.dry_run = true;
    let scope = legacy.id.to_string();
    let legacy = enqueue(&*db.database, legacy).await;
    let mut custom = new_job("hello", json!({"name": "Ada"}), 3, 0);
    custom.dry_run = true;
    let custom = enqueue(&*db.database, custom).await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let legacy = wait_job(&*db.database, legacy, WAIT, is_final).await;
    let custom = wait_job(&*db.database, custom, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(legacy.status, JobStatus::Failed);
    assert_eq!(legacy.attempt, 1, "not retried");
    assert_eq!(
        legacy.message.as_deref(),
        Some(
            "the dry run was not made: plugin legacy-v1 implements keywarden:plugin@0.1.0, which has no dry run"
        )
    );
    let state = StoreState(db.database.clone());
    assert_eq!(state.size("legacy-v1", &scope).await.unwrap(), 0);
    assert_eq!(custom.status, JobStatus::Failed);
    assert!(
        custom
            .message
            .unwrap_or_default()
            .contains("operation hello has no dry run"),
        "{:?}",
        custom.logs
    );
}

async fn timed_out_and_panicking_plugins_fail_with_the_reason(db: &Db) {
    let reg = registry("[plugins.hostile]\ntimeout_secs = 1\n").await;
    let spin = enqueue(&*db.database, new_job("spin", json!({}), 1, 0)).await;
    let panic = enqueue(&*db.database, new_job("panic", json!({}), 1, 0)).await;
    let hello = enqueue(&*db.database, new_job("hello", json!({"name": "B"}), 1, 0)).await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let spin = wait_job(&*db.database, spin, WAIT, is_final).await;
    let panic = wait_job(&*db.database, panic, WAIT, is_final).await;
    let hello = wait_job(&*db.database, hello, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(spin.status, JobStatus::Failed);
    let msg = spin.message.unwrap_or_default();
    assert!(msg.contains("time limit"), "{msg}");
    assert_eq!(panic.status, JobStatus::Failed);
    let msg = panic.message.unwrap_or_default();
    assert!(msg.starts_with("the plugin crashed"), "{msg}");
    assert_eq!(hello.status, JobStatus::Completed, "other jobs still run");
}

async fn failures_retry_with_backoff_then_fail(db: &Db) {
    let reg = registry("").await;
    let id = enqueue(&*db.database, new_job("panic", json!({}), 3, 1)).await;
    let started = Instant::now();
    let (token, handle) = start(&db.database, &reg, cfg());
    // First attempt fails and is requeued about one backoff later.
    let requeued = wait_job(&*db.database, id, WAIT, |j| {
        j.status == JobStatus::Queued && j.attempt == 1
    })
    .await;
    assert_eq!(requeued.status, JobStatus::Queued, "{requeued:?}");
    let delay = requeued.scheduled_for - Utc::now();
    assert!(delay <= chrono::Duration::seconds(1), "{delay}");
    assert!(
        requeued
            .message
            .unwrap_or_default()
            .contains("attempt 1 of 3 failed: the plugin crashed")
    );
    let job = wait_job(&*db.database, id, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempt, 3);
    assert!(
        job.message
            .unwrap_or_default()
            .starts_with("the plugin crashed")
    );
    // Every attempt's panic message stays in the history, tagged with its attempt.
    let panics: Vec<i64> = job
        .logs
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("plugin panicked")
        })
        .filter_map(|l| l["attempt"].as_i64())
        .collect();
    assert_eq!(panics, vec![1, 2, 3], "{:?}", job.logs);
    // Backoff 1 s, then 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// An executor whose poll is a minute still starts what is queued in its process at once
/// (the domain and the scheduler tell it through the events hub) and retries a failed
/// attempt when its backoff ends; a job written behind its back waits for the poll.
async fn an_idle_executor_wakes_for_jobs_queued_in_its_process(db: &Db) {
    let reg = registry("").await;
    let mut cfg = cfg();
    cfg.poll = Duration::from_secs(60);
    cfg.idle_poll = Duration::from_secs(60);
    let events = cfg.events.clone();
    let (token, handle) = start(&db.database, &reg, cfg);
    // The first claim finds nothing; the next is a minute away.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unannounced = enqueue(&*db.database, new_job("noop", json!({}), 1, 0)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = wait_job(&*db.database, unannounced, Duration::ZERO, |_| true).await;
    assert_eq!(
        waiting.status,
        JobStatus::Queued,
        "nothing woke the executor: the job waits for its poll"
    );

    let retried = enqueue(&*db.database, new_job("panic", json!({}), 2, 1)).await;
    events.queued();
    for id in [unannounced, retried] {
        let job = wait_job(&*db.database, id, Duration::from_secs(20), is_final).await;
        assert!(job.status.is_final(), "not woken: {job:?}");
    }
    let job = wait_job(&*db.database, retried, Duration::ZERO, |_| true).await;
    assert_eq!(
        (job.status, job.attempt),
        (JobStatus::Failed, 2),
        "the retry ran when its backoff ended, not at the next poll"
    );
    stop(token, handle).await;
}

async fn invalid_params_are_not_retried(db: &Db) {
    let reg = registry("").await;
    let id = enqueue(&*db.database, new_job("hello", json!({}), 3, 0)).await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let job = wait_job(&*db.database, id, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempt, 1);
    assert!(
        job.message
            .unwrap_or_default()
            .starts_with("invalid params")
    );
}

async fn lease_recovery_handles_jobs_of_a_vanished_node(db: &Db) {
    // A node claims two jobs with a tiny lease and vanishes.
    let last = enqueue(&*db.database, new_job("hello", json!({"name": "C"}), 1, 0)).await;
    let again = enqueue(&*db.database, new_job("hello", json!({"name": "D"}), 2, 0)).await;
    let claimed = db
        .database
        .claim_jobs("ghost", Utc::now(), 10, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A live executor recovers them: no attempts left → failed; else requeued and run here.
    let reg = registry("").await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let failed = wait_job(&*db.database, last, WAIT, is_final).await;
    let rerun = wait_job(&*db.database, again, WAIT, is_final).await;
    stop(token, handle).await;
    assert_eq!(failed.status, JobStatus::Failed, "{failed:?}");
    assert!(failed.message.unwrap_or_default().contains("ghost"));
    assert_eq!(rerun.status, JobStatus::Completed, "{rerun:?}");
    assert_eq!(rerun.processing_node.as_deref(), Some(NODE));
    assert_eq!(rerun.attempt, 2);
}

async fn shutdown_lets_running_jobs_finish(db: &Db) {
    let reg = registry("").await;
    let id = enqueue(
        &*db.database,
        new_job("hello", json!({"name": "E", "delay_ms": 800}), 1, 0),
    )
    .await;
    let (token, handle) = start(&db.database, &reg, cfg());
    let running = wait_job(&*db.database, id, WAIT, |j| j.status == JobStatus::Running).await;
    assert_eq!(running.status, JobStatus::Running);
    let queued_later = enqueue(&*db.database, new_job("hello", json!({"name": "F"}), 1, 0)).await;
    stop(token, handle).await;
    let job = db.database.get_job(None, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Completed, "drained before returning");
    let later = db
        .database
        .get_job(None, queued_later)
        .await
        .unwrap()
        .unwrap();
    assert!(
        later.status == JobStatus::Queued || is_final(&later),
        "never left running: {later:?}"
    );
}

async fn plugin_state_is_kept_in_the_store(db: &Db) {
    let state = StoreState(db.database.clone());
    state
        .set("hello", "scope-1", "cursor", Some("42"))
        .await
        .unwrap();
    let again = StoreState(db.reopen().await);
    assert_eq!(
        again
            .get("hello", "scope-1", "cursor")
            .await
            .unwrap()
            .as_deref(),
        Some("42")
    );
    assert_eq!(
        again.size("hello", "scope-1").await.unwrap(),
        "cursor".len() + 2
    );
    again.set("hello", "scope-1", "cursor", None).await.unwrap();
    assert_eq!(state.get("hello", "scope-1", "cursor").await.unwrap(), None);
}

db_tests!(
    hello_job_completes_with_details_logs_and_progress,
    unknown_operation_fails_naming_what_is_available,
    dry_runs_the_plugin_cannot_make_fail_without_running,
    timed_out_and_panicking_plugins_fail_with_the_reason,
    failures_retry_with_backoff_then_fail,
    an_idle_executor_wakes_for_jobs_queued_in_its_process,
    invalid_params_are_not_retried,
    lease_recovery_handles_jobs_of_a_vanished_node,
    shutdown_lets_running_jobs_finish,
    plugin_state_is_kept_in_the_store,
);

/// End-to-end throughput of no-op jobs on SQLite (target: 10,000/s in release builds).
/// `cargo test --release -p keywarden-tests --test executor -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release mode"]
async fn noop_throughput_on_sqlite() {
    let db = Db::sqlite().await;
    let reg = registry("").await;
    let n = 20_000;
    let jobs: Vec<NewJob> = (0..n).map(|_| new_job("noop", json!({}), 1, 0)).collect();
    for chunk in jobs.chunks(1000) {
        db.database.insert_jobs(chunk).await.unwrap();
    }
    let mut cfg = cfg();
    cfg.concurrency = std::env::var("KW_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let started = Instant::now();
    let (token, handle) = start(&db.database, &reg, cfg);
    loop {
        let filter = keywarden_db::JobFilter {
            status: Some(JobStatus::Completed),
            ..Default::default()
        };
        let (done, _) = db
            .database
            .list_jobs(&filter, &Default::default(), 0, 1)
            .await
            .unwrap();
        if done >= n as i64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {done} done"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    stop(token, handle).await;
    println!(
        "{n} noop jobs in {elapsed:?}: {:.0} jobs/s",
        n as f64 / elapsed.as_secs_f64()
    );
}

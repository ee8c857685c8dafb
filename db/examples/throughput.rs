//! Executor hot-path throughput: enqueue N jobs, then claim + finish them in batches of 256
//! until the queue is empty, and print jobs/s.
//!
//! ```text
//! cargo run --release -p keywarden-db --example throughput                 # SQLite temp file, 100k jobs
//! cargo run --release -p keywarden-db --example throughput -- 200000      # more jobs
//! cargo run --release -p keywarden-db --example throughput -- 50000 postgres://user@host/db
//! ```
//! (Against PostgreSQL, use a scratch database: the jobs are left in it.)

use std::time::{Duration, Instant};

use chrono::Utc;
use keywarden_db::{JobFinish, JobResult, JobStatus, NewJob, Progress, RunOn, connect};
use serde_json::json;
use uuid::Uuid;

const BATCH: i64 = 256;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = match args.next() {
        Some(url) => url,
        None => dir
            .path()
            .join("throughput.db")
            .to_string_lossy()
            .into_owned(),
    };
    let store = connect(&url).await?;
    println!("backend: {} ({url})", store.backend());

    let now = Utc::now();
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob {
            id: Uuid::now_v7(),
            account_id: "bench".into(),
            job_config_id: None,
            name: format!("job {i}"),
            description: String::new(),
            operation: "cckm_key_rotation".into(),
            target: Some("aws".into()),
            params: json!({"cloud_name": "aws", "expire_in": "6h"}),
            run_on: RunOn::Any,
            schedule_kind: None,
            max_attempts: 1,
            retry_backoff_secs: 60,
            scheduled_for: now,
            start_by: None,
            enqueued_at: now,
        })
        .collect();
    let started = Instant::now();
    for chunk in jobs.chunks(5000) {
        store.insert_jobs(chunk).await?;
    }
    let enqueue = started.elapsed();
    println!(
        "enqueue: {n} jobs in {enqueue:.2?} = {:.0} jobs/s",
        n as f64 / enqueue.as_secs_f64()
    );

    let started = Instant::now();
    let (mut done, mut claim_time, mut finish_time) = (0usize, Duration::ZERO, Duration::ZERO);
    loop {
        let t = Instant::now();
        let claimed = store
            .claim_jobs("bench-node", Utc::now(), BATCH, Duration::from_secs(60))
            .await?;
        claim_time += t.elapsed();
        if claimed.is_empty() {
            break;
        }
        let finishes: Vec<JobFinish> = claimed
            .iter()
            .map(|j| JobFinish {
                id: j.id,
                node_id: "bench-node".into(),
                attempt: None,
                status: JobStatus::Completed,
                result: Some(JobResult::Success),
                message: None,
                details: Some(json!({"total_keys": 1, "num_rotated": 1})),
                logs: vec![json!({"level": "info", "msg": "rotated 1 key"})],
                progress: Some(Progress { done: 1, total: 1 }),
            })
            .collect();
        let t = Instant::now();
        let applied = store.finish_jobs(&finishes).await?;
        finish_time += t.elapsed();
        assert_eq!(applied as usize, claimed.len());
        done += claimed.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(done, n, "every job claimed and finished once");
    println!(
        "claim+finish (batches of {BATCH}): {done} jobs in {elapsed:.2?} = {:.0} jobs/s \
         (claim {claim_time:.2?}, finish {finish_time:.2?})",
        done as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

//! Writing job outcomes in batches.
//!
//! A per-job write would cap throughput at what one SQLite writer commits per second;
//! one `finish_jobs_audited` transaction for whatever finished in the last few milliseconds lets
//! the executor keep up with thousands of short jobs a second.

use std::sync::Arc;
use std::time::Duration;

use keywarden_db::{JobFinish, JobStatus, NewAuditEntry};

use crate::alerts::jobs::JobFailure;
use tokio::sync::mpsc::UnboundedReceiver;

use super::job::Done;
use super::{RunningJob, Shared};

/// Attempts for one batch write before its jobs are left to lease recovery.
const WRITE_ATTEMPTS: u32 = 5;

/// Receives outcomes until every sender is dropped, then flushes the rest and returns.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rx: UnboundedReceiver<Done>,
    max_batch: usize,
    window: Duration,
) {
    let max_batch = max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        if rx.recv_many(&mut batch, max_batch).await == 0 {
            break;
        }
        if batch.len() < max_batch && !window.is_zero() {
            // Let more outcomes arrive, so a busy executor writes few large batches.
            tokio::time::sleep(window).await;
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(done) => batch.push(done),
                    Err(_) => break,
                }
            }
        }
        flush(&shared, &mut batch).await;
    }
}

/// Writes a batch and forgets its jobs (no more lease renewals or progress updates).
async fn flush(shared: &Shared, batch: &mut Vec<Done>) {
    let mut finishes: Vec<JobFinish> = Vec::with_capacity(batch.len());
    let mut ids = Vec::with_capacity(batch.len());
    let mut failures: Vec<JobFailure> = Vec::new();
    for done in batch.drain(..) {
        ids.push((done.id(), done.attempt()));
        match done {
            Done::Finish(f) => finishes.push(f),
            Done::Retry(retry) => {
                let (id, at, message) = (retry.id, retry.at, &retry.message);
                if !retry.not_run {
                    failures.push(JobFailure {
                        job_id: id,
                        attempt: retry.attempt,
                        message: message.clone(),
                        last: false,
                    });
                }
                let written = shared.db.retry_job(&retry).await;
                if matches!(written, Ok(true))
                    && let Some(job) = shared.running_job(&id)
                {
                    shared.events.ended(id, &job.account_id);
                    if !retry.not_run {
                        shared.metrics.job_retried(&job.operation);
                    }
                    shared.events.queued_for([at]);
                }
                match written {
                    // Waiting (for a store's lock) is routine; a failed attempt is not.
                    Ok(true) if retry.not_run => tracing::debug!(job = %id, %at, "{message}"),
                    Ok(true) => tracing::info!(job = %id, %at, "{message}"),
                    Ok(false) => {
                        tracing::warn!(job = %id, "retry not recorded: the job is no longer running on this node")
                    }
                    Err(e) => {
                        tracing::error!(job = %id, "retry not recorded, lease recovery will requeue it: {e}")
                    }
                }
            }
        }
    }
    // Each outcome with its audit entry, from what this node knows of the running job
    // (kept until after the write, see `Shared::forget`). A job it does not know of
    // cannot have an outcome here; should one come, it is still written, unaudited.
    let mut audited: Vec<(JobFinish, NewAuditEntry)> = Vec::with_capacity(finishes.len());
    let mut jobs: Vec<RunningJob> = Vec::with_capacity(finishes.len());
    let mut unknown: Vec<JobFinish> = Vec::new();
    for f in finishes {
        match shared.running_job(&f.id) {
            Some(job) => {
                let entry = NewAuditEntry::job_outcome(&job.account_id, &job.operation, &f);
                audited.push((f, entry));
                jobs.push(job);
            }
            None => unknown.push(f),
        }
    }
    let finishes = audited;
    if !unknown.is_empty() {
        tracing::error!(
            jobs = unknown.len(),
            "outcomes of jobs this node has no record of; written without an audit entry"
        );
        if let Err(e) = shared.db.finish_jobs(&unknown).await {
            tracing::error!(
                "recording those outcomes failed; lease recovery will handle those jobs: {e}"
            );
        }
    }
    if !finishes.is_empty() && write_finishes(shared, &finishes).await {
        announce(shared, &finishes, jobs);
        failures.extend(
            finishes
                .iter()
                .map(|(f, _)| f)
                .filter(|f| f.status == JobStatus::Failed)
                .map(|f| JobFailure {
                    job_id: f.id,
                    attempt: f.attempt,
                    message: f.message.clone().unwrap_or_default(),
                    last: true,
                }),
        );
    }
    shared.forget(&ids);
    if !failures.is_empty() {
        crate::alerts::jobs::failed(&*shared.db, &failures).await;
        let last: Vec<(uuid::Uuid, String)> = failures
            .iter()
            .filter(|f| f.last)
            .map(|f| (f.job_id, f.message.clone()))
            .collect();
        crate::scheduler::auto_pause::after_failures(&*shared.db, &last).await;
    }
}

/// One log line per ended job (what a log pipeline follows a job by), its metrics, and
/// the live event that ends its streams. `jobs` are the running jobs the outcomes are
/// of, in the same order.
fn announce(shared: &Shared, finishes: &[(JobFinish, NewAuditEntry)], jobs: Vec<RunningJob>) {
    for ((f, _), job) in finishes.iter().zip(jobs) {
        shared.events.ended(f.id, &job.account_id);
        let ran = job.started.elapsed();
        let result = f.result.map(|r| r.to_string()).unwrap_or_default();
        tracing::info!(
            target: super::JOB_LOG_TARGET,
            job = %f.id,
            account = %job.account_id,
            operation = %job.operation,
            attempt = job.attempt,
            status = %f.status,
            result = %result,
            duration_ms = u64::try_from(ran.as_millis()).unwrap_or(u64::MAX),
            node = %shared.node_id,
            "job ended"
        );
        shared.metrics.job_finished(
            crate::metrics::JobLabels {
                operation: job.operation,
                status: f.status.to_string(),
                result,
            },
            ran,
        );
    }
}

/// Whether the batch was written. Each outcome is written with its audit entry, in one
/// transaction: one that does not apply (another node recovered the job) is not audited.
async fn write_finishes(shared: &Shared, finishes: &[(JobFinish, NewAuditEntry)]) -> bool {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        let written = {
            let _writing = shared.batch_writes.lock().await;
            shared.db.finish_jobs_audited(finishes).await
        };
        match written {
            Ok(applied) => {
                if (applied as usize) < finishes.len() {
                    // Lost leases: another node recovered those jobs; its record wins.
                    tracing::warn!(
                        applied,
                        reported = finishes.len(),
                        "some job outcomes were not recorded: those jobs are no longer running on this node"
                    );
                }
                return true;
            }
            Err(e) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(attempt, "recording job outcomes failed, retrying: {e}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => tracing::error!(
                jobs = finishes.len(),
                "recording job outcomes failed; lease recovery will handle those jobs: {e}"
            ),
        }
    }
    false
}

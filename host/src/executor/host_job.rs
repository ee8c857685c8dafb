//! Jobs of host operations (built into the server, see `domain/host_operations.rs`):
//! run here natively instead of in a plugin's sandbox, recorded like any job.

use chrono::Utc;
use keywarden_db::{Database, Job, JobFinish, JobResult, JobRetry, JobStatus};

use super::job::{Done, failed, retry_at};
use crate::backup::operation::{self, DATABASE_BACKUP};
use crate::plugins::PluginRegistry;
use crate::tenancy::access::ADMIN_ACCOUNT;

/// Whether `job` is of a host operation.
pub(crate) fn is_host_job(job: &Job) -> bool {
    job.operation == DATABASE_BACKUP
}

/// Runs a host-operation job and decides what to record: completed with the outcome,
/// retried while attempts remain, else failed.
pub(crate) async fn run(
    db: &dyn Database,
    registry: &PluginRegistry,
    node_id: &str,
    job: &Job,
) -> Done {
    // Checked again here: the job may have been queued by an older version.
    if job.account_id != ADMIN_ACCOUNT {
        return failed(
            job,
            node_id,
            format!(
                "refused: {DATABASE_BACKUP} is reserved to the {ADMIN_ACCOUNT} account (it reads every account's data)"
            ),
            Vec::new(),
            None,
        );
    }
    let runtime = registry.runtime();
    let outcome = operation::run(
        db,
        &runtime.config().backup,
        runtime.services().secrets.as_ref(),
        job,
    )
    .await;
    match outcome {
        Ok(done) => Done::Finish(JobFinish {
            id: job.id,
            node_id: node_id.to_owned(),
            attempt: Some(job.attempt),
            status: JobStatus::Completed,
            result: Some(JobResult::Success),
            message: Some(done.message),
            details: Some(done.details),
            logs: Vec::new(),
            progress: None,
        }),
        Err(why) if job.attempt < job.max_attempts => {
            let at = retry_at(Utc::now(), job.retry_backoff_secs, job.attempt);
            Done::Retry(JobRetry {
                id: job.id,
                node_id: node_id.to_owned(),
                attempt: Some(job.attempt),
                at,
                message: format!(
                    "attempt {} of {} failed: {why}; retrying at {}",
                    job.attempt,
                    job.max_attempts,
                    at.to_rfc3339()
                ),
                logs: Vec::new(),
                not_run: false,
            })
        }
        Err(why) => failed(job, node_id, why, Vec::new(), None),
    }
}

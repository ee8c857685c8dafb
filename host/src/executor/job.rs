//! One claimed job, from plugin lookup to the outcome the store should record.
//!
//! Kept free of scheduling concerns (claims, leases, batching) so the mapping rules —
//! which export a family calls, when a failure is retried — are in one place.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keywarden_db::{Database, Job, JobFinish, JobResult, JobRetry, JobStatus, Progress, WhenBusy};
use uuid::Uuid;

use super::family_data;
use super::file_modes::StoreFileModes;
use super::store_job::{self, StoreJob};
use super::target_lock::{self, Target};
use crate::certificates::job_params::operation;
use crate::plugins::{Family, LoadedPlugin, OperationView, PluginRegistry};
use crate::runtime::invoke::{JobCall, JobFailure, JobInput, JobReport, job_result};
use crate::runtime::observer::JobObserver;
use crate::runtime::sandbox::PreparedGrants;
use crate::tenancy::access::{self, AccountGrants};

/// Longest delay between attempts, however large the backoff and attempt count.
const MAX_RETRY_DELAY_SECS: i64 = 7 * 24 * 3600;

/// What the finisher writes for a job once its attempt ended.
#[derive(Debug, Clone)]
pub(crate) enum Done {
    /// A final status (`completed` or `failed`), batched into `finish_jobs_audited`.
    Finish(JobFinish),
    /// Back to the queue for another attempt (or, `not_run`, the same one) later.
    Retry(JobRetry),
}

impl Done {
    pub(crate) fn id(&self) -> Uuid {
        match self {
            Done::Finish(f) => f.id,
            Done::Retry(r) => r.id,
        }
    }

    /// The attempt the outcome is for (`None`: not known).
    pub(crate) fn attempt(&self) -> Option<i32> {
        match self {
            Done::Finish(f) => f.attempt,
            Done::Retry(r) => r.attempt,
        }
    }
}

/// What the job acts on: its stored target, else the CipherTrust-style `cloud_name` param.
pub(crate) fn job_target(job: &Job) -> Option<String> {
    job.target.clone().or_else(|| {
        job.params
            .get("cloud_name")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    })
}

/// Runs `job` on the plugin that provides its operation, keeps the family data it
/// returned and decides what to record.
pub(crate) async fn run(
    db: &dyn Database,
    registry: &PluginRegistry,
    node_id: &str,
    job: &Job,
    observer: Arc<dyn JobObserver>,
) -> Done {
    match super::window_check::check(db, registry, job, Utc::now()).await {
        super::window_check::Verdict::Run => {}
        super::window_check::Verdict::Wait(at, message) => {
            return Done::Retry(JobRetry {
                id: job.id,
                node_id: node_id.to_owned(),
                attempt: Some(job.attempt),
                at,
                message,
                logs: Vec::new(),
                not_run: true,
            });
        }
        super::window_check::Verdict::Never(message) => {
            return failed(job, node_id, message, Vec::new(), None);
        }
    }
    if super::host_job::is_host_job(job) {
        return super::host_job::run(db, registry, node_id, job).await;
    }
    let store_job = if store_job::is_store_job(job) {
        match store_job::load(db, job).await {
            Ok(loaded) => Some(loaded),
            Err(message) => return failed(job, node_id, message, Vec::new(), None),
        }
    } else {
        None
    };
    // Jobs acting on one target take turns, on this node and across nodes.
    let target = Target::of(registry, job, store_job.as_ref());
    if let Some(target) = &target {
        match target_lock::lock(db, registry, job, target).await {
            Ok(true) => {}
            // Another job works on it: give the slot back instead of holding it idle, and
            // come back later without spending an attempt, or end here if the config
            // would rather skip.
            Ok(false) => return busy(db, job, node_id, target).await,
            // The database failing is the host's fault: retried like one.
            Err(message) => {
                let report = JobReport {
                    outcome: Err(JobFailure::HostFault(message)),
                    logs: Vec::new(),
                    progress: None,
                    elapsed: std::time::Duration::ZERO,
                    peak_memory: 0,
                };
                return judge(job, node_id, report, Utc::now());
            }
        }
    }
    let executed = execute(
        registry,
        job,
        store_job.as_ref(),
        Some(observer),
        Accounts::Enforced,
    )
    .await;
    if let Some(target) = &target {
        target_lock::release(db, job, target).await;
    }
    let mut report = match executed {
        Ok(report) => report,
        Err(message) => return failed(job, node_id, message, Vec::new(), None),
    };
    // What a dry run returned is only shown: nothing of it is kept.
    if let Ok(finished) = &report.outcome
        && !job.dry_run
        && let Err(message) = family_data::persist(db, job, &finished.data).await
    {
        tracing::error!(job = %job.id, "keeping the job's data failed: {message}");
        report.outcome = Err(JobFailure::Failed(format!(
            "the job ran, but its results could not be stored: {message}"
        )));
    }
    judge(job, node_id, report, Utc::now())
}

/// What a job whose target is busy records: back to the queue, or cancelled.
async fn busy(db: &dyn Database, job: &Job, node_id: &str, target: &Target) -> Done {
    match target_lock::when_busy(db, job).await {
        WhenBusy::Wait => Done::Retry(JobRetry {
            id: job.id,
            node_id: node_id.to_owned(),
            attempt: Some(job.attempt),
            at: Utc::now() + target_lock::snooze(job),
            message: format!("waiting for {target}: another job is working on it"),
            logs: Vec::new(),
            not_run: true,
        }),
        WhenBusy::Skip => Done::Finish(JobFinish {
            id: job.id,
            node_id: node_id.to_owned(),
            attempt: Some(job.attempt),
            status: JobStatus::Cancelled,
            result: None,
            message: Some(format!(
                "skipped: another job was working on {target} (when_target_busy = skip)"
            )),
            details: None,
            logs: Vec::new(),
            progress: None,
        }),
    }
}

/// Whose grants a job runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accounts {
    /// The job's account's part of the plugin's grants (a node of the server).
    Enforced,
    /// The plugin's grants on this machine (`keywarden agent`: the operator of the
    /// agent's machine granted them for the account that owns the agent).
    Local,
}

/// Runs `job` (its store already loaded, when it has one) on the plugin that provides its
/// operation, without touching the database: what a node's executor and a remote
/// `keywarden agent` share. `Err` says why no plugin could be called.
pub(crate) async fn execute(
    registry: &PluginRegistry,
    job: &Job,
    store_job: Option<&StoreJob>,
    observer: Option<Arc<dyn JobObserver>>,
    accounts: Accounts,
) -> Result<JobReport, String> {
    let target = store_job
        .and_then(StoreJob::target)
        .or_else(|| job_target(job));
    let (plugin, op) = match registry.resolve(&job.operation, target.as_deref()) {
        Ok(found) => found,
        Err(unresolved) => {
            let available = if unresolved.available.is_empty() {
                "none".to_owned()
            } else {
                unresolved.available.join(", ")
            };
            let message = format!(
                "no loaded plugin provides operation {} (available: {available})",
                job.operation
            );
            return Err(message);
        }
    };
    // The grants are asked again now: the operator may have changed them since the job
    // was queued.
    let granted = match accounts {
        Accounts::Enforced => access::effective_grants(
            registry.runtime().config(),
            &job.account_id,
            &plugin.name,
            &plugin.grants,
            &op.name,
        )
        .map_err(|denied| format!("refused by the account's grants: {denied}"))?,
        Accounts::Local => AccountGrants {
            grants: std::borrow::Cow::Borrowed(&plugin.grants),
            grant: None,
        },
    };
    let params = match store_job {
        Some(store_job) => {
            check_store_paths(store_job, &granted)?;
            store_job.plugin_params()
        }
        None => {
            let mut params = job.params.clone();
            granted
                .apply_pinned(&mut params)
                .map_err(|denied| format!("refused by the account's grants: {denied}"))?;
            params
        }
    };
    if job.dry_run
        && let Some(why) = crate::plugins::dry_run::refusal(&plugin, &op)
    {
        return Err(format!("the dry run was not made: {why}"));
    }
    let call = call_for(&op, store_job, &plugin, &granted.grants, registry)?;
    let input = JobInput {
        job_id: job.id.to_string(),
        operation: job.operation.clone(),
        target,
        params,
        scope: job.job_config_id.unwrap_or(job.id).to_string(),
        dry_run: job.dry_run,
    };
    // A job that rewrites a store must not loosen its files' permissions (a dry run
    // writes nothing: not even a mode is set again).
    let modes = store_job
        .filter(|_| !job.dry_run)
        .filter(|_| [operation::MANAGEMENT, operation::REENROLLMENT].contains(&op.name.as_str()))
        .and_then(|j| j.store.as_ref())
        .map(|s| StoreFileModes::capture(s, &granted.grants.dirs));
    let report = plugin
        .run_with(registry.runtime(), &granted.grants, input, call, observer)
        .await;
    if let Some(modes) = modes {
        modes.restore();
    }
    Ok(report)
}

/// The store's path and a discovery's directories lie in the account's directories (the
/// sandbox would not reach anything else; this says so plainly).
fn check_store_paths(store_job: &StoreJob, granted: &AccountGrants<'_>) -> Result<(), String> {
    if granted.grant.is_none() {
        return Ok(());
    }
    let paths = store_job.store.iter().map(|s| s.store_path.as_str()).chain(
        store_job
            .params
            .discovery
            .iter()
            .flat_map(|d| d.directories.iter().map(String::as_str)),
    );
    for path in paths {
        if !access::path_granted(&granted.grants, path) {
            return Err(format!(
                "refused by the account's grants: {path} is outside the account's directories"
            ));
        }
    }
    Ok(())
}

/// The export an operation's family calls. Certificate-store operations need the store
/// record and request the certificate store APIs put in the job's params.
fn call_for(
    op: &OperationView,
    store_job: Option<&StoreJob>,
    plugin: &LoadedPlugin,
    grants: &PreparedGrants,
    registry: &PluginRegistry,
) -> Result<JobCall, String> {
    match op.family {
        Family::Custom => Ok(JobCall::Custom),
        Family::KeyManagement if op.name == "cckm_synchronization" => Ok(JobCall::Synchronize),
        Family::KeyManagement => Ok(JobCall::Rotate),
        Family::NetworkDiscovery => Ok(JobCall::Scan),
        Family::CertificateStore => match store_job {
            Some(store_job) => store_job::call(
                op,
                store_job,
                plugin,
                grants,
                registry.runtime().services().secrets.as_ref(),
            ),
            None => Err(format!(
                "a {} job needs a certificate store: schedule it through the certificate \
                 store APIs (/KeyfactorAPI/CertificateStores)",
                op.name
            )),
        },
    }
}

/// Turns a report into the record: outcomes complete the job (the plugin's result says
/// how well), failures retry while attempts remain, else fail it.
pub(crate) fn judge(job: &Job, node_id: &str, report: JobReport, now: DateTime<Utc>) -> Done {
    // Each line names its attempt: a retried job's history keeps every attempt's logs.
    let logs: Vec<serde_json::Value> = report
        .logs
        .iter()
        .filter_map(|line| serde_json::to_value(line).ok())
        .map(|mut line| {
            if let Some(fields) = line.as_object_mut() {
                fields.insert("attempt".into(), job.attempt.into());
            }
            line
        })
        .collect();
    let progress = report.progress.map(|(done, total)| Progress {
        done: i64::try_from(done).unwrap_or(i64::MAX),
        total: i64::try_from(total).unwrap_or(i64::MAX),
    });
    match report.outcome {
        Ok(finished) => Done::Finish(JobFinish {
            id: job.id,
            node_id: node_id.to_owned(),
            attempt: Some(job.attempt),
            status: JobStatus::Completed,
            result: Some(job_result(finished.result)),
            message: Some(finished.message),
            details: Some(finished.details),
            logs,
            progress,
        }),
        Err(failure) if retryable(&failure) && job.attempt < job.max_attempts => {
            let at = retry_at(now, job.retry_backoff_secs, job.attempt);
            let message = format!(
                "attempt {} of {} failed: {failure}; retrying at {}",
                job.attempt,
                job.max_attempts,
                at.to_rfc3339()
            );
            Done::Retry(JobRetry {
                id: job.id,
                node_id: node_id.to_owned(),
                attempt: Some(job.attempt),
                at,
                message,
                logs,
                not_run: false,
            })
        }
        Err(failure) => failed(job, node_id, failure.to_string(), logs, progress),
    }
}

/// Whether another attempt could turn out differently. Bad params and unsupported
/// operations fail the same way every time, so retrying them only delays the answer.
fn retryable(failure: &JobFailure) -> bool {
    !matches!(
        failure,
        JobFailure::InvalidParams { .. } | JobFailure::Unsupported(_)
    )
}

/// When attempt `attempt + 1` is due: `backoff * 2^(attempt - 1)` after `now`, capped.
pub(crate) fn retry_at(now: DateTime<Utc>, backoff_secs: i64, attempt: i32) -> DateTime<Utc> {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let delay = backoff_secs
        .max(0)
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY_SECS);
    now + chrono::Duration::seconds(delay)
}

pub(crate) fn failed(
    job: &Job,
    node_id: &str,
    message: String,
    logs: Vec<serde_json::Value>,
    progress: Option<Progress>,
) -> Done {
    Done::Finish(JobFinish {
        id: job.id,
        node_id: node_id.to_owned(),
        attempt: Some(job.attempt),
        status: JobStatus::Failed,
        result: Some(JobResult::Failure),
        message: Some(message),
        details: None,
        logs,
        progress,
    })
}

/// The record for a job whose task died without reporting (a bug in the host).
pub(crate) fn crashed(id: Uuid, node_id: &str, attempt: Option<i32>, why: &str) -> Done {
    Done::Finish(JobFinish {
        id,
        node_id: node_id.to_owned(),
        attempt,
        status: JobStatus::Failed,
        result: Some(JobResult::Failure),
        message: Some(format!("the executor failed while running the job: {why}")),
        details: None,
        logs: Vec::new(),
        progress: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_attempt_and_is_capped() {
        let now = Utc::now();
        let secs = |attempt| (retry_at(now, 10, attempt) - now).num_seconds();
        assert_eq!(secs(1), 10);
        assert_eq!(secs(2), 20);
        assert_eq!(secs(3), 40);
        assert_eq!(secs(0), 10);
        assert_eq!(secs(1000), MAX_RETRY_DELAY_SECS);
        assert_eq!((retry_at(now, -5, 3) - now).num_seconds(), 0);
    }
}

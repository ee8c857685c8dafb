//! Job alerts, as a config asks for them (`alerts` of a job config): a failed attempt
//! (its plugin failed, or its node died while running it), a job that failed on its last
//! attempt, a fire time that passed without a job, and a due
//! job that waits for a dead node. Each is raised once (per attempt, per job, per fire
//! time, per job and last sight of the node).

use chrono::{DateTime, Utc};
use keywarden_db::{AlertKind, Database, Job, JobConfig, NewAlert, Node};
use serde_json::json;
use uuid::Uuid;

/// How an attempt of a job ended badly.
#[derive(Debug, Clone)]
pub struct JobFailure {
    pub job_id: Uuid,
    pub attempt: Option<i32>,
    pub message: String,
    /// No attempt follows.
    pub last: bool,
}

/// Raises the alerts `failures` call for, by their configs' wishes. Errors are logged:
/// an alert lost to a database fault must not fail the job's bookkeeping.
pub async fn failed(db: &dyn Database, failures: &[JobFailure]) {
    for f in failures {
        if let Err(e) = failed_one(db, f).await {
            tracing::warn!(job = %f.job_id, "raising the job's alert failed: {e}");
        }
    }
}

/// Raises the alerts of jobs lease recovery handled (their node died or stopped
/// renewing): each lost attempt is a failed attempt, and a job failed for it failed on
/// its last one. Jobs still queued for another attempt raise only `on_failure`.
pub async fn lost(db: &dyn Database, recovered: &[Job]) {
    let failures: Vec<JobFailure> = recovered
        .iter()
        .map(|job| JobFailure {
            job_id: job.id,
            attempt: Some(job.attempt),
            message: job.message.clone().unwrap_or_default(),
            last: job.status == keywarden_db::JobStatus::Failed,
        })
        .collect();
    failed(db, &failures).await;
}

async fn failed_one(db: &dyn Database, f: &JobFailure) -> keywarden_db::Result<()> {
    let Some(job) = db.get_job(None, f.job_id).await? else {
        return Ok(());
    };
    // A dry run's failure says nothing about the config's jobs: whoever asked for it
    // sees its outcome; nobody is alerted.
    if job.dry_run {
        return Ok(());
    }
    let Some(config_id) = job.job_config_id else {
        return Ok(());
    };
    let Some(config) = db.get_config(None, config_id).await? else {
        return Ok(());
    };
    let attempt = f.attempt.unwrap_or(job.attempt);
    let now = Utc::now();
    let alert = |kind: AlertKind, key: String, message: String| NewAlert {
        id: Uuid::now_v7(),
        account_id: job.account_id.clone(),
        kind,
        dedupe_key: key,
        subject: config.name.clone(),
        message,
        details: json!({
            "config": config.name,
            "operation": job.operation,
            "attempt": attempt,
            "max_attempts": job.max_attempts,
            "error": f.message,
        }),
        network_id: None,
        job_config_id: Some(config.id),
        job_id: Some(job.id),
        created_at: now,
    };
    let mut raised = Vec::new();
    if config.alerts.on_failure {
        raised.push(alert(
            AlertKind::JobFailed,
            format!("job_failed:{}:{attempt}", job.id),
            format!(
                "attempt {attempt} of {} of a job of {:?} failed: {}",
                job.max_attempts, config.name, f.message
            ),
        ));
    }
    if f.last && config.alerts.on_retries_exhausted {
        raised.push(alert(
            AlertKind::RetriesExhausted,
            format!("retries_exhausted:{}", job.id),
            format!(
                "a job of {:?} failed on its last attempt ({attempt} of {}): {}",
                config.name, job.max_attempts, f.message
            ),
        ));
    }
    db.raise_alerts(&raised).await.map(|_| ())
}

/// Raises the missed-run alert of `config` if it asks for one: its fire time `due`
/// passed without a job (`why`).
pub async fn missed(db: &dyn Database, config: &JobConfig, due: DateTime<Utc>, why: &str) {
    if !config.alerts.on_missed_run {
        return;
    }
    let alert = NewAlert {
        id: Uuid::now_v7(),
        account_id: config.account_id.clone(),
        kind: AlertKind::JobMissed,
        dedupe_key: format!("job_missed:{}:{}", config.id, due.timestamp_micros()),
        subject: config.name.clone(),
        message: format!("{:?} did not run at {due}: {why}", config.name),
        details: json!({"config": config.name, "operation": config.operation, "due": due, "reason": why}),
        network_id: None,
        job_config_id: Some(config.id),
        job_id: None,
        created_at: Utc::now(),
    };
    if let Err(e) = db.raise_alerts(&[alert]).await {
        tracing::warn!(config = %config.id, "raising the missed-run alert failed: {e}");
    }
}

/// Raises the alert of a due job that waits for `node`, which is not alive, when its
/// config asks for missed runs: the run it was fired for is not happening. Raised once
/// per job and last sight of the node (a node that comes back and dies again is news).
pub async fn waiting_for_node(db: &dyn Database, job: &Job, node: &Node) {
    let config = match job.job_config_id {
        Some(id) => db.get_config(None, id).await,
        None => return,
    };
    let config = match config {
        Ok(Some(c)) if c.alerts.on_missed_run => c,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(job = %job.id, "raising the waiting-for-node alert failed: {e}");
            return;
        }
    };
    let alert = NewAlert {
        id: Uuid::now_v7(),
        account_id: job.account_id.clone(),
        kind: AlertKind::NodeUnavailable,
        dedupe_key: format!(
            "node_unavailable:{}:{}",
            job.id,
            node.last_seen_at.timestamp_micros()
        ),
        subject: config.name.clone(),
        message: format!(
            "a job of {:?} due at {} {}",
            config.name,
            job.scheduled_for,
            job.message
                .as_deref()
                .unwrap_or("waits for a node that is not alive")
        ),
        details: json!({
            "config": config.name,
            "operation": job.operation,
            "due": job.scheduled_for,
            "node": node.id,
            "node_last_seen_at": node.last_seen_at,
        }),
        network_id: None,
        job_config_id: Some(config.id),
        job_id: Some(job.id),
        created_at: Utc::now(),
    };
    if let Err(e) = db.raise_alerts(&[alert]).await {
        tracing::warn!(job = %job.id, "raising the waiting-for-node alert failed: {e}");
    }
}

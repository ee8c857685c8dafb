//! The pause after too many failed runs: a config whose last `pause_after_failures` runs
//! all failed stops firing, records why, and raises a `config_paused` alert, so a schedule
//! that keeps failing (expired credentials, a store that is gone) does not fail every
//! night unnoticed. Resuming it (`disabled: false`) clears the record. Only runs that
//! ended after the config's last change count, so resuming or fixing it starts the count
//! again; any success among the last N breaks the streak.
//!
//! Decided from the stored outcomes when a job fails on its last attempt (a retried
//! attempt is not a failed run), so no counter has to be kept on every success, and two
//! nodes finishing failures at once pause the config once (compare-and-set on
//! `disabled`).

use chrono::Utc;
use keywarden_db::{AlertKind, Database, JobStatus, NewAlert};
use serde_json::json;
use uuid::Uuid;

/// Longest failure message quoted in the pause reason.
const QUOTED: usize = 300;

/// Pauses the configs of `failed` (jobs that failed on their last attempt, with their
/// messages) whose streak of failed runs reached their limit. Errors are logged: the
/// jobs' outcomes are already recorded.
pub async fn after_failures(db: &dyn Database, failed: &[(Uuid, String)]) {
    for (job, message) in failed {
        if let Err(e) = after_failure(db, *job, message).await {
            tracing::warn!(%job, "checking the config's failure streak failed: {e}");
        }
    }
}

async fn after_failure(db: &dyn Database, job_id: Uuid, message: &str) -> keywarden_db::Result<()> {
    let Some(config_id) = db
        .get_job(None, job_id)
        .await?
        .and_then(|j| j.job_config_id)
    else {
        return Ok(());
    };
    let Some(config) = db.get_config(None, config_id).await? else {
        return Ok(());
    };
    let limit = config.policy.pause_after_failures;
    if limit <= 0 || config.disabled {
        return Ok(());
    }
    // Runs since the config last changed: resuming or fixing it starts the count again.
    let outcomes = db
        .latest_outcomes(config.id, config.updated_at, i64::from(limit))
        .await?;
    if outcomes.len() < limit as usize || outcomes.iter().any(|s| *s != JobStatus::Failed) {
        return Ok(());
    }
    let quoted: String = message.chars().take(QUOTED).collect();
    let reason =
        format!("paused after {limit} failed runs in a row; the last failed with: {quoted}");
    let now = Utc::now();
    if !db.pause_config(config.id, &reason, now).await? {
        return Ok(());
    }
    tracing::warn!(config = %config.id, name = %config.name, "{reason}");
    let alert = NewAlert {
        id: Uuid::now_v7(),
        account_id: config.account_id.clone(),
        kind: AlertKind::ConfigPaused,
        dedupe_key: format!("config_paused:{}:{}", config.id, now.timestamp_micros()),
        subject: config.name.clone(),
        message: format!("{:?} {reason}", config.name),
        details: json!({
            "config": config.name,
            "operation": config.operation,
            "failed_runs": limit,
            "last_job": job_id,
            "error": quoted,
        }),
        network_id: None,
        job_config_id: Some(config.id),
        job_id: Some(job_id),
        created_at: now,
    };
    db.raise_alerts(&[alert]).await.map(|_| ())
}

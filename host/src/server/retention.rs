//! Job retention: finished jobs older than `[retention] finished_jobs_days` are deleted
//! and kept as counts, and stored payloads no job references any more are deleted. Runs
//! on every node; the database counts each purged job once however many nodes purge.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{Database, Purged};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::operator_config::RetentionConfig;

/// Jobs deleted per transaction: short transactions, so purging never holds the jobs
/// table for long.
const BATCH: i64 = 500;

/// Batches per pass: a huge backlog is worked off over several passes rather than in one
/// that keeps a node busy.
const MAX_BATCHES: usize = 200;

/// How long a payload is kept after it was last stored even when no job names it: the
/// request that stored it may not have queued its jobs yet.
const PAYLOAD_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// Starts the purge loop (the first pass at once), or nothing when retention is off.
pub fn spawn(
    db: Arc<dyn Database>,
    config: RetentionConfig,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    if config.finished_jobs_days == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(config.interval_secs.max(1)));
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => match purge(&*db, &config, &stop).await {
                    Ok(p) if p != Purged::default() => tracing::info!(
                        jobs = p.jobs,
                        payloads = p.payloads,
                        ssl_history = p.ssl_history,
                        alerts = p.alerts,
                        "purged finished jobs past retention"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("job retention purge failed: {e}"),
                },
            }
        }
    }))
}

/// One pass: finished jobs that ended more than the retention ago, then orphaned payloads.
pub async fn purge(
    db: &dyn Database,
    config: &RetentionConfig,
    stop: &CancellationToken,
) -> keywarden_db::Result<Purged> {
    let now = Utc::now();
    // A retention longer than time goes back keeps every job.
    let before = chrono::Duration::try_days(i64::from(config.finished_jobs_days))
        .and_then(|age| now.checked_sub_signed(age));
    let mut purged = Purged::default();
    if let Some(before) = before {
        (purged.ssl_history, purged.alerts) = db.purge_ssl_history_and_alerts(before).await?;
        for _ in 0..MAX_BATCHES {
            let n = db.purge_finished_jobs(before, BATCH).await?;
            purged.jobs += n;
            if n < BATCH.unsigned_abs() || stop.is_cancelled() {
                break;
            }
        }
    }
    purged.payloads = db.purge_unreferenced_payloads(now - PAYLOAD_GRACE).await?;
    Ok(purged)
}

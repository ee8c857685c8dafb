//! Background duties of an executor besides running jobs: renewing the leases of its
//! jobs, recovering jobs of dead nodes, announcing itself, and saving progress.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{ExecutorConfig, Shared};
use crate::runtime::observer::JobObserver;

/// How often reported progress is written: often enough for a progress bar, rarely
/// enough that a chatty plugin does not turn into a write per call.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Leases renewed per store call.
const RENEW_CHUNK: usize = 500;

/// Runs until `stop` is cancelled. Started before the first claim and stopped after the
/// last outcome is written, so no job of this node loses its lease while it runs.
pub(crate) async fn run(shared: Arc<Shared>, cfg: ExecutorConfig, stop: CancellationToken) {
    let every = |d: Duration| {
        let mut i = tokio::time::interval(d.max(Duration::from_millis(10)));
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    };
    let mut renew = every(cfg.lease / 3);
    let mut recover = every(cfg.recovery_interval);
    let mut heartbeat = every(cfg.heartbeat_interval);
    let mut progress = every(PROGRESS_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = renew.tick() => renew_leases(&shared, cfg.lease).await,
            _ = recover.tick() => recover_leases(&shared).await,
            _ = heartbeat.tick() => {
                if let Err(e) = shared.db.heartbeat(&shared.node_id, Utc::now()).await {
                    tracing::warn!(node = %shared.node_id, "heartbeat failed: {e}");
                }
            }
            _ = progress.tick() => save_progress(&shared).await,
        }
    }
}

async fn renew_leases(shared: &Shared, lease: Duration) {
    let ids = shared.running_attempts();
    let until =
        Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    for chunk in ids.chunks(RENEW_CHUNK) {
        let _writing = shared.batch_writes.lock().await;
        if let Err(e) = shared.db.renew_leases(&shared.node_id, chunk, until).await {
            tracing::warn!(jobs = chunk.len(), "renewing job leases failed: {e}");
        }
    }
}

/// Any node may recover any node's expired leases; the store makes it idempotent (each
/// job is returned to one node, which raises its alerts).
async fn recover_leases(shared: &Shared) {
    match shared.db.recover_expired_leases(Utc::now()).await {
        Ok(jobs) => {
            if !jobs.is_empty() {
                shared.events.queued();
            }
            crate::alerts::jobs::lost(shared.db.as_ref(), &jobs).await;
            for job in jobs {
                tracing::warn!(
                    job = %job.id,
                    node = job.processing_node.as_deref().unwrap_or("?"),
                    status = %job.status,
                    "recovered a job whose lease expired"
                );
            }
        }
        Err(e) => tracing::warn!("lease recovery failed: {e}"),
    }
}

async fn save_progress(shared: &Shared) {
    let pending = shared.take_progress();
    for (id, (done, total)) in pending {
        let (done, total) = (
            i64::try_from(done).unwrap_or(i64::MAX),
            i64::try_from(total).unwrap_or(i64::MAX),
        );
        if let Err(e) = shared.db.update_progress(id, done, total).await {
            tracing::debug!(job = %id, "saving progress failed: {e}");
        }
    }
}

/// Remembers the latest progress of one job (saved by the upkeep task), publishes its
/// progress and log lines as they come and counts what the metrics want; never blocks
/// on the store.
pub(crate) struct ProgressObserver {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: uuid::Uuid,
}

impl JobObserver for ProgressObserver {
    fn progress(&self, done: u64, total: u64) {
        self.shared.note_progress(self.id, done, total);
        self.shared.events.progress(self.id, done, total);
    }

    fn log(&self, line: &crate::runtime::capabilities::log::LogLine) {
        self.shared.events.log(self.id, line);
    }

    fn instantiated(&self, plugin: &str, took: std::time::Duration) {
        self.shared.metrics.instantiated(plugin, took);
    }

    fn failed(&self, plugin: &str, failure: &crate::runtime::invoke::JobFailure) {
        self.shared.metrics.plugin_failed(plugin, failure);
    }
}

//! Watches for jobs stuck behind a dead node: once a heartbeat, every node asks the
//! domain to tell the due, queued jobs pinned to a node that is not alive that they wait
//! for it (and to raise their configs' missed-run alerts). Without this a config pinned
//! to a stopped node would queue jobs nobody runs and nobody sees.

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::domain::Service;

/// Starts the watch (the first look at once); it ends when `stop` is cancelled.
pub fn spawn(service: Service, every: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = service.tell_jobs_waiting_for_dead_nodes(Utc::now()).await {
                        tracing::warn!("looking for jobs waiting on dead nodes failed: {e}");
                    }
                }
            }
        }
    })
}

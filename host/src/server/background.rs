//! The node's background work next to the HTTP API: the scheduler loop (fires due configs
//! into jobs) and the executor (claims and runs jobs). Kept behind these two functions so
//! `serve` does not change when either grows.

use std::sync::Arc;

use keywarden_db::Database;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::executor::{self, ExecutorConfig, StoreState};
use crate::plugins::PluginRegistry;
use crate::runtime::capabilities::state::StateBackend;
use crate::scheduler::tick::{SchedulerLoop, Timing};

/// Where plugins keep durable state: the database, so it survives restarts and is shared
/// by every node.
pub fn state_backend(db: Arc<dyn Database>) -> Arc<dyn StateBackend> {
    Arc::new(StoreState(db))
}

/// Starts the scheduler (on `config`'s node) and the executor; both stop soon after
/// `stop` is cancelled and the returned handles end when they have (the executor after
/// draining its running jobs for up to `config.drain_timeout`).
pub fn start(
    db: &Arc<dyn Database>,
    registry: &Arc<PluginRegistry>,
    timing: Timing,
    config: ExecutorConfig,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let scheduler = SchedulerLoop::spawn_measured(
        db.clone(),
        config.node_id.clone(),
        timing,
        stop.clone(),
        config.metrics.clone(),
        crate::tenancy::config::account_policies(&registry.runtime().config().accounts),
        config.events.clone(),
    );
    let executor = executor::spawn(db.clone(), registry.clone(), config, stop.clone());
    vec![scheduler, executor]
}

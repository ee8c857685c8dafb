//! The scheduler loop: every tick, turn due job configs into queued jobs.
//!
//! The loop only *enqueues*; executors claim and run. Correctness across nodes and
//! restarts rests on [`Store::fire_config`], a compare-and-set of `next_fire_at` in the
//! same transaction as the insert: a fire is enqueued exactly once, whichever node or
//! tick gets there first, and a crash between computing and storing loses nothing
//! (the next tick sees the same `next_fire_at` and plans the same fires).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keywarden_db::{Database, JobConfig, NewJob, Overlap};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::fire_times::{Schedule, Window, plan_fires};
use crate::metrics::Metrics;

/// Default tick: short enough that per-second crons fire on time.
pub const DEFAULT_TICK: Duration = Duration::from_millis(200);

/// Most fires one config may enqueue in one tick (caps `catch_up = all` after an outage).
pub const MAX_FIRES_PER_TICK: usize = 100;

/// Configs read per `due_configs` query; a tick repeats the query while pages are full.
const DUE_PAGE: i64 = 500;

/// Upper bound on pages per tick, so a config that keeps coming back due (a database error
/// on every fire) cannot keep one tick busy forever.
const MAX_PAGES_PER_TICK: usize = 20;

/// Runs [`tick_once`] every `tick` until cancelled.
#[derive(Debug)]
pub struct SchedulerLoop;

impl SchedulerLoop {
    /// Starts the loop on the current tokio runtime. The task ends soon after `shutdown`
    /// is cancelled (at most one tick's work later). `node_id` is only for logs: any node
    /// may fire any config, the database's compare-and-set keeps fires unique.
    pub fn spawn(
        db: Arc<dyn Database>,
        node_id: String,
        tick: Duration,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        Self::spawn_measured(db, node_id, tick, shutdown, Metrics::default())
    }

    /// [`SchedulerLoop::spawn`], observing each fire's lag into `metrics`.
    pub fn spawn_measured(
        db: Arc<dyn Database>,
        node_id: String,
        tick: Duration,
        shutdown: CancellationToken,
        metrics: Metrics,
    ) -> JoinHandle<()> {
        let tick = tick.max(Duration::from_millis(10));
        tokio::spawn(async move {
            tracing::info!(node = %node_id, ?tick, "scheduler started");
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = interval.tick() => {}
                }
                match tick_with(db.as_ref(), Utc::now(), grace_for(tick), Some(&metrics)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(node = %node_id, jobs = n, "scheduler enqueued jobs"),
                    Err(e) => tracing::warn!(node = %node_id, "scheduler tick failed: {e}"),
                }
            }
            tracing::info!(node = %node_id, "scheduler stopped");
        })
    }
}

/// How late a fire may be and still count as on time for `catch_up = skip`: two ticks,
/// so ordinary tick jitter never drops a fire.
pub fn grace_for(tick: Duration) -> Duration {
    tick.saturating_mul(2)
}

/// One scheduler round at `now`: fires every due config and returns how many jobs it
/// enqueued. `grace` is the on-time allowance of `catch_up = skip` (see [`grace_for`]).
/// Errors on single configs are logged and skipped; only failing to list due configs
/// is an error.
pub async fn tick_once(
    db: &dyn Database,
    now: DateTime<Utc>,
    grace: Duration,
) -> keywarden_db::Result<usize> {
    tick_with(db, now, grace, None).await
}

async fn tick_with(
    db: &dyn Database,
    now: DateTime<Utc>,
    grace: Duration,
    metrics: Option<&Metrics>,
) -> keywarden_db::Result<usize> {
    let mut inserted = 0;
    for _ in 0..MAX_PAGES_PER_TICK {
        let due = db.due_configs(now, DUE_PAGE).await?;
        for config in &due {
            match fire_one(db, config, now, grace, metrics).await {
                Ok(n) => inserted += n,
                Err(e) => {
                    tracing::warn!(config = %config.id, name = %config.name, "firing the config failed: {e}")
                }
            }
        }
        if due.len() < DUE_PAGE as usize {
            break;
        }
    }
    Ok(inserted)
}

/// Fires one due config; returns the jobs enqueued (0 if another scheduler won the race).
async fn fire_one(
    db: &dyn Database,
    config: &JobConfig,
    now: DateTime<Utc>,
    grace: Duration,
    metrics: Option<&Metrics>,
) -> keywarden_db::Result<usize> {
    let Some(expected) = config.next_fire_at else {
        return Ok(0);
    };
    let schedule = match Schedule::parse(&config.run_at, config.timezone.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            // Validated on create, so this means a stored config predates a rule change.
            // Stop it rather than fail every tick; an edit re-arms it.
            tracing::error!(config = %config.id, name = %config.name, "schedule no longer valid, config will not fire: {e}");
            db.set_next_fire(config.id, None).await?;
            return Ok(0);
        }
    };
    let window = Window {
        start: config.start_date,
        end: config.end_date,
    };
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::seconds(1));
    let plan = plan_fires(
        &schedule,
        window,
        expected,
        now,
        config.catch_up,
        grace,
        MAX_FIRES_PER_TICK,
    );
    let mut fires = plan.fires;
    // A fire time inside the window that yields no job was missed (too late to count
    // as on time under `catch_up = skip`).
    let mut missed_because = (fires.is_empty()
        && config.catch_up == keywarden_db::CatchUp::Skip
        && window.contains(expected))
    .then_some("it came while no scheduler ran, and catch_up = skip");
    // Overlap is judged against jobs of earlier rounds; the fires of one catch-up round
    // are enqueued together as the catch-up policy asked.
    if !fires.is_empty()
        && config.overlap == Overlap::Skip
        && db.has_unfinished_job(config.id).await?
    {
        tracing::info!(config = %config.id, name = %config.name, skipped = fires.len(), "previous run unfinished; skipping this fire (overlap = skip)");
        fires.clear();
        missed_because = Some("the previous job was still running (overlap = skip)");
    }
    // Target and schedule kind come from the config, where they were computed once.
    let jobs: Vec<NewJob> = fires
        .into_iter()
        .map(|at| NewJob::from_config(config, at, now))
        .collect();
    if db
        .fire_config(config.id, Some(expected), plan.next_fire, &jobs)
        .await?
    {
        if let Some(metrics) = metrics {
            let enqueued = Utc::now();
            for job in &jobs {
                metrics.fired((enqueued - job.scheduled_for).to_std().unwrap_or_default());
            }
        }
        if let Some(why) = missed_because {
            crate::alerts::jobs::missed(db, config, expected, why).await;
        }
        Ok(jobs.len())
    } else {
        tracing::debug!(config = %config.id, "config already fired by another scheduler");
        Ok(0)
    }
}

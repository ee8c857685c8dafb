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
use super::gate::{AccountPolicies, Gate};
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
        Self::spawn_measured(
            db,
            node_id,
            tick,
            shutdown,
            Metrics::default(),
            AccountPolicies::default(),
        )
    }

    /// [`SchedulerLoop::spawn`], observing each fire's lag into `metrics` and applying the
    /// accounts' windows of `policies`.
    pub fn spawn_measured(
        db: Arc<dyn Database>,
        node_id: String,
        tick: Duration,
        shutdown: CancellationToken,
        metrics: Metrics,
        policies: AccountPolicies,
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
                let firing = Firing {
                    db: db.as_ref(),
                    policies: &policies,
                    metrics: Some(&metrics),
                };
                match firing.tick(Utc::now(), grace_for(tick)).await {
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
/// is an error. No account windows apply (see [`tick_with_policies`]).
pub async fn tick_once(
    db: &dyn Database,
    now: DateTime<Utc>,
    grace: Duration,
) -> keywarden_db::Result<usize> {
    tick_with_policies(db, &AccountPolicies::default(), now, grace).await
}

/// [`tick_once`] with the accounts' windows of `policies`.
pub async fn tick_with_policies(
    db: &dyn Database,
    policies: &AccountPolicies,
    now: DateTime<Utc>,
    grace: Duration,
) -> keywarden_db::Result<usize> {
    let firing = Firing {
        db,
        policies,
        metrics: None,
    };
    firing.tick(now, grace).await
}

/// What one round of firing works with.
struct Firing<'a> {
    db: &'a dyn Database,
    policies: &'a AccountPolicies,
    metrics: Option<&'a Metrics>,
}

impl Firing<'_> {
    async fn tick(&self, now: DateTime<Utc>, grace: Duration) -> keywarden_db::Result<usize> {
        let db = self.db;
        let mut inserted = 0;
        for _ in 0..MAX_PAGES_PER_TICK {
            let due = db.due_configs(now, DUE_PAGE).await?;
            for config in &due {
                match self.fire_one(config, now, grace).await {
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
        &self,
        config: &JobConfig,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> keywarden_db::Result<usize> {
        let db = self.db;
        let Some(expected) = config.next_fire_at else {
            return Ok(0);
        };
        let schedule =
            Schedule::parse(&config.run_at, config.timezone.as_deref()).map_err(|e| e.to_string());
        let gate = Gate::of(config, self.policies.get(&config.account_id))
            .map_err(|e| format!("{}: {}", e.path(), e.reason));
        let (schedule, gate) = match (schedule, gate) {
            (Ok(s), Ok(g)) => (s, g),
            (Err(e), _) | (_, Err(e)) => {
                // Validated on create, so this means a stored config predates a rule change
                // (or its account's windows changed). Stop it rather than fail every tick;
                // an edit re-arms it.
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
        let mut missed_at = expected;
        // Overlap is judged against jobs of earlier rounds; the fires of one catch-up round
        // are enqueued together as the catch-up policy asked.
        if !fires.is_empty()
            && config.overlap == Overlap::Skip
            && db.has_unfinished_job(config.id).await?
        {
            tracing::info!(config = %config.id, name = %config.name, skipped = fires.len(), "previous run unfinished; skipping this fire (overlap = skip)");
            fires.clear();
            missed_because =
                Some("the previous job was still running or waiting to start (overlap = skip)");
        }
        // Each fire starts at its jitter, inside the windows: deferred to the next opening,
        // or dropped under `catch_up = skip`. Target and schedule kind come from the config,
        // where they were computed once.
        let defer = Gate::defers(config.catch_up);
        let mut jobs: Vec<NewJob> = Vec::with_capacity(fires.len());
        for &fire in &fires {
            match gate.start(fire, defer) {
                Some(start) => {
                    let mut job = NewJob::from_config(config, start.at, now);
                    job.start_by = start.by;
                    jobs.push(job);
                }
                None => {
                    missed_at = fire;
                    missed_because = Some(if defer {
                        "no maintenance window opens within 400 days"
                    } else {
                        "it fell outside the maintenance windows (or inside a blackout), and catch_up = skip"
                    });
                }
            }
        }
        if db
            .fire_config(config.id, Some(expected), plan.next_fire, &jobs)
            .await?
        {
            if let Some(metrics) = self.metrics {
                let enqueued = Utc::now();
                for fire in fires.iter().take(jobs.len()) {
                    metrics.fired((enqueued - *fire).to_std().unwrap_or_default());
                }
            }
            if let Some(why) = missed_because {
                crate::alerts::jobs::missed(db, config, missed_at, why).await;
            }
            Ok(jobs.len())
        } else {
            tracing::debug!(config = %config.id, "config already fired by another scheduler");
            Ok(0)
        }
    }
}

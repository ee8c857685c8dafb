//! The scheduler loop: every tick, turn due job configs into queued jobs.
//!
//! The loop only *enqueues*; executors claim and run. Correctness across nodes and
//! restarts rests on [`Database::fire_configs`], a compare-and-set of `next_fire_at` in
//! the same transaction as the insert: a fire is enqueued exactly once, whichever node or
//! tick gets there first, and a crash between computing and storing loses nothing
//! (the next tick sees the same `next_fire_at` and plans the same fires).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keywarden_db::{ConfigFire, Database, JobConfig, NewJob, Overlap};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::fire_times::{FirePlan, Schedule, Window, first_fire, plan_fires};
use super::gate::{AccountPolicies, Gate};
use crate::events::JobEvents;
use crate::metrics::Metrics;

/// Default tick: short enough that per-second crons fire on time.
pub const DEFAULT_TICK: Duration = Duration::from_millis(200);

/// How long before its time a fire is queued by default (see [`Timing::fire_ahead`]).
pub const DEFAULT_FIRE_AHEAD: Duration = Duration::from_secs(2);

/// When the scheduler loop looks for due configs, and how far ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The wait between rounds (on the wall clock's grid).
    pub tick: Duration,
    /// A config whose next fire comes within this is fired now: its job is queued due at
    /// the fire time, and the node that queued it starts it then. The firing's database
    /// work (the compare-and-set, the overlap check, the insert) is done before the
    /// fire's second, so ten thousand configs on one schedule start on time instead of
    /// waiting for their own firing. A round queues one fire per config; one with
    /// `overlap = skip` whose earlier job is unfinished waits for its time and is judged
    /// then, as without fire-ahead. Zero fires only what is due.
    pub fire_ahead: Duration,
}

impl Timing {
    /// Rounds every `tick`, firing [`DEFAULT_FIRE_AHEAD`] ahead.
    pub fn every(tick: Duration) -> Self {
        Self {
            tick,
            fire_ahead: DEFAULT_FIRE_AHEAD,
        }
    }
}

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
        timing: Timing,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        Self::spawn_measured(
            db,
            node_id,
            timing,
            shutdown,
            Metrics::default(),
            AccountPolicies::default(),
            JobEvents::default(),
        )
    }

    /// [`SchedulerLoop::spawn`], observing each fire's lag into `metrics`, applying the
    /// accounts' windows of `policies`, and telling this node's executor through `events`
    /// as soon as a page of fires is queued.
    pub fn spawn_measured(
        db: Arc<dyn Database>,
        node_id: String,
        timing: Timing,
        shutdown: CancellationToken,
        metrics: Metrics,
        policies: AccountPolicies,
        events: JobEvents,
    ) -> JoinHandle<()> {
        let tick = timing.tick.max(Duration::from_millis(10));
        let ahead = chrono::Duration::from_std(timing.fire_ahead).unwrap_or_default();
        tokio::spawn(async move {
            tracing::info!(node = %node_id, ?tick, fire_ahead = ?timing.fire_ahead, "scheduler started");
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(until_next_tick(tick, Utc::now())) => {}
                }
                let firing = Firing {
                    db: db.as_ref(),
                    policies: &policies,
                    ahead,
                    metrics: Some(&metrics),
                    events: Some(&events),
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

/// The wait until the next multiple of `tick` on the wall clock (a millisecond past it).
/// Cron fires fall on whole seconds, so ticks on the clock's grid meet them as they come
/// due instead of up to a tick later; every node ticks on the same grid.
fn until_next_tick(tick: Duration, now: DateTime<Utc>) -> Duration {
    let tick_ms = i64::try_from(tick.as_millis()).unwrap_or(i64::MAX).max(1);
    let into = now.timestamp_millis().rem_euclid(tick_ms);
    Duration::from_millis(u64::try_from(tick_ms - into).unwrap_or(0) + 1)
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
    tick_ahead(db, policies, now, grace, Duration::ZERO).await
}

/// [`tick_with_policies`], also firing configs whose next fire comes within `ahead`
/// (see [`Timing::fire_ahead`]).
pub async fn tick_ahead(
    db: &dyn Database,
    policies: &AccountPolicies,
    now: DateTime<Utc>,
    grace: Duration,
    ahead: Duration,
) -> keywarden_db::Result<usize> {
    let firing = Firing {
        db,
        policies,
        ahead: chrono::Duration::from_std(ahead).unwrap_or_default(),
        metrics: None,
        events: None,
    };
    firing.tick(now, grace).await
}

/// What one round of firing works with.
struct Firing<'a> {
    db: &'a dyn Database,
    policies: &'a AccountPolicies,
    /// Configs whose next fire comes within this are fired now ([`Timing::fire_ahead`]).
    ahead: chrono::Duration,
    metrics: Option<&'a Metrics>,
    /// Told of each page's jobs as the page is stored, so the executor starts the due
    /// ones before the tick has fired every page, and the others as they come due.
    events: Option<&'a JobEvents>,
}

impl Firing<'_> {
    async fn tick(&self, now: DateTime<Utc>, grace: Duration) -> keywarden_db::Result<usize> {
        let db = self.db;
        let horizon = now + self.ahead;
        let mut inserted = 0;
        // Pages are read on from where the last one ended, so configs held back until
        // their time do not fill every page. A config fired ahead in this round may sort
        // after the cursor again (its next fire still within the horizon): it is not
        // fired twice in one round, so a round queues only the next fire of each.
        let mut after = None;
        let mut seen: HashSet<Uuid> = HashSet::new();
        for _ in 0..MAX_PAGES_PER_TICK {
            let read = db.due_configs(horizon, after, DUE_PAGE).await?;
            let Some(last) = read.last() else { break };
            after = last.next_fire_at.map(|at| (at, last.id));
            let full = read.len() == DUE_PAGE as usize;
            let due: Vec<JobConfig> = read.into_iter().filter(|c| seen.insert(c.id)).collect();
            inserted += self.fire_page(&due, now, grace).await;
            if !full {
                break;
            }
        }
        Ok(inserted)
    }

    /// Fires a page of due configs in one transaction ([`Database::fire_configs`]): ten
    /// thousand configs firing in one minute are enqueued in a few statements, not ten
    /// thousand transactions. If the page's write fails, each config is fired alone, so
    /// one config that cannot be fired does not hold back the others.
    async fn fire_page(&self, due: &[JobConfig], now: DateTime<Utc>, grace: Duration) -> usize {
        let mut plans = Vec::with_capacity(due.len());
        for config in due {
            match self.plan(config, now, grace).await {
                Ok(Some(plan)) => plans.push(plan),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(config = %config.id, name = %config.name, "firing the config failed: {e}")
                }
            }
        }
        // Overlap is judged against jobs of earlier rounds, for the page in one query; the
        // fires of one catch-up round are enqueued together as the catch-up policy asked.
        let ask: Vec<Uuid> = plans
            .iter()
            .filter(|p| !p.fires.is_empty() && p.config.overlap == Overlap::Skip)
            .map(|p| p.config.id)
            .collect();
        let busy: HashSet<Uuid> = if ask.is_empty() {
            HashSet::new()
        } else {
            match self.db.unfinished_configs(&ask).await {
                Ok(ids) => ids.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(
                        "firing due configs failed (reading their unfinished jobs): {e}"
                    );
                    return 0;
                }
            }
        };
        let fires: Vec<(Plan, ConfigFire)> = plans
            .into_iter()
            .filter_map(|mut plan| {
                if busy.contains(&plan.config.id) {
                    if plan.ahead {
                        // Not its time yet: the earlier job may still end before it.
                        return None;
                    }
                    tracing::info!(config = %plan.config.id, name = %plan.config.name, skipped = plan.fires.len(), "previous run unfinished; skipping this fire (overlap = skip)");
                    plan.fires.clear();
                    plan.missed_because = Some(
                        "the previous job was still running or waiting to start (overlap = skip)",
                    );
                }
                let fire = plan.jobs(now);
                Some((plan, fire))
            })
            .collect();
        let batch: Vec<ConfigFire> = fires.iter().map(|(_, f)| f.clone()).collect();
        let fired: HashSet<Uuid> = match self.db.fire_configs(&batch).await {
            Ok(ids) => ids.into_iter().collect(),
            Err(e) => {
                tracing::warn!(
                    configs = batch.len(),
                    "firing a page of due configs failed, firing them one by one: {e}"
                );
                let mut fired = HashSet::new();
                for f in &batch {
                    match self
                        .db
                        .fire_config(f.config_id, Some(f.expected), f.next, &f.jobs)
                        .await
                    {
                        Ok(true) => {
                            fired.insert(f.config_id);
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(config = %f.config_id, "firing the config failed: {e}")
                        }
                    }
                }
                fired
            }
        };
        let enqueued_at = Utc::now();
        let mut inserted = 0;
        for (plan, fire) in &fires {
            if !fired.contains(&fire.config_id) {
                tracing::debug!(config = %fire.config_id, "config already fired by another scheduler");
                continue;
            }
            inserted += fire.jobs.len();
            if let Some(events) = self.events {
                events.queued_for(fire.jobs.iter().map(|j| j.scheduled_for));
            }
            if let Some(metrics) = self.metrics {
                for at in plan.fires.iter().take(fire.jobs.len()) {
                    metrics.fired((enqueued_at - *at).to_std().unwrap_or_default());
                }
            }
            if let Some(why) = plan.missed_because {
                crate::alerts::jobs::missed(self.db, plan.config, plan.missed_at, why).await;
            }
        }
        inserted
    }

    /// What firing one due config means at `now`: its fire times and next fire, or
    /// `None` when it will not fire (its stored schedule no longer parses: it is stopped).
    async fn plan<'c>(
        &self,
        config: &'c JobConfig,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> keywarden_db::Result<Option<Plan<'c>>> {
        let Some(expected) = config.next_fire_at else {
            return Ok(None);
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
                self.db.set_next_fire(config.id, None).await?;
                return Ok(None);
            }
        };
        let window = Window {
            start: config.start_date,
            end: config.end_date,
        };
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::seconds(1));
        // Not due yet: fired ahead (the loop only reads configs due within `ahead`), this
        // one fire, on time by definition.
        let ahead = expected > now;
        let plan = if ahead {
            FirePlan {
                fires: if window.contains(expected) {
                    vec![expected]
                } else {
                    Vec::new()
                },
                next_fire: first_fire(&schedule, window, expected),
            }
        } else {
            plan_fires(
                &schedule,
                window,
                expected,
                now,
                config.catch_up,
                grace,
                MAX_FIRES_PER_TICK,
            )
        };
        // A fire time inside the window that yields no job was missed (too late to count
        // as on time under `catch_up = skip`).
        let missed_because = (plan.fires.is_empty()
            && config.catch_up == keywarden_db::CatchUp::Skip
            && window.contains(expected))
        .then_some("it came while no scheduler ran, and catch_up = skip");
        Ok(Some(Plan {
            config,
            expected,
            ahead,
            next: plan.next_fire,
            fires: plan.fires,
            gate,
            missed_because,
            missed_at: expected,
        }))
    }
}

/// One due config's fires, planned.
struct Plan<'c> {
    config: &'c JobConfig,
    /// The `next_fire_at` the plan was made from (the compare of the compare-and-set).
    expected: DateTime<Utc>,
    /// Fired before its time ([`Timing::fire_ahead`]).
    ahead: bool,
    next: Option<DateTime<Utc>>,
    fires: Vec<DateTime<Utc>>,
    gate: Gate,
    /// Why a fire yields no job (a `job_missed` alert once the fire is stored), and when.
    missed_because: Option<&'static str>,
    missed_at: DateTime<Utc>,
}

impl Plan<'_> {
    /// The jobs of the fires: each starts at its jitter, inside the windows, deferred to
    /// the next opening or dropped under `catch_up = skip`. Target and schedule kind come
    /// from the config, where they were computed once.
    fn jobs(&mut self, now: DateTime<Utc>) -> ConfigFire {
        let defer = Gate::defers(self.config.catch_up);
        let mut jobs: Vec<NewJob> = Vec::with_capacity(self.fires.len());
        for &fire in &self.fires {
            match self.gate.start(fire, defer) {
                Some(start) => {
                    let mut job = NewJob::from_config(self.config, start.at, now);
                    job.start_by = start.by;
                    jobs.push(job);
                }
                None => {
                    self.missed_at = fire;
                    self.missed_because = Some(if defer {
                        "no maintenance window opens within 400 days"
                    } else {
                        "it fell outside the maintenance windows (or inside a blackout), and catch_up = skip"
                    });
                }
            }
        }
        ConfigFire {
            config_id: self.config.id,
            expected: self.expected,
            next: self.next,
            jobs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ticks_fall_on_the_clock_grid() {
        let tick = Duration::from_millis(200);
        let at = |ms: i64| Utc.timestamp_millis_opt(1_700_000_000_000 + ms).unwrap();
        assert_eq!(until_next_tick(tick, at(0)), Duration::from_millis(201));
        assert_eq!(until_next_tick(tick, at(1)), Duration::from_millis(200));
        assert_eq!(until_next_tick(tick, at(199)), Duration::from_millis(2));
        assert_eq!(
            until_next_tick(Duration::from_secs(1), at(999)),
            Duration::from_millis(2)
        );
    }
}

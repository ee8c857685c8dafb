//! The executor: claims queued jobs from the store and runs each as a plugin call.
//!
//! One loop per node claims up to `concurrency` jobs at a time (each claim holds a lease),
//! one task per job runs the plugin, a finisher writes outcomes in batches, and an upkeep
//! task renews leases, recovers jobs of dead nodes, heartbeats and saves progress.
//!
//! # Shutdown
//! When the shutdown token is cancelled the loop stops claiming, lets running jobs finish
//! for up to [`ExecutorConfig::drain_timeout`], writes their outcomes and returns. Jobs
//! still running at the deadline are abandoned with their lease: once it expires, lease
//! recovery on any node (this one after a restart) requeues them, or fails them if their
//! attempts are used up. Nothing is left `running` for good.
//!
//! # Start
//! Before its first claim the executor recovers the jobs the store still shows running
//! on its own node id: they belong to an earlier process with that id that was killed,
//! so they are requeued (or failed once their attempts are used up) at once instead of
//! after their lease expires.

mod fair_share;
pub(crate) mod family_data;
mod file_modes;
mod finisher;
mod host_job;
pub(crate) mod job;
mod state;
pub(crate) mod store_job;
mod target_lock;
mod upkeep;
mod window_check;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{Database, Job};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use self::state::StoreState;
use crate::plugins::PluginRegistry;
use fair_share::{ClaimPlan, FairShare};

/// How an executor runs. Build with [`ExecutorConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// This node's id: claims, leases and `processing_node` carry it.
    pub node_id: String,
    /// Jobs run at once on this node.
    pub concurrency: usize,
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// Wait between claims once the queue ran dry.
    pub poll: Duration,
    /// Longest wait between claims while the queue stays empty: the wait doubles from
    /// `poll` up to this. Jobs queued in this process wake the executor at once (see
    /// [`crate::events::JobEvents::queued`]); this bounds how late it finds jobs queued
    /// by other nodes, retries coming due and recovered jobs, and sets what an idle node
    /// costs.
    pub idle_poll: Duration,
    /// Most jobs claimed in one database call.
    pub batch: usize,
    /// How long running jobs may take to finish after shutdown was requested.
    pub drain_timeout: Duration,
    /// How often expired leases (of any node) are recovered.
    pub recovery_interval: Duration,
    /// How often this node records that it is alive.
    pub heartbeat_interval: Duration,
    /// Most outcomes written in one `finish_jobs_audited` call.
    pub finish_batch: usize,
    /// How long the finisher waits for more outcomes before writing a partial batch.
    pub finish_window: Duration,
    /// The share of this node's slots one account's jobs may hold while other accounts'
    /// jobs wait (0 to 1; 1 turns fair claiming off). Beyond it an account only gets
    /// slots nobody else asks for, and a few slots stay free for others' next jobs.
    pub account_share: f64,
    /// Where running jobs' progress, log lines and state changes are published.
    pub events: crate::events::JobEvents,
    /// What the executor counts (jobs finished, durations, plugin failures).
    pub metrics: crate::metrics::Metrics,
}

/// The log target of the one line per job start and end (shown by default, so a log
/// pipeline can follow every job by its id).
pub const JOB_LOG_TARGET: &str = "keywarden::jobs";

/// The log target of the node's start and stop lines (shown by default too).
pub const LIFECYCLE_LOG_TARGET: &str = "keywarden::lifecycle";

/// One account's share of a node's slots by default.
pub const DEFAULT_ACCOUNT_SHARE: f64 = 0.5;

impl ExecutorConfig {
    /// Defaults for a node: 16 jobs at once, 30 s leases, 50 ms polling that slows to
    /// once a second while idle.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            concurrency: 16,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(50),
            idle_poll: Duration::from_secs(1),
            batch: 256,
            drain_timeout: Duration::from_secs(30),
            recovery_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(10),
            finish_batch: 1000,
            finish_window: Duration::from_millis(2),
            account_share: DEFAULT_ACCOUNT_SHARE,
            events: crate::events::JobEvents::default(),
            metrics: crate::metrics::Metrics::default(),
        }
    }
}

/// State the executor's tasks share.
pub(crate) struct Shared {
    db: Arc<dyn Database>,
    node_id: String,
    /// Jobs claimed by this node whose outcome is not written yet: their leases renew.
    running: Mutex<Running>,
    /// Latest unsaved progress per job.
    progress: Mutex<HashMap<Uuid, (u64, u64)>>,
    /// Taken for each batch write of this node's running jobs (outcomes, lease renewals).
    /// Both lock a batch of the same rows in the database; one after the other, neither
    /// waits there for the other, and a renewal never holds a batch of outcomes back
    /// while it waits for rows an earlier batch still holds.
    batch_writes: tokio::sync::Mutex<()>,
    pub(crate) events: crate::events::JobEvents,
    pub(crate) metrics: crate::metrics::Metrics,
}

/// What the audit log records of a running job's outcome besides the outcome itself.
#[derive(Debug, Clone)]
pub(crate) struct RunningJob {
    pub account_id: String,
    pub operation: String,
    /// The attempt this node runs: its lease renewals and outcome name it.
    pub attempt: i32,
    /// When this node started it (for its duration).
    pub started: Instant,
}

/// This node's running jobs, and how many of them each account has (what every claim
/// plans by, kept as jobs come and go rather than counted each time).
#[derive(Default)]
struct Running {
    jobs: HashMap<Uuid, RunningJob>,
    per_account: HashMap<String, usize>,
}

impl Running {
    fn insert(&mut self, id: Uuid, job: RunningJob) {
        *self.per_account.entry(job.account_id.clone()).or_default() += 1;
        if let Some(replaced) = self.jobs.insert(id, job) {
            self.uncount(&replaced.account_id);
        }
    }

    /// Removes the job if it runs in `attempt` (any attempt for `None`); whether it did.
    fn remove_attempt(&mut self, id: &Uuid, attempt: Option<i32>) -> bool {
        let runs = self
            .jobs
            .get(id)
            .is_some_and(|job| attempt.is_none_or(|a| a == job.attempt));
        if runs && let Some(job) = self.jobs.remove(id) {
            self.uncount(&job.account_id);
        }
        runs
    }

    fn uncount(&mut self, account: &str) {
        if let Some(n) = self.per_account.get_mut(account) {
            *n -= 1;
            if *n == 0 {
                self.per_account.remove(account);
            }
        }
    }
}

impl Shared {
    /// The jobs this node runs, with their attempts.
    fn running_attempts(&self) -> Vec<(Uuid, i32)> {
        self.running
            .lock()
            .expect("running lock")
            .jobs
            .iter()
            .map(|(id, job)| (*id, job.attempt))
            .collect()
    }

    /// How many of this node's jobs each account runs.
    fn running_per_account(&self) -> HashMap<String, usize> {
        self.running
            .lock()
            .expect("running lock")
            .per_account
            .clone()
    }

    /// The account and operation of a job this node runs.
    pub(crate) fn running_job(&self, id: &Uuid) -> Option<RunningJob> {
        self.running
            .lock()
            .expect("running lock")
            .jobs
            .get(id)
            .cloned()
    }

    /// Forgets the jobs whose outcome was written, each in the attempt it was written for
    /// (`None`: whichever): a job put back in the queue may already be claimed again and
    /// running here in its next attempt, which keeps its entry, lease and streams.
    fn forget(&self, written: &[(Uuid, Option<i32>)]) {
        let mut running = self.running.lock().expect("running lock");
        let mut progress = self.progress.lock().expect("progress lock");
        for (id, attempt) in written {
            if running.remove_attempt(id, *attempt) {
                progress.remove(id);
                self.events.discard(*id);
            }
        }
    }

    fn note_progress(&self, id: Uuid, done: u64, total: u64) {
        self.progress
            .lock()
            .expect("progress lock")
            .insert(id, (done, total));
    }

    fn take_progress(&self) -> HashMap<Uuid, (u64, u64)> {
        std::mem::take(&mut *self.progress.lock().expect("progress lock"))
    }
}

/// Starts an executor on the current tokio runtime. The handle completes after
/// `shutdown` is cancelled and running jobs drained (see the module docs).
pub fn spawn(
    db: Arc<dyn Database>,
    registry: Arc<PluginRegistry>,
    cfg: ExecutorConfig,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(db, registry, cfg, shutdown))
}

async fn run(
    db: Arc<dyn Database>,
    registry: Arc<PluginRegistry>,
    cfg: ExecutorConfig,
    shutdown: CancellationToken,
) {
    let shared = Arc::new(Shared {
        db,
        node_id: cfg.node_id.clone(),
        running: Mutex::default(),
        progress: Mutex::default(),
        batch_writes: tokio::sync::Mutex::new(()),
        events: cfg.events.clone(),
        metrics: cfg.metrics.clone(),
    });
    recover_orphans(&shared).await;
    let stop_upkeep = CancellationToken::new();
    let upkeep = tokio::spawn(upkeep::run(
        shared.clone(),
        cfg.clone(),
        stop_upkeep.clone(),
    ));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let finisher = tokio::spawn(finisher::run(
        shared.clone(),
        rx,
        cfg.finish_batch,
        cfg.finish_window,
    ));
    tracing::info!(node = %cfg.node_id, concurrency = cfg.concurrency, "executor started");

    let mut tasks = JoinSet::new();
    let mut task_jobs = HashMap::new();
    claim_loop(
        &shared,
        &registry,
        &cfg,
        &shutdown,
        &tx,
        &mut tasks,
        &mut task_jobs,
    )
    .await;

    // Drain: no new claims; running jobs get until the deadline.
    let deadline = Instant::now() + cfg.drain_timeout;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await {
            Ok(Some(ended)) => reap(ended, &shared, &tx, &mut task_jobs),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    node = %cfg.node_id,
                    jobs = tasks.len(),
                    "jobs still running at the drain deadline are abandoned to lease recovery"
                );
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    drop(tx);
    if let Err(e) = finisher.await {
        tracing::error!("executor finisher failed: {e}");
    }
    stop_upkeep.cancel();
    let _ = upkeep.await;
    tracing::info!(node = %cfg.node_id, "executor stopped");
}

/// Requeues or fails the jobs an earlier process with this node id left running.
async fn recover_orphans(shared: &Shared) {
    match shared.db.recover_node(&shared.node_id, Utc::now()).await {
        Ok(jobs) => {
            crate::alerts::jobs::lost(shared.db.as_ref(), &jobs).await;
            for job in jobs {
                tracing::warn!(
                    job = %job.id,
                    node = %shared.node_id,
                    status = %job.status,
                    "recovered a job this node was running when it stopped"
                );
            }
        }
        Err(e) => tracing::warn!(
            node = %shared.node_id,
            "recovering this node's orphaned jobs failed; their leases will expire: {e}"
        ),
    }
}

/// Claims and starts jobs until shutdown. Claims in batches (at least a quarter of the
/// slots, or whatever is free when idle) to keep database round trips per job low.
async fn claim_loop(
    shared: &Arc<Shared>,
    registry: &Arc<PluginRegistry>,
    cfg: &ExecutorConfig,
    shutdown: &CancellationToken,
    tx: &UnboundedSender<job::Done>,
    tasks: &mut JoinSet<()>,
    task_jobs: &mut HashMap<tokio::task::Id, Uuid>,
) {
    let concurrency = cfg.concurrency.max(1);
    let threshold = (concurrency.min(cfg.batch.max(1)) / 4).max(1);
    let lease = cfg.lease.max(Duration::from_secs(1));
    let mut next_claim = Instant::now();
    let mut failures = 0u32;
    // Claims in a row that found the queue empty.
    let mut idle_claims = 0u32;
    let fair = FairShare::of(concurrency, cfg.account_share);
    while !shutdown.is_cancelled() {
        while let Some(ended) = tasks.try_join_next_with_id() {
            reap(ended, shared, tx, task_jobs);
        }
        // Jobs queued here for later that came due are claimed now (unless the database
        // is failing: its backoff stands).
        let (came_due, next_due) = cfg.events.due_wakes();
        if came_due && failures == 0 {
            idle_claims = 0;
            next_claim = next_claim.min(Instant::now());
        }
        let free = concurrency.saturating_sub(tasks.len());
        let now = Instant::now();
        if now >= next_claim && free > 0 && (free >= threshold || tasks.is_empty()) {
            let plan = fair.plan(&shared.running_per_account(), free, cfg.batch);
            let claimed = claim_fairly(shared, cfg, &fair, &plan, free, lease).await;
            match claimed {
                Ok(Claimed {
                    jobs,
                    drained,
                    queue_empty,
                }) => {
                    failures = 0;
                    // Poll again only once the queue ran dry (or nothing could be taken);
                    // an account held back at its share claims again as its jobs end.
                    // An empty queue is polled less and less often; a queue that only
                    // holds jobs of accounts at their share is not empty.
                    idle_claims = if queue_empty && jobs.is_empty() {
                        idle_claims.saturating_add(1)
                    } else {
                        0
                    };
                    if drained || jobs.is_empty() {
                        next_claim = Instant::now() + idle_wait(cfg, idle_claims);
                    }
                    for job in jobs {
                        start(job, shared, registry, tx, tasks, task_jobs);
                    }
                    continue;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let backoff = cfg.poll.saturating_mul(1 << failures.min(6));
                    tracing::warn!(node = %cfg.node_id, "claiming jobs failed: {e}");
                    next_claim = Instant::now() + backoff;
                }
            }
        }
        let wake = next_claim.max(Instant::now() + cfg.poll.min(Duration::from_millis(5)));
        let wake = next_due.map_or(wake, |due| wake.min(due));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(ended) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                reap(ended, shared, tx, task_jobs);
            }
            _ = tokio::time::sleep_until(wake) => {}
            _ = cfg.events.wait_queued(), if failures == 0 => {
                idle_claims = 0;
                next_claim = next_claim.min(Instant::now());
            }
        }
    }
}

/// The wait before the next claim after `idle_claims` empty ones in a row: `poll`, then
/// doubling up to `idle_poll`.
fn idle_wait(cfg: &ExecutorConfig, idle_claims: u32) -> Duration {
    let doubled = cfg
        .poll
        .saturating_mul(1 << idle_claims.saturating_sub(1).min(16));
    doubled.min(cfg.idle_poll.max(cfg.poll))
}

/// What one round of claiming took.
struct Claimed {
    jobs: Vec<Job>,
    /// The last claim found fewer due jobs than it asked for: the queue ran dry. Not the
    /// same as taking fewer than the plan wanted, which an account held at its share
    /// does every round while its backlog waits.
    drained: bool,
    /// A claim open to every account ran and found fewer due jobs than it asked for: the
    /// queue has nothing more for this node. (Not so when only accounts below their share
    /// were asked, or no slot was spare for the others.)
    queue_empty: bool,
}

/// Claims up to `want` jobs, first of the accounts below their share; then, if slots
/// are left that nobody else asked for, of the others too, keeping `reserve` slots free
/// so a job of another account never waits for a long job to end.
///
/// Looking for the other accounts' jobs reads only their part of the queue (see the
/// store's `claim_jobs_except`), however long the backlog of the accounts at their share:
/// it is asked every round.
async fn claim_fairly(
    shared: &Shared,
    cfg: &ExecutorConfig,
    fair: &FairShare,
    plan: &ClaimPlan,
    free: usize,
    lease: Duration,
) -> keywarden_db::Result<Claimed> {
    let (at_cap, want) = (&plan.at_cap, plan.want);
    let mut jobs = shared
        .db
        .claim_jobs_except(&cfg.node_id, Utc::now(), want as i64, lease, at_cap)
        .await?;
    let mut drained = jobs.len() < want;
    let mut queue_empty = at_cap.is_empty() && drained;
    let spare = free
        .saturating_sub(jobs.len())
        .saturating_sub(fair.reserve)
        .min(want - jobs.len());
    if !at_cap.is_empty() && jobs.len() < want && spare > 0 {
        let more = shared
            .db
            .claim_jobs(&cfg.node_id, Utc::now(), spare as i64, lease)
            .await?;
        drained = more.len() < spare;
        queue_empty = drained;
        jobs.extend(more);
    }
    Ok(Claimed {
        jobs,
        drained,
        queue_empty,
    })
}

fn start(
    job: Job,
    shared: &Arc<Shared>,
    registry: &Arc<PluginRegistry>,
    tx: &UnboundedSender<job::Done>,
    tasks: &mut JoinSet<()>,
    task_jobs: &mut HashMap<tokio::task::Id, Uuid>,
) {
    let id = job.id;
    shared.running.lock().expect("running lock").insert(
        id,
        RunningJob {
            account_id: job.account_id.clone(),
            operation: job.operation.clone(),
            attempt: job.attempt,
            started: Instant::now(),
        },
    );
    tracing::info!(
        target: JOB_LOG_TARGET,
        job = %id,
        account = %job.account_id,
        operation = %job.operation,
        config = %job.job_config_id.map(|c| c.to_string()).unwrap_or_default(),
        attempt = job.attempt,
        node = %shared.node_id,
        "job started"
    );
    shared.events.started(id, &job.account_id);
    let (shared_c, registry, tx) = (shared.clone(), registry.clone(), tx.clone());
    let handle = tasks.spawn(async move {
        let observer = Arc::new(upkeep::ProgressObserver {
            shared: shared_c.clone(),
            id,
        });
        let done = job::run(
            shared_c.db.as_ref(),
            &registry,
            &shared_c.node_id,
            &job,
            observer,
        )
        .await;
        let _ = tx.send(done);
    });
    task_jobs.insert(handle.id(), id);
}

/// Forgets an ended task; one that panicked gets its job failed here, since it could
/// not report.
fn reap(
    ended: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    shared: &Shared,
    tx: &UnboundedSender<job::Done>,
    task_jobs: &mut HashMap<tokio::task::Id, Uuid>,
) {
    match ended {
        Ok((task, ())) => {
            task_jobs.remove(&task);
        }
        Err(e) => {
            if let Some(id) = task_jobs.remove(&e.id())
                && e.is_panic()
            {
                tracing::error!(job = %id, "job task panicked: {e}");
                let attempt = shared.running_job(&id).map(|j| j.attempt);
                let _ = tx.send(job::crashed(id, &shared.node_id, attempt, &e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(account: &str) -> RunningJob {
        RunningJob {
            account_id: account.into(),
            operation: "noop".into(),
            attempt: 1,
            started: Instant::now(),
        }
    }

    #[test]
    fn running_jobs_are_counted_per_account_as_they_come_and_go() {
        let mut running = Running::default();
        let (a1, a2, b1) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        running.insert(a1, job("a"));
        running.insert(a2, job("a"));
        running.insert(b1, job("b"));
        assert_eq!(
            running.per_account,
            HashMap::from([("a".into(), 2), ("b".into(), 1)])
        );
        // The same job again (a retry claimed back) is counted once.
        running.insert(a2, job("a"));
        assert!(running.remove_attempt(&b1, Some(1)));
        assert!(!running.remove_attempt(&b1, None));
        assert!(!running.remove_attempt(&Uuid::now_v7(), None));
        assert_eq!(running.per_account, HashMap::from([("a".into(), 2)]));
        // An outcome of attempt 1 written after attempt 2 started here leaves attempt 2.
        running.insert(
            a1,
            RunningJob {
                attempt: 2,
                ..job("a")
            },
        );
        assert!(!running.remove_attempt(&a1, Some(1)));
        assert_eq!(running.jobs[&a1].attempt, 2);
        assert!(running.remove_attempt(&a1, Some(2)));
        assert!(running.remove_attempt(&a2, None));
        assert!(running.per_account.is_empty() && running.jobs.is_empty());
    }
}

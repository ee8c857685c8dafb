//! One job per target: jobs acting on the same target never run at once, on one node or
//! across nodes. A target is a certificate store (every job that names one: inventory,
//! management, reenrollment) or one account's keys in one cloud (rotation and
//! synchronization of, say, team-a's AWS keys). Two rotations of one key at once, or an
//! inventory reading a store while a management job rewrites it, help nobody.
//!
//! The cloud target is the account's whole cloud, not the scope of one config: the host
//! cannot tell whether two configs' scopes (tags, key ids, regions) share a key, so it
//! takes the safe side, and rotations of one team's keys in one cloud take turns.
//!
//! The lock is a database row (`target_locks`) that names its job and expires after the
//! longest time a job may run, so a node that died holding one frees the target in time.
//! A job that finds its target busy waits a moment in its slot, then either goes back to
//! the queue without spending an attempt (`when_target_busy = wait`, the default) or
//! ends `cancelled` (`skip`, a config's choice).

use std::fmt;

use chrono::Utc;
use keywarden_db::{Database, Job, WhenBusy};
use uuid::Uuid;

use super::job::job_target;
use super::store_job::StoreJob;
use crate::plugins::{Family, PluginRegistry};

/// How long a job waits in its slot for its target before it gives the slot back: short
/// jobs on one target take turns without a trip through the queue.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a job acts on, for locking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Store(Uuid),
    Cloud { account: String, cloud: String },
}

impl Target {
    /// The target of `job`, if it has one that other jobs may share.
    pub(crate) fn of(
        registry: &PluginRegistry,
        job: &Job,
        store_job: Option<&StoreJob>,
    ) -> Option<Self> {
        if let Some(store) = store_job.and_then(|s| s.store.as_ref()) {
            return Some(Target::Store(store.id));
        }
        let target = job_target(job);
        let (_, op) = registry.resolve(&job.operation, target.as_deref()).ok()?;
        (op.family == Family::KeyManagement).then(|| Target::Cloud {
            account: job.account_id.clone(),
            cloud: target.or(op.target).unwrap_or_default(),
        })
    }

    /// The lock's key.
    pub(crate) fn key(&self) -> String {
        match self {
            Target::Store(id) => format!("store:{id}"),
            Target::Cloud { account, cloud } => format!("cloud:{account}:{cloud}"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Store(id) => write!(f, "certificate store {id}"),
            Target::Cloud { account, cloud } => {
                write!(f, "the {cloud:?} keys of account {account:?}")
            }
        }
    }
}

/// Takes `target`'s lock for the job: `true` once held, `false` when another job still
/// held it after [`LOCK_WAIT`]. The lock outlasts the longest job a plugin may run.
pub(crate) async fn lock(
    db: &dyn Database,
    registry: &PluginRegistry,
    job: &Job,
    target: &Target,
) -> Result<bool, String> {
    let config = registry.runtime().config();
    let longest = config
        .plugins
        .values()
        .filter_map(|g| g.timeout_secs)
        .chain([config.runtime.timeout_secs])
        .max()
        .unwrap_or(300);
    let hold = chrono::Duration::seconds(i64::try_from(longest).unwrap_or(i64::MAX / 2) + 60);
    let key = target.key();
    let mut pause = std::time::Duration::from_millis(50);
    let give_up = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        let now = Utc::now();
        match db.acquire_target_lock(&key, job.id, now, now + hold).await {
            Ok(true) => return Ok(true),
            Ok(false) if tokio::time::Instant::now() >= give_up => return Ok(false),
            Ok(false) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(500));
            }
            Err(e) => return Err(format!("could not take the lock of {target}: {e}")),
        }
    }
}

/// Gives `target`'s lock back (it expires on its own if this fails).
pub(crate) async fn release(db: &dyn Database, job: &Job, target: &Target) {
    if let Err(e) = db.release_target_lock(&target.key(), job.id).await {
        tracing::warn!(job = %job.id, %target, "releasing the target's lock failed: {e}");
    }
}

/// What the job's config wants when the target is busy (jobs of no config wait). A
/// database fault reads as `wait`: waiting is never wrong.
pub(crate) async fn when_busy(db: &dyn Database, job: &Job) -> WhenBusy {
    let Some(id) = job.job_config_id else {
        return WhenBusy::Wait;
    };
    match db.get_config(None, id).await {
        Ok(Some(config)) => config.policy.when_target_busy,
        _ => WhenBusy::Wait,
    }
}

/// When a job that gave its slot back is due again: 3 s, plus up to 2 s more spread by
/// job id, so jobs waiting for one target do not all come back at once.
pub(crate) fn snooze(job: &Job) -> chrono::Duration {
    let spread = i64::try_from(job.id.as_u128() % 2000).unwrap_or(0);
    chrono::Duration::seconds(3) + chrono::Duration::milliseconds(spread)
}

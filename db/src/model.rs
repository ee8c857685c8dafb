//! The entities the store keeps. One model for both API dialects (see `DOMAIN.md`);
//! the API layer renders these into CipherTrust- or Keyfactor-shaped JSON.
//!
//! Timestamps are kept with microsecond precision: that is what both backends store, so a
//! value read back compares equal to the value written after [`truncate_micros`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::kinds::{CatchUp, JobResult, JobStatus, Overlap, RunOn, ScheduleKind};
use crate::recurrence::Recurrence;

/// Rounds a timestamp down to the microsecond, the precision both backends keep.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// A tenant. Owns configs, jobs and tokens; created lazily by [`crate::Database::ensure_account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Account name, e.g. `"kylo"`.
    pub id: String,
    /// When the account was first seen.
    pub created_at: DateTime<Utc>,
}

/// An API bearer token. Only the SHA-256 of the secret is stored, so a database leak does
/// not leak usable tokens; the caller hashes before storing and before looking up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Opaque token id (UUID text), safe to show in listings.
    pub id: String,
    /// The account the token acts as.
    pub account_id: String,
    /// Lower-case hex SHA-256 of the token secret.
    pub token_hash: String,
    /// Admin tokens may act on every account (`role == Admin`).
    pub is_admin: bool,
    /// What the token may do.
    pub role: crate::TokenRole,
    /// Free text naming the token's purpose.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Unusable from this instant; `None`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked at this instant; `None`: not revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token authenticates at `now`: not revoked, not expired.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken<'a> {
    pub account_id: &'a str,
    /// Lower-case hex SHA-256 of the secret.
    pub token_hash: &'a str,
    pub role: crate::TokenRole,
    pub label: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// An entry to append to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub account_id: String,
    /// The token that made the request; `None` for what the server did itself (a job's
    /// outcome, a command run on the host).
    pub token_id: Option<String>,
    /// What happened: `POST /api/v1/scheduler/job-configs`, `job completed`...
    pub action: String,
    /// What it was done to (a path, a job id).
    pub target: String,
    /// How it ended: an HTTP status, a job's status and result.
    pub result: String,
    /// More, without secrets.
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    /// The entry recording how a job of `account_id` running `operation` ended, as its
    /// node (or agent) reported it in `finish`: one form whoever ran the job.
    pub fn job_outcome(account_id: &str, operation: &str, finish: &JobFinish) -> Self {
        NewAuditEntry {
            at: Utc::now(),
            account_id: account_id.to_owned(),
            token_id: None,
            action: format!("job {}", finish.status),
            target: finish.id.to_string(),
            result: finish
                .result
                .map_or_else(|| finish.status.to_string(), |r| r.to_string()),
            detail: serde_json::json!({"operation": operation, "node": finish.node_id}),
        }
    }
}

/// An entry of the audit log, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub entry: NewAuditEntry,
    /// `hash` of the entry before (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 hex over `prev_hash` and this entry's fields ([`AuditEntry::compute_hash`]).
    pub hash: String,
}

impl AuditEntry {
    /// The hash the entry at `seq` with `entry` after `prev_hash` must carry: SHA-256 hex
    /// of the fields, each length-prefixed so no two entries encode alike.
    pub fn compute_hash(seq: i64, entry: &NewAuditEntry, prev_hash: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        let at = entry.at.timestamp_micros().to_string();
        let detail = entry.detail.to_string();
        let seq = seq.to_string();
        for field in [
            prev_hash,
            seq.as_str(),
            at.as_str(),
            entry.account_id.as_str(),
            entry.token_id.as_deref().unwrap_or(""),
            entry.action.as_str(),
            entry.target.as_str(),
            entry.result.as_str(),
            detail.as_str(),
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex_lower(&hasher.finalize())
    }

    /// Whether the entry's hash is the one its fields and `prev_hash` give.
    pub fn hash_holds(&self) -> bool {
        Self::compute_hash(self.seq, &self.entry, &self.prev_hash) == self.hash
    }
}

/// The `prev_hash` of the first audit entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub account_id: Option<String>,
    pub token_id: Option<String>,
    /// Entries whose action starts with this.
    pub action_prefix: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries after this sequence number (for paging through the chain).
    pub after_seq: Option<i64>,
}

/// A job configuration: what to run (operation + params), when (cron, timezone, window),
/// where (`run_on`) and the policies for missed fires, overlaps and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfig {
    /// Primary key.
    pub id: Uuid,
    /// Owning account; `(account_id, name)` is unique.
    pub account_id: String,
    /// Human name, unique per account.
    pub name: String,
    /// Operation name a plugin provides, e.g. `cckm_key_rotation`.
    pub operation: String,
    /// Free text.
    pub description: String,
    /// Where its jobs run.
    pub run_on: RunOn,
    /// Cron expression the scheduler fires from (derived from `recurrence` when there is one).
    pub run_at: String,
    /// IANA timezone the cron expression is read in; `None` means UTC.
    pub timezone: Option<String>,
    /// The config fires no earlier than this.
    pub start_date: Option<DateTime<Utc>>,
    /// The config fires no later than this.
    pub end_date: Option<DateTime<Utc>>,
    /// Disabled configs never fire.
    pub disabled: bool,
    /// The operation's params object.
    pub params: Value,
    /// Which API field carried the params (e.g. `cckm_key_rotation_params`), so the API can
    /// echo them under the same name.
    pub params_key: String,
    /// What its jobs act on (cloud name, certificate store type), computed once when the
    /// config is written and copied into every job it fires.
    pub target: Option<String>,
    /// The kind of schedule (interval, daily, ...), recorded on every job it fires;
    /// `None` only for configs written before it was recorded, until the server fills it in.
    pub schedule_kind: Option<ScheduleKind>,
    /// The schedule as the client gave it, when it came as a recurrence rather than cron.
    pub recurrence: Option<Recurrence>,
    /// Missed-fire policy after downtime.
    pub catch_up: CatchUp,
    /// What to do when the previous run is unfinished.
    pub overlap: Overlap,
    /// Retries after a failed attempt (so attempts = `max_retries + 1`).
    pub max_retries: i32,
    /// Base delay between attempts.
    pub retry_backoff_secs: i64,
    /// When the scheduler fires this config next; `None` = never (disabled, past end).
    /// Compare-and-set by [`crate::Database::fire_config`] to prevent double fires.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Which failures of its jobs raise an alert.
    pub alerts: JobAlerts,
    /// Windows, jitter and the pause after failures.
    pub policy: crate::SchedulingPolicy,
    /// Why the config paused itself (after too many failed runs); cleared on resume.
    pub paused_reason: Option<String>,
    /// When it paused itself.
    pub paused_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change by a user (scheduler bookkeeping does not bump it).
    pub updated_at: DateTime<Utc>,
}

/// Which failures of a config's jobs raise an alert (`[alerts]` delivers them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobAlerts {
    /// Every failed attempt, retried or not.
    pub on_failure: bool,
    /// A fire time passed without a job (skipped after downtime, or because the
    /// previous job was still running).
    pub on_missed_run: bool,
    /// A job failed on its last attempt.
    pub on_retries_exhausted: bool,
}

impl JobConfig {
    /// A config with a fresh v7 id and the default policies (any node, catch-up `skip`,
    /// overlap `skip`, no retries, 60 s backoff), created at `now`.
    pub fn new(
        account_id: &str,
        name: &str,
        operation: &str,
        run_at: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let now = truncate_micros(now);
        JobConfig {
            id: Uuid::now_v7(),
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            operation: operation.to_owned(),
            description: String::new(),
            run_on: RunOn::Any,
            run_at: run_at.to_owned(),
            timezone: None,
            start_date: None,
            end_date: None,
            disabled: false,
            params: Value::Object(Default::default()),
            params_key: format!("{operation}_params"),
            target: None,
            schedule_kind: None,
            recurrence: None,
            catch_up: CatchUp::Skip,
            overlap: Overlap::Skip,
            max_retries: 0,
            retry_backoff_secs: 60,
            next_fire_at: None,
            alerts: JobAlerts::default(),
            policy: Default::default(),
            paused_reason: None,
            paused_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The facts of a config written before they were recorded, as the host derived them
/// (see [`crate::Database::record_config_facts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFacts {
    /// The config.
    pub id: Uuid,
    /// What its jobs act on.
    pub target: Option<String>,
    /// Its kind of schedule (`None`: it only records an immediate run).
    pub schedule_kind: Option<ScheduleKind>,
    /// The recurrence it was made from, when one can be recovered.
    pub recurrence: Option<Recurrence>,
    /// Its description (older versions kept a recurrence there).
    pub description: String,
}

/// One run of an operation, either fired by a config or started by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Primary key.
    pub id: Uuid,
    /// Owning account.
    pub account_id: String,
    /// The config that fired it; `None` for ad-hoc jobs. Kept after the config is deleted.
    pub job_config_id: Option<Uuid>,
    /// Copied from the config at fire time, so history survives config edits.
    pub name: String,
    /// Copied from the config.
    pub description: String,
    /// Operation name.
    pub operation: String,
    /// What the operation acts on (cloud, store), for display and filtering.
    pub target: Option<String>,
    /// The operation's params at fire time.
    pub params: Value,
    /// Where it may run.
    pub run_on: RunOn,
    /// The kind of schedule of its config when it was enqueued; `None` for a job of no
    /// config (or of an immediate request).
    pub schedule_kind: Option<ScheduleKind>,
    /// Where it is in its life cycle.
    pub status: JobStatus,
    /// How well it did; set when finished.
    pub result: Option<JobResult>,
    /// Last human-readable message (error text, reason for requeue).
    pub message: Option<String>,
    /// Operation-defined structured outcome.
    pub details: Option<Value>,
    /// Log records of all attempts, oldest first.
    pub logs: Vec<Value>,
    /// Items done so far.
    pub progress_done: i64,
    /// Items in total (0 = unknown).
    pub progress_total: i64,
    /// Attempts started so far (incremented by each claim).
    pub attempt: i32,
    /// Attempts allowed in total.
    pub max_attempts: i32,
    /// Base delay between attempts.
    pub retry_backoff_secs: i64,
    /// Not claimable before this time.
    pub scheduled_for: DateTime<Utc>,
    /// When it was put in the queue.
    pub enqueued_at: DateTime<Utc>,
    /// When the latest attempt was claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub finished_at: Option<DateTime<Utc>>,
    /// The node running (or that last ran) it.
    pub processing_node: Option<String>,
    /// While running: the claim is void after this time unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The last instant its maintenance windows let it start; past it the executor
    /// checks them again (`None`: no window gates it).
    pub start_by: Option<DateTime<Utc>>,
    /// It only reports what it would change: the plugin is told so and the host keeps
    /// it from writing (read-only files, no state writes, no enrollment, no family data
    /// kept). Not counted toward the config's pause after failures, nor alerted.
    /// Absent in a record from an older server (an agent reads jobs as JSON): not one.
    #[serde(default)]
    pub dry_run: bool,
    /// Creation time (= `enqueued_at`).
    pub created_at: DateTime<Utc>,
    /// Last change of any kind.
    pub updated_at: DateTime<Utc>,
}

/// One config's fire for [`crate::Database::fire_configs`]: move `next_fire_at` from
/// `expected` to `next` and enqueue `jobs`, unless another scheduler fired it first.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFire {
    pub config_id: Uuid,
    pub expected: DateTime<Utc>,
    pub next: Option<DateTime<Utc>>,
    pub jobs: Vec<NewJob>,
}

/// What a caller supplies to enqueue a job; the store fills in status, attempts and times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Chosen by the caller so it can answer `run-now` with the id immediately.
    pub id: Uuid,
    /// Owning account.
    pub account_id: String,
    /// Config that fired it, if any.
    pub job_config_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Operation name.
    pub operation: String,
    /// What it acts on.
    pub target: Option<String>,
    /// Operation params.
    pub params: Value,
    /// Where it may run.
    pub run_on: RunOn,
    /// The kind of schedule that fired it, if one did.
    pub schedule_kind: Option<ScheduleKind>,
    /// Attempts allowed in total (at least 1).
    pub max_attempts: i32,
    /// Base delay between attempts.
    pub retry_backoff_secs: i64,
    /// Due time.
    pub scheduled_for: DateTime<Utc>,
    /// The last instant its windows let it start (see [`Job::start_by`]).
    pub start_by: Option<DateTime<Utc>>,
    /// Report what it would change without writing (see [`Job::dry_run`]).
    #[serde(default)]
    pub dry_run: bool,
    /// Enqueue time; also `created_at` and `updated_at`.
    pub enqueued_at: DateTime<Utc>,
}

impl NewJob {
    /// The job a config fires for the fire time `scheduled_for`, enqueued at `now`.
    pub fn from_config(
        config: &JobConfig,
        scheduled_for: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        NewJob {
            id: Uuid::now_v7(),
            account_id: config.account_id.clone(),
            job_config_id: Some(config.id),
            name: config.name.clone(),
            description: config.description.clone(),
            operation: config.operation.clone(),
            target: config.target.clone(),
            params: config.params.clone(),
            run_on: config.run_on.clone(),
            schedule_kind: config.schedule_kind,
            max_attempts: config.max_retries.saturating_add(1).max(1),
            retry_backoff_secs: config.retry_backoff_secs,
            scheduled_for,
            start_by: None,
            dry_run: false,
            enqueued_at: now,
        }
    }
}

/// The job queue at one moment, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Jobs waiting, due or not.
    pub queued: i64,
    /// Queued jobs whose time has come.
    pub due: i64,
    /// Jobs some node runs.
    pub running: i64,
    /// When the longest-waiting due job became due.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// Progress counters reported by a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Items done.
    pub done: i64,
    /// Items in total.
    pub total: i64,
}

/// The outcome of one attempt, applied by [`crate::Database::finish_jobs`] only while the job
/// is still `running` on `node_id` — a node that lost its lease cannot overwrite the run
/// another node took over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFinish {
    /// The job.
    pub id: Uuid,
    /// The node reporting; must match `processing_node`.
    pub node_id: String,
    /// The attempt reporting; when given it must match the job's `attempt`, so an
    /// attempt that outlived its lease cannot record over the one that replaced it.
    pub attempt: Option<i32>,
    /// A final status.
    pub status: JobStatus,
    /// How well it did.
    pub result: Option<JobResult>,
    /// Human-readable summary or error.
    pub message: Option<String>,
    /// Operation-defined outcome.
    pub details: Option<Value>,
    /// Log records of this attempt; appended to the job's logs.
    pub logs: Vec<Value>,
    /// Final counters; `None` keeps the stored ones.
    pub progress: Option<Progress>,
}

/// A running job put back in the queue by [`crate::Database::retry_job`], applied only
/// while the job is still `running` on `node_id` in `attempt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRetry {
    pub id: Uuid,
    /// The node reporting; must match `processing_node`.
    pub node_id: String,
    /// The attempt that ended; when given it must match the job's `attempt` (as for
    /// [`JobFinish`]), so an attempt that outlived its lease cannot requeue the one that
    /// replaced it.
    pub attempt: Option<i32>,
    /// Due again at this instant.
    pub at: DateTime<Utc>,
    pub message: String,
    /// Log records of the attempt; appended to the job's logs.
    pub logs: Vec<Value>,
    /// The attempt never ran the job (it waited for something, such as a certificate
    /// store's write lock, and gave its slot back): it is not counted.
    pub not_run: bool,
}

/// A Keywarden process that runs jobs, as last seen by its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node id (`run_on` / `processing_node` value).
    pub id: String,
    /// First heartbeat.
    pub first_seen_at: DateTime<Utc>,
    /// Latest heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// The Keywarden version its latest process runs (empty if that process never said).
    pub version: String,
    /// When its latest process started.
    pub started_at: DateTime<Utc>,
    /// How often its latest process heartbeats: whether it is alive is judged by its
    /// own interval.
    pub heartbeat_interval: std::time::Duration,
    /// When its latest process stopped cleanly (`None` while it runs, or after a crash).
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What a node records of itself when its process starts
/// ([`crate::Database::start_node`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStart<'a> {
    pub id: &'a str,
    /// The crate version of the process.
    pub version: &'a str,
    pub started_at: DateTime<Utc>,
    /// How often it will heartbeat.
    pub heartbeat: std::time::Duration,
}

/// A cloud key as the last synchronization of its `source` saw it (see
/// [`crate::Database::replace_cloud_keys`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncedKey {
    /// Owning account.
    pub account_id: String,
    /// Who synchronized it: the job config's id (or the job's, for one-off jobs). Each
    /// source keeps its own snapshot, so two regions never overwrite each other.
    pub source: String,
    /// `aws`, `AzureCloud`, ...
    pub cloud_name: String,
    /// The cloud's key id.
    pub key_id: String,
    /// Full resource name (AWS ARN), if the cloud has one.
    pub resource_name: Option<String>,
    /// Aliases, as the cloud reported them.
    pub aliases: Vec<String>,
    /// The cloud's state word (`Enabled`, `Disabled`, `PendingDeletion`, ...).
    pub state: String,
    /// When the cloud created the key.
    pub created_at: Option<DateTime<Utc>>,
    /// The last rotation the cloud knows of.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Further attributes (spec, usage, origin, ...), a JSON object.
    pub attributes: Value,
    /// When the synchronization that wrote this row ran.
    pub synced_at: DateTime<Utc>,
}

/// Finished jobs counted by UTC day of their end, config, operation, status and result:
/// the jobs still stored and those the retention purge deleted, added together, so a
/// count does not change when its jobs are purged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCount {
    pub account_id: String,
    /// UTC day the jobs ended.
    pub day: chrono::NaiveDate,
    pub job_config_id: Option<Uuid>,
    pub operation: String,
    pub status: JobStatus,
    pub result: Option<JobResult>,
    pub count: i64,
}

/// Which job counts to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCountFilter {
    /// Only this account's (`None` = every account, for admins).
    pub account_id: Option<String>,
    pub job_config_id: Option<Uuid>,
    pub operation: Option<String>,
    /// Days from this one on (inclusive).
    pub from: Option<chrono::NaiveDate>,
    /// Days up to this one (inclusive).
    pub to: Option<chrono::NaiveDate>,
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Finished jobs deleted (and added to the counts).
    pub jobs: u64,
    /// Stored payloads no job referenced any more.
    pub payloads: u64,
    /// SSL endpoint history entries (not an endpoint's newest) and settled alerts.
    pub ssl_history: u64,
    pub alerts: u64,
}

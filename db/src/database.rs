//! The storage interface the rest of Keywarden programs against.
//!
//! One trait, object-safe through `async_trait`, so the server holds an `Arc<dyn Database>` and
//! does not care whether SQLite (single node) or PostgreSQL (cluster) is underneath. Both
//! implementations pass the same conformance suite (`tests/conformance.rs`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::agents::{Agent, AgentFilter, AgentSession, RegistrationCredential};
use crate::alerts::{Alert, AlertFilter, AlertOutcome, NewAlert};
use crate::certificates::{
    CertificateStore, CertificateStoreFilter, DiscoveredFilter, DiscoveredPath, InventoryEntry,
    InventoryFilter,
};
use crate::error::Result;
use crate::filter::{ConfigFilter, JobFilter, KeyFilter, Sort};
use crate::history::{JobCondition, JobHistoryEntry, JobQuery};
use crate::kinds::JobStatus;
use crate::model::{
    Account, ApiToken, AuditEntry, AuditFilter, ConfigFacts, ConfigFire, Job, JobConfig, JobCount,
    JobCountFilter, JobFinish, JobRetry, NewAuditEntry, NewJob, NewToken, Node, NodeStart,
    SyncedKey,
};
use crate::snapshot::{SnapshotItem, SnapshotSummary};
use crate::ssl::{
    ScanProgress, SslEndpoint, SslEndpointFilter, SslHistoryEntry, SslNetwork, SslNetworkFilter,
    SslObservation, SslScanPart,
};
use tokio::sync::mpsc::{Receiver, Sender};

/// Durable state of a Keywarden deployment. See the crate docs for the job life cycle.
#[async_trait]
pub trait Database: Send + Sync {
    /// `"sqlite"` or `"postgres"`, for logs and diagnostics.
    fn backend(&self) -> &'static str;

    // ----- backups (see `crate::snapshot`) -----

    /// Applies every migration this build knows that the database lacks.
    async fn migrate(&self) -> Result<()>;
    /// The newest migration applied (its version, e.g. `20250113000000`).
    async fn schema_version(&self) -> Result<i64>;
    /// The tables holding rows beyond what migrations seed; empty for a new database.
    async fn non_empty_tables(&self) -> Result<Vec<String>>;
    /// Sends every table, in one consistent snapshot, parents first, into `out`
    /// (ending with `End`); returns the schema version and the rows sent per table.
    async fn snapshot(&self, out: Sender<SnapshotItem>) -> Result<SnapshotSummary>;
    /// Writes what `input` sends (a snapshot of schema `schema_version`) into this
    /// database in one transaction, committed when `End` arrives. Refuses a database of
    /// another schema version or holding rows (`Conflict`), and a sequence that does not
    /// fit the schema or stops early (`Invalid`), writing nothing.
    async fn restore(
        &self,
        schema_version: i64,
        input: Receiver<SnapshotItem>,
    ) -> Result<SnapshotSummary>;

    // ----- accounts and tokens -----

    /// Returns the account, creating it on first use (accounts are implicit tenants).
    async fn ensure_account(&self, id: &str) -> Result<Account>;
    /// Stores a token (creating its account if needed) with a fresh id. `Conflict` if the
    /// hash is already stored.
    async fn create_token(&self, token: &NewToken<'_>) -> Result<ApiToken>;
    /// Authentication lookup by SHA-256 hex of the presented secret (revoked and expired
    /// tokens too: the caller decides).
    async fn find_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// The tokens of an account (every account's for `None`), oldest first.
    async fn list_tokens(&self, account_id: Option<&str>) -> Result<Vec<ApiToken>>;
    /// Marks a token revoked at `at` (kept if already revoked); `None` when no token has
    /// this id (in the account, when given).
    async fn revoke_token(
        &self,
        account_id: Option<&str>,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiToken>>;
    /// Number of usable (not revoked, not expired) admin tokens; zero means the server
    /// should bootstrap one.
    async fn count_admin_tokens(&self) -> Result<i64>;

    // ----- target locks (one job per target) -----

    /// Takes the lock of `target` (a key the host builds, such as `store:<id>`) for job
    /// `job` until `until`: `true` when it was free, had expired at `now`, or `job` held it
    /// already (then it is extended); `false` while another job holds it.
    async fn acquire_target_lock(
        &self,
        target: &str,
        job: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives the lock of `target` back if `job` holds it.
    async fn release_target_lock(&self, target: &str, job: Uuid) -> Result<()>;

    // ----- payloads -----

    /// Stores a large request payload once for `account` under its SHA-256 hex (kept when
    /// already stored), for jobs to reference instead of carrying a copy each.
    async fn put_payload(&self, account: &str, sha256: &str, body: &str) -> Result<()>;
    /// The payload of `account` with this hash.
    async fn get_payload(&self, account: &str, sha256: &str) -> Result<Option<String>>;

    // ----- SSL networks -----

    /// Stores a new network. `Conflict` when its account has one of that name.
    async fn insert_ssl_network(&self, network: &SslNetwork) -> Result<SslNetwork>;
    /// Replaces a network's editable fields (its account's; `NotFound` otherwise).
    /// `Conflict` when the new name is another network's.
    async fn update_ssl_network(&self, network: &SslNetwork) -> Result<SslNetwork>;
    /// The network with `id`, in `account_id` unless `None`.
    async fn get_ssl_network(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<SslNetwork>>;
    /// Deletes a network; `false` when there is none (in the account).
    async fn delete_ssl_network(&self, account_id: Option<&str>, id: Uuid) -> Result<bool>;
    /// A page of networks (by name unless sorted otherwise) and the total.
    async fn list_ssl_networks(
        &self,
        filter: &SslNetworkFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslNetwork>)>;

    /// Replaces a network's ranges (nothing else); `false` when the account has no such
    /// network.
    async fn set_ssl_network_ranges(
        &self,
        account_id: &str,
        id: Uuid,
        ranges: &[String],
    ) -> Result<bool>;
    /// Enabled networks whose discovery or monitoring schedule is due at `now`.
    async fn due_ssl_networks(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<SslNetwork>>;
    /// Moves a network's next fire of `kind` from `expected` to `next` (compare-and-set:
    /// `false` when it was moved first, by another node or an edit).
    async fn advance_ssl_schedule(
        &self,
        id: Uuid,
        kind: crate::ScanKind,
        expected: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool>;

    // ----- SSL scans and endpoints -----

    /// Stores a scan's parts and their jobs in one transaction (each part names its job).
    async fn insert_ssl_scan(&self, parts: &[SslScanPart], jobs: &[NewJob]) -> Result<()>;
    /// A page of a network's parts, newest scan first, then in order, with each job's state.
    async fn list_ssl_parts(
        &self,
        account_id: Option<&str>,
        network_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslScanPart>)>;
    /// One part, in `account_id` unless `None`.
    async fn get_ssl_part(&self, account_id: Option<&str>, id: Uuid)
    -> Result<Option<SslScanPart>>;
    /// The part whose job is `job_id`, if the job is one.
    async fn ssl_part_for_job(&self, job_id: Uuid) -> Result<Option<SslScanPart>>;
    /// Keeps what a part's job saw, in one transaction: endpoints that served a
    /// certificate are added (monitored when `auto_monitor`), known ones updated, every
    /// probe of a known endpoint added to its history (marked changed when the certificate
    /// differs from the one seen before); the part is marked finished with `stats`.
    /// Keeping a part twice keeps nothing the second time (returns `false`).
    async fn keep_ssl_results(
        &self,
        part: &SslScanPart,
        observations: &[SslObservation],
        stats: &crate::ssl::ScanStats,
        auto_monitor: bool,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// The newest scan of each kind of each network in `network_ids`.
    async fn ssl_scan_progress(
        &self,
        account_id: Option<&str>,
        network_ids: &[Uuid],
    ) -> Result<Vec<ScanProgress>>;
    /// A page of endpoints (by network, host and port unless sorted otherwise) and the
    /// total.
    async fn list_ssl_endpoints(
        &self,
        filter: &SslEndpointFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslEndpoint>)>;
    /// Sets the monitor or reviewed flag of every endpoint `filter` matches; how many.
    async fn set_ssl_endpoint_flags_where(
        &self,
        filter: &SslEndpointFilter,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> Result<u64>;
    async fn get_ssl_endpoint(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<SslEndpoint>>;
    /// Sets an endpoint's monitor or reviewed flag; `false` when there is no such endpoint.
    async fn set_ssl_endpoint_flags(
        &self,
        account_id: Option<&str>,
        id: Uuid,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> Result<bool>;
    /// A page of an endpoint's history, newest first, and the total.
    async fn list_ssl_history(
        &self,
        account_id: Option<&str>,
        endpoint_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslHistoryEntry>)>;

    // ----- alerts -----

    /// Deletes SSL endpoint history observed before `before` (each endpoint's newest
    /// entry stays) and alerts raised before it that were delivered or given up.
    async fn purge_ssl_history_and_alerts(&self, before: DateTime<Utc>) -> Result<(u64, u64)>;

    /// Raises alerts; those whose `dedupe_key` was raised before are left out. Returns
    /// how many were new.
    async fn raise_alerts(&self, alerts: &[NewAlert]) -> Result<u64>;
    /// Takes up to `limit` pending alerts due at `now` for delivery, leasing each for
    /// `lease` so no other node delivers it meanwhile.
    async fn claim_alerts(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Alert>>;
    /// Records how a delivery attempt of a claimed alert went, and frees its lease.
    async fn settle_alert(&self, id: Uuid, outcome: &AlertOutcome) -> Result<()>;
    /// A page of alerts, newest first, and the total.
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Alert>)>;

    // ----- retention -----

    /// Deletes up to `limit` finished jobs that ended before `before`, adding each to the
    /// [`job_counts`](Database::job_counts) it belongs to, in one transaction; returns how
    /// many. Safe to run on several nodes at once: no job is counted twice.
    async fn purge_finished_jobs(&self, before: DateTime<Utc>, limit: i64) -> Result<u64>;
    /// Deletes payloads stored before `before` that no job references; returns how many.
    async fn purge_unreferenced_payloads(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Finished jobs, stored and purged together, counted per UTC day, config, operation,
    /// status and result (ordered by day): a page and the number of groups.
    async fn job_counts(
        &self,
        filter: &JobCountFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobCount>)>;

    // ----- audit log -----

    /// Appends entries in order, each chained to the one before by its hash; returns them
    /// as stored.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<Vec<AuditEntry>>;
    /// The entries `filter` keeps, in chain order (`limit` of them), and how many match.
    async fn list_audit(&self, filter: &AuditFilter, limit: i64) -> Result<(i64, Vec<AuditEntry>)>;

    // ----- job configs -----

    /// Stores a new config as given (timestamps included). `Conflict` if the account
    /// already has a config of that name. Returns the stored row.
    async fn insert_config(&self, config: &JobConfig) -> Result<JobConfig>;
    /// A config by id, restricted to `account_id` unless `None` (admin view).
    async fn get_config(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<JobConfig>>;
    /// Replaces every user-editable field (including `next_fire_at`) of the config with
    /// `config.id` in `config.account_id`, sets `updated_at` to now and returns the row.
    /// `NotFound` if missing, `Conflict` on a duplicate name.
    async fn update_config(&self, config: &JobConfig) -> Result<JobConfig>;
    /// Deletes a config; its past jobs stay. Returns whether a row was deleted.
    async fn delete_config(&self, account_id: Option<&str>, id: Uuid) -> Result<bool>;
    /// A page of configs and the total count matching `filter`. `InvalidSort` for a sort
    /// key outside the allow-list.
    async fn list_configs(
        &self,
        filter: &ConfigFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobConfig>)>;

    // ----- jobs -----

    /// Enqueues jobs (status `queued`, attempt 0) in one transaction; all or nothing.
    async fn insert_jobs(&self, jobs: &[NewJob]) -> Result<u64>;
    /// A job by id, restricted to `account_id` unless `None`.
    async fn get_job(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<Job>>;
    /// A page of jobs and the total count matching `filter`.
    async fn list_jobs(
        &self,
        filter: &JobFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Job>)>;
    /// Deletes a job. `Conflict` if it is running (its node would lose track of it);
    /// `Ok(false)` if there is no such job.
    async fn delete_job(&self, account_id: Option<&str>, id: Uuid) -> Result<bool>;

    // ----- job history (condition queries, acknowledgement, reschedule) -----

    /// A page of jobs matching `query.condition` (in `query.account_id` unless `None`), in
    /// `query.order`, with their audit ids, and the total count. `Invalid` for a condition
    /// comparing a column with a value of another type, or nested too deeply.
    async fn query_job_history(
        &self,
        query: &JobQuery,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobHistoryEntry>)>;
    /// Marks the latest attempt of every job matching `condition` (in `account_id` unless
    /// `None`) as acknowledged; returns how many jobs. A later attempt is unacknowledged.
    async fn acknowledge_jobs(
        &self,
        account_id: Option<&str>,
        condition: &JobCondition,
    ) -> Result<u64>;
    /// In one transaction, for each `(old, new)`: marks the finished job `old` (in
    /// `account_id` unless `None`) as rescheduled as `new.id` and enqueues `new`. All or
    /// nothing: `Conflict` if any `old` is missing, unfinished or already rescheduled.
    async fn reschedule_jobs(
        &self,
        account_id: Option<&str>,
        reruns: &[(Uuid, NewJob)],
    ) -> Result<u64>;

    // ----- executor (hot path) -----

    /// Atomically moves up to `limit` due, queued jobs that may run on `node_id` (run_on
    /// `any` or `node_id`) to `running` on that node, oldest `scheduled_for` first, with a
    /// lease until `now + lease` and `attempt + 1`. Concurrent callers never get the same
    /// job. Returned in `scheduled_for` order.
    async fn claim_jobs(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Job>>;
    /// [`claim_jobs`](Self::claim_jobs), leaving out the jobs of `exclude_accounts` (those
    /// at their share of the node's slots). Reads only the other accounts' due jobs, so it
    /// stays cheap however long the backlog of the accounts left out.
    async fn claim_jobs_except(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
        exclude_accounts: &[String],
    ) -> Result<Vec<Job>>;
    /// Extends the leases of those jobs still running on `node_id` in the given attempt;
    /// returns how many.
    async fn renew_leases(
        &self,
        node_id: &str,
        jobs: &[(Uuid, i32)],
        until: DateTime<Utc>,
    ) -> Result<u64>;
    /// Records outcomes in one statement per batch. Each applies only if its job is still
    /// running on its `node_id`; returns how many applied.
    async fn finish_jobs(&self, finishes: &[JobFinish]) -> Result<u64>;
    /// [`finish_jobs`](Self::finish_jobs), and in the same transaction appends to the audit
    /// log the entry paired with each outcome that applied: an outcome is audited exactly
    /// when it is recorded.
    async fn finish_jobs_audited(&self, finishes: &[(JobFinish, NewAuditEntry)]) -> Result<u64>;
    /// Puts a job running on `retry.node_id` (in `retry.attempt`) back in the queue, due
    /// at `retry.at`, with its message; the attempt's logs are appended, so the history
    /// keeps every attempt. Returns false if the job is not running on that node in that
    /// attempt any more.
    async fn retry_job(&self, retry: &JobRetry) -> Result<bool>;
    /// Updates the progress counters of a running job; false if it is not running.
    async fn update_progress(&self, id: Uuid, done: i64, total: i64) -> Result<bool>;
    /// Handles running jobs whose lease ended before `now` (their node died or hung):
    /// requeued (due `now`) if attempts remain, else failed with a message naming the
    /// node. Returns the affected jobs as they are now.
    async fn recover_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Job>>;
    /// Handles every job still running on `node_id`, lease or not: called when a node
    /// starts, so they are orphans of an earlier process with that id that was killed.
    /// Requeued (due `now`) if attempts remain, else failed with a message naming the
    /// node. Returns the affected jobs as they are now.
    async fn recover_node(&self, node_id: &str, now: DateTime<Utc>) -> Result<Vec<Job>>;
    /// Whether the config has a queued or running job (the `overlap = skip` policy).
    async fn has_unfinished_job(&self, config_id: Uuid) -> Result<bool>;
    /// Which of `config_ids` have a queued or running job, in one query.
    async fn unfinished_configs(&self, config_ids: &[Uuid]) -> Result<Vec<Uuid>>;
    /// How many jobs wait (and are due at `now`) and run, and the oldest due one's time.
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<crate::QueueStats>;

    // ----- scheduler -----

    /// Enabled configs with `next_fire_at <= now`, earliest first (by `next_fire_at`,
    /// then id); with `after`, only those after that `(next_fire_at, id)` in that order,
    /// so a scheduler round reads its pages on from where the last one ended.
    async fn due_configs(
        &self,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<JobConfig>>;
    /// In one transaction: set `next_fire_at` to `new_next_fire` only if it still equals
    /// `expected_next_fire`, and enqueue `jobs`. Returns false and changes nothing if the
    /// compare failed — another scheduler (node, or this one before a restart) fired first.
    async fn fire_config(
        &self,
        config_id: Uuid,
        expected_next_fire: Option<DateTime<Utc>>,
        new_next_fire: Option<DateTime<Utc>>,
        jobs: &[NewJob],
    ) -> Result<bool>;
    /// [`Database::fire_config`] for many configs in one transaction (a compare-and-set
    /// statement per 500 configs, one insert of the jobs), as the scheduler fires a page of
    /// due configs. A config another scheduler fired first, or is firing right now (its
    /// row locked), is left out: neither moved nor enqueued. Returns the configs fired.
    async fn fire_configs(&self, fires: &[ConfigFire]) -> Result<Vec<Uuid>>;
    /// Sets `next_fire_at` unconditionally (after create/update/enable). False if missing.
    async fn set_next_fire(&self, config_id: Uuid, next: Option<DateTime<Utc>>) -> Result<bool>;
    /// The final statuses (completed or failed) of the config's latest `limit` jobs that
    /// finished after `since`, newest first: how many runs in a row failed.
    async fn latest_outcomes(
        &self,
        config_id: Uuid,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<JobStatus>>;
    /// Pauses an enabled config (disabled, no next fire) recording `reason` and `at`.
    /// False if it is missing or already paused: one caller wins a race.
    async fn pause_config(&self, config_id: Uuid, reason: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Up to `limit` configs written before their schedule kind was recorded: no kind and
    /// no recurrence (every config written since has one or the other).
    async fn unclassified_configs(&self, limit: i64) -> Result<Vec<JobConfig>>;
    /// Records what [`Database::unclassified_configs`] lacked, in one transaction: each
    /// config's target, kind, recurrence and description, and the kind on the jobs it
    /// fired that have none yet. Returns how many configs were updated.
    async fn record_config_facts(&self, facts: &[ConfigFacts]) -> Result<u64>;

    // ----- nodes -----

    /// Records a node's process start: its version, start time and heartbeat interval
    /// (replacing those of an earlier process with the same id), and that it is alive.
    async fn start_node(&self, start: &NodeStart<'_>) -> Result<()>;
    /// Records that `node_id` is alive at `now`.
    async fn heartbeat(&self, node_id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Records that `node_id`'s process stopped cleanly at `at` (until its next start).
    async fn stop_node(&self, node_id: &str, at: DateTime<Utc>) -> Result<()>;
    /// All nodes ever seen, by id.
    async fn list_nodes(&self) -> Result<Vec<Node>>;
    /// How many jobs each node runs now (status running, `processing_node` that node),
    /// counting only `account_id`'s jobs when given; nodes running none are left out.
    /// Agents holding jobs appear under their ids too.
    async fn running_jobs_per_node(&self, account_id: Option<&str>) -> Result<Vec<(String, i64)>>;
    /// Sets `message` on the queued jobs pinned to `node_id` (`run_on`) that were due by
    /// `due_before` and do not say it already; returns those jobs as they are now. Run
    /// by every node at once, each job is returned to one of them.
    async fn note_jobs_waiting_for(
        &self,
        node_id: &str,
        due_before: DateTime<Utc>,
        message: &str,
    ) -> Result<Vec<Job>>;

    // ----- plugin state -----

    /// A value of a plugin's durable key/value state.
    async fn state_get(&self, plugin: &str, scope: &str, key: &str) -> Result<Option<String>>;
    /// Sets (`Some`) or deletes (`None`) a value.
    async fn state_set(
        &self,
        plugin: &str,
        scope: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()>;
    /// Bytes used by a plugin's scope (keys plus values, UTF-8), for quota checks.
    async fn state_size(&self, plugin: &str, scope: &str) -> Result<i64>;

    // ----- certificate stores -----

    /// Stores a new certificate store as given. `Conflict` if the account already has a
    /// store of that type at that machine and path; `Invalid` if `properties` is not an
    /// object.
    async fn insert_certificate_store(&self, store: &CertificateStore) -> Result<CertificateStore>;
    /// A store by id, restricted to `account_id` unless `None`.
    async fn get_certificate_store(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<CertificateStore>>;
    /// Replaces the editable fields of the store `store.id` in `store.account_id`, sets
    /// `updated_at` to now. `NotFound` if missing, `Conflict` on a duplicate location.
    async fn update_certificate_store(&self, store: &CertificateStore) -> Result<CertificateStore>;
    /// Deletes a store with its inventory and the job config it owns (its past jobs
    /// stay). Returns whether a store was deleted.
    async fn delete_certificate_store(&self, account_id: Option<&str>, id: Uuid) -> Result<bool>;
    /// A page of stores and the total count matching `filter`.
    async fn list_certificate_stores(
        &self,
        filter: &CertificateStoreFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CertificateStore>)>;
    /// In one transaction: replaces the store's inventory job config with `config`
    /// (`None` removes the schedule; the old config is deleted, its jobs stay), links it
    /// to the store and enqueues `jobs`. `NotFound` if the store is not in `account_id`.
    async fn set_inventory_schedule(
        &self,
        account_id: &str,
        store_id: Uuid,
        config: Option<&JobConfig>,
        jobs: &[NewJob],
    ) -> Result<CertificateStore>;
    /// Replaces the whole inventory of `account_id`'s store with `entries` (all of that
    /// store and account) in one transaction; returns how many were stored. `NotFound` if
    /// the store is gone or another account's.
    async fn replace_inventory(
        &self,
        account_id: &str,
        store_id: Uuid,
        entries: &[InventoryEntry],
    ) -> Result<u64>;
    /// A page of inventory entries (by `not_after` unless sorted otherwise) and the total.
    async fn list_inventory(
        &self,
        filter: &InventoryFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<InventoryEntry>)>;
    /// Records store paths a discovery found (a path found again is updated).
    async fn record_discovered_paths(&self, paths: &[DiscoveredPath]) -> Result<u64>;
    /// A page of discovered paths and the total count matching `filter`.
    async fn list_discovered_paths(
        &self,
        filter: &DiscoveredFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<DiscoveredPath>)>;
    // ----- agents (orchestrators) -----

    /// Like [`Database::claim_jobs`] for an agent: only the due, queued jobs pinned to
    /// `agent_id` (`run_on`) in `account_id`, never those any node may run.
    async fn claim_agent_jobs(
        &self,
        agent_id: &str,
        account_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Job>>;

    /// Stores a new agent as given. `Conflict` if its thumbprint is another agent's.
    async fn insert_agent(&self, agent: &Agent) -> Result<Agent>;
    /// An agent by id, restricted to `account_id` unless `None`.
    async fn get_agent(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<Agent>>;
    /// The agent whose current or previous client certificate has this thumbprint
    /// (current first).
    async fn find_agent_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Agent>>;
    /// The account's agents on that machine, newest first.
    async fn find_agents_by_machine(
        &self,
        account_id: &str,
        client_machine: &str,
    ) -> Result<Vec<Agent>>;
    /// Replaces every field but id, account and creation time; sets `updated_at` to now.
    /// `NotFound` if missing, `Conflict` if its thumbprint is another agent's.
    async fn update_agent(&self, agent: &Agent) -> Result<Agent>;
    /// A page of agents and the total count matching `filter`. `InvalidSort` for a sort
    /// key outside the allow-list, `Invalid` for a condition comparing mismatched types.
    async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Agent>)>;
    /// In one transaction: the agent goes back to New without certificate, renewal
    /// request or sessions, and its queued jobs are deleted. Returns the agent and how
    /// many jobs were deleted, or `None` if it is not in `account_id`.
    async fn reset_agent(&self, account_id: Option<&str>, id: Uuid)
    -> Result<Option<(Agent, u64)>>;
    /// Stores a registration credential. `Conflict` if the username is taken.
    async fn insert_registration_credential(
        &self,
        credential: &RegistrationCredential,
    ) -> Result<()>;
    /// Deletes a registration credential (in `account_id` unless `None`); agents it
    /// registered keep their certificates. Returns whether one was deleted.
    async fn delete_registration_credential(
        &self,
        account_id: Option<&str>,
        username: &str,
    ) -> Result<bool>;
    /// A registration credential by username.
    async fn find_registration_credential(
        &self,
        username: &str,
    ) -> Result<Option<RegistrationCredential>>;
    /// Stores a session (and forgets expired ones).
    async fn insert_agent_session(&self, session: &AgentSession) -> Result<()>;
    /// The unexpired session with this token hash.
    async fn find_agent_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentSession>>;

    // ----- synchronized cloud keys -----

    /// Replaces the snapshot of `(account_id, source)` with `keys` in one transaction:
    /// rows of that source missing from `keys` are deleted (the cloud deleted them), the
    /// rest written as given. Each key's `account_id` and `source` must match the
    /// arguments (`Invalid` otherwise). Returns how many rows the snapshot now has.
    async fn replace_cloud_keys(
        &self,
        account_id: &str,
        source: &str,
        keys: &[SyncedKey],
    ) -> Result<u64>;
    /// A page of synchronized keys and the total count matching `filter`. Default order:
    /// newest `created_at` first. `InvalidSort` for a sort key outside the allow-list.
    async fn list_cloud_keys(
        &self,
        filter: &KeyFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SyncedKey>)>;
}

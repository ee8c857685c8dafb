//! The store implementation shared by both backends: [`SqlDatabase`] over a [`Backend`].
//!
//! Each submodule holds the queries of one area as free functions generic over the
//! backend; the `Database` impl below only forwards to them.

mod agents;
mod alerts;
mod audit;
mod certificates;
mod cloud_keys;
mod condition;
mod configs;
mod exec;
mod history;
mod indexes;
mod jobs;
mod locks;
mod misc;
mod nodes;
mod page;
mod record;
mod retention;
mod rows;
mod snapshot;
mod ssl;
mod ssl_scans;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};
use uuid::Uuid;

use crate::agents::{Agent, AgentFilter, AgentSession, RegistrationCredential};
use crate::alerts::{Alert, AlertFilter, AlertOutcome, NewAlert};
use crate::backend::Backend;
use crate::certificates::{
    CertificateStore, CertificateStoreFilter, DiscoveredFilter, DiscoveredPath, InventoryEntry,
    InventoryFilter,
};
use crate::database::Database;
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
    ScanProgress, ScanStats, SslEndpoint, SslEndpointFilter, SslHistoryEntry, SslNetwork,
    SslNetworkFilter, SslObservation, SslScanPart,
};
use tokio::sync::mpsc::{Receiver, Sender};

/// The schema, one portable set of migrations for both backends, so the logical schema is
/// identical by construction. Applied on connect.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The migrations up to `version` only: a database restored from an older backup is
/// built at the backup's schema, then migrated on like any database of that age. (The
/// fields are sqlx's `migrate!` internals, pinned with the sqlx version.)
pub(crate) fn migrator_upto(version: i64) -> Migrator {
    Migrator {
        migrations: MIGRATOR
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
    }
}

/// A [`Database`] on a SQL database. Use the aliases [`crate::SqliteDatabase`] and
/// [`crate::PgDatabase`], or [`crate::connect`] to choose by URL.
pub struct SqlDatabase<DB: Backend> {
    pub(crate) pool: Pool<DB>,
}

impl<DB: Backend> std::fmt::Debug for SqlDatabase<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDatabase")
            .field("backend", &DB::BACKEND)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> SqlDatabase<DB> {
    /// The connection pool, e.g. for health checks or closing on shutdown.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    pub(crate) async fn conn(&self) -> Result<PoolConnection<DB>> {
        Ok(self.pool.acquire().await?)
    }

    /// A transaction that will write: takes the write lock up front on SQLite.
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, DB>> {
        Ok(self.pool.begin_with(DB::BEGIN_WRITE).await?)
    }

    /// Creates the listings' indexes the database lacks (see [`indexes`]); for a database
    /// at the newest schema.
    pub(crate) async fn create_listing_indexes(&self) -> Result<()> {
        indexes::create::<DB>(&mut *self.conn().await?).await
    }
}

/// Microseconds in `d`, saturating.
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl<DB: Backend> Database for SqlDatabase<DB> {
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        DB::migrate(&self.pool).await?;
        self.create_listing_indexes().await
    }
    async fn schema_version(&self) -> Result<i64> {
        snapshot::schema_version::<DB>(&mut *self.conn().await?).await
    }
    async fn non_empty_tables(&self) -> Result<Vec<String>> {
        let mut conn = self.conn().await?;
        let tables = snapshot::tables::<DB>(&mut conn).await?;
        snapshot::non_empty_tables::<DB>(&mut conn, &tables).await
    }
    async fn snapshot(&self, out: Sender<SnapshotItem>) -> Result<SnapshotSummary> {
        snapshot::snapshot(self, out).await
    }
    async fn restore(
        &self,
        schema_version: i64,
        input: Receiver<SnapshotItem>,
    ) -> Result<SnapshotSummary> {
        snapshot::restore(self, schema_version, input).await
    }

    async fn ensure_account(&self, id: &str) -> Result<Account> {
        misc::ensure_account(self, id).await
    }
    async fn create_token(&self, token: &NewToken<'_>) -> Result<ApiToken> {
        misc::create_token(self, token).await
    }
    async fn find_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        misc::find_token_by_hash(self, token_hash).await
    }
    async fn list_tokens(&self, account_id: Option<&str>) -> Result<Vec<ApiToken>> {
        misc::list_tokens(self, account_id).await
    }
    async fn revoke_token(
        &self,
        account_id: Option<&str>,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<ApiToken>> {
        misc::revoke_token(self, account_id, id, at).await
    }
    async fn count_admin_tokens(&self) -> Result<i64> {
        misc::count_admin_tokens(self).await
    }
    async fn acquire_target_lock(
        &self,
        target: &str,
        job: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        locks::acquire(self, target, job, now, until).await
    }
    async fn release_target_lock(&self, target: &str, job: Uuid) -> Result<()> {
        locks::release(self, target, job).await
    }
    async fn put_payload(&self, account: &str, sha256: &str, body: &str) -> Result<()> {
        locks::put_payload(self, account, sha256, body).await
    }
    async fn get_payload(&self, account: &str, sha256: &str) -> Result<Option<String>> {
        locks::get_payload(self, account, sha256).await
    }
    async fn insert_ssl_network(&self, network: &SslNetwork) -> Result<SslNetwork> {
        ssl::insert(self, network).await
    }
    async fn update_ssl_network(&self, network: &SslNetwork) -> Result<SslNetwork> {
        ssl::update(self, network).await
    }
    async fn get_ssl_network(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<SslNetwork>> {
        ssl::get(self, account_id, id).await
    }
    async fn delete_ssl_network(&self, account_id: Option<&str>, id: Uuid) -> Result<bool> {
        ssl::delete(self, account_id, id).await
    }
    async fn list_ssl_networks(
        &self,
        filter: &SslNetworkFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslNetwork>)> {
        ssl::list(self, filter, sort, skip, limit).await
    }

    async fn purge_ssl_history_and_alerts(&self, before: DateTime<Utc>) -> Result<(u64, u64)> {
        alerts::purge(self, before).await
    }
    async fn raise_alerts(&self, new: &[NewAlert]) -> Result<u64> {
        alerts::raise(self, new).await
    }
    async fn claim_alerts(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<Alert>> {
        alerts::claim(self, now, limit, lease).await
    }
    async fn settle_alert(&self, id: Uuid, outcome: &AlertOutcome) -> Result<()> {
        alerts::settle(self, id, outcome).await
    }
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Alert>)> {
        alerts::list(self, filter, skip, limit).await
    }
    async fn set_ssl_network_ranges(
        &self,
        account_id: &str,
        id: Uuid,
        ranges: &[String],
    ) -> Result<bool> {
        ssl::set_ranges(self, account_id, id, ranges).await
    }
    async fn due_ssl_networks(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<SslNetwork>> {
        ssl::due(self, now, limit).await
    }
    async fn advance_ssl_schedule(
        &self,
        id: Uuid,
        kind: crate::ScanKind,
        expected: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        ssl::advance(self, id, kind, expected, next).await
    }
    async fn insert_ssl_scan(&self, parts: &[SslScanPart], jobs: &[NewJob]) -> Result<()> {
        ssl_scans::insert_scan(self, parts, jobs).await
    }
    async fn list_ssl_parts(
        &self,
        account_id: Option<&str>,
        network_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslScanPart>)> {
        ssl_scans::list_parts(self, account_id, network_id, skip, limit).await
    }
    async fn get_ssl_part(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<SslScanPart>> {
        ssl_scans::get_part(self, account_id, "id", id).await
    }
    async fn ssl_part_for_job(&self, job_id: Uuid) -> Result<Option<SslScanPart>> {
        ssl_scans::get_part(self, None, "job_id", job_id).await
    }
    async fn keep_ssl_results(
        &self,
        part: &SslScanPart,
        observations: &[SslObservation],
        stats: &ScanStats,
        auto_monitor: bool,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        ssl_scans::keep_results(self, part, observations, stats, auto_monitor, at).await
    }
    async fn ssl_scan_progress(
        &self,
        account_id: Option<&str>,
        network_ids: &[Uuid],
    ) -> Result<Vec<ScanProgress>> {
        ssl_scans::progress(self, account_id, network_ids).await
    }
    async fn list_ssl_endpoints(
        &self,
        filter: &SslEndpointFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslEndpoint>)> {
        ssl_scans::list_endpoints(self, filter, sort, skip, limit).await
    }
    async fn set_ssl_endpoint_flags_where(
        &self,
        filter: &SslEndpointFilter,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> Result<u64> {
        ssl_scans::set_flags_where(self, filter, monitor, reviewed).await
    }
    async fn get_ssl_endpoint(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<SslEndpoint>> {
        ssl_scans::get_endpoint(self, account_id, id).await
    }
    async fn set_ssl_endpoint_flags(
        &self,
        account_id: Option<&str>,
        id: Uuid,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> Result<bool> {
        ssl_scans::set_flags(self, account_id, id, monitor, reviewed).await
    }
    async fn list_ssl_history(
        &self,
        account_id: Option<&str>,
        endpoint_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SslHistoryEntry>)> {
        ssl_scans::list_history(self, account_id, endpoint_id, skip, limit).await
    }
    async fn purge_finished_jobs(&self, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        retention::purge_jobs(self, before, limit).await
    }
    async fn purge_unreferenced_payloads(&self, before: DateTime<Utc>) -> Result<u64> {
        retention::purge_payloads(self, before).await
    }
    async fn job_counts(
        &self,
        filter: &JobCountFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobCount>)> {
        retention::job_counts(self, filter, skip, limit).await
    }
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<Vec<AuditEntry>> {
        audit::append(self, entries).await
    }
    async fn list_audit(&self, filter: &AuditFilter, limit: i64) -> Result<(i64, Vec<AuditEntry>)> {
        audit::list(self, filter, limit).await
    }

    async fn insert_config(&self, config: &JobConfig) -> Result<JobConfig> {
        configs::insert(self, config).await
    }
    async fn get_config(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<JobConfig>> {
        configs::get(self, account_id, id).await
    }
    async fn update_config(&self, config: &JobConfig) -> Result<JobConfig> {
        configs::update(self, config).await
    }
    async fn delete_config(&self, account_id: Option<&str>, id: Uuid) -> Result<bool> {
        configs::delete(self, account_id, id).await
    }
    async fn list_configs(
        &self,
        filter: &ConfigFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobConfig>)> {
        configs::list(self, filter, sort, skip, limit).await
    }

    async fn insert_jobs(&self, new: &[NewJob]) -> Result<u64> {
        jobs::insert(self, new).await
    }
    async fn get_job(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<Job>> {
        jobs::get(self, account_id, id).await
    }
    async fn list_jobs(
        &self,
        filter: &JobFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Job>)> {
        jobs::list(self, filter, sort, skip, limit).await
    }
    async fn delete_job(&self, account_id: Option<&str>, id: Uuid) -> Result<bool> {
        jobs::delete(self, account_id, id).await
    }

    async fn query_job_history(
        &self,
        query: &JobQuery,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<JobHistoryEntry>)> {
        history::query(self, query, skip, limit).await
    }
    async fn acknowledge_jobs(
        &self,
        account_id: Option<&str>,
        condition: &JobCondition,
    ) -> Result<u64> {
        history::acknowledge(self, account_id, condition).await
    }
    async fn reschedule_jobs(
        &self,
        account_id: Option<&str>,
        reruns: &[(Uuid, NewJob)],
    ) -> Result<u64> {
        history::reschedule(self, account_id, reruns).await
    }

    async fn claim_jobs(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        exec::claim(self, exec::Claimant::Node(node_id), now, limit, lease, &[]).await
    }
    async fn claim_jobs_except(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
        exclude_accounts: &[String],
    ) -> Result<Vec<Job>> {
        exec::claim(
            self,
            exec::Claimant::Node(node_id),
            now,
            limit,
            lease,
            exclude_accounts,
        )
        .await
    }
    async fn renew_leases(
        &self,
        node_id: &str,
        jobs: &[(Uuid, i32)],
        until: DateTime<Utc>,
    ) -> Result<u64> {
        exec::renew_leases(self, node_id, jobs, until).await
    }
    async fn finish_jobs(&self, finishes: &[JobFinish]) -> Result<u64> {
        let unaudited: Vec<_> = finishes.iter().map(|f| (f, None)).collect();
        exec::finish(self, &unaudited).await
    }
    async fn finish_jobs_audited(&self, finishes: &[(JobFinish, NewAuditEntry)]) -> Result<u64> {
        let audited: Vec<_> = finishes.iter().map(|(f, e)| (f, Some(e))).collect();
        exec::finish(self, &audited).await
    }
    async fn retry_job(&self, retry: &JobRetry) -> Result<bool> {
        exec::retry(self, retry).await
    }
    async fn update_progress(&self, id: Uuid, done: i64, total: i64) -> Result<bool> {
        exec::update_progress(self, id, done, total).await
    }
    async fn recover_expired_leases(&self, now: DateTime<Utc>) -> Result<Vec<Job>> {
        exec::recover_expired_leases(self, now).await
    }
    async fn recover_node(&self, node_id: &str, now: DateTime<Utc>) -> Result<Vec<Job>> {
        exec::recover_node(self, node_id, now).await
    }
    async fn has_unfinished_job(&self, config_id: Uuid) -> Result<bool> {
        jobs::has_unfinished(self, config_id).await
    }
    async fn unfinished_configs(&self, config_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        jobs::unfinished_configs(self, config_ids).await
    }
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<crate::QueueStats> {
        jobs::queue_stats(self, now).await
    }

    async fn due_configs(
        &self,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<JobConfig>> {
        configs::due(self, now, after, limit).await
    }
    async fn fire_config(
        &self,
        config_id: Uuid,
        expected_next_fire: Option<DateTime<Utc>>,
        new_next_fire: Option<DateTime<Utc>>,
        new_jobs: &[NewJob],
    ) -> Result<bool> {
        configs::fire(self, config_id, expected_next_fire, new_next_fire, new_jobs).await
    }
    async fn fire_configs(&self, fires: &[ConfigFire]) -> Result<Vec<Uuid>> {
        configs::fire_many(self, fires).await
    }
    async fn set_next_fire(&self, config_id: Uuid, next: Option<DateTime<Utc>>) -> Result<bool> {
        configs::set_next_fire(self, config_id, next).await
    }
    async fn latest_outcomes(
        &self,
        config_id: Uuid,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<JobStatus>> {
        configs::latest_outcomes(self, config_id, since, limit).await
    }
    async fn pause_config(&self, config_id: Uuid, reason: &str, at: DateTime<Utc>) -> Result<bool> {
        configs::pause(self, config_id, reason, at).await
    }
    async fn unclassified_configs(&self, limit: i64) -> Result<Vec<JobConfig>> {
        configs::unclassified(self, limit).await
    }
    async fn record_config_facts(&self, facts: &[ConfigFacts]) -> Result<u64> {
        configs::record_facts(self, facts).await
    }

    async fn start_node(&self, start: &NodeStart<'_>) -> Result<()> {
        nodes::start_node(self, start).await
    }
    async fn heartbeat(&self, node_id: &str, now: DateTime<Utc>) -> Result<()> {
        nodes::heartbeat(self, node_id, now).await
    }
    async fn stop_node(&self, node_id: &str, at: DateTime<Utc>) -> Result<()> {
        nodes::stop_node(self, node_id, at).await
    }
    async fn list_nodes(&self) -> Result<Vec<Node>> {
        nodes::list_nodes(self).await
    }
    async fn running_jobs_per_node(&self, account_id: Option<&str>) -> Result<Vec<(String, i64)>> {
        nodes::running_jobs_per_node(self, account_id).await
    }
    async fn note_jobs_waiting_for(
        &self,
        node_id: &str,
        due_before: DateTime<Utc>,
        message: &str,
    ) -> Result<Vec<Job>> {
        nodes::note_jobs_waiting_for(self, node_id, due_before, message).await
    }

    async fn claim_agent_jobs(
        &self,
        agent_id: &str,
        account_id: &str,
        now: DateTime<Utc>,
        limit: i64,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        let claimant = exec::Claimant::Agent {
            id: agent_id,
            account: account_id,
        };
        exec::claim(self, claimant, now, limit, lease, &[]).await
    }
    async fn insert_agent(&self, agent: &Agent) -> Result<Agent> {
        agents::insert(self, agent).await
    }
    async fn get_agent(&self, account_id: Option<&str>, id: Uuid) -> Result<Option<Agent>> {
        agents::get(self, account_id, id).await
    }
    async fn find_agent_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Agent>> {
        agents::find_by_thumbprint(self, thumbprint).await
    }
    async fn find_agents_by_machine(
        &self,
        account_id: &str,
        client_machine: &str,
    ) -> Result<Vec<Agent>> {
        agents::find_by_machine(self, account_id, client_machine).await
    }
    async fn update_agent(&self, agent: &Agent) -> Result<Agent> {
        agents::update(self, agent).await
    }
    async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<Agent>)> {
        agents::list(self, filter, sort, skip, limit).await
    }
    async fn reset_agent(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<(Agent, u64)>> {
        agents::reset(self, account_id, id).await
    }
    async fn insert_registration_credential(
        &self,
        credential: &RegistrationCredential,
    ) -> Result<()> {
        agents::insert_credential(self, credential).await
    }
    async fn delete_registration_credential(
        &self,
        account_id: Option<&str>,
        username: &str,
    ) -> Result<bool> {
        agents::delete_credential(self, account_id, username).await
    }
    async fn find_registration_credential(
        &self,
        username: &str,
    ) -> Result<Option<RegistrationCredential>> {
        agents::find_credential(self, username).await
    }
    async fn insert_agent_session(&self, session: &AgentSession) -> Result<()> {
        agents::insert_session(self, session).await
    }
    async fn find_agent_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentSession>> {
        agents::find_session(self, token_hash, now).await
    }

    async fn state_get(&self, plugin: &str, scope: &str, key: &str) -> Result<Option<String>> {
        misc::state_get(self, plugin, scope, key).await
    }
    async fn state_set(
        &self,
        plugin: &str,
        scope: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        misc::state_set(self, plugin, scope, key, value).await
    }
    async fn state_size(&self, plugin: &str, scope: &str) -> Result<i64> {
        misc::state_size(self, plugin, scope).await
    }

    async fn insert_certificate_store(&self, store: &CertificateStore) -> Result<CertificateStore> {
        certificates::insert(self, store).await
    }
    async fn get_certificate_store(
        &self,
        account_id: Option<&str>,
        id: Uuid,
    ) -> Result<Option<CertificateStore>> {
        certificates::get(self, account_id, id).await
    }
    async fn update_certificate_store(&self, store: &CertificateStore) -> Result<CertificateStore> {
        certificates::update(self, store).await
    }
    async fn delete_certificate_store(&self, account_id: Option<&str>, id: Uuid) -> Result<bool> {
        certificates::delete(self, account_id, id).await
    }
    async fn list_certificate_stores(
        &self,
        filter: &CertificateStoreFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CertificateStore>)> {
        certificates::list(self, filter, sort, skip, limit).await
    }
    async fn set_inventory_schedule(
        &self,
        account_id: &str,
        store_id: Uuid,
        config: Option<&JobConfig>,
        new_jobs: &[NewJob],
    ) -> Result<CertificateStore> {
        certificates::set_inventory_schedule(self, account_id, store_id, config, new_jobs).await
    }
    async fn replace_inventory(
        &self,
        account_id: &str,
        store_id: Uuid,
        entries: &[InventoryEntry],
    ) -> Result<u64> {
        certificates::replace_inventory(self, account_id, store_id, entries).await
    }
    async fn list_inventory(
        &self,
        filter: &InventoryFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<InventoryEntry>)> {
        certificates::list_inventory(self, filter, sort, skip, limit).await
    }
    async fn record_discovered_paths(&self, paths: &[DiscoveredPath]) -> Result<u64> {
        certificates::record_discovered(self, paths).await
    }
    async fn list_discovered_paths(
        &self,
        filter: &DiscoveredFilter,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<DiscoveredPath>)> {
        certificates::list_discovered(self, filter, skip, limit).await
    }
    async fn replace_cloud_keys(
        &self,
        account_id: &str,
        source: &str,
        keys: &[SyncedKey],
    ) -> Result<u64> {
        cloud_keys::replace(self, account_id, source, keys).await
    }
    async fn list_cloud_keys(
        &self,
        filter: &KeyFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SyncedKey>)> {
        cloud_keys::list(self, filter, sort, skip, limit).await
    }
}

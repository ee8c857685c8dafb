//! Keywarden's storage layer: job configs, jobs (runs), API tokens, nodes, plugin state and
//! certificate stores with their inventories, on SQLite (default, single node) or PostgreSQL (clusters).
//!
//! Callers hold an `Arc<dyn Database>` from [`connect`]; both backends run the same queries
//! (see [`backend`] for the few dialect differences) on the same portable schema
//! (`migrations/`, applied on connect) and pass the same conformance suite.
//!
//! # Job life cycle
//! `queued` —[`Database::claim_jobs`]→ `running` on a node with a lease —[`Database::finish_jobs`]→
//! `completed` / `failed` / `cancelled`. A running job goes back to `queued` through
//! [`Database::retry_job`] or, when its node stops renewing the lease, through
//! [`Database::recover_expired_leases`], or [`Database::recover_node`] when a node restarts with
//! jobs still running under its id (both fail it instead once attempts are used up).
//!
//! # Scheduling
//! Each config carries `next_fire_at`. A scheduler reads [`Database::due_configs`], computes
//! the following fire time and calls [`Database::fire_config`], which compare-and-sets
//! `next_fire_at` and enqueues the jobs in one transaction, so a fire happens once even
//! with several nodes or after a crash between the two steps.

mod agents;
mod alerts;
pub mod backend;
mod certificates;
mod database;
mod error;
mod filter;
mod history;
mod kinds;
mod model;
mod policy;
mod postgres;
mod recurrence;
pub mod snapshot;
mod sql;
mod sqlite;
mod ssl;
pub mod testing;

use std::sync::Arc;

pub use agents::{
    Agent, AgentCondition, AgentField, AgentFilter, AgentSession, AgentStatus, CertificateRenewal,
    RegistrationCredential,
};
pub use alerts::{Alert, AlertFilter, AlertOutcome, NewAlert};
pub use certificates::{
    CertificateSource, CertificateStore, CertificateStoreFilter, DiscoveredFilter, DiscoveredPath,
    InventoryEntry, InventoryFilter,
};
pub use database::Database;
pub use error::{DbError, Result};
pub use filter::{ConfigFilter, JobFilter, KeyFilter, Sort, SortKey, Total};
pub use history::{
    ColumnKind, Compare, Condition, Field, FieldValue, JobCondition, JobField, JobFlag,
    JobHistoryEntry, JobOrder, JobQuery, JobValue, NoFlag,
};
pub use kinds::{
    AlertKind, AlertState, CatchUp, JobResult, JobStatus, Overlap, ProbeStatus, RunOn, ScanKind,
    ScheduleKind, TokenRole, UnknownWord, WhenBusy,
};
pub use model::{
    AUDIT_GENESIS, Account, ApiToken, AuditEntry, AuditFilter, ConfigFacts, ConfigFire, Job,
    JobAlerts, JobConfig, JobCount, JobCountFilter, JobFinish, JobRetry, NewAuditEntry, NewJob,
    NewToken, Node, NodeStart, Progress, Purged, QueueStats, SyncedKey, truncate_micros,
};
pub use policy::{SchedulingPolicy, WindowSpec};
pub use postgres::PgDatabase;
pub use recurrence::Recurrence;
pub use snapshot::{Cell, ColumnType, SnapshotItem, SnapshotSummary, TableSchema};
pub use sql::SqlDatabase;
pub use sqlite::SqliteDatabase;
pub use ssl::{
    ObservedCertificate, QuietHour, ScanProgress, ScanStats, SslEndpoint, SslEndpointCondition,
    SslEndpointField, SslEndpointFilter, SslEndpointFlag, SslHistoryEntry, SslNetwork,
    SslNetworkCondition, SslNetworkField, SslNetworkFilter, SslObservation, SslScanPart,
};

/// The newest migration this build applies: the schema version its backups carry and
/// the newest it can restore.
pub fn newest_migration() -> i64 {
    sql::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Opens the store named by `url` with its schema brought only up to migration `version`
/// (a restore of a backup that old; [`Database::migrate`] then brings it up to date).
/// Fails when the database already has a newer migration.
pub async fn connect_at(url: &str, version: i64) -> Result<Arc<dyn Database>> {
    let migrator = sql::migrator_upto(version);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PgDatabase::open_migrated(url.parse()?, &migrator).await?,
        ))
    } else if url.starts_with("sqlite:") || (!url.contains("://") && !url.is_empty()) {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        Ok(Arc::new(
            SqliteDatabase::open_migrated(SqliteDatabase::options(url)?, memory, &migrator).await?,
        ))
    } else {
        Err(DbError::InvalidUrl(url.to_owned()))
    }
}

/// Opens the store named by `url` and brings its schema up to date.
///
/// * `postgres://...` or `postgresql://...` → [`PgDatabase`]
/// * `sqlite:...` (including `sqlite::memory:`) or a plain file path → [`SqliteDatabase`]
pub async fn connect(url: &str) -> Result<Arc<dyn Database>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgDatabase::open(url).await?))
    } else if url.starts_with("sqlite:") || (!url.contains("://") && !url.is_empty()) {
        Ok(Arc::new(SqliteDatabase::open(url).await?))
    } else {
        Err(DbError::InvalidUrl(url.to_owned()))
    }
}

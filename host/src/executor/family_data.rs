//! Keeping what a job returned beyond its outcome: the family-specific data
//! ([`FamilyData`]) goes into the store's tables, one arm per kind (synchronized cloud
//! keys, certificate inventories, discovered store paths, SSL scan probes).
//!
//! Runs after the plugin returned and before the job's outcome is written, so a job
//! shown as completed has its data in the store already.

use chrono::{DateTime, Utc};
use keywarden_db::{Database, DiscoveredPath, InventoryEntry, Job, SyncedKey, truncate_micros};
use uuid::Uuid;

use crate::certificates::job_params::StoreJobParams;
use crate::certificates::{canonical_store_type, parse};
use crate::runtime::bindings::certificate_store::CertificateEntry;
use crate::runtime::bindings::key_management::CloudKey;
use crate::runtime::invoke::FamilyData;

/// Stores `data` for `job`. An error is reported as the job's failure (and retried if
/// attempts remain), since the job's purpose was to produce it.
pub(crate) async fn persist(db: &dyn Database, job: &Job, data: &FamilyData) -> Result<(), String> {
    match data {
        FamilyData::None => Ok(()),
        FamilyData::Inventory(entries) => persist_inventory(db, job, entries).await,
        FamilyData::Paths(paths) => persist_paths(db, job, paths).await,
        FamilyData::Keys(keys) => keep_keys(db, job, keys).await,
        FamilyData::Probes(record) => crate::discovery::results::keep(db, job, record).await,
    }
}

fn params(job: &Job) -> Result<StoreJobParams, String> {
    serde_json::from_value(job.params.clone())
        .map_err(|e| format!("the certificate-store job's params are malformed: {e}"))
}

async fn persist_inventory(
    db: &dyn Database,
    job: &Job,
    entries: &[CertificateEntry],
) -> Result<(), String> {
    let store_id = params(job)?
        .certificate_store_id
        .and_then(|raw| Uuid::parse_str(&raw).ok())
        .ok_or("an inventory job without a valid certificate_store_id cannot be stored")?;
    let now = truncate_micros(Utc::now());
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        // An entry without a certificate (a bare key) has nothing to show.
        let Some(leaf) = entry.chain.first() else {
            continue;
        };
        let summary = parse::summarize(leaf)
            .map_err(|e| format!("inventory entry {:?}: {e}", entry.alias))?;
        rows.push(InventoryEntry {
            store_id,
            source: keywarden_db::CertificateSource::Store,
            account_id: job.account_id.clone(),
            alias: entry.alias.clone(),
            thumbprint: summary.thumbprint,
            serial_number: summary.serial_number,
            subject: summary.subject,
            issuer: summary.issuer,
            sans: summary.sans,
            not_before: summary.not_before,
            not_after: summary.not_after,
            has_private_key: entry.has_private_key,
            chain_length: i64::try_from(entry.chain.len()).unwrap_or(i64::MAX),
            certificate: parse::base64_der(leaf),
            job_id: Some(job.id),
            inventoried_at: now,
        });
    }
    db.replace_inventory(&job.account_id, store_id, &rows)
        .await
        .map(|_| ())
        .map_err(|e| format!("the inventory could not be saved: {e}"))
}

async fn persist_paths(db: &dyn Database, job: &Job, paths: &[String]) -> Result<(), String> {
    let discovery = params(job)?
        .discovery
        .ok_or("a discovery job without params.discovery cannot be stored")?;
    let now = truncate_micros(Utc::now());
    let mut found: Vec<DiscoveredPath> = paths
        .iter()
        .map(|path| DiscoveredPath {
            account_id: job.account_id.clone(),
            store_type: canonical_store_type(&discovery.store_type),
            client_machine: discovery.client_machine.clone(),
            path: path.clone(),
            job_id: Some(job.id),
            discovered_at: now,
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup_by(|a, b| a.path == b.path);
    db.record_discovered_paths(&found)
        .await
        .map(|_| ())
        .map_err(|e| format!("the discovered paths could not be saved: {e}"))
}

/// Replaces the snapshot of the job's config (or of the job itself, when run without a
/// config) with the keys the cloud reported.
async fn keep_keys(db: &dyn Database, job: &Job, keys: &[CloudKey]) -> Result<(), String> {
    let source = job.job_config_id.unwrap_or(job.id).to_string();
    let cloud_name = job.target.as_deref().unwrap_or("unknown");
    let synced_at = truncate_micros(Utc::now());
    let rows: Vec<SyncedKey> = keys
        .iter()
        .map(|k| SyncedKey {
            account_id: job.account_id.clone(),
            source: source.clone(),
            cloud_name: cloud_name.to_owned(),
            key_id: k.id.clone(),
            resource_name: k.resource_name.clone(),
            aliases: k.aliases.clone(),
            state: k.state.clone(),
            created_at: timestamp(&k.created_at),
            rotated_at: k.rotated_at.as_deref().and_then(timestamp),
            attributes: serde_json::from_str(&k.attributes)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| serde_json::json!({})),
            synced_at,
        })
        .collect();
    db.replace_cloud_keys(&job.account_id, &source, &rows)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An RFC 3339 time from a plugin; anything else (including empty) is unknown.
fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| truncate_micros(t.with_timezone(&Utc)))
}

//! Keeping what some job families return beyond their outcome: synchronized keys
//! (and, later, certificate inventories and discovered store paths).
//!
//! Runs after the plugin returned and before the job's outcome is written, so a job
//! shown as completed has its data in the store already. A data write that fails turns
//! the job into a failure (retried like any failure): a synchronization whose keys
//! were not kept did not do its work.

use chrono::{DateTime, Utc};
use keywarden_store::{Job, Store, SyncedKey, truncate_micros};

use crate::runtime::bindings::key_management::CloudKey;
use crate::runtime::invoke::{FamilyData, JobFailure, JobReport};

/// Stores the family data of a finished job; on failure the report becomes a failure.
pub(crate) async fn keep(
    store: &dyn Store,
    job: &Job,
    target: Option<&str>,
    report: &mut JobReport,
) {
    let Ok(finished) = &report.outcome else {
        return;
    };
    if let Err(e) = persist(store, job, target, &finished.data).await {
        tracing::error!(job = %job.id, "keeping the job's data failed: {e}");
        report.outcome = Err(JobFailure::Failed(format!(
            "the job ran, but its results could not be stored: {e}"
        )));
    }
}

/// One arm per kind of data a family returns.
async fn persist(
    store: &dyn Store,
    job: &Job,
    target: Option<&str>,
    data: &FamilyData,
) -> Result<(), String> {
    match data {
        FamilyData::None => Ok(()),
        FamilyData::Keys(keys) => keep_keys(store, job, target, keys).await,
        // Not kept yet: the certificate-store APIs will own these.
        FamilyData::Inventory(_) | FamilyData::Paths(_) => Ok(()),
    }
}

/// Replaces the snapshot of the job's config (or of the job itself, when run without a
/// config) with the keys the cloud reported.
async fn keep_keys(
    store: &dyn Store,
    job: &Job,
    target: Option<&str>,
    keys: &[CloudKey],
) -> Result<(), String> {
    let source = job.job_config_id.unwrap_or(job.id).to_string();
    let cloud_name = target.unwrap_or("unknown");
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
    store
        .replace_cloud_keys(&job.account_id, &source, &rows)
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

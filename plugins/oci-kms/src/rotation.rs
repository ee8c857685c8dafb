//! `cckm_key_rotation`: pick the keys in scope, decide which are due, give each a new
//! key version (which OCI makes current), then retire the old ones if asked.

use chrono::{DateTime, Duration, Utc};
use cloud_common::{
    CloudError, Report, due, duration, last_rotation, now, record_rotation, rfc3339,
};
use keywarden_sdk::http::Method;
use keywarden_sdk::log;
use keywarden_sdk::prelude::*;
use serde_json::{Value, json};

use crate::auth::Account;
use crate::client::Oci;
use crate::keys::{self, Listed, Version};
use crate::params::{DELETION_DAYS, OldVersions, RotationParams, refuse_expiry_params};
use crate::vaults::{Vault, in_scope};

pub fn rotate(ctx: &JobContext) -> Result<Outcome, JobError> {
    let params: RotationParams = ctx.params()?;
    refuse_expiry_params(&params)?;
    let rotation_after = duration("rotation_after", params.rotation_after.as_deref(), false)?;
    let scope = &params.oci_param;
    let deletion_days = scope.deletion_days.unwrap_or(*DELETION_DAYS.end());
    if !DELETION_DAYS.contains(&deletion_days) {
        return Err(JobError::invalid_param(
            "oci_param.deletion_days",
            "OCI schedules a key version's deletion 7 to 30 days out",
        ));
    }
    let retire = (scope.old_versions == OldVersions::ScheduleDeletion).then_some(deletion_days);
    let account = Account::from_config()?;
    // The vault listing is the first signed call: a wrong key fails the job here.
    let vaults = in_scope(&account, scope)?;
    let oci = &account.oci;
    let now = now();
    let mut report = Report::new();
    let unlisted = keys::each(oci, &vaults, scope, "listing keys", |vault, key| {
        // Only enabled keys take a new version; external keys get theirs from the
        // external key manager.
        if key.state != "ENABLED" || key.protection == "EXTERNAL" {
            return Ok(());
        }
        report.in_scope += 1;
        match rotate_one(oci, vault, key, rotation_after, retire, now) {
            Ok(Some(entry)) => {
                log::info(format!("rotated: {entry}"));
                report.rotated(entry);
            }
            Ok(None) => report.not_due += 1,
            Err(e) => {
                log::warn_with("rotation failed", &[("key", &key.id), ("error", &e.0)]);
                report.failed(
                    json!({"vault": vault.id, "name": key.name, "key_id": key.id, "error": e.0}),
                );
            }
        }
        Ok(())
    })?;
    for failure in unlisted {
        report.failed(failure);
    }
    Ok(report.finish(json!({"vaults": vaults.iter().map(|v| &v.id).collect::<Vec<_>>()})))
}

/// The path of the create-version call; a test build sends a verb the API lacks.
fn create_version(oci: &Oci, vault: &Vault, key: &str) -> Result<Value, CloudError> {
    let method = if cfg!(feature = "spec-break") {
        Method::Put
    } else {
        Method::Post
    };
    let path = format!("/keys/{key}/keyVersions");
    Ok(oci.call(method, &vault.management, &path, None)?.0)
}

/// Rotates `key` if due; `None` when `rotation_after` says not yet.
fn rotate_one(
    oci: &Oci,
    vault: &Vault,
    key: &Listed,
    rotation_after: Option<Duration>,
    retire: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Option<Value>, CloudError> {
    let current = keys::get(oci, vault, &key.id)?;
    let old = current.current_version().to_owned();
    if let Some(every) = rotation_after {
        let made = oci
            .call(
                Method::Get,
                &vault.management,
                &format!("/keys/{}/keyVersions/{old}", key.id),
                None,
            )?
            .0;
        let made = Version::from(&made).and_then(|v| v.created);
        // The current version was made by the last rotation, whoever made it.
        let since = last_rotation(&key.id).max(made);
        if !due(now, every, made.or(current.created()), since) {
            return Ok(None);
        }
    }
    let made = Version::from(&create_version(oci, vault, &key.id)?)
        .filter(|v| v.id != old)
        .ok_or_else(|| CloudError(format!("OCI answered no new version for {}", key.id)))?;
    record_rotation(&key.id, now)?;
    let mut scheduled = Vec::new();
    let mut time_of_deletion = None;
    if let Some(days) = retire {
        let when = rfc3339(now + Duration::days(days.into()));
        for v in keys::versions(oci, vault, &key.id)? {
            if v.id == made.id || v.state != "ENABLED" {
                continue;
            }
            oci.call(
                Method::Post,
                &vault.management,
                &format!(
                    "/keys/{}/keyVersions/{}/actions/scheduleDeletion",
                    key.id, v.id
                ),
                Some(&json!({"timeOfDeletion": when})),
            )
            .map_err(|e| CloudError(format!("new version {} made, then: {e}", made.id)))?;
            scheduled.push(v.id);
        }
        time_of_deletion = Some(when);
    }
    Ok(Some(json!({
        "vault": vault.id,
        "compartment": vault.compartment,
        "name": key.name,
        "key_id": key.id,
        "old_version": old,
        "new_version": made.id,
        "deletion_scheduled": scheduled,
        "time_of_deletion": time_of_deletion,
    })))
}

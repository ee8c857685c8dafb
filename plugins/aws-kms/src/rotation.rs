//! `cckm_key_rotation`: pick the keys in scope, decide which are due, rotate them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use cloud_common::{Report, due, duration, last_rotation, record_rotation};
use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::{Value, json};

use crate::conn::connect;
use crate::import;
use crate::inventory::{self, KeyInfo, rfc3339};
use crate::kms::{Kms, KmsError};
use crate::params::{Mode, OldKey, RotationParams, alias_name};

/// The longest validity AWS accepts for imported key material (`ValidTo` at most 365
/// days after the import).
const MAX_VALIDITY_DAYS: i64 = 365;

/// The validated knobs of one run.
struct Plan {
    mode: Mode,
    old_key: OldKey,
    pending_window_days: Option<u32>,
    retain_alias: bool,
    aliases: Vec<String>,
    tags: BTreeMap<String, String>,
    expire_in: Option<Duration>,
    rotation_after: Option<Duration>,
    expiration: Option<Duration>,
}

fn plan(p: &RotationParams) -> Result<Plan, JobError> {
    let expiration = duration("expiration", p.expiration.as_deref(), true)?;
    if expiration.is_some_and(|validity| validity > Duration::days(MAX_VALIDITY_DAYS)) {
        return Err(JobError::invalid_param(
            "expiration",
            format!("AWS accepts imported key material valid for at most {MAX_VALIDITY_DAYS} days"),
        ));
    }
    if expiration.is_some() && p.aws_param.mode == Mode::OnDemand {
        return Err(JobError::invalid_param(
            "expiration",
            "AWS's on-demand rotation makes KMS-generated key material, which cannot expire; \
             expiration applies only to imported key material (Origin EXTERNAL) in new_key mode",
        ));
    }
    if let Some(days) = p.aws_param.pending_window_days
        && !(7..=30).contains(&days)
    {
        return Err(JobError::invalid_param(
            "aws_param.pending_window_days",
            "AWS accepts 7 to 30 days",
        ));
    }
    Ok(Plan {
        mode: p.aws_param.mode,
        old_key: p.aws_param.old_key,
        pending_window_days: p.aws_param.pending_window_days,
        retain_alias: p.aws_param.retain_alias,
        aliases: p.aws_param.aliases.iter().map(|a| alias_name(a)).collect(),
        tags: p.aws_param.tags.clone(),
        expire_in: duration("expire_in", p.expire_in.as_deref(), true)?,
        rotation_after: duration("rotation_after", p.rotation_after.as_deref(), false)?,
        expiration,
    })
}

pub fn rotate(ctx: &JobContext) -> Result<Outcome, JobError> {
    let params: RotationParams = ctx.params()?;
    let plan = plan(&params)?;
    let (kms, endpoint) = connect(&params.aws_param)?;
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    log::info_with("listing keys", &[("endpoint", &endpoint)]);

    let alias_map = inventory::aliases(&kms)?;
    let ids = inventory::key_ids(&kms)?;
    let total_ids = ids.len() as u64;
    // Imported material that expired (or was never imported) leaves a key in
    // PendingImport: it cannot be rotated, but the run names it.
    let mut report = Report::new().group(
        "pending_import",
        "have no usable key material (PendingImport)",
    );
    if ctx.dry_run() {
        report = report.dry_run();
    }
    for (n, id) in ids.iter().enumerate() {
        progress::report(n as u64, total_ids);
        let key = match inventory::describe(&kms, id, &alias_map) {
            Ok(k) => k,
            Err(e) => {
                report.failed(json!({"key_id": id, "error": e.to_string()}));
                continue;
            }
        };
        let awaiting_material = key.state() == "PendingImport";
        if !key.customer_managed() || (key.state() != "Enabled" && !awaiting_material) {
            continue;
        }
        if !plan.aliases.is_empty() && !key.aliases.iter().any(|a| plan.aliases.contains(a)) {
            continue;
        }
        let tags = if plan.tags.is_empty() && plan.mode == Mode::OnDemand {
            BTreeMap::new()
        } else {
            match inventory::tags(&kms, id) {
                Ok(t) => t,
                Err(e) => {
                    report.failed(failure(&key, &e));
                    continue;
                }
            }
        };
        if !cloud_common::carries_all(&plan.tags, &tags) {
            continue;
        }
        if awaiting_material {
            log::warn_with(
                "key has no usable key material (PendingImport)",
                &[("key_id", &key.id)],
            );
            report.note(
                "pending_import",
                json!({"key_id": key.id, "aliases": key.aliases}),
            );
            continue;
        }
        if let Some(window) = plan.expire_in {
            match key.valid_to() {
                Some(valid_to) if valid_to <= now + window => {}
                _ => continue, // material that never expires, or expires later
            }
        }
        report.in_scope += 1;
        if let Some(every) = plan.rotation_after {
            let last = last_rotation(id).max(inventory::last_aws_rotation(&kms, id));
            if !due(now, every, key.created(), last) {
                report.not_due += 1;
                continue;
            }
        }
        if ctx.dry_run() {
            // Everything above only read KMS; a real run would write from here on.
            log::info_with("would rotate", &[("key_id", &key.id)]);
            report.would_rotate(json!({
                "key_id": key.id,
                "aliases": key.aliases,
                "mode": plan.mode.name(),
            }));
            continue;
        }
        let result = match plan.mode {
            Mode::OnDemand => on_demand(&kms, &key, now),
            Mode::NewKey => new_key(&kms, &key, tags, &plan, now),
        };
        match result {
            Ok(entry) => {
                log::info(format!("rotated: {entry}"));
                report.rotated(entry);
            }
            Err(e) => {
                log::warn_with("rotation failed", &[("key_id", &key.id), ("error", &e.0)]);
                report.failed(failure(&key, &e));
            }
        }
    }
    progress::report(total_ids, total_ids);

    Ok(report.finish(json!({})))
}

fn failure(key: &KeyInfo, e: &KmsError) -> Value {
    json!({"key_id": key.id, "aliases": key.aliases, "error": e.0})
}

/// AWS's own rotation: new material under the same key id and aliases.
fn on_demand(kms: &Kms, key: &KeyInfo, now: DateTime<Utc>) -> Result<Value, KmsError> {
    kms.call("RotateKeyOnDemand", &json!({"KeyId": key.id}))?;
    record_rotation(&key.id, now)?;
    Ok(json!({"key_id": key.id, "aliases": key.aliases, "mode": "on_demand"}))
}

/// A new key like the old one; the aliases move to it; the old key is archived.
fn new_key(
    kms: &Kms,
    key: &KeyInfo,
    tags: BTreeMap<String, String>,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Value, KmsError> {
    let origin = key.str("Origin").unwrap_or("AWS_KMS");
    if plan.expiration.is_some() && origin != "EXTERNAL" {
        return Err(KmsError(format!(
            "expiration applies only to imported key material (Origin EXTERNAL); this key has Origin {origin}, whose material cannot expire"
        )));
    }
    let imported = origin == "EXTERNAL";
    let key_spec = key.str("KeySpec").unwrap_or("SYMMETRIC_DEFAULT");
    if imported && key_spec != import::IMPORTABLE_SPEC {
        return Err(KmsError(format!(
            "this plugin makes imported key material for {} keys only; this EXTERNAL key has KeySpec {key_spec}",
            import::IMPORTABLE_SPEC
        )));
    }
    if !imported && origin != "AWS_KMS" {
        return Err(KmsError(format!(
            "keys with Origin {origin} are not rotated by this plugin: their material lives in a custom key store"
        )));
    }
    let mut request = json!({
        "Origin": origin,
        "KeySpec": key_spec,
        "KeyUsage": key.str("KeyUsage").unwrap_or("ENCRYPT_DECRYPT"),
        "Description": key.str("Description").unwrap_or(""),
        "MultiRegion": key.meta.get("MultiRegion").and_then(Value::as_bool).unwrap_or(false),
    });
    if !tags.is_empty() {
        request["Tags"] = tags
            .iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
    }
    let created = kms.call("CreateKey", &request)?;
    let new_id = created
        .pointer("/KeyMetadata/KeyId")
        .and_then(Value::as_str)
        .ok_or_else(|| KmsError("KMS CreateKey answered no KeyId".into()))?
        .to_owned();
    // Imported material goes in before any alias moves, so a failed import leaves the
    // aliases on the old key and only a half-made key, scheduled for deletion, behind.
    let valid_to = plan.expiration.map(|validity| now + validity);
    if imported && let Err(e) = import::import_fresh_material(kms, &new_id, valid_to) {
        let cleanup = kms.call(
            "ScheduleKeyDeletion",
            &json!({"KeyId": new_id, "PendingWindowInDays": 7}),
        );
        let fate = match cleanup {
            Ok(_) => "scheduled for deletion".to_owned(),
            Err(c) => format!("left pending import ({c})"),
        };
        return Err(KmsError(format!(
            "importing key material into the new key {new_id} ({fate}): {e}"
        )));
    }
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let mut archived_aliases = Vec::new();
    for alias in &key.aliases {
        kms.call(
            "UpdateAlias",
            &json!({"AliasName": alias, "TargetKeyId": new_id}),
        )?;
        if plan.retain_alias {
            let archived = format!("{alias}-{stamp}");
            kms.call(
                "CreateAlias",
                &json!({"AliasName": archived, "TargetKeyId": key.id}),
            )?;
            archived_aliases.push(archived);
        }
    }
    let archived_state = match plan.old_key {
        OldKey::Disable => {
            kms.call("DisableKey", &json!({"KeyId": key.id}))?;
            "Disabled"
        }
        OldKey::ScheduleDeletion => {
            let mut req = json!({"KeyId": key.id});
            if let Some(days) = plan.pending_window_days {
                req["PendingWindowInDays"] = json!(days);
            }
            kms.call("ScheduleKeyDeletion", &req)?;
            "PendingDeletion"
        }
    };
    record_rotation(&new_id, now)?;
    // The old key is archived: its entry would only grow the state.
    cloud_common::forget_rotation(&key.id);
    Ok(json!({
        "key_id": key.id,
        "new_key_id": new_id,
        "aliases": key.aliases,
        "archived_aliases": archived_aliases,
        "old_key_state": archived_state,
        "mode": "new_key",
        "origin": origin,
        "valid_to": valid_to.filter(|_| imported).map(rfc3339),
    }))
}

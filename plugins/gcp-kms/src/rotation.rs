//! `cckm_key_rotation`: pick the keys in scope, decide which are due, give each a new
//! version (primary, for symmetric keys).

use chrono::{DateTime, Duration, Utc};
use cloud_common::{
    CloudError, Report, due, duration, duration_secs, last_rotation, now, parse_rfc3339,
    record_rotation, rfc3339,
};
use keywarden_sdk::http::Method;
use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::keys::{self, Key, last, time};
use crate::kms::Kms;
use crate::params::{OldVersions, RotationParams};

/// The validated knobs of one run.
struct Plan {
    rotation_after: Option<Duration>,
    old_versions: OldVersions,
    /// Cloud KMS's own schedule to set: the period in seconds and the next time.
    schedule: Option<(i64, Option<DateTime<Utc>>)>,
}

fn plan(p: &RotationParams) -> Result<Plan, JobError> {
    // The schema already leaves them out; a job that carries them anyway is refused.
    for (field, value) in [("expire_in", &p.expire_in), ("expiration", &p.expiration)] {
        if value.is_some() {
            return Err(JobError::invalid_param(
                field,
                "not valid for gcp: Cloud KMS key versions do not expire",
            ));
        }
    }
    let g = &p.gcp_param;
    let period = g
        .rotation_period
        .as_deref()
        .map(|t| duration_secs("gcp_param.rotation_period", t, false))
        .transpose()?;
    let next = g
        .next_rotation_time
        .as_deref()
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| {
                JobError::invalid_param("gcp_param.next_rotation_time", "expected an RFC 3339 time")
            })
        })
        .transpose()?;
    if next.is_some_and(|t| t <= now()) {
        return Err(JobError::invalid_param(
            "gcp_param.next_rotation_time",
            "must be in the future",
        ));
    }
    if next.is_some() && period.is_none() {
        return Err(JobError::invalid_param(
            "gcp_param.next_rotation_time",
            "applies only with gcp_param.rotation_period",
        ));
    }
    Ok(Plan {
        rotation_after: duration("rotation_after", p.rotation_after.as_deref(), false)?,
        old_versions: g.old_versions,
        schedule: period.map(|p| (p, next)),
    })
}

pub fn rotate(ctx: &JobContext) -> Result<Outcome, JobError> {
    let params: RotationParams = ctx.params()?;
    let plan = plan(&params)?;
    let kms = Kms::new(Auth::from_secret()?);
    // Credentials first: a wrong key fails the job with Google's reason.
    kms.auth.token()?;
    let rings = keys::rings(&kms, &params.gcp_param)?;
    let now = now();
    let mut report = Report::new().group(
        NOT_ROTATABLE,
        "cannot get versions from Cloud KMS (import-only or external key manager)",
    );
    for (n, ring) in rings.iter().enumerate() {
        progress::report(n as u64, rings.len() as u64);
        log::info_with("listing keys", &[("key_ring", ring)]);
        // One ring that cannot be listed is a failure of the run, not of the job.
        let listed = match keys::keys(&kms, ring) {
            Ok(k) => k,
            Err(e) => {
                report.failed(json!({"key_ring": ring, "error": e.0}));
                continue;
            }
        };
        for key in listed {
            if !params.gcp_param.takes(&key) {
                continue;
            }
            if let Some(why) = not_rotatable(&key) {
                report.note(NOT_ROTATABLE, json!({"key": key.name(), "reason": why}));
                continue;
            }
            let versions = match keys::versions(&kms, key.name()) {
                Ok(v) => v,
                Err(e) => {
                    report.in_scope += 1;
                    report.failed(failure(&key, &e));
                    continue;
                }
            };
            // A key whose version in use is not enabled was retired on purpose.
            let Some(current) = keys::current(&key, &versions) else {
                continue;
            };
            report.in_scope += 1;
            if let Some(every) = plan.rotation_after {
                let made = time(&current["createTime"]).or(key.created());
                let since = last_rotation(key.name()).max(made);
                if !due(now, every, key.created(), since) {
                    report.not_due += 1;
                    continue;
                }
            }
            match rotate_one(&kms, &key, &current, &versions, &plan, now) {
                Ok(entry) => {
                    log::info(format!("rotated: {entry}"));
                    report.rotated(entry);
                }
                Err(e) => {
                    log::warn_with("rotation failed", &[("key", &key.name()), ("error", &e.0)]);
                    report.failed(failure(&key, &e));
                }
            }
        }
    }
    progress::report(rings.len() as u64, rings.len() as u64);
    Ok(report.finish(json!({"key_rings": rings})))
}

const NOT_ROTATABLE: &str = "not_rotatable";

/// Why Cloud KMS cannot make this key a version, if it cannot.
fn not_rotatable(key: &Key) -> Option<String> {
    if key.import_only() {
        return Some("import-only: new versions must be imported".into());
    }
    if key.protection().starts_with("EXTERNAL") {
        return Some(format!(
            "{}: new versions come from the external key manager",
            key.protection()
        ));
    }
    None
}

fn failure(key: &Key, e: &CloudError) -> Value {
    json!({"key": key.name(), "id": key.id(), "error": e.0})
}

/// The body that makes a version primary; a test build names the field wrongly.
fn primary_request(version_id: &str) -> Value {
    if cfg!(feature = "spec-break") {
        json!({"versionId": version_id})
    } else {
        json!({"cryptoKeyVersionId": version_id})
    }
}

/// How long a new version may stay `PENDING_GENERATION` (asymmetric and HSM keys are
/// generated asynchronously) before the rotation gives up on it.
const GENERATION_WAIT_SECS: u64 = 60;

/// Waits until `version` is `ENABLED`; its last state otherwise.
fn until_enabled(kms: &Kms, mut version: Value) -> Result<Value, CloudError> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    while version["state"] == "PENDING_GENERATION"
        && started.elapsed().as_secs() < GENERATION_WAIT_SECS
    {
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
        let name = version["name"].as_str().unwrap_or_default().to_owned();
        version = kms.call(Method::Get, &name, None)?;
    }
    if version["state"] == "ENABLED" {
        Ok(version)
    } else {
        Err(CloudError(format!(
            "the new version is {} after {GENERATION_WAIT_SECS} s; nothing else was changed",
            version["state"].as_str().unwrap_or("in an unknown state")
        )))
    }
}

/// A new version of `key` (primary, for symmetric keys), then what the plan adds. Once
/// the version exists the rotation is recorded; a later step that fails says the version
/// it left behind. Old versions are retired only once the new one is enabled.
fn rotate_one(
    kms: &Kms,
    key: &Key,
    current: &Value,
    versions: &[Value],
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Value, CloudError> {
    let made = kms.call(
        Method::Post,
        &format!("{}/cryptoKeyVersions", key.name()),
        Some(&json!({})),
    )?;
    let new_name = made["name"]
        .as_str()
        .filter(|n| keys::is_child(n, key.name(), "cryptoKeyVersions"))
        .ok_or_else(|| {
            CloudError("Cloud KMS answered a version without a name of this key".into())
        })?
        .to_owned();
    record_rotation(key.name(), now)?;
    let finish = || -> Result<Value, CloudError> {
        until_enabled(kms, made.clone())?;
        if key.symmetric() {
            kms.call(
                Method::Post,
                &format!("{}:updatePrimaryVersion", key.name()),
                Some(&primary_request(last(&new_name))),
            )?;
        }
        let mut schedule = Value::Null;
        if let Some((period, next)) = plan.schedule
            && key.symmetric()
        {
            let next = next.unwrap_or(now + Duration::seconds(period));
            let body =
                json!({"rotationPeriod": format!("{period}s"), "nextRotationTime": rfc3339(next)});
            kms.call(
                Method::Patch,
                &format!("{}?updateMask=rotationPeriod,nextRotationTime", key.name()),
                Some(&body),
            )?;
            schedule = body;
        }
        let mut retired = Vec::new();
        for v in versions {
            let Some(name) = v["name"].as_str().filter(|n| *n != new_name) else {
                continue;
            };
            let state = v["state"].as_str().unwrap_or_default();
            match plan.old_versions {
                OldVersions::Keep => {}
                OldVersions::Disable if state == "ENABLED" => {
                    kms.call(
                        Method::Patch,
                        &format!("{name}?updateMask=state"),
                        Some(&json!({"state": "DISABLED"})),
                    )?;
                    retired.push(name.to_owned());
                }
                OldVersions::Destroy if state == "ENABLED" || state == "DISABLED" => {
                    kms.call(Method::Post, &format!("{name}:destroy"), Some(&json!({})))?;
                    retired.push(name.to_owned());
                }
                _ => {}
            }
        }
        Ok(json!({
            "key": key.name(),
            "id": key.id(),
            "purpose": key.purpose(),
            "old_version": current["name"],
            "new_version": new_name,
            "primary": key.symmetric(),
            "rotation_schedule": schedule,
            "old_versions": match plan.old_versions {
                OldVersions::Keep => "kept",
                OldVersions::Disable => "disabled",
                OldVersions::Destroy => "destroy_scheduled",
            },
            "retired_versions": retired,
        }))
    };
    finish().map_err(|e| CloudError(format!("new version {new_name} made, then: {e}")))
}

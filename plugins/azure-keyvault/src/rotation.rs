//! `cckm_key_rotation`: pick the keys in scope, decide which are due, make each a new
//! current version.

use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use cloud_common::{
    CloudError, Report, due, duration, last_rotation, now, record_rotation, rfc3339,
};
use keywarden_sdk::http::Method;
use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::keys::{self, Bundle, Listed};
use crate::params::{Mode, RotationParams};
use crate::vault::{Vault, vaults};

/// The validated knobs of one run.
struct Plan {
    mode: Mode,
    expire_in: Option<Duration>,
    rotation_after: Option<Duration>,
    expiration: Option<Duration>,
    disable_old_versions: bool,
    rotation_policy: Option<Value>,
}

fn plan(p: &RotationParams) -> Result<Plan, JobError> {
    let a = &p.azure_param;
    Ok(Plan {
        mode: a.mode,
        expire_in: duration("expire_in", p.expire_in.as_deref(), true)?,
        rotation_after: duration("rotation_after", p.rotation_after.as_deref(), false)?,
        expiration: duration("expiration", p.expiration.as_deref(), true)?,
        disable_old_versions: a.disable_old_versions,
        rotation_policy: a.rotation_policy.clone(),
    })
}

pub fn rotate(ctx: &JobContext) -> Result<Outcome, JobError> {
    let params: RotationParams = ctx.params()?;
    let plan = plan(&params)?;
    let auth = Rc::new(Auth::from_config()?);
    let vaults = vaults(&params.azure_param.vaults, &auth)?;
    // Credentials first: a wrong secret fails the job with Entra ID's reason.
    auth.token()?;
    let now = now();
    let mut report = Report::new();
    for vault in &vaults {
        log::info_with("listing keys", &[("vault", &vault.url)]);
        // One vault that cannot be listed is a failure of the run, not of the job.
        let listed = match keys::list(vault) {
            Ok(l) => l,
            Err(e) => {
                report.failed(json!({"vault": vault.url, "error": e.0}));
                continue;
            }
        };
        let total = listed.len() as u64;
        for (n, key) in listed.iter().enumerate() {
            progress::report(n as u64, total);
            // Keys backing a certificate and disabled keys are never rotated.
            if key.managed || !key.enabled || !params.azure_param.takes(key) {
                continue;
            }
            let current = match keys::current(vault, &key.name) {
                Ok(b) => b,
                Err(e) => {
                    report.in_scope += 1;
                    report.failed(failure(vault, key, &e));
                    continue;
                }
            };
            if let Some(window) = plan.expire_in {
                match current.expires() {
                    Some(exp) if exp <= now + window => {}
                    _ => continue, // never expires, or later
                }
            }
            report.in_scope += 1;
            if let Some(every) = plan.rotation_after {
                // The current version was made by the last rotation, whoever made it.
                let since = last_rotation(&key.kid).max(current.created());
                if !due(now, every, current.created(), since) {
                    report.not_due += 1;
                    continue;
                }
            }
            match rotate_one(vault, key, &current, &plan, now) {
                Ok(entry) => {
                    log::info(format!("rotated: {entry}"));
                    report.rotated(entry);
                }
                Err(e) => {
                    log::warn_with("rotation failed", &[("key", &key.kid), ("error", &e.0)]);
                    report.failed(failure(vault, key, &e));
                }
            }
        }
        progress::report(total, total);
    }
    Ok(report.finish(json!({"vaults": vaults.iter().map(|v| &v.url).collect::<Vec<_>>()})))
}

fn failure(vault: &Vault, key: &Listed, e: &CloudError) -> Value {
    json!({"vault": vault.url, "name": key.name, "key_id": key.kid, "error": e.0})
}

/// The verb of the rotate call; a test build sends one the API does not have.
fn rotate_verb() -> Method {
    if cfg!(feature = "spec-break") {
        Method::Put
    } else {
        Method::Post
    }
}

/// A new current version of `key`, then what the plan adds to it. Once the version
/// exists the rotation is recorded, and a later step that fails says the version it
/// left behind.
fn rotate_one(
    vault: &Vault,
    key: &Listed,
    current: &Bundle,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Value, CloudError> {
    let expires = plan.expiration.map(|validity| now + validity);
    let made = match plan.mode {
        Mode::Rotate => {
            Bundle(vault.call(rotate_verb(), &format!("/keys/{}/rotate", key.name), None)?)
        }
        Mode::NewVersion => {
            let mut request = current.like_this()?;
            if let Some(exp) = expires {
                request["attributes"]["exp"] = json!(exp.timestamp());
            }
            Bundle(vault.call(
                Method::Post,
                &format!("/keys/{}/create", key.name),
                Some(&request),
            )?)
        }
    };
    let version = made.version().to_owned();
    if version.is_empty() || version == current.version() {
        return Err(CloudError(format!(
            "Key Vault answered no new version for {}",
            key.name
        )));
    }
    record_rotation(&key.kid, now)?;
    let finish = || -> Result<Value, CloudError> {
        let mut made = made.clone();
        // The new version keeps the key's tags (its scope) and gets the asked expiry.
        let mut update = json!({});
        if made.0["tags"] != current.0["tags"] && current.0["tags"].is_object() {
            update["tags"] = current.0["tags"].clone();
        }
        if let Some(exp) = expires.filter(|_| plan.mode == Mode::Rotate) {
            update["attributes"] = json!({"exp": exp.timestamp()});
        }
        if update.as_object().is_some_and(|u| !u.is_empty()) {
            made = Bundle(vault.call(
                Method::Patch,
                &format!("/keys/{}/{version}", key.name),
                Some(&update),
            )?);
        }
        if let Some(policy) = &plan.rotation_policy {
            vault.call(
                Method::Put,
                &format!("/keys/{}/rotationpolicy", key.name),
                Some(policy),
            )?;
        }
        let mut disabled = Vec::new();
        if plan.disable_old_versions {
            for old in keys::versions(vault, &key.name)? {
                if old.enabled && old.version != version {
                    vault.call(
                        Method::Patch,
                        &format!("/keys/{}/{}", key.name, old.version),
                        Some(&json!({"attributes": {"enabled": false}})),
                    )?;
                    disabled.push(old.version);
                }
            }
        }
        Ok(json!({
            "vault": vault.url,
            "name": key.name,
            "key_id": key.kid,
            "old_version": current.version(),
            "new_version": version,
            "mode": match plan.mode { Mode::Rotate => "rotate", Mode::NewVersion => "new_version" },
            "expires": made.expires().map(rfc3339),
            "disabled_versions": disabled,
        }))
    };
    finish().map_err(|e| CloudError(format!("new version {version} made, then: {e}")))
}

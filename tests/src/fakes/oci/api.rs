//! What each operation of the fake's API does to its state: vault listing on the control
//! plane; keys, key versions, rotation and scheduled deletion on a vault's management
//! endpoint; paging with an opaque `page` token. Answers are OCI's shapes, checked against
//! the document by the caller.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Key, Vault, Version, error, ocid, time};
use crate::fakes::openapi::Matched;

pub(super) type Answer = ((StatusCode, Value), Option<String>);

/// One page of `items` as `limit`/`page` ask, and the next page's token.
fn page(items: Vec<Value>, m: &Matched, page_size: usize) -> Answer {
    let limit = m
        .query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(page_size)
        .min(page_size);
    let start = m
        .query
        .get("page")
        .and_then(|p| STANDARD.decode(p).ok())
        .and_then(|p| String::from_utf8(p).ok())
        .and_then(|p| p.strip_prefix("from=")?.parse().ok())
        .unwrap_or(0);
    let next =
        (start + limit < items.len()).then(|| STANDARD.encode(format!("from={}", start + limit)));
    let shown = items.into_iter().skip(start).take(limit).collect();
    ((StatusCode::OK, Value::Array(shown)), next)
}

pub(super) fn control_plane(vaults: &[Vault], m: &Matched, page_size: usize) -> Answer {
    let summary = |v: &Vault| {
        json!({
            "id": v.id, "compartmentId": v.compartment, "displayName": v.name,
            "lifecycleState": "ACTIVE", "vaultType": "DEFAULT",
            "timeCreated": "2026-01-05T10:00:00.000Z",
            "cryptoEndpoint": v.endpoint, "managementEndpoint": v.endpoint,
            "freeformTags": {}, "definedTags": {},
        })
    };
    match m.operation.as_str() {
        "ListVaults" => {
            let compartment = &m.query["compartmentId"];
            let listed = vaults
                .iter()
                .filter(|v| v.compartment == *compartment)
                .map(summary)
                .collect();
            page(listed, m, page_size)
        }
        "GetVault" => {
            let id = &m.path_params["vaultId"];
            let answer = match vaults.iter().find(|v| v.id == *id) {
                Some(v) => (StatusCode::OK, summary(v)),
                None => not_found(id),
            };
            (answer, None)
        }
        _ => (not_implemented(m), None),
    }
}

fn not_found(what: &str) -> (StatusCode, Value) {
    error(
        StatusCode::NOT_FOUND,
        "NotAuthorizedOrNotFound",
        &format!("{what} not found or not authorized"),
    )
}

/// A declared operation the fake keeps no state for (recorded as a violation).
fn not_implemented(m: &Matched) -> (StatusCode, Value) {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        &format!("the fake does not implement {}", m.operation),
    )
}

fn key_json(vault: &Vault, k: &Key) -> Value {
    let mut shape = json!({"algorithm": k.spec.algorithm, "length": k.spec.length});
    if let Some(curve) = k.spec.curve {
        shape["curveId"] = json!(curve);
    }
    json!({
        "id": k.id, "compartmentId": vault.compartment, "displayName": k.spec.name,
        "vaultId": vault.id, "currentKeyVersion": k.current, "keyShape": shape,
        "protectionMode": k.spec.protection, "lifecycleState": k.state,
        "timeCreated": time(k.created), "freeformTags": k.spec.tags, "definedTags": {},
        "isAutoRotationEnabled": false,
    })
}

fn version_json(vault: &Vault, k: &Key, v: &Version) -> Value {
    let mut out = json!({
        "id": v.id, "keyId": k.id, "compartmentId": vault.compartment, "vaultId": vault.id,
        "timeCreated": time(v.created), "lifecycleState": v.state, "origin": "INTERNAL",
    });
    if let Some(t) = v.deletion {
        out["timeOfDeletion"] = json!(time(t));
    }
    out
}

pub(super) fn management(vault: &mut Vault, m: &Matched, page_size: usize) -> Answer {
    let key_id = m.path_params.get("keyId").cloned().unwrap_or_default();
    let version_id = m
        .path_params
        .get("keyVersionId")
        .cloned()
        .unwrap_or_default();
    if m.operation == "ListKeys" {
        let compartment = &m.query["compartmentId"];
        let listed = vault
            .keys
            .iter()
            .filter(|_| vault.compartment == *compartment)
            .map(|k| {
                let mut s = key_json(vault, k);
                let o = s.as_object_mut().unwrap();
                for field in ["currentKeyVersion", "keyShape"] {
                    o.remove(field);
                }
                o.insert("algorithm".into(), json!(k.spec.algorithm));
                s
            })
            .collect();
        return page(listed, m, page_size);
    }
    let Some(index) = vault.keys.iter().position(|k| k.id == key_id) else {
        return (not_found(&key_id), None);
    };
    let answer = match m.operation.as_str() {
        "GetKey" => (StatusCode::OK, key_json(vault, &vault.keys[index])),
        "ListKeyVersions" => {
            let k = &vault.keys[index];
            let listed = k
                .versions
                .iter()
                .map(|v| version_json(vault, k, v))
                .collect();
            return page(listed, m, page_size);
        }
        "GetKeyVersion" => {
            let k = &vault.keys[index];
            match k.versions.iter().find(|v| v.id == version_id) {
                Some(v) => (StatusCode::OK, version_json(vault, k, v)),
                None => not_found(&version_id),
            }
        }
        "CreateKeyVersion" => {
            let k = &mut vault.keys[index];
            if k.state != "ENABLED" {
                return (
                    error(
                        StatusCode::CONFLICT,
                        "IncorrectState",
                        &format!("Key {} is in state {}, not ENABLED", k.id, k.state),
                    ),
                    None,
                );
            }
            let v = Version {
                id: ocid("keyversion"),
                created: Utc::now(),
                state: "ENABLED".into(),
                deletion: None,
            };
            k.current = v.id.clone();
            k.versions.push(v.clone());
            let k = k.clone();
            (StatusCode::OK, version_json(vault, &k, &v))
        }
        "ScheduleKeyVersionDeletion" => schedule_deletion(vault, index, &version_id, m),
        _ => not_implemented(m),
    };
    (answer, None)
}

/// OCI keeps a version 7 to 30 days before deleting it, and never deletes the current one.
fn schedule_deletion(
    vault: &mut Vault,
    index: usize,
    version_id: &str,
    m: &Matched,
) -> (StatusCode, Value) {
    let when = m
        .body
        .as_ref()
        .and_then(|b| b["timeOfDeletion"].as_str())
        .map(|t| DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)));
    let when = match when {
        None => Utc::now() + Duration::days(30),
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                &format!("timeOfDeletion: {e}"),
            );
        }
    };
    let days = (when - Utc::now()).num_hours() as f64 / 24.0;
    if !(6.9..=30.1).contains(&days) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "timeOfDeletion must be between 7 and 30 days from now",
        );
    }
    let k = &mut vault.keys[index];
    if k.current == version_id {
        return error(
            StatusCode::CONFLICT,
            "IncorrectState",
            "The current key version cannot be scheduled for deletion",
        );
    }
    let Some(v) = k.versions.iter_mut().find(|v| v.id == version_id) else {
        return not_found(version_id);
    };
    v.state = "PENDING_DELETION".into();
    v.deletion = Some(when);
    let v = v.clone();
    let k = k.clone();
    (StatusCode::OK, version_json(vault, &k, &v))
}

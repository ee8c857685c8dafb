//! Reading a vault's keys: the list (which has no current version), one key, its
//! versions; and which keys a job's filters take.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloud_common::{CloudError, parse_rfc3339};
use keywarden_sdk::http::Method;
use keywarden_sdk::{JobError, log, progress};
use serde_json::Value;

use crate::client::Oci;
use crate::params::OciParam;
use crate::vaults::Vault;

/// Whether `s` has the form of an OCID (`ocid1.<type>.<realm>.[region].<id>`): what comes
/// from an answer reaches a request path only in this form.
pub fn is_ocid(s: &str) -> bool {
    s.starts_with("ocid1.")
        && s.len() <= 255
        && s.split('.').count() >= 5
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_'
        })
}

/// One key as the list shows it (`KeySummary`).
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    /// `ENABLED`, `DISABLED`, `PENDING_DELETION`, ...
    pub state: String,
    /// `HSM`, `SOFTWARE` or `EXTERNAL`.
    pub protection: String,
    pub tags: BTreeMap<String, String>,
}

/// Every key of the vault in its compartment.
pub fn list(oci: &Oci, vault: &Vault) -> Result<Vec<Listed>, CloudError> {
    Ok(oci
        .list(
            &vault.management,
            &format!("/keys?compartmentId={}", vault.compartment),
        )?
        .iter()
        .filter_map(|k| {
            Some(Listed {
                id: k["id"].as_str().filter(|id| is_ocid(id))?.to_owned(),
                name: k["displayName"].as_str().unwrap_or_default().to_owned(),
                state: k["lifecycleState"].as_str().unwrap_or_default().to_owned(),
                protection: k["protectionMode"].as_str().unwrap_or_default().to_owned(),
                tags: k["freeformTags"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect(),
            })
        })
        .collect())
}

/// Calls `visit` with each key of each vault that the name/id and tag filters take,
/// logging `what` per vault and reporting progress over its keys. A vault whose keys
/// cannot be listed is answered as `{vault, error}` among the returned failures; the
/// others are still visited.
pub fn each(
    oci: &Oci,
    vaults: &[Vault],
    scope: &OciParam,
    what: &str,
    mut visit: impl FnMut(&Vault, &Listed) -> Result<(), JobError>,
) -> Result<Vec<Value>, JobError> {
    let mut failed = Vec::new();
    for vault in vaults {
        log::info_with(what, &[("vault", &vault.id)]);
        let listed = match list(oci, vault) {
            Ok(l) => l,
            Err(e) => {
                failed.push(serde_json::json!({"vault": vault.id, "error": e.0}));
                continue;
            }
        };
        let total = listed.len() as u64;
        for (n, key) in listed.iter().enumerate() {
            progress::report(n as u64, total);
            if scope.takes(key) {
                visit(vault, key)?;
            }
        }
        progress::report(total, total);
    }
    Ok(failed)
}

impl OciParam {
    /// Whether the name/id and tag filters take `key`.
    pub fn takes(&self, key: &Listed) -> bool {
        (self.keys.is_empty() || self.keys.iter().any(|k| *k == key.id || *k == key.name))
            && cloud_common::carries_all(&self.tags, &key.tags)
    }
}

/// A key as `GET /keys/{keyId}` answers it.
pub struct Key(pub Value);

impl Key {
    /// The current version's OCID (empty when the answer has none in OCID form).
    pub fn current_version(&self) -> &str {
        self.0["currentKeyVersion"]
            .as_str()
            .filter(|id| is_ocid(id))
            .unwrap_or_default()
    }
    pub fn created(&self) -> Option<DateTime<Utc>> {
        time(&self.0["timeCreated"])
    }
}

pub fn get(oci: &Oci, vault: &Vault, id: &str) -> Result<Key, CloudError> {
    Ok(Key(oci
        .call(Method::Get, &vault.management, &format!("/keys/{id}"), None)?
        .0))
}

/// One key version (`KeyVersion` or `KeyVersionSummary`).
pub struct Version {
    pub id: String,
    pub state: String,
    pub created: Option<DateTime<Utc>>,
}

impl Version {
    pub fn from(v: &Value) -> Option<Self> {
        Some(Self {
            id: v["id"].as_str().filter(|id| is_ocid(id))?.to_owned(),
            state: v["lifecycleState"].as_str().unwrap_or_default().to_owned(),
            created: time(&v["timeCreated"]),
        })
    }
}

/// Every version of key `id`.
pub fn versions(oci: &Oci, vault: &Vault, id: &str) -> Result<Vec<Version>, CloudError> {
    Ok(oci
        .list(&vault.management, &format!("/keys/{id}/keyVersions"))?
        .iter()
        .filter_map(Version::from)
        .collect())
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(parse_rfc3339)
}

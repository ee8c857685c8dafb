//! Reading the key rings: which rings are in scope, their keys, a key's versions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloud_common::{CloudError, parse_rfc3339};
use keywarden_sdk::JobError;
use serde_json::Value;

use crate::kms::Kms;
use crate::params::GcpParam;

/// The key rings a job works on: `key_rings` when given (ids are looked up in each
/// location), else every ring of each location.
pub fn rings(kms: &Kms, scope: &GcpParam) -> Result<Vec<String>, JobError> {
    let project = scope
        .project
        .clone()
        .or_else(|| keywarden_sdk::config::get("project_id"))
        .or_else(|| kms.auth.project.clone())
        .ok_or_else(|| {
            JobError::invalid_param(
                "gcp_param.project",
                "no project: name one here or set project_id",
            )
        })?;
    let locations: Vec<String> = if scope.locations.is_empty() {
        keywarden_sdk::config::get("locations")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        scope.locations.clone()
    };
    let full: Vec<String> = scope
        .key_rings
        .iter()
        .filter(|r| r.starts_with("projects/"))
        .cloned()
        .collect();
    if locations.is_empty() && full.is_empty() {
        return Err(JobError::invalid_param(
            "gcp_param.locations",
            "no location: name locations or full key ring names here, or have the operator set `locations`",
        ));
    }
    let mut out = full;
    for location in &locations {
        let parent = format!("projects/{project}/locations/{location}");
        for ring in kms.list(&format!("{parent}/keyRings"), "keyRings")? {
            let Some(name) = ring["name"].as_str() else {
                continue;
            };
            let id = last(name);
            let wanted =
                scope.key_rings.is_empty() || scope.key_rings.iter().any(|r| r == id || r == name);
            if wanted && !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
    }
    Ok(out)
}

/// The last segment of a resource name.
pub fn last(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

pub fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(parse_rfc3339)
}

/// A `CryptoKey` as Cloud KMS answers it.
#[derive(Debug, Clone)]
pub struct Key(pub Value);

impl Key {
    pub fn name(&self) -> &str {
        self.0["name"].as_str().unwrap_or_default()
    }
    pub fn id(&self) -> &str {
        last(self.name())
    }
    pub fn purpose(&self) -> &str {
        self.0["purpose"]
            .as_str()
            .unwrap_or("CRYPTO_KEY_PURPOSE_UNSPECIFIED")
    }
    /// Only symmetric encryption keys have a primary version (and automatic rotation).
    pub fn symmetric(&self) -> bool {
        self.purpose() == "ENCRYPT_DECRYPT"
    }
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.0["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    }
    pub fn import_only(&self) -> bool {
        self.0["importOnly"].as_bool().unwrap_or(false)
    }
    pub fn protection(&self) -> &str {
        self.0["versionTemplate"]["protectionLevel"]
            .as_str()
            .or(self.0["primary"]["protectionLevel"].as_str())
            .unwrap_or("SOFTWARE")
    }
    pub fn created(&self) -> Option<DateTime<Utc>> {
        time(&self.0["createTime"])
    }
}

/// The keys of one ring.
pub fn keys(kms: &Kms, ring: &str) -> Result<Vec<Key>, CloudError> {
    Ok(kms
        .list(&format!("{ring}/cryptoKeys"), "cryptoKeys")?
        .into_iter()
        .map(Key)
        .collect())
}

/// Every version of a key, oldest first as Cloud KMS lists them.
pub fn versions(kms: &Kms, key: &str) -> Result<Vec<Value>, CloudError> {
    kms.list(&format!("{key}/cryptoKeyVersions"), "cryptoKeyVersions")
}

/// The version in use: the primary for symmetric keys, else the newest enabled one.
pub fn current(key: &Key, versions: &[Value]) -> Option<Value> {
    if key.symmetric() {
        return key.0.get("primary").filter(|p| p.is_object()).cloned();
    }
    versions
        .iter()
        .filter(|v| v["state"] == "ENABLED")
        .max_by_key(|v| time(&v["createTime"]))
        .cloned()
}

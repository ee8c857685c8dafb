//! Reading the key rings: which rings are in scope, their keys, a key's versions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloud_common::{CloudError, parse_rfc3339};
use keywarden_sdk::JobError;
use serde_json::Value;

use crate::kms::Kms;
use crate::params::GcpParam;

/// Cloud resource ids as Cloud KMS allows them in names (projects, locations, rings,
/// keys): letters, digits, `-` and `_`, never `.` or a path character.
pub fn is_id(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `name` is `{parent}/{collection}/{id}` with a well-formed id.
pub fn is_child(name: &str, parent: &str, collection: &str) -> bool {
    name.strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(collection))
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(is_id)
}

/// The key rings a job works on, all inside one project: `key_rings` when given (ids
/// are looked up in each location; full names must be in the project and, when
/// locations are named, in one of them), else every ring of each location.
pub fn rings(kms: &Kms, scope: &GcpParam) -> Result<Vec<String>, JobError> {
    let configured = keywarden_sdk::config::get("project_id").filter(|p| !p.is_empty());
    if let (Some(asked), Some(set)) = (&scope.project, &configured)
        && asked != set
    {
        return Err(JobError::invalid_param(
            "gcp_param.project",
            format!("the operator set project_id {set:?}; a job cannot name another project"),
        ));
    }
    let project = scope
        .project
        .clone()
        .or(configured)
        .or_else(|| kms.auth.project.clone())
        .ok_or_else(|| {
            JobError::invalid_param(
                "gcp_param.project",
                "no project: name one here or set project_id",
            )
        })?;
    let locations: Vec<String> = if scope.locations.is_empty() {
        cloud_common::config_list("locations")
    } else {
        scope.locations.clone()
    };
    for (field, id) in std::iter::once(("gcp_param.project", &project))
        .chain(locations.iter().map(|l| ("gcp_param.locations", l)))
    {
        if !is_id(id) {
            return Err(JobError::invalid_param(
                field,
                format!("{id:?} is not a resource id"),
            ));
        }
    }
    let mut out = Vec::new();
    for ring in scope.key_rings.iter().filter(|r| r.contains('/')) {
        let inside = locations.iter().any(|l| {
            is_child(
                ring,
                &format!("projects/{project}/locations/{l}"),
                "keyRings",
            )
        }) || (locations.is_empty()
            && ring
                .strip_prefix(&format!("projects/{project}/locations/"))
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(l, _)| {
                    is_id(l)
                        && is_child(
                            ring,
                            &format!("projects/{project}/locations/{l}"),
                            "keyRings",
                        )
                }));
        if !inside {
            return Err(JobError::invalid_param(
                "gcp_param.key_rings",
                format!(
                    "{ring:?} is not a key ring of project {project:?} in the locations in scope"
                ),
            ));
        }
        out.push(ring.clone());
    }
    if locations.is_empty() && out.is_empty() {
        return Err(JobError::invalid_param(
            "gcp_param.locations",
            "no location: name locations or full key ring names here, or have the operator set `locations`",
        ));
    }
    let ids: Vec<&String> = scope
        .key_rings
        .iter()
        .filter(|r| !r.contains('/'))
        .collect();
    if !scope.key_rings.is_empty() && ids.is_empty() {
        return Ok(out);
    }
    for location in &locations {
        let parent = format!("projects/{project}/locations/{location}");
        for ring in kms.list(&format!("{parent}/keyRings"), "keyRings")? {
            let Some(name) = ring["name"]
                .as_str()
                .filter(|n| is_child(n, &parent, "keyRings"))
            else {
                continue;
            };
            let wanted = ids.is_empty() || ids.iter().any(|r| *r == last(name));
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

impl GcpParam {
    /// Whether the id and label filters take `key` (rotation and synchronization alike).
    pub fn takes(&self, key: &Key) -> bool {
        (self.keys.is_empty() || self.keys.iter().any(|k| k == key.id()))
            && cloud_common::carries_all(&self.labels, &key.labels())
    }
}

/// The keys of one ring (names from the answer that are not in the ring are dropped,
/// so they never reach a request path).
pub fn keys(kms: &Kms, ring: &str) -> Result<Vec<Key>, CloudError> {
    Ok(kms
        .list(&format!("{ring}/cryptoKeys"), "cryptoKeys")?
        .into_iter()
        .map(Key)
        .filter(|k| is_child(k.name(), ring, "cryptoKeys"))
        .collect())
}

/// Every version of a key, oldest first as Cloud KMS lists them (only names under it).
pub fn versions(kms: &Kms, key: &str) -> Result<Vec<Value>, CloudError> {
    Ok(kms
        .list(&format!("{key}/cryptoKeyVersions"), "cryptoKeyVersions")?
        .into_iter()
        .filter(|v| {
            v["name"]
                .as_str()
                .is_some_and(|n| is_child(n, key, "cryptoKeyVersions"))
        })
        .collect())
}

/// The version in use: the primary for symmetric keys, else the newest enabled one.
/// `None` when it is not enabled: a key someone retired is not brought back.
pub fn current(key: &Key, versions: &[Value]) -> Option<Value> {
    if key.symmetric() {
        return key
            .0
            .get("primary")
            .filter(|p| p["state"] == "ENABLED")
            .cloned();
    }
    versions
        .iter()
        .filter(|v| v["state"] == "ENABLED")
        .max_by_key(|v| time(&v["createTime"]))
        .cloned()
}

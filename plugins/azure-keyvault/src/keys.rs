//! Reading a vault's keys: the list, a key's current version, its versions, and what a
//! new version must copy.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use cloud_common::CloudError;
use keywarden_sdk::http::Method;
use keywarden_sdk::log;
use serde_json::{Value, json};

use crate::vault::Vault;

/// Key Vault's key names.
fn is_name(s: &str) -> bool {
    (1..=127).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Key Vault's versions: 32 hex digits.
fn is_version(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The name (and version, if any) in a key identifier `https://VAULT/keys/NAME[/VERSION]`
/// of this vault; `None` for anything else, so a name from an answer never reaches a
/// request path unchecked.
pub fn parse_kid<'k>(vault: &Vault, kid: &'k str) -> Option<(&'k str, Option<&'k str>)> {
    if !vault.holds(kid) {
        return None;
    }
    let (_, rest) = kid.split_once("/keys/")?;
    let mut parts = rest.split('/');
    let name = parts.next().filter(|n| is_name(n))?;
    let version = match parts.next() {
        None => None,
        Some(v) if is_version(v) => Some(v),
        Some(_) => return None,
    };
    parts.next().is_none().then_some((name, version))
}

/// Key Vault's unix-time attributes.
fn unix(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(|s| DateTime::from_timestamp(s, 0))
}

/// One key as a vault lists it (`KeyItem`).
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    /// Versionless identifier.
    pub kid: String,
    pub enabled: bool,
    /// Backs a certificate: the certificate's policy rotates it, not us.
    pub managed: bool,
    pub tags: BTreeMap<String, String>,
}

impl crate::params::AzureParam {
    /// Whether the name and tag filters take `key` (rotation and synchronization alike).
    pub fn takes(&self, key: &Listed) -> bool {
        (self.keys.is_empty() || self.keys.contains(&key.name))
            && cloud_common::carries_all(&self.tags, &key.tags)
    }
}

/// Every key of the vault.
pub fn list(vault: &Vault) -> Result<Vec<Listed>, CloudError> {
    let mut out = Vec::new();
    for item in vault.list("/keys?maxresults=25")? {
        let Some(kid) = item["kid"].as_str() else {
            continue;
        };
        let Some((name, None)) = parse_kid(vault, kid) else {
            log::warn_with(
                "skipping a key identifier outside the vault",
                &[("kid", &kid)],
            );
            continue;
        };
        out.push(Listed {
            name: name.to_owned(),
            kid: kid.to_owned(),
            enabled: item["attributes"]["enabled"].as_bool().unwrap_or(true),
            managed: item["managed"].as_bool().unwrap_or(false),
            tags: tags(&item["tags"]),
        });
    }
    Ok(out)
}

fn tags(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect()
}

/// A key version as the vault answers it (`KeyBundle`).
#[derive(Debug, Clone)]
pub struct Bundle(pub Value);

impl Bundle {
    /// The versioned identifier.
    pub fn kid(&self) -> &str {
        self.0["key"]["kid"].as_str().unwrap_or_default()
    }
    /// The version, when the identifier is a well-formed versioned one.
    pub fn version(&self) -> &str {
        let kid = self.kid();
        kid.rsplit('/')
            .next()
            .filter(|v| is_version(v))
            .unwrap_or_default()
    }
    pub fn kty(&self) -> Option<&str> {
        self.0["key"]["kty"].as_str()
    }
    pub fn created(&self) -> Option<DateTime<Utc>> {
        unix(&self.0["attributes"]["created"])
    }
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        unix(&self.0["attributes"]["exp"])
    }
    pub fn enabled(&self) -> bool {
        self.0["attributes"]["enabled"].as_bool().unwrap_or(true)
    }
    /// RSA modulus size in bits: the bytes of `n` without leading zeros, rounded up to
    /// the sizes Key Vault makes (2048, 3072, 4096).
    pub fn key_size(&self) -> Option<u64> {
        let n = self.0["key"]["n"].as_str()?;
        let bytes = URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok()?;
        let significant = bytes.iter().skip_while(|b| **b == 0).count() as u64 * 8;
        [2048, 3072, 4096]
            .into_iter()
            .find(|size| significant <= *size)
            .or(Some(significant))
    }
    pub fn curve(&self) -> Option<&str> {
        self.0["key"]["crv"].as_str()
    }

    /// `KeyCreateParameters` for a new version like this one: type, RSA size, curve,
    /// operations, tags, and the release policy with `exportable` when it has them.
    pub fn like_this(&self) -> Result<Value, CloudError> {
        let kty = self
            .kty()
            .ok_or_else(|| CloudError("Key Vault answered a key without kty".into()))?;
        let mut p = json!({"kty": kty});
        if kty.starts_with("RSA")
            && let Some(size) = self.key_size()
        {
            p["key_size"] = json!(size);
        }
        if let Some(crv) = self.curve() {
            p["crv"] = json!(crv);
        }
        if let Some(ops) = self.0["key"]["key_ops"].as_array() {
            p["key_ops"] = json!(ops);
        }
        if let Some(tags) = self.0["tags"].as_object().filter(|t| !t.is_empty()) {
            p["tags"] = json!(tags);
        }
        if let Some(policy) = self.0.get("release_policy").filter(|r| r.is_object()) {
            p["release_policy"] = policy.clone();
        }
        if let Some(exportable) = self.0["attributes"]["exportable"].as_bool() {
            p["attributes"] = json!({"exportable": exportable});
        }
        Ok(p)
    }
}

/// The current version of `name`.
pub fn current(vault: &Vault, name: &str) -> Result<Bundle, CloudError> {
    // An empty version means the current one.
    vault
        .call(Method::Get, &format!("/keys/{name}/"), None)
        .map(Bundle)
}

/// One version of a key, as the versions list shows it.
pub struct Version {
    pub version: String,
    pub enabled: bool,
    pub created: Option<DateTime<Utc>>,
}

/// Every version of `name`.
pub fn versions(vault: &Vault, name: &str) -> Result<Vec<Version>, CloudError> {
    Ok(vault
        .list(&format!("/keys/{name}/versions?maxresults=25"))?
        .iter()
        .filter_map(|v| {
            let (of, version) = parse_kid(vault, v["kid"].as_str()?)?;
            Some(Version {
                version: version.filter(|_| of == name)?.to_owned(),
                enabled: v["attributes"]["enabled"].as_bool().unwrap_or(true),
                created: unix(&v["attributes"]["created"]),
            })
        })
        .collect())
}

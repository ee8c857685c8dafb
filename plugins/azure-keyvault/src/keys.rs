//! Reading a vault's keys: the list, a key's current version, its versions, and what a
//! new version must copy.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloud_common::CloudError;
use keywarden_sdk::http::Method;
use serde_json::{Value, json};

use crate::vault::Vault;

/// A key's name from its identifier `https://VAULT/keys/NAME[/VERSION]`.
pub fn name_of(kid: &str) -> Option<&str> {
    kid.split_once("/keys/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .filter(|n| !n.is_empty())
}

/// The version part of a versioned key identifier.
pub fn version_of(kid: &str) -> &str {
    kid.rsplit('/').next().unwrap_or_default()
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

/// Every key of the vault.
pub fn list(vault: &Vault) -> Result<Vec<Listed>, CloudError> {
    let mut out = Vec::new();
    for item in vault.list("/keys?maxresults=25")? {
        let Some(kid) = item["kid"].as_str() else {
            continue;
        };
        let Some(name) = name_of(kid) else { continue };
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
    pub fn version(&self) -> &str {
        version_of(self.kid())
    }
    pub fn kty(&self) -> &str {
        self.0["key"]["kty"].as_str().unwrap_or("RSA")
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
    /// RSA modulus size in bits (from `n`), else none.
    pub fn key_size(&self) -> Option<u64> {
        let n = self.0["key"]["n"].as_str()?;
        // base64url without padding: 4 characters carry 3 bytes.
        let bytes = n.trim_end_matches('=').len() * 3 / 4;
        Some(bytes as u64 * 8)
    }
    pub fn curve(&self) -> Option<&str> {
        self.0["key"]["crv"].as_str()
    }

    /// `KeyCreateParameters` for a new version like this one.
    pub fn like_this(&self) -> Value {
        let mut p = json!({"kty": self.kty()});
        if self.kty().starts_with("RSA")
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
        p
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
    pub kid: String,
    pub enabled: bool,
    pub created: Option<DateTime<Utc>>,
}

/// Every version of `name`.
pub fn versions(vault: &Vault, name: &str) -> Result<Vec<Version>, CloudError> {
    Ok(vault
        .list(&format!("/keys/{name}/versions?maxresults=25"))?
        .iter()
        .filter_map(|v| {
            Some(Version {
                kid: v["kid"].as_str()?.to_owned(),
                enabled: v["attributes"]["enabled"].as_bool().unwrap_or(true),
                created: unix(&v["attributes"]["created"]),
            })
        })
        .collect())
}

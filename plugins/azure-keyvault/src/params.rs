//! The params of both operations: CipherTrust's rotation parameters plus the Azure
//! specifics under `azure_param`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

cloud_common::job_params!(azure_param: AzureParam);

/// How a new version is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The vault's own `rotate` call (its rotation policy decides the new version's
    /// expiry unless `expiration` says otherwise).
    #[default]
    Rotate,
    /// `create` under the same name with the current version's type, size, curve,
    /// operations and tags.
    NewVersion,
}

/// Azure-specific params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureParam {
    /// Vault URLs (default: the operator's `vault_urls` config).
    #[serde(default)]
    pub vaults: Vec<String>,
    /// Only keys with one of these names.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Only keys carrying all these tags (an account's grant may pin some, as its scope).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub mode: Mode,
    /// Disable every older enabled version once the new one exists.
    #[serde(default)]
    pub disable_old_versions: bool,
    /// A Key Vault rotation policy (`lifetimeActions`, `attributes.expiryTime`) to set
    /// on each rotated key.
    #[serde(default)]
    pub rotation_policy: Option<Value>,
}

/// The params schema of both operations (`rotation` adds the rotation fields).
pub fn schema(rotation: bool) -> Value {
    let duration = |desc: &str, pattern: &str| json!({"type": "string", "pattern": pattern, "description": desc});
    let mut azure = json!({
        "vaults": {"type": "array", "items": {"type": "string", "pattern": "^https?://"},
                   "description": "Vault URLs (default: the operator's vault_urls); each host must be in outbound_hosts"},
        "keys": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-zA-Z-]{1,127}$"},
                 "description": "Only keys with one of these names"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"},
                 "description": "Only keys carrying all these tags (an account's grant may pin some, as its scope)"}
    });
    let mut props = json!({"cloud_name": {"const": "AzureCloud"}});
    if rotation {
        azure["mode"] = json!({"enum": ["rotate", "new_version"],
            "description": "rotate (default): the vault's rotate call; new_version: create a version with the same type, size and operations"});
        azure["disable_old_versions"] = json!({"type": "boolean", "description": "Disable older enabled versions after rotating"});
        azure["rotation_policy"] = json!({"type": "object",
            "description": "Key Vault rotation policy to set on each rotated key (lifetimeActions, attributes.expiryTime)"});
        props["expiration"] = duration("The new version expires after Xd or Yh", "^[0-9]+[dh]$");
        props["expire_in"] = duration(
            "Only keys whose current version expires within Xd or Yh",
            "^[0-9]+[dh]$",
        );
        props["rotation_after"] = duration(
            "Rotate X days after the current version was made, then X days after the last rotation: Xd",
            "^[0-9]+d$",
        );
    }
    props["azure_param"] =
        json!({"type": "object", "additionalProperties": false, "properties": azure});
    json!({
        "type": "object",
        "properties": props,
        "required": ["cloud_name"],
        "additionalProperties": false
    })
}

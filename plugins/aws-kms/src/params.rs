//! The params of both operations (CipherTrust's "Rotation Parameters" plus the AWS
//! specifics under `aws_param`) and the duration strings they carry.

use std::collections::BTreeMap;

use serde::Deserialize;

cloud_common::job_params!(aws_param: AwsParam);

/// How a key is rotated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A new key with the same spec, usage and tags; the aliases move to it.
    #[default]
    NewKey,
    /// AWS's own `RotateKeyOnDemand`: new material under the same key id.
    OnDemand,
}

impl Mode {
    /// As the params and the details write it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::NewKey => "new_key",
            Mode::OnDemand => "on_demand",
        }
    }
}

/// What happens to the key a rotation replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldKey {
    /// `DisableKey`: kept, usable again after `EnableKey`.
    #[default]
    Disable,
    /// `ScheduleKeyDeletion` after `pending_window_days`.
    ScheduleDeletion,
}

/// AWS-specific params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsParam {
    /// Leave `<alias>-<timestamp>` on the archived key.
    #[serde(default)]
    pub retain_alias: bool,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub old_key: OldKey,
    /// 7 to 30 (AWS's range); AWS's default 30 when absent.
    #[serde(default)]
    pub pending_window_days: Option<u32>,
    /// Only keys carrying one of these aliases (`alias/` prefix optional).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Only keys carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Overrides the operator's `region` config.
    #[serde(default)]
    pub region: Option<String>,
    /// Overrides the operator's `endpoint` config.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// `alias/name` whether or not the caller wrote the prefix.
pub fn alias_name(raw: &str) -> String {
    if raw.starts_with("alias/") {
        raw.to_owned()
    } else {
        format!("alias/{raw}")
    }
}

/// The params schema both operations share (`extra` adds the rotation fields).
pub fn schema(rotation: bool) -> serde_json::Value {
    let duration = |desc: &str, pattern: &str| serde_json::json!({"type": "string", "pattern": pattern, "description": desc});
    let mut aws_props = serde_json::json!({
        "region": {"type": "string", "minLength": 1, "description": "AWS region (default: the operator's `region` config, else us-east-1)"},
        "endpoint": {"type": "string", "pattern": "^https?://", "description": "KMS endpoint URL (default: the operator's `endpoint` config, else https://kms.<region>.amazonaws.com); must be in the plugin's outbound_hosts grant"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Only keys carrying all these tags (an account's grant may pin some, as its scope)"}
    });
    let mut props = serde_json::json!({
        "cloud_name": {"const": "aws"}
    });
    if rotation {
        let extra = serde_json::json!({
            "retain_alias": {"type": "boolean", "description": "Leave `<alias>-<UTC timestamp>` on the archived key"},
            "mode": {"enum": ["new_key", "on_demand"], "description": "new_key (default): a new key, aliases move to it; on_demand: AWS RotateKeyOnDemand"},
            "old_key": {"enum": ["disable", "schedule_deletion"], "description": "What happens to the replaced key (new_key mode)"},
            "pending_window_days": {"type": "integer", "minimum": 7, "maximum": 30},
            "aliases": {"type": "array", "items": {"type": "string", "minLength": 1}, "description": "Only keys with one of these aliases"}
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            aws_props[k] = v.clone();
        }
        props["expiration"] = duration(
            "Validity of new imported key material: Xd or Yh",
            "^[0-9]+[dh]$",
        );
        props["expire_in"] = duration(
            "Only keys whose material expires within Xd or Yh",
            "^[0-9]+[dh]$",
        );
        props["rotation_after"] = duration(
            "Rotate X days after creation, then X days after the last rotation: Xd",
            "^[0-9]+d$",
        );
    }
    props["aws_param"] = serde_json::json!({
        "type": "object", "additionalProperties": false, "properties": aws_props
    });
    serde_json::json!({
        "type": "object",
        "properties": props,
        "required": ["cloud_name"],
        "additionalProperties": false
    })
}

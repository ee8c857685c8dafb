//! The params of both operations: CipherTrust's rotation parameters plus the Google
//! specifics under `gcp_param`. `expire_in` and `expiration` are not accepted: Cloud KMS
//! key versions do not expire (CipherTrust documents `expire_in` as not valid for gcp),
//! so the schema leaves them out and the host refuses them when the config is saved.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

cloud_common::job_params!(gcp_param: GcpParam);

/// What happens to the versions a rotation replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldVersions {
    /// Left enabled (data they encrypted stays readable without a version change).
    #[default]
    Keep,
    /// `state: DISABLED`, usable again when enabled.
    Disable,
    /// `destroy`: scheduled for destruction after the key's destroy-scheduled duration.
    Destroy,
}

/// Google-specific params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpParam {
    /// The project (default: the operator's `project_id`, else the service account's).
    #[serde(default)]
    pub project: Option<String>,
    /// Locations whose key rings are in scope (default: the operator's `locations`).
    #[serde(default)]
    pub locations: Vec<String>,
    /// Only these key rings (ids, or full `projects/.../keyRings/...` names).
    #[serde(default)]
    pub key_rings: Vec<String>,
    /// Only keys with one of these ids.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Only keys carrying all these labels (an account's grant may pin some, as its scope).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub old_versions: OldVersions,
    /// Set Cloud KMS's own automatic rotation on rotated symmetric keys: every `Xd`.
    #[serde(default)]
    pub rotation_period: Option<String>,
    /// With `rotation_period`: the next automatic rotation (RFC 3339); default: one period
    /// after this rotation.
    #[serde(default)]
    pub next_rotation_time: Option<String>,
}

/// The params schema of both operations (`rotation` adds the rotation fields).
pub fn schema(rotation: bool) -> Value {
    let ids = |desc: &str| json!({"type": "array", "items": {"type": "string", "minLength": 1}, "description": desc});
    let mut gcp = json!({
        "project": {"type": "string", "minLength": 1, "description": "Project id (default: the operator's project_id, else the service account's)"},
        "locations": ids("Locations whose key rings are in scope (default: the operator's locations)"),
        "key_rings": ids("Only these key rings (ids or full names)"),
        "keys": ids("Only keys with one of these ids"),
        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Only keys carrying all these labels (an account's grant may pin some, as its scope)"}
    });
    let mut props = json!({"cloud_name": {"const": "gcp"}});
    if rotation {
        gcp["old_versions"] = json!({"enum": ["keep", "disable", "destroy"],
            "description": "What happens to the versions a rotation replaced (default keep)"});
        gcp["rotation_period"] = json!({"type": "string", "pattern": "^[0-9]+d$",
            "description": "Set Cloud KMS's automatic rotation on rotated symmetric keys: every Xd (at least 1d)"});
        gcp["next_rotation_time"] = json!({"type": "string", "format": "date-time",
            "description": "With rotation_period: the next automatic rotation (default: one period after this one)"});
        props["rotation_after"] = json!({"type": "string", "pattern": "^[0-9]+d$",
            "description": "Rotate X days after the primary version was made, then X days after the last rotation: Xd"});
    }
    props["gcp_param"] =
        json!({"type": "object", "additionalProperties": false, "properties": gcp});
    json!({
        "type": "object",
        "properties": props,
        "required": ["cloud_name"],
        "additionalProperties": false
    })
}

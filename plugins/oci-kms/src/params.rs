//! The params of both operations: CipherTrust's rotation parameters plus the OCI
//! specifics under `oci_param`.

use std::collections::BTreeMap;

use keywarden_sdk::JobError;
use serde::Deserialize;
use serde_json::{Value, json};

// `expire_in` and `expiration` are declared there too, so a job can be told why they
// are refused (see [`refuse_expiry_params`]) instead of "unknown field".
cloud_common::job_params!(oci_param: OciParam);

/// What happens to the versions a rotation replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldVersions {
    /// They stay enabled, so data encrypted under them still decrypts.
    #[default]
    Keep,
    /// Each enabled older version is scheduled for deletion `deletion_days` out.
    ScheduleDeletion,
}

/// OCI-specific params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciParam {
    /// Compartment OCIDs (default: the operator's `compartment_ids`, else the tenancy).
    #[serde(default)]
    pub compartments: Vec<String>,
    /// Only these vaults (OCIDs or display names) of those compartments.
    #[serde(default)]
    pub vaults: Vec<String>,
    /// Only keys with one of these display names or OCIDs.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Only keys carrying all these freeform tags (an account's grant may pin some).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub old_versions: OldVersions,
    /// Days until a scheduled deletion (OCI allows 7 to 30; default 30).
    #[serde(default)]
    pub deletion_days: Option<u32>,
}

/// OCI keeps deleted versions this many days at the least and the most.
pub const DELETION_DAYS: std::ops::RangeInclusive<u32> = 7..=30;

/// OCI key versions carry no expiry date: nothing for `expire_in` to select on and no
/// expiry for `expiration` to set. Refused rather than ignored, so a job config copied
/// from another cloud does not silently mean something else.
pub fn refuse_expiry_params(p: &RotationParams) -> Result<(), JobError> {
    let why = "OCI Vault key versions have no expiry date";
    if p.expire_in.is_some() {
        return Err(JobError::invalid_param(
            "expire_in",
            format!(
                "not valid for oci: {why}, so no key can be selected by it; use rotation_after"
            ),
        ));
    }
    if p.expiration.is_some() {
        return Err(JobError::invalid_param(
            "expiration",
            format!(
                "not valid for oci: {why}, so the new version cannot be given one; use old_versions = schedule_deletion to retire the old ones"
            ),
        ));
    }
    Ok(())
}

/// The params schema of both operations (`rotation` adds the rotation fields).
pub fn schema(rotation: bool) -> Value {
    let mut oci = json!({
        "compartments": {"type": "array", "items": {"type": "string", "pattern": "^ocid1\\."},
            "description": "Compartment OCIDs (default: the operator's compartment_ids, else the tenancy)"},
        "vaults": {"type": "array", "items": {"type": "string"},
            "description": "Only these vaults (OCIDs or display names) of those compartments"},
        "keys": {"type": "array", "items": {"type": "string"},
            "description": "Only keys with one of these display names or OCIDs"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"},
            "description": "Only keys carrying all these freeform tags (an account's grant may pin some, as its scope)"}
    });
    let mut props = json!({"cloud_name": {"const": "oci"}});
    if rotation {
        oci["old_versions"] = json!({"enum": ["keep", "schedule_deletion"],
            "description": "keep (default) the replaced versions, or schedule their deletion deletion_days out"});
        oci["deletion_days"] = json!({"type": "integer", "minimum": DELETION_DAYS.start(), "maximum": DELETION_DAYS.end(),
            "description": "Days until a scheduled version deletion (7-30, default 30)"});
        let refused = |what: &str| json!({"type": "string", "description": format!("Not valid for oci ({what}): OCI key versions have no expiry")});
        props["expire_in"] = refused("refused");
        props["expiration"] = refused("refused");
        props["rotation_after"] = json!({"type": "string", "pattern": "^[0-9]+d$",
            "description": "Rotate X days after the current version was made, then X days after the last rotation: Xd"});
    }
    props["oci_param"] =
        json!({"type": "object", "additionalProperties": false, "properties": oci});
    json!({
        "type": "object",
        "properties": props,
        "required": ["cloud_name"],
        "additionalProperties": false
    })
}

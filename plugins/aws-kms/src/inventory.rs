//! Reading the account's keys: ids, metadata, aliases, tags and rotation dates.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::kms::{Kms, KmsError};

/// One key as rotation and synchronization need it.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub id: String,
    pub arn: Option<String>,
    /// `KeyMetadata` as DescribeKey answered it.
    pub meta: Value,
    pub aliases: Vec<String>,
}

impl KeyInfo {
    pub fn str(&self, field: &str) -> Option<&str> {
        self.meta.get(field).and_then(Value::as_str)
    }
    pub fn state(&self) -> &str {
        self.str("KeyState").unwrap_or("Unknown")
    }
    pub fn customer_managed(&self) -> bool {
        self.str("KeyManager").unwrap_or("CUSTOMER") == "CUSTOMER"
    }
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.meta.get("CreationDate").and_then(epoch)
    }
    /// When the key material expires (imported material with an expiry only).
    pub fn valid_to(&self) -> Option<DateTime<Utc>> {
        self.meta.get("ValidTo").and_then(epoch)
    }
}

/// KMS JSON timestamps are epoch seconds with a fraction.
pub fn epoch(v: &Value) -> Option<DateTime<Utc>> {
    let secs = v.as_f64()?;
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

pub use cloud_common::rfc3339;

/// Alias names per target key id.
pub fn aliases(kms: &Kms) -> Result<BTreeMap<String, Vec<String>>, KmsError> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for alias in kms.list_all("ListAliases", json!({"Limit": 100}), "Aliases")? {
        if let (Some(name), Some(key)) = (
            alias.get("AliasName").and_then(Value::as_str),
            alias.get("TargetKeyId").and_then(Value::as_str),
        ) {
            by_key
                .entry(key.to_owned())
                .or_default()
                .push(name.to_owned());
        }
    }
    for names in by_key.values_mut() {
        names.sort();
    }
    Ok(by_key)
}

/// Every key id of the account and region.
pub fn key_ids(kms: &Kms) -> Result<Vec<String>, KmsError> {
    Ok(kms
        .list_all("ListKeys", json!({"Limit": 1000}), "Keys")?
        .iter()
        .filter_map(|k| k.get("KeyId").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// DescribeKey for one id, with its aliases attached.
pub fn describe(
    kms: &Kms,
    id: &str,
    aliases: &BTreeMap<String, Vec<String>>,
) -> Result<KeyInfo, KmsError> {
    let answer = kms.call("DescribeKey", &json!({"KeyId": id}))?;
    let meta = answer.get("KeyMetadata").cloned().unwrap_or(Value::Null);
    Ok(KeyInfo {
        id: id.to_owned(),
        arn: meta.get("Arn").and_then(Value::as_str).map(str::to_owned),
        aliases: aliases.get(id).cloned().unwrap_or_default(),
        meta,
    })
}

/// The key's tags as a map.
pub fn tags(kms: &Kms, id: &str) -> Result<BTreeMap<String, String>, KmsError> {
    let mut out = BTreeMap::new();
    for tag in kms.list_all("ListResourceTags", json!({"KeyId": id}), "Tags")? {
        if let (Some(k), Some(v)) = (
            tag.get("TagKey").and_then(Value::as_str),
            tag.get("TagValue").and_then(Value::as_str),
        ) {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(out)
}

/// The latest date AWS rotated the key's material, if it ever did. Keys whose type
/// cannot rotate answer an error, which means "never".
pub fn last_aws_rotation(kms: &Kms, id: &str) -> Option<DateTime<Utc>> {
    kms.list_all("ListKeyRotations", json!({"KeyId": id}), "Rotations")
        .ok()?
        .iter()
        .filter_map(|r| r.get("RotationDate").and_then(epoch))
        .max()
}

//! The one rule for what a job acts on (its `target`), applied when a job config or job is
//! written and stored with it: the plugin is resolved by it, listings filter on it, and
//! Keyfactor shows it as `TargetPath`.
//!
//! - a certificate-store operation acts on its store's type (`PEM`, `JKS`, ...);
//! - any other operation acts on the cloud its `cloud_name` param names (CipherTrust's
//!   cloud operations: `aws`, `AzureCloud`, ...), or on nothing in particular.

use serde_json::Value;

/// The target of a job of an operation with `params`, acting on a certificate store of
/// `store_type` when it is a certificate-store job.
pub fn target_of(params: &Value, store_type: Option<&str>) -> Option<String> {
    match store_type {
        Some(t) => Some(crate::certificates::canonical_store_type(t)),
        None => params
            .get("cloud_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stores_act_on_their_type_others_on_their_cloud() {
        assert_eq!(
            target_of(&json!({"certificate_store_id": "x"}), Some("pem")),
            Some("PEM".into())
        );
        assert_eq!(
            target_of(&json!({"cloud_name": "aws"}), None),
            Some("aws".into())
        );
        assert_eq!(target_of(&json!({"cloud_name": 3}), None), None);
        assert_eq!(target_of(&json!({}), None), None);
    }
}

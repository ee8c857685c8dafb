//! Who the plugin signs as and where it calls: the operator's settings (`tenancy_ocid`,
//! `user_ocid`, `fingerprint`, `region` or `endpoint`, `compartment_ids`) and the API
//! private key from the secrets import.

use keywarden_sdk::{JobError, config, secrets};

use crate::client::Oci;
use crate::signer::Signer;

/// Default name of the secret holding the API private key (PEM); the operator may
/// rename it (`private_key_secret`).
pub const PRIVATE_KEY: &str = "oci-api-key";

/// Added to a 401: what the operator should compare.
pub const HINT: &str = " (check tenancy_ocid, user_ocid and fingerprint in the plugin's settings against the API key in the private key secret)";

/// A configured account: the signed client, the control-plane endpoint, and the
/// compartments a job covers when its params name none.
pub struct Account {
    pub oci: Oci,
    /// `https://kms.{region}.oraclecloud.com` unless `endpoint` overrides it.
    pub control_plane: String,
    pub tenancy: String,
    pub compartments: Vec<String>,
}

fn setting(key: &str) -> Result<String, JobError> {
    config::get(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            JobError::failed(format!(
                "the operator has not set `{key}` in this plugin's settings"
            ))
        })
}

impl Account {
    pub fn from_config() -> Result<Self, JobError> {
        let tenancy = setting("tenancy_ocid")?;
        let user = setting("user_ocid")?;
        let fingerprint = setting("fingerprint")?;
        let control_plane = match config::get("endpoint").filter(|e| !e.trim().is_empty()) {
            Some(endpoint) => endpoint.trim().trim_end_matches('/').to_owned(),
            None => format!("https://kms.{}.oraclecloud.com", setting("region")?),
        };
        let secret_name = config::get_or("private_key_secret", PRIVATE_KEY);
        let pem = secrets::reveal(&secret_name).map_err(|e| {
            JobError::failed(format!(
                "OCI API private key unavailable: {e} (the plugin reads secret {secret_name:?}, set by config `private_key_secret`)"
            ))
        })?;
        let signer = Signer::new(&tenancy, &user, &fingerprint, &pem)
            .map_err(|e| JobError::failed(format!("secret {secret_name:?}: {e}")))?;
        let compartments = cloud_common::config_list("compartment_ids");
        Ok(Self {
            oci: Oci::new(signer),
            control_plane,
            tenancy,
            compartments,
        })
    }
}

//! Where the KMS client points and with which credentials: operator config (the `config`
//! import), optional per-job overrides in `aws_param`, and the secrets import.

use keywarden_sdk::{JobError, config, secrets};

use crate::kms::Kms;
use crate::params::AwsParam;

/// Default secret names; the operator may rename them in the plugin's config.
pub const ACCESS_KEY_SECRET: &str = "aws-access-key-id";
/// See [`ACCESS_KEY_SECRET`].
pub const SECRET_KEY_SECRET: &str = "aws-secret-access-key";

/// The client for this job. Fails with the host's own words when a secret is not
/// granted or has no value, so the operator knows which grant to fix.
pub fn connect(aws: &AwsParam) -> Result<(Kms, String), JobError> {
    let region = aws
        .region
        .clone()
        .or_else(|| config::get("region"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let endpoint = aws
        .endpoint
        .clone()
        .or_else(|| config::get("endpoint"))
        .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
    let reveal = |config_key: &str, default: &str| -> Result<String, JobError> {
        let name = config::get_or(config_key, default);
        secrets::reveal(&name).map_err(|e| {
            JobError::failed(format!(
                "AWS credentials unavailable: {e} (the plugin reads secret {name:?}, set by config `{config_key}`)"
            ))
        })
    };
    let access_key = reveal("access_key_id_secret", ACCESS_KEY_SECRET)?;
    let secret_key = reveal("secret_access_key_secret", SECRET_KEY_SECRET)?;
    let session_token = match config::get("session_token_secret") {
        Some(name) => Some(
            secrets::reveal(&name)
                .map_err(|e| JobError::failed(format!("AWS session token unavailable: {e}")))?,
        ),
        None => None,
    };
    let kms = Kms::new(
        endpoint.clone(),
        region,
        access_key,
        secret_key,
        session_token,
    );
    Ok((kms, endpoint))
}

//! Fresh key material for keys whose material is imported (Origin `EXTERNAL`).
//!
//! KMS cannot generate material for such a key: the plugin makes 256 random bits inside the
//! sandbox, wraps them with the one-time RSA public key of `GetParametersForImport`
//! (RSAES-OAEP with SHA-256, by the `rsa` crate) and sends them with `ImportKeyMaterial`.
//! Only this material can carry an expiry (`ValidTo`), which is what `expiration` sets.
//! The plaintext material never leaves the plugin's memory except wrapped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::kms::{Kms, KmsError};

/// The only key spec this plugin makes material for: AES-256 (`SYMMETRIC_DEFAULT`).
pub const IMPORTABLE_SPEC: &str = "SYMMETRIC_DEFAULT";

/// The wrapping KMS offers for symmetric material that every region supports.
const WRAPPING_ALGORITHM: &str = "RSAES_OAEP_SHA_256";
const WRAPPING_KEY_SPEC: &str = "RSA_2048";

/// Imports new random material into `key_id` (a key created with Origin `EXTERNAL`),
/// expiring at `valid_to`, or never when `None`.
pub fn import_fresh_material(
    kms: &Kms,
    key_id: &str,
    valid_to: Option<DateTime<Utc>>,
) -> Result<(), KmsError> {
    let params = kms.call(
        "GetParametersForImport",
        &json!({
            "KeyId": key_id,
            "WrappingAlgorithm": WRAPPING_ALGORITHM,
            "WrappingKeySpec": WRAPPING_KEY_SPEC,
        }),
    )?;
    let blob = |field: &str| -> Result<Vec<u8>, KmsError> {
        params
            .get(field)
            .and_then(Value::as_str)
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| KmsError(format!("KMS GetParametersForImport answered no {field}")))
    };
    let wrapping_key = RsaPublicKey::from_public_key_der(&blob("PublicKey")?).map_err(|e| {
        KmsError(format!(
            "KMS GetParametersForImport answered a public key that is not RSA SubjectPublicKeyInfo DER: {e}"
        ))
    })?;
    // Wiped when dropped, whichever way this function returns.
    let mut material = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(material.as_mut_slice())
        .map_err(|e| KmsError(format!("no randomness for new key material: {e}")))?;
    let wrapped = wrapping_key
        .encrypt(
            &mut rand_core::OsRng,
            Oaep::new::<sha2::Sha256>(),
            material.as_slice(),
        )
        .map_err(|e| KmsError(format!("wrapping the key material: {e}")))?;
    let mut request = json!({
        "KeyId": key_id,
        "ImportToken": B64.encode(blob("ImportToken")?),
        "EncryptedKeyMaterial": B64.encode(wrapped),
    });
    match valid_to {
        Some(at) => {
            request["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
            request["ValidTo"] = json!(at.timestamp());
        }
        None => request["ExpirationModel"] = json!("KEY_MATERIAL_DOES_NOT_EXPIRE"),
    }
    kms.call("ImportKeyMaterial", &request)?;
    Ok(())
}

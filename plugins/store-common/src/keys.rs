//! Private keys inside the sandbox: generation for Reenrollment (RustCrypto), the
//! public key of a PKCS#8 key, and traditional PEM key forms converted to PKCS#8.

use std::str::FromStr;

use der::asn1::ObjectIdentifier;
use keywarden_sdk::JobError;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, PrivateKeyInfo};
use rand_core::OsRng;

use crate::certs::parse_certificate;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The key types Reenrollment can generate (`key-type` of the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `ec-p256`
    EcP256,
    /// `ec-p384`
    EcP384,
    /// `rsa-2048`, `rsa-3072`, `rsa-4096`
    Rsa(usize),
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ec-p256" => Ok(KeyType::EcP256),
            "ec-p384" => Ok(KeyType::EcP384),
            "rsa-2048" => Ok(KeyType::Rsa(2048)),
            "rsa-3072" => Ok(KeyType::Rsa(3072)),
            "rsa-4096" => Ok(KeyType::Rsa(4096)),
            other => Err(format!(
                "unknown key type `{other}`; use ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096"
            )),
        }
    }
}

/// A fresh private key as PKCS#8 DER, from the sandbox's random source.
pub fn generate_key(key_type: KeyType) -> Result<Vec<u8>, JobError> {
    let der = match key_type {
        KeyType::EcP256 => p256::SecretKey::random(&mut OsRng).to_pkcs8_der(),
        KeyType::EcP384 => p384::SecretKey::random(&mut OsRng).to_pkcs8_der(),
        KeyType::Rsa(bits) => rsa::RsaPrivateKey::new(&mut OsRng, bits)
            .map_err(|e| JobError::failed(format!("RSA key generation failed: {e}")))?
            .to_pkcs8_der(),
    }
    .map_err(|e| JobError::failed(format!("encoding the new key failed: {e}")))?;
    Ok(der.as_bytes().to_vec())
}

/// The algorithm of a PKCS#8 key, as far as these plugins can use it.
pub(crate) enum ParsedKey {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Rsa(Box<rsa::RsaPrivateKey>),
    /// Another algorithm (Ed25519, DSA...): stored and listed, but not checked.
    Other,
}

pub(crate) fn parse_key(pkcs8: &[u8]) -> Result<ParsedKey, JobError> {
    let bad = |e: &dyn std::fmt::Display| {
        JobError::failed(format!("the private key is not valid PKCS#8: {e}"))
    };
    let info = PrivateKeyInfo::try_from(pkcs8).map_err(|e| bad(&e))?;
    let algorithm = info.algorithm.oid;
    if algorithm == RSA_ENCRYPTION {
        return rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
            .map(|k| ParsedKey::Rsa(Box::new(k)))
            .map_err(|e| bad(&e));
    }
    if algorithm == EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().map_err(|e| bad(&e))?;
        if curve == SECP256R1 {
            return p256::SecretKey::from_pkcs8_der(pkcs8)
                .map(ParsedKey::P256)
                .map_err(|e| bad(&e));
        }
        if curve == SECP384R1 {
            return p384::SecretKey::from_pkcs8_der(pkcs8)
                .map(ParsedKey::P384)
                .map_err(|e| bad(&e));
        }
    }
    Ok(ParsedKey::Other)
}

/// The SubjectPublicKeyInfo DER of a PKCS#8 key, or `None` for algorithms these
/// plugins do not derive public keys for.
pub fn public_key_der(pkcs8: &[u8]) -> Result<Option<Vec<u8>>, JobError> {
    let der = match parse_key(pkcs8)? {
        ParsedKey::P256(k) => k.public_key().to_public_key_der(),
        ParsedKey::P384(k) => k.public_key().to_public_key_der(),
        ParsedKey::Rsa(k) => k.to_public_key().to_public_key_der(),
        ParsedKey::Other => return Ok(None),
    }
    .map_err(|e| JobError::failed(format!("encoding the public key failed: {e}")))?;
    Ok(Some(der.as_bytes().to_vec()))
}

/// Whether the key belongs to the certificate (true when the algorithm cannot be checked).
pub fn key_matches_certificate(pkcs8: &[u8], cert_der: &[u8]) -> Result<bool, JobError> {
    let Some(public) = public_key_der(pkcs8)? else {
        return Ok(true);
    };
    let cert = parse_certificate(cert_der, "the certificate")?;
    let cert_public = der::Encode::to_der(&cert.tbs_certificate.subject_public_key_info)
        .map_err(|e| JobError::failed(format!("the certificate's public key: {e}")))?;
    Ok(public == cert_public)
}

/// A private key from a PEM block as PKCS#8 DER: `PRIVATE KEY` as it is,
/// `ENCRYPTED PRIVATE KEY` decrypted with `password`, `RSA PRIVATE KEY` (PKCS#1) and
/// `EC PRIVATE KEY` (SEC1, P-256 or P-384) converted. `None` for other labels.
pub fn to_pkcs8(
    label: &str,
    der: &[u8],
    password: Option<&str>,
) -> Result<Option<Vec<u8>>, JobError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let converted = match label {
        "PRIVATE KEY" => {
            parse_key(der)?;
            der.to_vec()
        }
        "ENCRYPTED PRIVATE KEY" => {
            let password = password.ok_or_else(|| {
                JobError::failed(
                    "the private key is encrypted: name the secret holding its password in \
                     the store's password-secret",
                )
            })?;
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|e| {
                JobError::failed(format!("the encrypted private key does not parse: {e}"))
            })?;
            let plain = info.decrypt(password).map_err(|_| {
                JobError::failed("the private key cannot be decrypted: the store password is wrong")
            })?;
            plain.as_bytes().to_vec()
        }
        "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|e| JobError::failed(format!("the RSA private key does not parse: {e}")))?
            .to_pkcs8_der()
            .map_err(|e| JobError::failed(format!("re-encoding the RSA key failed: {e}")))?
            .as_bytes()
            .to_vec(),
        "EC PRIVATE KEY" => {
            let doc = if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
                k.to_pkcs8_der()
            } else if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
                k.to_pkcs8_der()
            } else {
                return Err(JobError::failed(
                    "the EC private key is not a P-256 or P-384 key these plugins can read",
                ));
            };
            doc.map_err(|e| JobError::failed(format!("re-encoding the EC key failed: {e}")))?
                .as_bytes()
                .to_vec()
        }
        _ => return Ok(None),
    };
    Ok(Some(converted))
}

/// PKCS#8 DER encrypted with `password` (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC),
/// the form `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes and reads.
pub fn encrypt_pkcs8(pkcs8: &[u8], password: &str) -> Result<Vec<u8>, JobError> {
    use rand_core::RngCore;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(100_000, &salt, &iv)
        .map_err(|e| JobError::failed(format!("key encryption parameters: {e}")))?;
    let info = PrivateKeyInfo::try_from(pkcs8)
        .map_err(|e| JobError::failed(format!("the private key is not valid PKCS#8: {e}")))?;
    let doc = info
        .encrypt_with_params(params, password)
        .map_err(|e| JobError::failed(format!("encrypting the private key failed: {e}")))?;
    Ok(doc.as_bytes().to_vec())
}

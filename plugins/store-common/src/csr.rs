//! The certificate signing request of Reenrollment: subject and SANs from the
//! request, signed with the key just generated in the sandbox.

use std::net::IpAddr;
use std::str::FromStr;

use der::Encode;
use der::asn1::{Ia5String, OctetString};
use keywarden_sdk::JobError;
use signature::{Keypair, Signer};
use spki::{DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureBitStringEncoding};
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use crate::keys::{ParsedKey, parse_key};

/// The subject of an X.500 string such as `CN=app.example.com,O=Example` (RFC 4514).
pub fn parse_subject(subject: &str) -> Result<Name, JobError> {
    if subject.trim().is_empty() {
        return Err(JobError::invalid_param(
            "request.subject",
            "the subject is empty",
        ));
    }
    Name::from_str(subject.trim()).map_err(|e| {
        JobError::invalid_param(
            "request.subject",
            format!("`{subject}` is not an X.500 name like `CN=app.example.com,O=Example`: {e}"),
        )
    })
}

/// DNS names and IP addresses as subjectAltName entries.
pub fn parse_sans(sans: &[String]) -> Result<Vec<GeneralName>, JobError> {
    sans.iter()
        .enumerate()
        .map(|(i, san)| {
            let san = san.trim();
            let field = format!("request.sans[{i}]");
            if let Ok(ip) = san.parse::<IpAddr>() {
                let bytes = match ip {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                return OctetString::new(bytes)
                    .map(GeneralName::IpAddress)
                    .map_err(|e| JobError::invalid_param(field, e.to_string()));
            }
            let valid = !san.is_empty()
                && san.len() <= 253
                && san.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
                });
            if !valid {
                return Err(JobError::invalid_param(
                    field,
                    format!("`{san}` is neither a DNS name nor an IP address"),
                ));
            }
            Ia5String::new(san)
                .map(GeneralName::DnsName)
                .map_err(|e| JobError::invalid_param(field, e.to_string()))
        })
        .collect()
}

/// A DER CSR for `subject` and `sans`, signed with the PKCS#8 key (SHA-256 for P-256
/// and RSA, SHA-384 for P-384).
pub fn build_csr(pkcs8: &[u8], subject: Name, sans: Vec<GeneralName>) -> Result<Vec<u8>, JobError> {
    match parse_key(pkcs8)? {
        ParsedKey::P256(key) => {
            let signer = p256::ecdsa::SigningKey::from(key);
            sign::<_, p256::ecdsa::DerSignature>(subject, sans, &signer)
        }
        ParsedKey::P384(key) => {
            let signer = p384::ecdsa::SigningKey::from(key);
            sign::<_, p384::ecdsa::DerSignature>(subject, sans, &signer)
        }
        ParsedKey::Rsa(key) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(*key);
            sign::<_, rsa::pkcs1v15::Signature>(subject, sans, &signer)
        }
        ParsedKey::Other => Err(JobError::failed(
            "CSRs can only be signed with EC or RSA keys",
        )),
    }
}

fn sign<S, Sig>(subject: Name, sans: Vec<GeneralName>, signer: &S) -> Result<Vec<u8>, JobError>
where
    S: Keypair + DynSignatureAlgorithmIdentifier + Signer<Sig>,
    S::VerifyingKey: EncodePublicKey,
    Sig: SignatureBitStringEncoding,
{
    let failed =
        |e: &dyn std::fmt::Display| JobError::failed(format!("building the CSR failed: {e}"));
    let mut builder = RequestBuilder::new(subject, signer).map_err(|e| failed(&e))?;
    if !sans.is_empty() {
        builder
            .add_extension(&SubjectAltName(sans))
            .map_err(|e| failed(&e))?;
    }
    let request = builder.build::<Sig>().map_err(|e| failed(&e))?;
    request.to_der().map_err(|e| failed(&e))
}

//! Small certificate helpers: parsing with a readable error, subject, thumbprint.

use der::Decode;
use keywarden_sdk::JobError;
use sha1::{Digest, Sha1};
use x509_cert::Certificate;

/// Parse a DER certificate; `what` names it in the error (e.g. `entry.chain[1]`).
pub fn parse_certificate(der: &[u8], what: &str) -> Result<Certificate, JobError> {
    Certificate::from_der(der)
        .map_err(|e| JobError::failed(format!("{what} is not a DER X.509 certificate: {e}")))
}

/// The subject in RFC 4514 form, or an empty string if the certificate does not parse.
pub fn subject_of(der: &[u8]) -> String {
    Certificate::from_der(der)
        .map(|c| c.tbs_certificate.subject.to_string())
        .unwrap_or_default()
}

/// The SHA-1 thumbprint in upper-case hex: the alias of PEM entries without a name,
/// as Keyfactor and Windows show it.
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(der))
}

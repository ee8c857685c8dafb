//! Certificate enrollment: the plugin generates the key where it lives (so the private
//! key never leaves the store) and sends a CSR; the host has a CA sign it.

use std::fmt;

use crate::wit::keywarden::plugin::enrollment as wit;

/// Why enrollment failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentError {
    /// The plugin is not granted enrollment (or this authority).
    NotGranted(String),
    /// The CA refused the request.
    Rejected(String),
    /// The CA could not be reached.
    Unavailable(String),
}

impl fmt::Display for EnrollmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrollmentError::NotGranted(d) => write!(f, "enrollment not granted: {d}"),
            EnrollmentError::Rejected(d) => write!(f, "CSR rejected: {d}"),
            EnrollmentError::Unavailable(d) => write!(f, "certificate authority unavailable: {d}"),
        }
    }
}

impl std::error::Error for EnrollmentError {}

/// Submit a DER-encoded CSR to `authority` (or the host's default CA) and return the
/// issued chain as DER certificates, leaf first.
pub fn submit_csr(
    csr_der: &[u8],
    authority: Option<&str>,
) -> Result<Vec<Vec<u8>>, EnrollmentError> {
    wit::submit_csr(csr_der, authority).map_err(|err| match err {
        wit::EnrollmentError::NotGranted(d) => EnrollmentError::NotGranted(d),
        wit::EnrollmentError::Rejected(d) => EnrollmentError::Rejected(d),
        wit::EnrollmentError::Unavailable(d) => EnrollmentError::Unavailable(d),
    })
}

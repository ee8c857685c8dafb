//! Named credentials, resolved by the host at run time.
//!
//! Secrets never pass through job params, logs or details: a job names the secret it
//! needs (the operator grants names per plugin) and reveals it only where it is used.
//! Do not log or return the value.

use std::fmt;

use crate::wit::keywarden::plugin::secrets as wit;

/// Why a secret could not be revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The operator did not grant this plugin the secret. Carries the host's message.
    NotGranted(String),
    /// Granted, but the host's resolver has no value for it. Carries the host's message.
    NotFound(String),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotGranted(detail) => write!(f, "secret not granted: {detail}"),
            SecretError::NotFound(detail) => write!(f, "secret not found: {detail}"),
        }
    }
}

impl std::error::Error for SecretError {}

/// The value of the secret `name`.
pub fn reveal(name: &str) -> Result<String, SecretError> {
    wit::reveal(name).map_err(|err| match err {
        wit::SecretError::NotGranted(detail) => SecretError::NotGranted(detail),
        wit::SecretError::NotFound(detail) => SecretError::NotFound(detail),
    })
}

//! Types of the certificate-store family (Keyfactor-style Inventory, Management,
//! Discovery and Reenrollment jobs).

use serde_json::Value;

use crate::job::{JobError, parse_json_object};
use crate::secrets::{self, SecretError};
use crate::wit::exports::keywarden::plugin::certificate_store as wit;

/// The store a job works on.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    /// `PEM`, `PKCS12`, `JKS`, ...
    pub store_type: String,
    /// Path inside the sandbox (under a granted directory).
    pub path: String,
    /// Name of the secret holding the store password, if any.
    pub password_secret: Option<String>,
    /// Store-type specific properties (a JSON object).
    pub properties: Value,
}

impl Store {
    /// Reveal the store password, if the store has one. The value is not kept
    /// anywhere else, which is why the store only carries the secret's *name*.
    pub fn password(&self) -> Result<Option<String>, SecretError> {
        self.password_secret
            .as_deref()
            .map(secrets::reveal)
            .transpose()
    }

    pub(crate) fn from_wit(store: wit::Store) -> Result<Self, JobError> {
        Ok(Self {
            properties: parse_json_object(&store.properties, "store.properties")?,
            store_type: store.store_type,
            path: store.path,
            password_secret: store.password_secret,
        })
    }
}

/// One entry found in a store (what Inventory returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    /// Alias (or, for PEM, a name the plugin derives).
    pub alias: String,
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Whether the entry has a private key.
    pub has_private_key: bool,
}

impl CertificateEntry {
    pub(crate) fn into_wit(self) -> wit::CertificateEntry {
        wit::CertificateEntry {
            alias: self.alias,
            chain: self.chain,
            has_private_key: self.has_private_key,
        }
    }
}

/// What Management/Add installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Alias to install under.
    pub alias: String,
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 DER private key, if the entry carries one.
    pub private_key: Option<Vec<u8>>,
    /// Replace an existing entry with the same alias.
    pub overwrite: bool,
    /// Create the store first if it does not exist.
    pub create_if_missing: bool,
}

impl From<wit::NewEntry> for NewEntry {
    fn from(e: wit::NewEntry) -> Self {
        Self {
            alias: e.alias,
            chain: e.chain,
            private_key: e.private_key,
            overwrite: e.overwrite,
            create_if_missing: e.create_if_missing,
        }
    }
}

/// Where Discovery looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryRequest {
    /// Directories to search (inside the sandbox).
    pub directories: Vec<String>,
    /// File extensions to consider.
    pub extensions: Vec<String>,
    /// Directories to skip.
    pub ignored_directories: Vec<String>,
    /// Substrings a file name must contain (any of them); empty means all.
    pub patterns: Vec<String>,
}

impl From<wit::DiscoveryRequest> for DiscoveryRequest {
    fn from(r: wit::DiscoveryRequest) -> Self {
        Self {
            directories: r.directories,
            extensions: r.extensions,
            ignored_directories: r.ignored_directories,
            patterns: r.patterns,
        }
    }
}

/// What Reenrollment asks for. The key is generated inside the store; the CSR goes to
/// [`enrollment::submit_csr`](crate::enrollment::submit_csr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReenrollmentRequest {
    /// Alias of the entry to (re)create.
    pub alias: String,
    /// X.500 form, e.g. `CN=app.example.com,O=Example`.
    pub subject: String,
    /// DNS names and IP addresses.
    pub sans: Vec<String>,
    /// `ec-p256`, `ec-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096`.
    pub key_type: String,
    /// CA name for the host, or the default CA.
    pub authority: Option<String>,
    /// Replace an existing entry with the same alias.
    pub overwrite: bool,
}

impl From<wit::ReenrollmentRequest> for ReenrollmentRequest {
    fn from(r: wit::ReenrollmentRequest) -> Self {
        Self {
            alias: r.alias,
            subject: r.subject,
            sans: r.sans,
            key_type: r.key_type,
            authority: r.authority,
            overwrite: r.overwrite,
        }
    }
}

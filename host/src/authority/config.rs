//! The `[authorities.NAME]` tables of the operator's TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// One certificate authority the host may submit CSRs to, chosen by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthorityConfig {
    /// A CA inside the host, for labs and tests.
    Local(LocalCaConfig),
    /// An ACME (RFC 8555) server: Let's Encrypt, pebble, step-ca...
    Acme(AcmeCaConfig),
}

/// A local CA. Without `cert_file`/`key_file` its root is generated at the first start and
/// kept in `<data-dir>/authorities/NAME/` (key readable by the owner only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCaConfig {
    /// PEM CA certificate to issue under (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Validity of issued certificates.
    #[serde(default = "default_validity_days")]
    pub validity_days: u32,
    /// Common name of a generated root.
    pub common_name: Option<String>,
    /// Validity of a generated root.
    #[serde(default = "default_root_validity_days")]
    pub root_validity_days: u32,
}

/// An ACME CA. The account is created at the first order and kept in
/// `<data-dir>/authorities/NAME/acme-account.json` (owner-only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeCaConfig {
    /// Directory URL, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    pub directory: String,
    /// PEM CA certificate that signed the directory's HTTPS certificate, for private ACME
    /// servers (pebble, step-ca). Only this CA is trusted then; without it, the system's.
    pub ca_file: Option<PathBuf>,
    /// Account contacts, e.g. `["mailto:pki@example.com"]`.
    #[serde(default)]
    pub contact: Vec<String>,
    /// Where the host answers http-01 challenges (`/.well-known/acme-challenge/`); the CA
    /// must reach this address on port 80 of every identifier (or the CA's configured port).
    /// Without it, challenges are still answered "ready" — for CAs that validate otherwise
    /// (pebble with `PEBBLE_VA_ALWAYS_VALID`, or a proxy that serves the tokens).
    pub http01_listen: Option<SocketAddr>,
    /// How long one order may take from creation to the downloaded chain.
    #[serde(default = "default_order_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_validity_days() -> u32 {
    90
}

fn default_root_validity_days() -> u32 {
    3650
}

fn default_order_timeout_secs() -> u64 {
    120
}

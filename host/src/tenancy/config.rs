//! The `[accounts.NAME]` tables of the operator's TOML: what one account (one team) may
//! use. Nothing is reachable unless a table grants it, as in Vault's policies: an account
//! without a table can run nothing, and an account's grant of a plugin can only narrow what
//! the operator granted the plugin itself (a sub-directory, some of its secrets, some of
//! its hosts), never widen it. The `admin` account keeps the plugins' own grants.

use std::collections::BTreeMap;

use ipnet::IpNet;
use keywarden_db::{SchedulingPolicy, WindowSpec};
use serde::Deserialize;

/// What one account may use and how much of the server it may take.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The plugins (by file name, without `.wasm`) the account's jobs may run, each with
    /// the part of the plugin's grants they run with.
    #[serde(default)]
    pub plugins: BTreeMap<String, AccountPluginGrant>,
    /// The certificate authorities the account's CSRs may go to, each with its issuance
    /// policy (Vault PKI roles are the model).
    #[serde(default)]
    pub authorities: BTreeMap<String, IssuancePolicy>,
    /// Job configs the account may have at once (`None`: no limit).
    pub max_job_configs: Option<u64>,
    /// Jobs of the account that may wait in the queue at once (`None`: no limit).
    pub max_queued_jobs: Option<u64>,
    /// The shortest time between two fires of one of the account's schedules.
    pub min_schedule_interval_secs: Option<u64>,
    /// The account's change windows: its jobs start only inside one of them (and inside
    /// their config's own windows, if it has any). None: any time.
    #[serde(default)]
    pub maintenance_windows: Vec<WindowSpec>,
    /// Windows in which no job of the account starts.
    #[serde(default)]
    pub blackout_windows: Vec<WindowSpec>,
}

impl AccountConfig {
    /// The account's windows as a scheduling policy (no jitter, no pause).
    pub fn scheduling_policy(&self) -> SchedulingPolicy {
        SchedulingPolicy {
            maintenance_windows: self.maintenance_windows.clone(),
            blackout_windows: self.blackout_windows.clone(),
            ..SchedulingPolicy::default()
        }
    }
}

/// The windows of every account that has some, for the scheduler and the executor.
pub fn account_policies(
    accounts: &BTreeMap<String, AccountConfig>,
) -> crate::scheduler::gate::AccountPolicies {
    std::sync::Arc::new(
        accounts
            .iter()
            .map(|(name, a)| (name.clone(), a.scheduling_policy()))
            .filter(|(_, p)| p.has_windows())
            .collect(),
    )
}

/// One account's part of one plugin's grants.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPluginGrant {
    /// The operations of the plugin the account may run (all when empty).
    #[serde(default)]
    pub operations: Vec<String>,
    /// Directories, as plugins see them (`/stores/team-a`), each at or under one of the
    /// plugin's directory grants. The account's jobs see only these.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Names of secrets, each one the plugin is granted.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Hosts, each one of the plugin's `outbound_hosts` as written there.
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
    /// May the account's jobs use the `tls` probe import (if the plugin may)?
    #[serde(default)]
    pub tls_probe: bool,
    /// The networks the account's jobs may probe, each within the plugin's
    /// `tls_networks` (none: the plugin's).
    #[serde(default)]
    pub tls_networks: Vec<String>,
    /// The ports they may probe, each within the plugin's `tls_ports` (none: the
    /// plugin's).
    #[serde(default)]
    pub tls_ports: Vec<String>,
    /// Plugin settings of the account's jobs, over the plugin's own (for instance the
    /// names of the account's own cloud credentials).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Values the params of the account's jobs must hold (set when absent, refused when
    /// different), like Vault's `required_parameters`: a cloud scope such as
    /// `{ aws_param = { tags = { team = "a" } } }`. Applies to the params a plugin reads
    /// directly (cloud, custom and network jobs), not to certificate-store requests.
    #[serde(default)]
    pub pinned_params: toml::Table,
}

/// What an account may ask one certificate authority for. Every name a CSR carries (its
/// subject's common name and each subject alternative name) must be allowed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuancePolicy {
    /// DNS names the account may get certificates for (`team-a.example`).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The allowed domains themselves may be named.
    #[serde(default = "yes")]
    pub allow_bare_domains: bool,
    /// Names under an allowed domain (`www.team-a.example`) may be named.
    #[serde(default)]
    pub allow_subdomains: bool,
    /// Wildcard names (`*.team-a.example`) may be named, if the name they cover is allowed.
    #[serde(default)]
    pub allow_wildcards: bool,
    /// IP addresses the account may name (CIDR ranges).
    #[serde(default)]
    pub allowed_ip_ranges: Vec<IpNet>,
    /// Email addresses (`user@team-a.example`) whose domain is allowed may be named.
    #[serde(default)]
    pub allow_email_addresses: bool,
    /// Extended key usages a CSR may ask for: `server_auth`, `client_auth`,
    /// `code_signing`, `email_protection`.
    #[serde(default = "default_usages")]
    pub allowed_extended_key_usages: Vec<ExtendedKeyUsage>,
    /// Key types a CSR may carry: `rsa`, `ec`, `ed25519`.
    #[serde(default = "default_key_types")]
    pub allowed_key_types: Vec<KeyType>,
    /// The smallest RSA modulus, in bits.
    #[serde(default = "default_min_rsa_bits")]
    pub min_rsa_bits: u32,
    /// The longest validity a certificate may have, in days (the local CA issues no
    /// longer; a certificate from an ACME CA that is longer is refused).
    pub max_validity_days: Option<u32>,
}

fn yes() -> bool {
    true
}

fn default_usages() -> Vec<ExtendedKeyUsage> {
    vec![ExtendedKeyUsage::ServerAuth, ExtendedKeyUsage::ClientAuth]
}

fn default_key_types() -> Vec<KeyType> {
    vec![KeyType::Rsa, KeyType::Ec, KeyType::Ed25519]
}

fn default_min_rsa_bits() -> u32 {
    2048
}

/// An extended key usage a CSR may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtendedKeyUsage {
    ServerAuth,
    ClientAuth,
    CodeSigning,
    EmailProtection,
}

impl std::fmt::Display for ExtendedKeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtendedKeyUsage::ServerAuth => "server_auth",
            ExtendedKeyUsage::ClientAuth => "client_auth",
            ExtendedKeyUsage::CodeSigning => "code_signing",
            ExtendedKeyUsage::EmailProtection => "email_protection",
        })
    }
}

/// A key algorithm family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    Rsa,
    Ec,
    Ed25519,
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "rsa",
            KeyType::Ec => "ec",
            KeyType::Ed25519 => "ed25519",
        })
    }
}

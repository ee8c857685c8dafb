//! The params of certificate-store jobs: what the certificate store APIs put into a job
//! and what the executor reads back to build the plugin call. One definition for both
//! sides so they cannot drift.
//!
//! A job names its store by id only; the executor loads the store record (scoped to the
//! job's account) when the job runs, so an edited store path or password secret applies
//! to the next run. Nothing here is secret: private keys and passwords travel as secret
//! names, resolved by the host at run time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Operation names of the certificate-store family (Keyfactor's job types).
pub mod operation {
    pub const INVENTORY: &str = "Inventory";
    pub const MANAGEMENT: &str = "Management";
    pub const DISCOVERY: &str = "Discovery";
    pub const REENROLLMENT: &str = "Reenrollment";
}

/// The params object of a certificate-store job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreJobParams {
    /// The store the job works on (all operations but Discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_store_id: Option<String>,
    /// What a Management job does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    /// What a Reenrollment job asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reenrollment: Option<Reenrollment>,
    /// Where a Discovery job looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
    /// Store-type specific per-job fields (Keyfactor's JobProperties): the plugin's params.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub job_properties: Map<String, Value>,
}

impl StoreJobParams {
    /// The JSON stored in a job.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

/// A Management job: add an entry, remove one, or create the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum Management {
    Add {
        alias: String,
        /// PEM certificates, leaf first (or one base64 DER certificate). Jobs carry
        /// [`certificate_sha256`](Management::Add::certificate_sha256) instead; this is
        /// filled from the stored payload when the job runs ([`load_payloads`]), and
        /// jobs queued before payloads existed carry it inline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate: Option<String>,
        /// The account's stored payload holding the certificate (one copy however many
        /// stores a request names).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_sha256: Option<String>,
        /// Name of a secret holding the entry's PKCS#8 PEM private key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        private_key_secret: Option<String>,
        #[serde(default)]
        overwrite: bool,
    },
    Remove {
        alias: String,
    },
    Create,
}

/// A Reenrollment job (the key is generated inside the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reenrollment {
    pub alias: String,
    /// X.500 form.
    pub subject: String,
    /// Plain DNS names and IP addresses, as the plugin takes them.
    #[serde(default)]
    pub sans: Vec<String>,
    /// `ec-p256` (default), `ec-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096`.
    pub key_type: String,
    /// The CA to ask; the host's default when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default)]
    pub overwrite: bool,
    /// Recorded from the request for the job history; Keywarden's CAs have no templates,
    /// enrollment patterns, metadata or owners, so they do not change the issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_pattern_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub additional_enrollment_fields: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_role_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_role_name: Option<String>,
}

/// A Discovery job: which store type on which machine, and where to look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    pub store_type: String,
    pub client_machine: String,
    pub directories: Vec<String>,
    #[serde(default)]
    pub extensions: Vec<String>,
    #[serde(default)]
    pub ignored_directories: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Fills a Management/Add's certificate from the account's stored payload, when the job
/// references one. `Err` says why it cannot be had.
pub async fn load_payloads(
    db: &dyn keywarden_db::Database,
    account: &str,
    params: &mut StoreJobParams,
) -> Result<(), String> {
    if let Some(Management::Add {
        certificate: certificate @ None,
        certificate_sha256: Some(sha256),
        ..
    }) = &mut params.management
    {
        let body = db
            .get_payload(account, sha256)
            .await
            .map_err(|e| format!("reading the job's certificate failed: {e}"))?
            .ok_or_else(|| format!("the job's certificate (payload {sha256}) is gone"))?;
        *certificate = Some(body);
    }
    Ok(())
}

/// Whether a job of `operation` with `params` was made by the certificate store APIs: a
/// certificate-store operation whose params carry a store id or a discovery request. The
/// plugin then reads only the job properties, not these params.
pub fn is_store_request(operation_name: &str, params: &Value) -> bool {
    [
        operation::INVENTORY,
        operation::MANAGEMENT,
        operation::DISCOVERY,
        operation::REENROLLMENT,
    ]
    .contains(&operation_name)
        && (params.get("certificate_store_id").is_some() || params.get("discovery").is_some())
}

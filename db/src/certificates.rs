//! Certificate stores as resources, what their inventories found and what discovery
//! reported. Kept apart from the job model: a store *owns* a job config (its inventory
//! schedule) but jobs only carry its id in their params.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::truncate_micros;

/// A certificate store (Keyfactor's `CertificateStores`): where it is, which plugin type
/// serves it and how its password is found. The password is only ever a secret *name*.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateStore {
    /// Primary key (Keyfactor's store GUID, `KeystoreId`).
    pub id: Uuid,
    /// Owning account.
    pub account_id: String,
    /// The machine the store lives on (Keyfactor's `ClientMachine`).
    pub client_machine: String,
    /// The store's path as its plugin sees it (inside a granted directory).
    pub store_path: String,
    /// Store type a plugin serves (`PEM`, `PKCS12`, `JKS`), upper case.
    pub store_type: String,
    /// Optional Keyfactor container id.
    pub container_id: Option<i64>,
    /// Whether the store may be used; discovered stores start unapproved.
    pub approved: bool,
    /// Create the store file when the first entry is added.
    pub create_if_missing: bool,
    /// Store-type specific properties, a JSON object.
    pub properties: Value,
    /// The node (Keyfactor's agent) that runs the store's jobs; `None` = any node.
    pub agent_id: Option<String>,
    /// Name of the secret holding the store password (resolved by the host at run time).
    pub password_secret: Option<String>,
    /// The job config that holds the inventory schedule; deleted with the store.
    pub inventory_config_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl CertificateStore {
    /// A store with a fresh v7 id, approved, no properties, created at `now`.
    pub fn new(
        account_id: &str,
        client_machine: &str,
        store_path: &str,
        store_type: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let now = truncate_micros(now);
        CertificateStore {
            id: Uuid::now_v7(),
            account_id: account_id.to_owned(),
            client_machine: client_machine.to_owned(),
            store_path: store_path.to_owned(),
            store_type: store_type.to_owned(),
            container_id: None,
            approved: true,
            create_if_missing: false,
            properties: Value::Object(Default::default()),
            agent_id: None,
            password_secret: None,
            inventory_config_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Filters of [`crate::Database::list_certificate_stores`]; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CertificateStoreFilter {
    /// Only this account's stores (`None` = every account, for admins).
    pub account_id: Option<String>,
    /// Exact client machine.
    pub client_machine: Option<String>,
    /// Exact store path.
    pub store_path: Option<String>,
    /// Exact store type.
    pub store_type: Option<String>,
    /// Exact agent (node) id.
    pub agent_id: Option<String>,
    /// Approved flag.
    pub approved: Option<bool>,
    /// Exact container id.
    pub container_id: Option<i64>,
}

/// One certificate an inventory found, parsed by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// The store the entry is in; for an SSL endpoint's certificate (see `source`), the
    /// endpoint's network.
    pub store_id: Uuid,
    /// Where the certificate was found.
    #[serde(default)]
    pub source: CertificateSource,
    /// The store's account (copied, so expiry queries need no join).
    pub account_id: String,
    /// The entry's alias in the store.
    pub alias: String,
    /// Upper-case hex SHA-1 of the leaf's DER.
    pub thumbprint: String,
    /// Upper-case hex serial number.
    pub serial_number: String,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Issuer in RFC 4514 form.
    pub issuer: String,
    /// Subject alternative names, Keyfactor SAN kind first (`dns:x`, `ip4:y`, `ip6:z`, `email:e`, `uri:u`).
    pub sans: Vec<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whether the store holds the private key for it.
    pub has_private_key: bool,
    /// Certificates in the entry's chain, leaf included.
    pub chain_length: i64,
    /// The leaf certificate, base64 DER.
    pub certificate: String,
    /// The inventory job that found it.
    pub job_id: Option<Uuid>,
    /// When that inventory ran.
    pub inventoried_at: DateTime<Utc>,
}

/// Where a listed certificate was found: a certificate store's inventory, or an SSL
/// endpoint a scan found serving it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateSource {
    #[default]
    Store,
    SslEndpoint {
        endpoint_id: Uuid,
    },
}

/// Filters of [`crate::Database::list_inventory`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryFilter {
    /// Only this account's entries (`None` = every account).
    pub account_id: Option<String>,
    /// Only this store's entries.
    pub store_id: Option<Uuid>,
    /// Entries whose `not_after` is at or before this time (expiring or expired).
    pub not_after_before: Option<DateTime<Utc>>,
    /// Exact alias.
    pub alias: Option<String>,
    /// Exact thumbprint (upper-case hex).
    pub thumbprint: Option<String>,
    /// Also the certificates SSL endpoints serve (their alias `host:port`), so one
    /// listing covers stores and endpoints. Ignored with `store_id`.
    #[serde(default)]
    pub include_ssl_endpoints: bool,
    /// Stop counting matches past this many (see [`crate::Total`]); `None` counts them all.
    #[serde(default)]
    pub count_bound: Option<i64>,
}

/// A store file a discovery job found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredPath {
    /// Owning account.
    pub account_id: String,
    /// Store type the discovery ran for.
    pub store_type: String,
    /// Machine the discovery ran for.
    pub client_machine: String,
    /// The path found, as the plugin sees it.
    pub path: String,
    /// The discovery job that found it last.
    pub job_id: Option<Uuid>,
    /// When it was found last.
    pub discovered_at: DateTime<Utc>,
}

/// Filters of [`crate::Database::list_discovered_paths`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredFilter {
    /// Only this account's paths (`None` = every account).
    pub account_id: Option<String>,
    /// Exact store type.
    pub store_type: Option<String>,
    /// Exact client machine.
    pub client_machine: Option<String>,
}

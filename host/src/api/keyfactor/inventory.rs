//! What the stores' latest inventories found: `GET /KeyfactorAPI/CertificateStores/{id}/Inventory`
//! for one store, `GET /KeyfactorAPI/CertificateStores/Inventory` across the account's
//! stores and the SSL endpoints scans found (each row saying where it was found), both
//! with `ExpiringWithinDays` to find what needs renewing.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use keywarden_db::{CertificateSource, InventoryEntry, InventoryFilter, Sort};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, KeyfactorErrorBody, KeyfactorResult, Params};
use crate::api::AppState;
use crate::api::ciphertrust::extract;
use crate::domain::Caller;

/// One entry of a store's inventory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryView {
    /// The entry's alias (Keyfactor's `Name`).
    pub name: String,
    /// The alias in its store, or `host:port` of an SSL endpoint.
    pub alias: String,
    /// `CertificateStore` or `SslEndpoint`.
    pub source: String,
    /// The store (null for an SSL endpoint).
    pub certificate_store_id: Option<String>,
    /// The SSL endpoint serving it, and its network (null for a store entry).
    pub ssl_endpoint_id: Option<String>,
    pub ssl_network_id: Option<String>,
    /// Upper-case hex SHA-1 of the certificate.
    pub thumbprint: String,
    pub serial_number: String,
    /// Subject DN (Keyfactor's `IssuedDN`).
    #[serde(rename = "IssuedDN")]
    pub issued_dn: String,
    #[serde(rename = "IssuerDN")]
    pub issuer_dn: String,
    /// `{"dns": [...], "ip4": [...], "ip6": [...], "email": [...], "uri": [...]}`.
    #[serde(rename = "SANs")]
    #[schema(value_type = Object)]
    pub sans: Value,
    pub not_before: String,
    pub not_after: String,
    pub has_private_key: bool,
    /// Certificates in the entry, leaf included.
    pub chain_length: i64,
    /// The certificate, base64 DER.
    pub certificate: String,
    /// The inventory job that found it.
    pub job_id: Option<String>,
    pub inventoried_at: String,
}

impl From<&InventoryEntry> for InventoryView {
    fn from(e: &InventoryEntry) -> Self {
        let mut sans = Map::new();
        for san in &e.sans {
            if let Some((kind, value)) = san.split_once(':') {
                let list = sans
                    .entry(kind.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(Value::String(value.to_owned()));
                }
            }
        }
        InventoryView {
            name: e.alias.clone(),
            alias: e.alias.clone(),
            source: match e.source {
                CertificateSource::Store => "CertificateStore",
                CertificateSource::SslEndpoint { .. } => "SslEndpoint",
            }
            .to_owned(),
            certificate_store_id: matches!(e.source, CertificateSource::Store)
                .then(|| e.store_id.to_string()),
            ssl_endpoint_id: match e.source {
                CertificateSource::SslEndpoint { endpoint_id } => Some(endpoint_id.to_string()),
                CertificateSource::Store => None,
            },
            ssl_network_id: matches!(e.source, CertificateSource::SslEndpoint { .. })
                .then(|| e.store_id.to_string()),
            thumbprint: e.thumbprint.clone(),
            serial_number: e.serial_number.clone(),
            issued_dn: e.subject.clone(),
            issuer_dn: e.issuer.clone(),
            sans: Value::Object(sans),
            not_before: kit::time(e.not_before),
            not_after: kit::time(e.not_after),
            has_private_key: e.has_private_key,
            chain_length: e.chain_length,
            certificate: e.certificate.clone(),
            job_id: e.job_id.map(|id| id.to_string()),
            inventoried_at: kit::time(e.inventoried_at),
        }
    }
}

const SORTABLE: &str = "NotAfter, NotBefore, Alias, Thumbprint, IssuedDN, IssuerDN, InventoriedAt";

fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "notafter" => "not_after",
        "notbefore" => "not_before",
        "alias" | "name" => "alias",
        "thumbprint" => "thumbprint",
        "issueddn" | "subject" => "subject",
        "issuerdn" | "issuer" => "issuer",
        "inventoriedat" => "inventoried_at",
        _ => return None,
    })
}

async fn listing(
    state: &AppState,
    caller: &Caller,
    store_id: Option<Uuid>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(sort_column, SORTABLE)?;
    let not_after_before = q
        .integer("ExpiringWithinDays", 0, 36_500)?
        .map(|days| Utc::now() + Duration::days(days));
    let include_ssl = store_id.is_none() && q.boolean("IncludeSslEndpoints")?.unwrap_or(true);
    let filter = InventoryFilter {
        account_id: None,
        store_id: None,
        not_after_before,
        alias: q.take("Alias"),
        thumbprint: q.take("Thumbprint").map(|t| t.to_ascii_uppercase()),
        include_ssl_endpoints: include_ssl,
        count_bound: None, // the domain service sets its bound
    };
    q.finish()?;
    let sort = paging
        .sort
        .map_or_else(Sort::default, |column| Sort::by(column, paging.descending));
    let (total, rows) = state
        .service
        .inventory(caller, store_id, filter, &sort, paging.skip, paging.limit)
        .await?;
    Ok(kit::counted(
        total,
        rows.iter().map(InventoryView::from).collect(),
    ))
}

/// The entries of one store as its latest successful inventory found them.
#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/{id}/Inventory", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = Vec<InventoryView>,
        headers(("x-total-count" = i64, description = "Entries matching the filters"))),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn store_inventory(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Params,
) -> KeyfactorResult<Response> {
    let uuid = extract::path_id(&id, "certificate store")?;
    listing(&state, &caller, Some(uuid), q).await
}

/// The entries of every store of the account (every account for admins).
#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/Inventory", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = Vec<InventoryView>,
        headers(("x-total-count" = i64, description = "Entries matching the filters"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn all_inventory(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Params,
) -> KeyfactorResult<Response> {
    listing(&state, &caller, None, q).await
}

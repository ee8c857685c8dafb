//! What the stores' latest inventories found: `GET /KeyfactorAPI/CertificateStores/{id}/Inventory`
//! for one store, `GET /KeyfactorAPI/CertificateStores/Inventory` across the account's
//! stores, both with `ExpiringWithinDays` to find what needs renewing.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use keywarden_db::{InventoryEntry, InventoryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::kf_body;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{self, ApiQuery, text};

/// One entry of a store's inventory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryView {
    /// The entry's alias (Keyfactor's `Name`).
    pub name: String,
    pub alias: String,
    pub certificate_store_id: String,
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
            certificate_store_id: e.store_id.to_string(),
            thumbprint: e.thumbprint.clone(),
            serial_number: e.serial_number.clone(),
            issued_dn: e.subject.clone(),
            issuer_dn: e.issuer.clone(),
            sans: Value::Object(sans),
            not_before: kf_body::time(e.not_before),
            not_after: kf_body::time(e.not_after),
            has_private_key: e.has_private_key,
            chain_length: e.chain_length,
            certificate: e.certificate.clone(),
            job_id: e.job_id.map(|id| id.to_string()),
            inventoried_at: kf_body::time(e.inventoried_at),
        }
    }
}

/// Query parameters of the inventory listings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[into_params(rename_all = "PascalCase")]
pub struct InventoryQuery {
    /// Only certificates whose NotAfter is within this many days from now (expired ones
    /// included).
    pub expiring_within_days: Option<String>,
    pub alias: Option<String>,
    pub thumbprint: Option<String>,
    /// 1-based page number (default 1).
    pub page_returned: Option<String>,
    /// Page size (default 50).
    pub return_limit: Option<String>,
    /// `NotAfter` (default), `NotBefore`, `Alias`, `Thumbprint`, `IssuedDN`, `IssuerDN`.
    pub sort_field: Option<String>,
    /// 0 ascending (default), 1 descending.
    pub sort_ascending: Option<String>,
}

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
    q: InventoryQuery,
) -> ApiResult<Response> {
    let paging = kf_body::paging(
        q.page_returned.as_deref(),
        q.return_limit.as_deref(),
        q.sort_field.as_deref(),
        q.sort_ascending.as_deref(),
        sort_column,
    )?;
    let not_after_before = match text(q.expiring_within_days) {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(days) if (0..=36_500).contains(&days) => Some(Utc::now() + Duration::days(days)),
            _ => {
                return Err(ApiError::invalid(
                    "ExpiringWithinDays",
                    format!("expected a whole number of days from 0 to 36500, got {s:?}"),
                ));
            }
        },
    };
    let filter = InventoryFilter {
        account_id: caller.scope().map(str::to_owned),
        store_id,
        not_after_before,
        alias: text(q.alias),
        thumbprint: text(q.thumbprint).map(|t| t.to_ascii_uppercase()),
    };
    let (total, rows) = state
        .db
        .list_inventory(&filter, &paging.sort, paging.skip, paging.limit)
        .await?;
    Ok(kf_body::counted(
        total,
        rows.iter().map(InventoryView::from).collect(),
    ))
}

/// The entries of one store as its latest successful inventory found them.
#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/{id}/Inventory", tag = "keyfactor-certificate-stores",
    params(("id" = String, Path, description = "Certificate store GUID"), InventoryQuery),
    responses((status = 200, body = Vec<InventoryView>,
        headers(("x-total-count" = i64, description = "Entries matching the filters"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn store_inventory(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<InventoryQuery>,
) -> ApiResult<Response> {
    let uuid = extract::path_id(&id, "certificate store")?;
    state
        .db
        .get_certificate_store(caller.scope(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no certificate store with id {id:?}")))?;
    listing(&state, &caller, Some(uuid), q).await
}

/// The entries of every store of the account (every account for admins).
#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/Inventory", tag = "keyfactor-certificate-stores",
    params(InventoryQuery),
    responses((status = 200, body = Vec<InventoryView>,
        headers(("x-total-count" = i64, description = "Entries matching the filters"))),
        (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn all_inventory(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<InventoryQuery>,
) -> ApiResult<Response> {
    listing(&state, &caller, None, q).await
}

//! `/KeyfactorAPI/SSL` results: the endpoints scans found (`GET /SSL`, with Keyfactor's
//! query language), one endpoint and its history, and the monitor and review flags, one
//! by one or by query, in Keyfactor's field names.

use std::collections::HashMap;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use chrono::{Duration, Utc};
use keywarden_db::{
    ProbeStatus, ScanKind, Sort, SslEndpoint, SslEndpointField, SslEndpointFilter, SslEndpointFlag,
    SslHistoryEntry,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, Body, KeyfactorErrorBody, KeyfactorResult, Params};
use super::query::fields::{self, Kind, Target};
use super::ssl_scans::path_uuid;
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, AppState};
use crate::certificates::parse;
use crate::domain::Caller;

/// Routes relative to `/KeyfactorAPI`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/SSL", get(results))
        .route("/SSL/Endpoints/{id}", get(endpoint))
        .route("/SSL/Endpoints/{id}/History", get(history))
        .route("/SSL/Endpoints/MonitorStatus", put(monitor_status))
        .route("/SSL/Endpoints/ReviewStatus", put(review_status))
        .route("/SSL/Endpoints/MonitorAll", put(monitor_all))
        .route("/SSL/Endpoints/ReviewAll", put(review_all))
}

/// The common name of a subject (`CN=web, O=Lab` → `web`).
fn common_name(subject: &str) -> Option<String> {
    subject
        .split(',')
        .map(str::trim)
        .find_map(|rdn| rdn.strip_prefix("CN="))
        .map(str::to_owned)
}

/// One endpoint as a scan result (Keyfactor's SslScanResult), with what it serves.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ScanResultView {
    pub endpoint_id: String,
    #[serde(rename = "ReverseDNS")]
    pub reverse_dns: Option<String>,
    #[serde(rename = "SNIName")]
    pub sni_name: String,
    pub ip_address: String,
    pub port: i64,
    pub certificate_found: bool,
    pub agent_pool_name: String,
    pub network_name: String,
    pub monitor_status: bool,
    #[serde(rename = "CertificateCN")]
    pub certificate_cn: Option<String>,
    pub reviewed: bool,
    /// The host as scanned (an address or a name).
    pub host: String,
    pub thumbprint: Option<String>,
    pub not_after: Option<String>,
    pub trusted: Option<bool>,
    pub name_matches: Option<bool>,
    pub last_seen: String,
}

/// The fields of `GET /SSL?QueryString=` (and of MonitorAll and ReviewAll's `query`).
pub const ENDPOINT_FIELDS: &[(&str, Target<SslEndpointField>)] = &[
    (
        "EndpointId",
        Target::Column(SslEndpointField::Id, Kind::Text),
    ),
    (
        "NetworkId",
        Target::Column(SslEndpointField::NetworkId, Kind::Text),
    ),
    ("Host", Target::Column(SslEndpointField::Host, Kind::Text)),
    (
        "IpAddress",
        Target::Column(SslEndpointField::Address, Kind::Text),
    ),
    ("Port", Target::Column(SslEndpointField::Port, Kind::Code)),
    (
        "SNIName",
        Target::Column(SslEndpointField::SniName, Kind::Text),
    ),
    (
        "Status",
        Target::Column(SslEndpointField::Status, Kind::Text),
    ),
    (
        "Thumbprint",
        Target::Column(SslEndpointField::Thumbprint, Kind::Text),
    ),
    (
        "IssuedDN",
        Target::Column(SslEndpointField::Subject, Kind::Text),
    ),
    (
        "CertificateCN",
        Target::Column(SslEndpointField::Subject, Kind::Text),
    ),
    (
        "IssuerDN",
        Target::Column(SslEndpointField::Issuer, Kind::Text),
    ),
    (
        "NotAfter",
        Target::Column(SslEndpointField::NotAfter, Kind::Date),
    ),
    (
        "NotBefore",
        Target::Column(SslEndpointField::NotBefore, Kind::Date),
    ),
    (
        "LastSeen",
        Target::Column(SslEndpointField::LastSeen, Kind::Date),
    ),
    (
        "FirstSeen",
        Target::Column(SslEndpointField::FirstSeen, Kind::Date),
    ),
    ("MonitorStatus", Target::Flag(SslEndpointFlag::Monitored)),
    ("Reviewed", Target::Flag(SslEndpointFlag::Reviewed)),
    (
        "CertificateFound",
        Target::Flag(SslEndpointFlag::CertificateFound),
    ),
    ("Trusted", Target::Flag(SslEndpointFlag::Trusted)),
    ("NameMatches", Target::Flag(SslEndpointFlag::NameMatches)),
];

/// Sortable fields of `GET /SSL`.
pub const ENDPOINT_SORTABLE: &str =
    "Host, IpAddress, Port, SNIName, Thumbprint, IssuedDN, NotAfter, LastSeen, FirstSeen";

fn endpoint_sort(field: &str) -> Option<&'static str> {
    Some(match field {
        "host" => "host",
        "ipaddress" => "address",
        "port" => "port",
        "sniname" => "sni_name",
        "thumbprint" => "thumbprint",
        "issueddn" | "certificatecn" => "subject",
        "notafter" => "not_after",
        "lastseen" => "last_seen",
        "firstseen" => "first_seen",
        _ => return None,
    })
}

/// The caller's endpoints (by network, host, port unless sorted otherwise): `QueryString`
/// (fields as [`ENDPOINT_FIELDS`]), and the shortcuts `NetworkId`, `MonitorStatus`,
/// `Reviewed` and `ExpiringWithinDays`.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL", tag = "keyfactor-ssl",
    responses((status = 200, body = Vec<ScanResultView>,
        headers(("x-total-count" = i64, description = "Endpoints matching the filters"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn results(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(endpoint_sort, ENDPOINT_SORTABLE)?;
    let condition = fields::from_params(&mut q, "QueryString", ENDPOINT_FIELDS)?;
    let network_id = q
        .take("NetworkId")
        .map(|raw| {
            Uuid::parse_str(&raw).map_err(|_| {
                ApiError::invalid("NetworkId", format!("expected a GUID, got {raw:?}"))
            })
        })
        .transpose()?;
    let days = q.integer("ExpiringWithinDays", 0, 36_500)?;
    let filter = SslEndpointFilter {
        account_id: None,
        network_id,
        monitored: q.boolean("MonitorStatus")?,
        reviewed: q.boolean("Reviewed")?,
        expiring_before: days.map(|d| Utc::now() + Duration::days(d)),
        condition,
    };
    q.finish()?;
    let sort = paging
        .sort
        .map_or_else(Sort::default, |c| Sort::by(c, paging.descending));
    let (total, rows) = state
        .service
        .ssl_endpoints(&caller, filter, &sort, paging.skip, paging.limit)
        .await?;
    let mut networks: HashMap<Uuid, (String, String)> = HashMap::new();
    for e in &rows {
        if !networks.contains_key(&e.network_id)
            && let Ok(n) = state.service.ssl_network(&caller, e.network_id).await
        {
            networks.insert(n.id, (n.name, n.agent_pool_name));
        }
    }
    let views: Vec<ScanResultView> = rows
        .iter()
        .map(|e| {
            let (network_name, pool) = networks.get(&e.network_id).cloned().unwrap_or_default();
            ScanResultView {
                endpoint_id: e.id.to_string(),
                reverse_dns: None,
                sni_name: e.sni_name.clone(),
                ip_address: e.address.clone(),
                port: e.port,
                certificate_found: e.thumbprint.is_some(),
                agent_pool_name: pool,
                network_name,
                monitor_status: e.enable_monitor,
                certificate_cn: e.subject.as_deref().and_then(common_name),
                reviewed: e.reviewed,
                host: e.host.clone(),
                thumbprint: e.thumbprint.clone(),
                not_after: e.not_after.map(kit::time),
                trusted: e.trusted,
                name_matches: e.name_matches,
                last_seen: kit::time(e.last_seen),
            }
        })
        .collect();
    Ok(kit::counted(total, views))
}

/// One endpoint (Keyfactor's Endpoint), with the certificate it last served.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointView {
    pub endpoint_id: String,
    pub network_id: String,
    pub last_history_id: Option<String>,
    /// The address's bytes, base64 (as .NET serialises a byte array).
    pub ip_address_bytes: Option<String>,
    pub ip_address: String,
    pub host: String,
    pub port: i64,
    #[serde(rename = "SNIName")]
    pub sni_name: String,
    pub enable_monitor: bool,
    pub reviewed: bool,
    /// How the last probe ended (`certificate_found`, `timed_out`, `refused`, ...).
    pub last_status: String,
    pub thumbprint: Option<String>,
    #[serde(rename = "IssuedDN")]
    pub issued_dn: Option<String>,
    #[serde(rename = "IssuerDN")]
    pub issuer_dn: Option<String>,
    pub serial_number: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub trusted: Option<bool>,
    pub name_matches: Option<bool>,
    pub first_seen: String,
    pub last_seen: String,
}

fn address_bytes(address: &str) -> Option<String> {
    let ip: std::net::IpAddr = address
        .parse::<std::net::SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| address.parse())
        .ok()?;
    let bytes = match ip {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    Some(parse::base64_der(&bytes))
}

fn endpoint_view(e: &SslEndpoint) -> EndpointView {
    EndpointView {
        endpoint_id: e.id.to_string(),
        network_id: e.network_id.to_string(),
        last_history_id: e.last_history_id.map(|h| h.to_string()),
        ip_address_bytes: address_bytes(&e.address),
        ip_address: e.address.clone(),
        host: e.host.clone(),
        port: e.port,
        sni_name: e.sni_name.clone(),
        enable_monitor: e.enable_monitor,
        reviewed: e.reviewed,
        last_status: e.last_status.to_string(),
        thumbprint: e.thumbprint.clone(),
        issued_dn: e.subject.clone(),
        issuer_dn: e.issuer.clone(),
        serial_number: e.serial_number.clone(),
        not_before: e.not_before.map(kit::time),
        not_after: e.not_after.map(kit::time),
        trusted: e.trusted,
        name_matches: e.name_matches,
        first_seen: kit::time(e.first_seen),
        last_seen: kit::time(e.last_seen),
    }
}

#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Endpoints/{id}", tag = "keyfactor-ssl",
    responses((status = 200, body = EndpointView), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn endpoint(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<EndpointView>> {
    let e = state
        .service
        .ssl_endpoint(&caller, path_uuid(&id, "SSL endpoint")?)
        .await?;
    Ok(Json(endpoint_view(&e)))
}

/// A certificate of a history entry's chain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryCertificateView {
    /// Its place in the chain, leaf 0.
    pub id: i64,
    #[serde(rename = "IssuedDN")]
    pub issued_dn: String,
    pub serial_number: String,
    pub not_before: String,
    pub not_after: String,
    pub signing_algorithm: Option<String>,
    pub thumbprint: String,
    #[serde(rename = "IssuerDN")]
    pub issuer_dn: String,
    #[serde(rename = "IssuedCN")]
    pub issued_cn: Option<String>,
    pub subject_alt_name_elements: Vec<String>,
}

/// One probe of an endpoint (Keyfactor's EndpointHistory).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryView {
    pub history_id: String,
    pub endpoint_id: String,
    pub audit_id: Option<i64>,
    pub timestamp: String,
    /// 0 certificate found, 1 timed out, 2 refused, 3 not TLS, 4 handshake failed,
    /// 5 unreachable, 6 not granted.
    pub status: i64,
    /// The same as a word.
    pub status_name: String,
    /// 0 discovery, 1 monitoring.
    pub job_type: i64,
    /// The part's job.
    pub job_id: String,
    #[serde(rename = "ReverseDNS")]
    pub reverse_dns: Option<String>,
    /// The certificate differs from the one seen before.
    pub changed: bool,
    pub protocol: Option<String>,
    pub cipher_suite: Option<String>,
    pub trusted: Option<bool>,
    pub trust_error: Option<String>,
    pub name_matches: Option<bool>,
    pub expired: Option<bool>,
    pub history_certificates: Vec<HistoryCertificateView>,
}

fn status_code(s: ProbeStatus) -> i64 {
    ProbeStatus::ALL.iter().position(|p| *p == s).unwrap_or(0) as i64
}

fn history_view(h: &SslHistoryEntry) -> HistoryView {
    use base64::Engine as _;
    let certificates = h
        .chain
        .iter()
        .enumerate()
        .filter_map(|(i, b64)| {
            let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            let s = parse::summarize(&der).ok()?;
            Some(HistoryCertificateView {
                id: i as i64,
                issued_cn: common_name(&s.subject),
                issued_dn: s.subject,
                serial_number: s.serial_number,
                not_before: kit::time(s.not_before),
                not_after: kit::time(s.not_after),
                signing_algorithm: None,
                thumbprint: s.thumbprint,
                issuer_dn: s.issuer,
                subject_alt_name_elements: s.sans,
            })
        })
        .collect();
    HistoryView {
        history_id: h.id.to_string(),
        endpoint_id: h.endpoint_id.to_string(),
        audit_id: None,
        timestamp: kit::time(h.observed_at),
        status: status_code(h.status),
        status_name: h.status.to_string(),
        job_type: i64::from(h.kind == ScanKind::Monitoring),
        job_id: h.job_id.to_string(),
        reverse_dns: None,
        changed: h.changed,
        protocol: h.protocol.clone(),
        cipher_suite: h.cipher_suite.clone(),
        trusted: h.trusted,
        trust_error: h.trust_error.clone(),
        name_matches: h.name_matches,
        expired: h.expired,
        history_certificates: certificates,
    }
}

/// An endpoint's probes, newest first.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Endpoints/{id}/History", tag = "keyfactor-ssl",
    responses((status = 200, body = Vec<HistoryView>,
        headers(("x-total-count" = i64, description = "Probes of the endpoint"))),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let id = path_uuid(&id, "SSL endpoint")?;
    let paging = q.paging(|_| None::<()>, "(none: newest first)")?;
    q.finish()?;
    let (total, rows) = state
        .service
        .ssl_history(&caller, id, paging.skip, paging.limit)
        .await?;
    Ok(kit::counted(total, rows.iter().map(history_view).collect()))
}

/// The most endpoints one status request sets.
pub const MAX_STATUS_ITEMS: usize = 1000;

/// `[{Id, Status}, ...]` as Keyfactor sends it (one `{Id, Status}` object is taken too).
fn flag_body(body: Value) -> KeyfactorResult<Vec<(Uuid, bool)>> {
    let (items, listed) = match body {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    if items.is_empty() || items.len() > MAX_STATUS_ITEMS {
        return Err(ApiError::invalid(
            "body",
            format!("expected 1 to {MAX_STATUS_ITEMS} {{Id, Status}} objects"),
        )
        .into());
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if listed {
            format!("[{i}].")
        } else {
            String::new()
        };
        let mut body = Body::new(item, &prefix)?;
        let id = body
            .uuid("Id")?
            .ok_or_else(|| ApiError::invalid(&format!("{prefix}Id"), "is required"))?;
        let status = body
            .boolean("Status")?
            .ok_or_else(|| ApiError::invalid(&format!("{prefix}Status"), "is required"))?;
        body.finish()?;
        out.push((id, status));
    }
    Ok(out)
}

/// Sets one flag of each endpoint named; all must be the caller's (404 naming the first
/// that is not, before anything is set).
async fn set_each(
    state: &AppState,
    caller: &Caller,
    body: Value,
    monitor: bool,
) -> KeyfactorResult<StatusCode> {
    let items = flag_body(body)?;
    for (id, _) in &items {
        state.service.ssl_endpoint(caller, *id).await?;
    }
    for (id, status) in items {
        let (m, r) = if monitor {
            (Some(status), None)
        } else {
            (None, Some(status))
        };
        state
            .service
            .set_ssl_endpoint_flags(caller, id, m, r)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a flag of every endpoint the `query` parameter (or `QueryString`) matches.
async fn set_all(
    state: &AppState,
    caller: &Caller,
    mut q: Params,
    monitor: bool,
) -> KeyfactorResult<StatusCode> {
    let name = if q.has("query") {
        "query"
    } else {
        "QueryString"
    };
    let condition = fields::from_params(&mut q, name, ENDPOINT_FIELDS)?;
    q.finish()?;
    let filter = SslEndpointFilter {
        condition,
        ..Default::default()
    };
    let (m, r) = if monitor {
        (Some(true), None)
    } else {
        (None, Some(true))
    };
    state
        .service
        .set_ssl_endpoint_flags_where(caller, filter, m, r)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Monitors every endpoint the query matches (every endpoint without one).
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/Endpoints/MonitorAll", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn monitor_all(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Params,
) -> KeyfactorResult<StatusCode> {
    set_all(&state, &caller, q, true).await
}

/// Marks every endpoint the query matches as reviewed.
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/Endpoints/ReviewAll", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn review_all(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Params,
) -> KeyfactorResult<StatusCode> {
    set_all(&state, &caller, q, false).await
}

/// Monitors an endpoint (`Status: true`) or stops monitoring it.
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/Endpoints/MonitorStatus", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn monitor_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    set_each(&state, &caller, body, true).await
}

/// Marks an endpoint reviewed (`Status: true`) or not.
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/Endpoints/ReviewStatus", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn review_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    set_each(&state, &caller, body, false).await
}

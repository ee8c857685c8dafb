//! `/KeyfactorAPI/SSL` scans: start one, its parts, and the progress fields networks
//! show, in Keyfactor's field names. What scans found is `ssl_endpoints.rs`. The integer
//! codes Keyfactor leaves unlabelled are Keywarden's (`docs/discovery.md`).

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keywarden_db::{JobStatus, ScanProgress, SslScanPart};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names, Params};
use super::ssl::{RangeView, range_view};
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, AppState};
use crate::domain::Caller;

const NAMES: Names = Names::DEFAULT;

/// Routes relative to `/KeyfactorAPI`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/SSL/Networks/{identifier}/Scan", post(scan))
        .route("/SSL/Networks/{identifier}/Parts", get(parts))
        .route("/SSL/Parts/{id}", get(part))
}

pub(super) fn path_uuid(raw: &str, what: &str) -> KeyfactorResult<Uuid> {
    Ok(crate::api::ciphertrust::extract::path_id(raw, what)?)
}

/// A scan's state as a number: 0 never scanned, 1 queued (no part started yet),
/// 2 running, 3 completed, 4 completed with parts that failed.
pub fn scan_status(p: Option<&ScanProgress>) -> i64 {
    match p {
        None => 0,
        Some(p) if p.ended == p.parts => {
            if p.failed > 0 {
                4
            } else {
                3
            }
        }
        Some(p) if p.running == 0 && p.ended == 0 => 1,
        Some(_) => 2,
    }
}

/// Percent of a scan's parts that ended.
pub fn percent(p: Option<&ScanProgress>) -> i64 {
    p.map_or(0, |p| {
        if p.parts == 0 {
            0
        } else {
            p.ended * 100 / p.parts
        }
    })
}

/// `{Discovery: bool, Monitoring: bool}`, both required.
#[utoipa::path(post, path = "/KeyfactorAPI/SSL/Networks/{identifier}/Scan", tag = "keyfactor-ssl",
    params(("identifier" = String, Path, description = "The network's id")),
    responses((status = 204, description = "The scans were queued; see the network's Parts"),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody),
        (status = 409, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn scan(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(identifier): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let id = path_uuid(&identifier, "SSL network")?;
    let mut body = Body::new(body, "")?;
    let discovery = body
        .boolean("Discovery")?
        .ok_or_else(|| ApiError::invalid("Discovery", "is required"))?;
    let monitoring = body
        .boolean("Monitoring")?
        .ok_or_else(|| ApiError::invalid("Monitoring", "is required"))?;
    body.finish()?;
    state
        .service
        .start_ssl_scan(&caller, id, discovery, monitoring)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A part's state: 1 queued, 2 running, 3 ended (its results kept, or its job failed).
fn part_status(p: &SslScanPart) -> i64 {
    if p.finished_at.is_some() {
        return 3;
    }
    match p.job_status {
        Some(JobStatus::Queued) => 1,
        Some(JobStatus::Running) => 2,
        _ => 3,
    }
}

/// A part in a list (Keyfactor's DisplayScanJobPart).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PartListView {
    pub scan_job_part_id: String,
    pub logical_scan_job_id: String,
    /// `discovery` or `monitoring`.
    pub scan_type: String,
    pub agent: Option<String>,
    pub status: i64,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub endpoint_count: i64,
}

/// One part (Keyfactor's ScanJobPart).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PartView {
    pub scan_job_part_id: String,
    pub logical_scan_job_id: String,
    /// The part's job.
    pub agent_job_id: String,
    pub scan_type: String,
    pub estimated_endpoint_count: i64,
    pub status: i64,
    pub stat_total_endpoint_count: i64,
    pub stat_timed_out_connecting_count: i64,
    pub stat_connection_refused_count: i64,
    pub stat_timed_out_downloading_count: i64,
    pub stat_exception_downloading_count: i64,
    pub stat_not_ssl_count: i64,
    pub stat_bad_ssl_handshake_count: i64,
    pub stat_certificate_found_count: i64,
    pub stat_no_certificate_count: i64,
    /// Endpoints the part could not reach, or was not granted.
    pub stat_unreachable_count: i64,
    pub scan_job_part_definitions: Vec<RangeView>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

fn end_time(p: &SslScanPart) -> Option<String> {
    p.finished_at
        .or(if part_status(p) == 3 {
            p.job_finished_at
        } else {
            None
        })
        .map(kit::time)
}

fn part_list_view(p: &SslScanPart) -> PartListView {
    PartListView {
        scan_job_part_id: p.id.to_string(),
        logical_scan_job_id: p.scan_id.to_string(),
        scan_type: p.kind.to_string(),
        agent: None,
        status: part_status(p),
        start_time: p.job_started_at.map(kit::time),
        end_time: end_time(p),
        endpoint_count: p.stats.as_ref().map_or(p.estimated_endpoints, |s| s.total),
    }
}

fn definitions(p: &SslScanPart) -> Vec<RangeView> {
    let items = p.definitions.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|d| match d {
            Value::String(range) => range_view(range),
            other => RangeView {
                item_type: 0,
                value: format!(
                    "{}:{}",
                    other["host"].as_str().unwrap_or_default(),
                    other["port"]
                ),
            },
        })
        .collect()
}

fn part_view(p: &SslScanPart) -> PartView {
    let s = p.stats.clone().unwrap_or_default();
    PartView {
        scan_job_part_id: p.id.to_string(),
        logical_scan_job_id: p.scan_id.to_string(),
        agent_job_id: p.job_id.to_string(),
        scan_type: p.kind.to_string(),
        estimated_endpoint_count: p.estimated_endpoints,
        status: part_status(p),
        stat_total_endpoint_count: s.total,
        stat_timed_out_connecting_count: s.timed_out,
        stat_connection_refused_count: s.refused,
        stat_timed_out_downloading_count: 0,
        stat_exception_downloading_count: 0,
        stat_not_ssl_count: s.not_tls,
        stat_bad_ssl_handshake_count: s.handshake,
        stat_certificate_found_count: s.certificate_found,
        stat_no_certificate_count: 0,
        stat_unreachable_count: s.unreachable + s.not_granted,
        scan_job_part_definitions: definitions(p),
        start_time: p.job_started_at.map(kit::time),
        end_time: end_time(p),
    }
}

/// A network's parts: the newest scan first, each scan's parts in order.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Networks/{identifier}/Parts", tag = "keyfactor-ssl",
    params(("identifier" = String, Path, description = "The network's id")),
    responses((status = 200, body = Vec<PartListView>,
        headers(("x-total-count" = i64, description = "Parts of the network"))),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn parts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(identifier): Path<String>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let id = path_uuid(&identifier, "SSL network")?;
    let paging = q.paging(|_| None::<()>, "(none: newest scan first)")?;
    q.finish()?;
    let (total, rows) = state
        .service
        .ssl_parts(&caller, id, paging.skip, paging.limit)
        .await?;
    Ok(kit::counted(
        total,
        rows.iter().map(part_list_view).collect(),
    ))
}

#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Parts/{id}", tag = "keyfactor-ssl",
    responses((status = 200, body = PartView), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn part(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<PartView>> {
    let part = state
        .service
        .ssl_part(&caller, path_uuid(&id, "scan part")?)
        .await?;
    Ok(Json(part_view(&part)))
}

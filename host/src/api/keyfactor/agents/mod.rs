//! `/KeyfactorAPI/Agents`: orchestrators as Keyfactor Command shows them (field names and
//! codes in `docs/keyfactor.md`): list, read, approve, disapprove, reset, fetch logs, and
//! ask for a new client-authentication certificate.

pub mod fields;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use keywarden_db::{Agent, CertificateRenewal, Sort};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, Body, KeyfactorErrorBody, KeyfactorResult, Params};
use crate::api::ciphertrust::extract::{ApiJson, path_id};
use crate::api::{ApiError, AppState};
use crate::domain::Caller;
use crate::domain::agents::{AgentDecision, AgentListing};

/// Ids one request may name at most.
const MAX_IDS: usize = 1000;

/// An agent as Keyfactor's `AgentResponse` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AgentView {
    pub agent_id: String,
    pub client_machine: String,
    pub username: String,
    /// 0 Unknown, 1 .NET, 2 Java, 3 Mac, 4 Android, 5 Native, 6 Bash, 7 Universal.
    pub agent_platform: i64,
    pub version: String,
    /// 1 New, 2 Approved, 3 Disapproved.
    pub status: i64,
    /// UTC, RFC 3339.
    pub last_seen: Option<String>,
    pub capabilities: Vec<String>,
    pub blueprint: Option<String>,
    /// SHA-1 of its current client certificate.
    pub thumbprint: Option<String>,
    /// SHA-1 of its client certificate before the last renewal.
    pub legacy_thumbprint: Option<String>,
    /// 0 none, 1 requested, 2 required.
    pub auth_certificate_reenrollment: i64,
    pub last_thumbprint_used: Option<String>,
    pub last_error_code: i64,
    pub last_error_message: Option<String>,
}

impl AgentView {
    pub fn of(a: &Agent) -> Self {
        AgentView {
            agent_id: a.id.to_string(),
            client_machine: a.client_machine.clone(),
            username: a.username.clone(),
            agent_platform: a.platform,
            version: a.version.clone(),
            status: a.status.code(),
            last_seen: a.last_seen.map(kit::time),
            capabilities: a.capabilities.clone(),
            blueprint: None,
            thumbprint: a.thumbprint.clone(),
            legacy_thumbprint: a.legacy_thumbprint.clone(),
            auth_certificate_reenrollment: a.certificate_renewal.code(),
            last_thumbprint_used: a.last_thumbprint_used.clone(),
            last_error_code: a.last_error_code,
            last_error_message: a.last_error_message.clone(),
        }
    }
}

/// The answer of `SetAuthCertificateReenrollment`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RenewalView {
    /// Ids that are not the caller's agents, or have no certificate to renew.
    pub failed_orchestrator_ids: Vec<String>,
    pub status: i64,
}

/// The answer of `FetchLogs`: the job that will carry the log (a Keywarden addition;
/// Keyfactor answers an empty body).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FetchLogsView {
    pub job_id: String,
}

/// Agent routes (relative to `/KeyfactorAPI`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Agents", get(list))
        .route("/Agents/Approve", post(approve))
        .route("/Agents/Disapprove", post(disapprove))
        .route("/Agents/Reset", post(reset_many))
        .route(
            "/Agents/SetAuthCertificateReenrollment",
            post(set_certificate_renewal),
        )
        .route("/Agents/{id}", get(get_one))
        .route("/Agents/{id}/Reset", post(reset_one))
        .route("/Agents/{id}/FetchLogs", post(fetch_logs))
}

fn agent_id(raw: &str) -> Result<Uuid, ApiError> {
    path_id(raw, "agent")
}

/// A JSON array of agent GUIDs (`field` names it in errors).
fn id_list(value: &Value, field: &str) -> Result<Vec<Uuid>, ApiError> {
    let Some(items) = value.as_array() else {
        return Err(ApiError::invalid(field, "expected an array of agent GUIDs"));
    };
    if items.is_empty() || items.len() > MAX_IDS {
        return Err(ApiError::invalid(
            field,
            format!("expected 1 to {MAX_IDS} agent GUIDs"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .and_then(|s| Uuid::parse_str(s.trim()).ok())
                .ok_or_else(|| ApiError::invalid(&format!("{field}[{i}]"), "expected a GUID"))
        })
        .collect()
}

/// The caller's agents (every account's for admins), paged and sorted; the total is in
/// `x-total-count`.
#[utoipa::path(get, path = "/KeyfactorAPI/Agents", tag = "keyfactor-agents",
    responses((status = 200, body = Vec<AgentView>,
        headers(("x-total-count" = i64, description = "Agents matching the query"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(fields::sort_column, fields::SORTABLE)?;
    let condition = fields::condition(&mut q)?;
    q.finish()?;
    let sort = paging
        .sort
        .map_or_else(|| Sort::by("id", false), |c| Sort::by(c, paging.descending));
    let (total, agents) = state
        .service
        .list_agents(
            &caller,
            AgentListing {
                condition,
                sort,
                skip: paging.skip,
                limit: paging.limit,
            },
        )
        .await?;
    Ok(kit::counted(
        total,
        agents.iter().map(AgentView::of).collect(),
    ))
}

#[utoipa::path(get, path = "/KeyfactorAPI/Agents/{id}", tag = "keyfactor-agents",
    responses((status = 200, body = AgentView), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<AgentView>> {
    let agent = state.service.agent(&caller, agent_id(&id)?).await?;
    Ok(Json(AgentView::of(&agent)))
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    decision: AgentDecision,
) -> KeyfactorResult<StatusCode> {
    let ids = id_list(body, "AgentIds")?;
    state.service.decide_agents(caller, &ids, decision).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Approves agents: they may enroll their client certificate and receive jobs.
#[utoipa::path(post, path = "/KeyfactorAPI/Agents/Approve", tag = "keyfactor-agents",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    decide(&state, &caller, &body, AgentDecision::Approve).await
}

/// Disapproves agents: no certificate, no jobs.
#[utoipa::path(post, path = "/KeyfactorAPI/Agents/Disapprove", tag = "keyfactor-agents",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn disapprove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    decide(&state, &caller, &body, AgentDecision::Disapprove).await
}

/// Resets agents: back to New, certificate thumbprints cleared, queued jobs removed.
#[utoipa::path(post, path = "/KeyfactorAPI/Agents/Reset", tag = "keyfactor-agents",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_many(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let ids = id_list(&body, "AgentIds")?;
    state.service.reset_agents(&caller, &ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/KeyfactorAPI/Agents/{id}/Reset", tag = "keyfactor-agents",
    responses((status = 204), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<StatusCode> {
    state
        .service
        .reset_agents(&caller, &[agent_id(&id)?])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a job that returns the agent's log; the job's result holds it.
#[utoipa::path(post, path = "/KeyfactorAPI/Agents/{id}/FetchLogs", tag = "keyfactor-agents",
    responses((status = 200, body = FetchLogsView), (status = 404, body = KeyfactorErrorBody),
        (status = 409, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn fetch_logs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<FetchLogsView>> {
    let job = state
        .service
        .fetch_agent_logs(&caller, agent_id(&id)?)
        .await?;
    Ok(Json(FetchLogsView {
        job_id: job.to_string(),
    }))
}

/// Requests (1), requires (2) or clears (0) a new client-authentication certificate at
/// each agent's next registration.
#[utoipa::path(post, path = "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment", tag = "keyfactor-agents",
    responses((status = 200, body = RenewalView), (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn set_certificate_renewal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<RenewalView>> {
    let mut body = Body::new(body, "")?;
    let code = body.integer("Status", 0, 2)?.ok_or_else(|| {
        ApiError::invalid("Status", "is required: 0 none, 1 requested, 2 required")
    })?;
    let ids = body
        .take("OrchestratorIds")
        .ok_or_else(|| ApiError::invalid("OrchestratorIds", "is required"))?;
    body.finish()?;
    let ids = id_list(&ids, "OrchestratorIds")?;
    let renewal = CertificateRenewal::from_code(code).expect("checked 0..=2");
    let failed = state
        .service
        .set_certificate_renewal(&caller, &ids, renewal)
        .await?;
    Ok(Json(RenewalView {
        failed_orchestrator_ids: failed.iter().map(Uuid::to_string).collect(),
        status: code,
    }))
}

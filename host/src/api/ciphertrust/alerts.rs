//! `GET /api/v1/alerts`: alerts raised for the caller's account (SSL endpoints, jobs) and
//! where their delivery to the operator's webhook stands.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use keywarden_db::{Alert, AlertFilter, AlertKind, AlertState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::extract::{self, ApiQuery};
use crate::api::{ApiError, ApiResult, AppState};
use crate::domain::Caller;

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub kind: Option<String>,
    pub state: Option<String>,
    pub network_id: Option<String>,
    pub skip: Option<String>,
    pub limit: Option<String>,
}

/// One alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    pub account: String,
    /// `certificate_expiring`, `certificate_changed`, `certificate_untrusted`,
    /// `name_mismatch`, `job_failed`, `job_missed`, `retries_exhausted` or
    /// `node_unavailable`.
    pub kind: String,
    pub subject: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub network_id: Option<String>,
    pub job_config_id: Option<String>,
    pub job_id: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    #[serde(rename = "nextAttemptAt")]
    pub next_attempt_at: Option<String>,
    #[serde(rename = "deliveredAt")]
    pub delivered_at: Option<String>,
    #[serde(rename = "lastError")]
    pub last_error: Option<String>,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        let t = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
        AlertView {
            id: a.id.to_string(),
            account: a.account_id.clone(),
            kind: a.kind.to_string(),
            subject: a.subject.clone(),
            message: a.message.clone(),
            details: a.details.clone(),
            network_id: a.network_id.map(|i| i.to_string()),
            job_config_id: a.job_config_id.map(|i| i.to_string()),
            job_id: a.job_id.map(|i| i.to_string()),
            created_at: t(a.created_at),
            state: a.state.to_string(),
            attempts: a.attempts,
            next_attempt_at: (a.state == AlertState::Pending).then(|| t(a.next_attempt_at)),
            delivered_at: a.delivered_at.map(t),
            last_error: a.last_error.clone(),
        }
    }
}

/// A page of alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub skip: i64,
    pub limit: i64,
    pub total: i64,
    pub resources: Vec<AlertView>,
}

fn word<T: std::str::FromStr<Err = keywarden_db::UnknownWord>>(
    name: &str,
    raw: Option<String>,
) -> ApiResult<Option<T>> {
    extract::text(raw)
        .map(|s| s.parse::<T>())
        .transpose()
        .map_err(|e| ApiError::invalid(name, e))
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, body = AlertPage), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<AlertPage>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let filter = AlertFilter {
        account_id: None,
        kind: word::<AlertKind>("kind", q.kind)?,
        state: word::<AlertState>("state", q.state)?,
        network_id: extract::uuid_param("network_id", q.network_id.as_deref())?,
    };
    let (total, alerts) = state.service.alerts(&caller, filter, skip, limit).await?;
    Ok(Json(AlertPage {
        skip,
        limit,
        total,
        resources: alerts.iter().map(AlertView::from).collect(),
    }))
}

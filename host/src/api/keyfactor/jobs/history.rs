//! `GET /KeyfactorAPI/OrchestratorJobs/JobHistory`: the account's jobs as Keyfactor job
//! history entries, filtered by a Keyfactor query (translated to SQL), sorted and paged.

use std::collections::HashMap;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use keywarden_db::{JobHistoryEntry, JobQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{codes, fields, schedule, select};
use crate::api::auth::Caller;
use crate::api::extract::ApiQuery;
use crate::api::keyfactor::error::{KeyfactorErrorBody, KeyfactorResult};
use crate::api::{ApiError, AppState};
use crate::plugins::PluginRegistry;

/// Default `ReturnLimit`, as Keyfactor's.
pub const DEFAULT_RETURN_LIMIT: i64 = 50;
/// Largest `ReturnLimit`; larger values are reduced to it.
pub const MAX_RETURN_LIMIT: i64 = 1000;

/// Query parameters of JobHistory (Keyfactor's names; the `pq.`-prefixed forms of older
/// Keyfactor clients work too).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobHistoryParams {
    /// A Keyfactor query, e.g. `Result -eq 4 AND (Status -eq 3 OR Status -eq 4)`. Fields:
    /// JobId (also JobAuditId, JobHistoryId), AgentId, Agent, Result, Status, JobType,
    /// Message, OperationStart, OperationEnd, ScheduleType, TargetPath.
    #[serde(
        rename = "QueryString",
        alias = "pq.queryString",
        alias = "queryString"
    )]
    #[param(rename = "QueryString")]
    pub query_string: Option<String>,
    /// 1-based page number (default 1).
    #[serde(
        rename = "PageReturned",
        alias = "pq.pageReturned",
        alias = "pageReturned"
    )]
    #[param(rename = "PageReturned")]
    pub page_returned: Option<String>,
    /// Page size (default 50, at most 1000).
    #[serde(
        rename = "ReturnLimit",
        alias = "pq.returnLimit",
        alias = "returnLimit"
    )]
    #[param(rename = "ReturnLimit")]
    pub return_limit: Option<String>,
    /// A query field to sort by (default JobId); ScheduleType cannot sort.
    #[serde(rename = "SortField", alias = "pq.sortField", alias = "sortField")]
    #[param(rename = "SortField")]
    pub sort_field: Option<String>,
    /// Keyfactor's sort order: `0` ascending (default), `1` descending; `true`/`false`
    /// and `Ascending`/`Descending` work too.
    #[serde(
        rename = "SortAscending",
        alias = "pq.sortAscending",
        alias = "sortAscending"
    )]
    #[param(rename = "SortAscending")]
    pub sort_ascending: Option<String>,
}

/// A job history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobHistoryView {
    /// The integer id Reschedule and Acknowledge take.
    #[serde(rename = "JobAuditId")]
    pub job_audit_id: i64,
    /// Same as JobAuditId (Keyfactor's name for it in job history).
    #[serde(rename = "JobHistoryId")]
    pub job_history_id: i64,
    /// The Keywarden job id (GUID).
    #[serde(rename = "JobId")]
    pub job_id: String,
    /// The node that runs or ran the job.
    #[serde(rename = "AgentId")]
    pub agent_id: Option<String>,
    #[serde(rename = "Agent")]
    pub agent: Option<String>,
    #[serde(rename = "JobType")]
    pub job_type: String,
    /// `null` (immediately), `I_`, `D_`, `W_`, `M_` or `O_`.
    #[serde(rename = "ScheduleType")]
    pub schedule_type: Option<String>,
    #[serde(rename = "OperationStart")]
    pub operation_start: Option<String>,
    #[serde(rename = "OperationEnd")]
    pub operation_end: Option<String>,
    #[serde(rename = "Message")]
    pub message: Option<String>,
    /// 0 Unknown, 2 Success, 3 Warning, 4 Failure.
    #[serde(rename = "Result")]
    pub result: i64,
    /// 0 Unknown, 1 Waiting, 2 InProcess, 3 Completed, 4 Acknowledged, 5 CompletedWillRetry.
    #[serde(rename = "Status")]
    pub status: i64,
    /// What the job acts on (store, cloud), when it names one.
    #[serde(rename = "TargetPath")]
    pub target_path: Option<String>,
    /// The Keywarden operation the job runs.
    #[serde(rename = "Operation")]
    pub operation: String,
    /// The job config that fired it.
    #[serde(rename = "JobConfigId")]
    pub job_config_id: Option<String>,
    /// The job that re-runs this one, once rescheduled.
    #[serde(rename = "RescheduledAsJobId")]
    pub rescheduled_as: Option<String>,
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Renders an entry; `schedules` holds the ScheduleType of the configs in scope.
pub fn view(
    e: &JobHistoryEntry,
    registry: &PluginRegistry,
    schedules: &HashMap<Uuid, &'static str>,
) -> JobHistoryView {
    let j = &e.job;
    let family = codes::family_of(registry, &j.operation, j.target.as_deref());
    JobHistoryView {
        job_audit_id: e.audit_id,
        job_history_id: e.audit_id,
        job_id: j.id.to_string(),
        agent_id: j.processing_node.clone(),
        agent: j.processing_node.clone(),
        job_type: codes::job_type(&j.operation, family).name,
        schedule_type: j
            .job_config_id
            .and_then(|id| schedules.get(&id))
            .map(|s| (*s).to_owned()),
        operation_start: time(j.started_at),
        operation_end: time(j.finished_at),
        message: j.message.clone(),
        result: codes::result_code(e),
        status: codes::status_code(e),
        target_path: j.target.clone(),
        operation: j.operation.clone(),
        job_config_id: j.job_config_id.map(|id| id.to_string()),
        rescheduled_as: e.rescheduled_as.map(|id| id.to_string()),
    }
}

fn positive(name: &str, raw: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::invalid(
                name,
                format!("expected a positive integer, got {s:?}"),
            )),
        },
    }
}

fn descending(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "true" | "ascending") => Ok(false),
        Some("1" | "false" | "descending") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            "SortAscending",
            format!("expected 0 (ascending) or 1 (descending), got {other:?}"),
        )),
    }
}

#[utoipa::path(get, path = "/KeyfactorAPI/OrchestratorJobs/JobHistory", tag = "keyfactor",
    params(JobHistoryParams),
    responses(
        (status = 200, body = Vec<JobHistoryView>, description = "One page; the header X-Total-Count holds the number of matching jobs"),
        (status = 400, body = KeyfactorErrorBody, description = "A bad parameter; query faults carry reason and position")),
    security(("bearer" = [])))]
pub async fn job_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(p): ApiQuery<JobHistoryParams>,
) -> KeyfactorResult<(HeaderMap, Json<Vec<JobHistoryView>>)> {
    let page = positive("PageReturned", p.page_returned.as_deref(), 1)?;
    let limit = positive(
        "ReturnLimit",
        p.return_limit.as_deref(),
        DEFAULT_RETURN_LIMIT,
    )?
    .min(MAX_RETURN_LIMIT);
    let sort_name = p
        .sort_field
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let order = match sort_name {
        None => keywarden_db::JobOrder::Field(keywarden_db::JobField::AuditId),
        Some(name) => fields::sort_order(name).ok_or_else(|| {
            ApiError::invalid(
                "SortField",
                format!(
                    "cannot sort by {name:?}; sortable fields: {}",
                    fields::sortable_fields()
                ),
            )
        })?,
    };
    let descending = descending(p.sort_ascending.as_deref())?;
    let condition = select::condition(
        &state,
        &caller,
        "QueryString",
        p.query_string.as_deref().unwrap_or(""),
    )
    .await?;
    let query = JobQuery {
        account_id: caller.scope().map(str::to_owned),
        condition,
        order: vec![(order, descending)],
    };
    let skip = (page - 1).saturating_mul(limit);
    let (total, entries) = state.db.query_job_history(&query, skip, limit).await?;
    let schedules = if entries.iter().any(|e| e.job.job_config_id.is_some()) {
        schedule::config_schedule_types(&*state.db, caller.scope()).await?
    } else {
        HashMap::new()
    };
    let views = entries
        .iter()
        .map(|e| view(e, &state.registry, &schedules))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("X-Total-Count", total.into());
    Ok((headers, Json(views)))
}

//! `GET /KeyfactorAPI/OrchestratorJobs/JobHistory`: the account's jobs as Keyfactor job
//! history entries, filtered by a Keyfactor query (translated to SQL), sorted and paged.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use keywarden_db::{JobCondition, JobField, JobHistoryEntry, JobOrder};
use serde::Serialize;
use utoipa::ToSchema;

use super::{codes, fields};
use crate::api::AppState;
use crate::api::keyfactor::kit::{
    self, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Params,
};
use crate::api::keyfactor::query;
use crate::domain::history::{outcome, phase};
use crate::domain::{Caller, Service};

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

/// Renders an entry.
pub fn view(e: &JobHistoryEntry, service: &Service) -> JobHistoryView {
    let j = &e.job;
    JobHistoryView {
        job_audit_id: e.audit_id,
        job_history_id: e.audit_id,
        job_id: j.id.to_string(),
        agent_id: j.processing_node.clone(),
        agent: j.processing_node.clone(),
        job_type: codes::job_type(&j.operation, service.kind_of_entry(e)),
        schedule_type: codes::schedule_type(j.schedule_kind).map(str::to_owned),
        operation_start: time(j.started_at),
        operation_end: time(j.finished_at),
        message: j.message.clone(),
        result: codes::result_code(outcome(e)),
        status: codes::status_code(phase(e)),
        target_path: j.target.clone(),
        operation: j.operation.clone(),
        job_config_id: j.job_config_id.map(|id| id.to_string()),
        rescheduled_as: e.rescheduled_as.map(|id| id.to_string()),
    }
}

/// The condition a Keyfactor query (given as `parameter`) selects; everything when blank.
pub fn condition(service: &Service, parameter: &str, text: &str) -> KeyfactorResult<JobCondition> {
    let fault = |e| KeyfactorError::query(parameter, e);
    let Some(expr) = query::parse(text).map_err(fault)? else {
        return Ok(JobCondition::True);
    };
    let ctx = fields::Context {
        operations: service.operations(),
    };
    fields::translate(&expr, &ctx).map_err(fault)
}

#[utoipa::path(get, path = "/KeyfactorAPI/OrchestratorJobs/JobHistory", tag = "keyfactor",
    responses(
        (status = 200, body = Vec<JobHistoryView>, description = "One page; the header X-Total-Count holds the number of matching jobs"),
        (status = 400, body = KeyfactorErrorBody, description = "A bad parameter; query faults carry reason and position")),
    security(("bearer" = [])))]
pub async fn job_history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<(HeaderMap, Json<Vec<JobHistoryView>>)> {
    let paging = q.paging(fields::sort_order, &fields::sortable_fields())?;
    let query = q.take("QueryString").unwrap_or_default();
    q.finish()?;
    let condition = condition(&state.service, "QueryString", &query)?;
    let order = paging.sort.unwrap_or(JobOrder::Field(JobField::AuditId));
    let (total, entries) = state
        .service
        .history(
            &caller,
            condition,
            vec![(order, paging.descending)],
            paging.skip,
            paging.limit,
        )
        .await?;
    let views = entries.iter().map(|e| view(e, &state.service)).collect();
    Ok((kit::total_headers(total), Json(views)))
}

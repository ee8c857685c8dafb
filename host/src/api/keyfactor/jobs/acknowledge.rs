//! `POST /KeyfactorAPI/OrchestratorJobs/Acknowledge`: sets failed or warning jobs whose
//! Status is Completed (3) or CompletedWillRetry (5) to Acknowledged (4). Keywarden records
//! the acknowledged attempt, so a later attempt of a retried job shows its own status
//! again. Batches are all or nothing (`batch.rs`).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use keywarden_db::{JobCondition, JobHistoryEntry};
use serde_json::Value;

use super::batch::{self, JobBatchRequest};
use super::codes;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::extract::ApiJson;
use crate::api::keyfactor::error::{KeyfactorErrorBody, KeyfactorResult, Refusal};

/// Why `e` cannot be acknowledged, or `Ok`.
pub fn eligibility(e: &JobHistoryEntry) -> Result<(), String> {
    let (result, status) = (codes::result_code(e), codes::status_code(e));
    if matches!(result, 3 | 4) && matches!(status, 3 | 5) {
        Ok(())
    } else {
        Err(format!(
            "only failed or warning jobs (Result 4 or 3) with Status 3 (Completed) or 5 (CompletedWillRetry) can be acknowledged; this one has Result {result} and Status {status}"
        ))
    }
}

/// The eligible set as a store condition (the reference's
/// `(Result -eq "4" OR Result -eq "3") AND (Status -eq "3" OR Status -eq "5")`).
fn eligible() -> JobCondition {
    JobCondition::All(vec![
        JobCondition::Any(vec![codes::result_condition(3), codes::result_condition(4)]),
        JobCondition::Any(vec![codes::status_condition(3), codes::status_condition(5)]),
    ])
}

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Acknowledge", tag = "keyfactor",
    request_body = JobBatchRequest,
    responses(
        (status = 204, description = "Every selected job was acknowledged"),
        (status = 400, body = KeyfactorErrorBody, description = "Bad body or query, or some selected jobs are not eligible (listed in refused; nothing was done)"),
        (status = 404, body = KeyfactorErrorBody, description = "Some JobAuditIds do not exist (listed in refused; nothing was done)")),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let selection = batch::select(&state, &caller, body).await?;
    let refused: Vec<Refusal> = selection
        .entries
        .iter()
        .filter_map(|e| {
            eligibility(e).err().map(|reason| Refusal {
                job_audit_id: e.audit_id,
                reason,
            })
        })
        .collect();
    batch::refuse_if_any(selection.field, "acknowledged", refused)?;
    if !selection.entries.is_empty() {
        // The eligibility is applied again in the UPDATE, so a job that changed since it
        // was read is left alone.
        let condition = JobCondition::All(vec![selection.condition, eligible()]);
        state
            .db
            .acknowledge_jobs(caller.scope(), &condition)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

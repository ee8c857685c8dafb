//! `POST /KeyfactorAPI/OrchestratorJobs/Acknowledge`: sets failed or warning jobs whose
//! Status is Completed (3) or CompletedWillRetry (5) to Acknowledged (4). Keywarden records
//! the acknowledged attempt, so a later attempt of a retried job shows its own status
//! again. Batches are all or nothing (`batch.rs`).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::batch;
use crate::api::AppState;
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::keyfactor::kit::{KeyfactorError, KeyfactorErrorBody, KeyfactorResult};
use crate::domain::Caller;

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Acknowledge", tag = "keyfactor",
    responses(
        (status = 204, description = "Every selected job was acknowledged"),
        (status = 400, body = KeyfactorErrorBody, description = "Bad body or query"),
        (status = 409, body = KeyfactorErrorBody, description = "Some selected jobs are not eligible in their state (listed in refused; nothing was done)"),
        (status = 404, body = KeyfactorErrorBody, description = "Some JobAuditIds do not exist (listed in refused; nothing was done)")),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let (selection, names) = batch::read(&state.service, body)?;
    state
        .service
        .acknowledge(&caller, selection)
        .await
        .map_err(|e| KeyfactorError::domain(e, &names))?;
    Ok(StatusCode::NO_CONTENT)
}

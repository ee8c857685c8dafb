//! `POST /KeyfactorAPI/OrchestratorJobs/Reschedule`: re-runs failed jobs of the eligible
//! types (`domain/history.rs` has the rules). Each rescheduled job gets a new run (a new
//! job, with its own audit id); the failed entry stays in the history, marked with the run
//! that replaced it, and cannot be rescheduled twice. Batches are all or nothing.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::batch;
use crate::api::AppState;
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::keyfactor::kit::{KeyfactorError, KeyfactorErrorBody, KeyfactorResult};
use crate::domain::Caller;

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Reschedule", tag = "keyfactor",
    responses(
        (status = 204, description = "Every selected job was rescheduled"),
        (status = 400, body = KeyfactorErrorBody, description = "Bad body or query"),
        (status = 409, body = KeyfactorErrorBody, description = "Some selected jobs are not eligible in their state (listed in refused; nothing was done)"),
        (status = 404, body = KeyfactorErrorBody, description = "Some JobAuditIds do not exist (listed in refused; nothing was done)"),
        ),
    security(("bearer" = [])))]
pub async fn reschedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let (selection, names) = batch::read(&state.service, body)?;
    state
        .service
        .reschedule(&caller, selection)
        .await
        .map_err(|e| KeyfactorError::domain(e, &names))?;
    Ok(StatusCode::NO_CONTENT)
}

//! The body Reschedule and Acknowledge share: `JobAuditIds` or `Query`, one of them.
//!
//! Batches are all or nothing. Both endpoints answer 204 without a body, so a partial
//! success could not say what was skipped; instead, when any selected job is unknown (404)
//! or not eligible (400), nothing is done and the error lists every refused job with the
//! reason. This holds for `Query` too: the reference tells callers to select with the
//! eligibility query (e.g. `JobType -ne "Inventory" AND Result -eq "4" AND (Status -eq "4"
//! OR Status -eq "3")`), and a query that also matches other jobs is refused with their ids.

use axum::http::StatusCode;
use keywarden_db::{JobCondition, JobField, JobHistoryEntry, JobOrder, JobQuery, JobValue};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::select;
use crate::api::auth::Caller;
use crate::api::keyfactor::error::{KeyfactorError, KeyfactorResult, Refusal};
use crate::api::{ApiError, AppState};

/// Most jobs one request acts on.
pub const MAX_BATCH: i64 = 1000;

/// Body of Reschedule and Acknowledge: exactly one of the two fields.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
pub struct JobBatchRequest {
    /// Audit ids of the jobs (JobAuditId from JobHistory).
    #[serde(rename = "JobAuditIds")]
    pub job_audit_ids: Option<Vec<i64>>,
    /// A Keyfactor query selecting the jobs (same fields as JobHistory's QueryString).
    #[serde(rename = "Query")]
    pub query: Option<String>,
}

/// The jobs a batch body selects, in audit-id order.
pub struct Selection {
    pub entries: Vec<JobHistoryEntry>,
    /// `JobAuditIds` or `Query`: the field refusals name.
    pub field: &'static str,
    /// The condition selecting them (re-applied by the store when acting).
    pub condition: JobCondition,
}

fn ids_of(value: &Value) -> Result<Vec<i64>, ApiError> {
    let field = "JobAuditIds";
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::invalid(field, "must be an array of integers"))?;
    if items.is_empty() {
        return Err(ApiError::invalid(field, "must name at least one job"));
    }
    if items.len() as i64 > MAX_BATCH {
        return Err(ApiError::invalid(
            field,
            format!("names more than {MAX_BATCH} jobs"),
        ));
    }
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = item.as_i64().ok_or_else(|| {
            ApiError::invalid(
                &format!("{field}[{i}]"),
                format!("expected an integer, got {item}"),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Reads the body and loads the jobs it selects (in the caller's scope). Unknown ids are a
/// 404 naming them.
pub async fn select(state: &AppState, caller: &Caller, body: Value) -> KeyfactorResult<Selection> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("the request body must be a JSON object").into());
    };
    let ids = map.remove("JobAuditIds").filter(|v| !v.is_null());
    let query = map.remove("Query").filter(|v| !v.is_null());
    if let Some(key) = map.keys().next() {
        return Err(ApiError::invalid(key, "unknown field; give JobAuditIds or Query").into());
    }
    let (condition, named) = match (ids, query) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("Query", "give JobAuditIds or Query, not both").into());
        }
        (None, None) => {
            return Err(ApiError::invalid("JobAuditIds", "give JobAuditIds or Query").into());
        }
        (Some(ids), None) => {
            let ids = ids_of(&ids)?;
            let condition = JobCondition::Any(
                ids.iter()
                    .map(|id| JobCondition::eq(JobField::AuditId, JobValue::Int(*id)))
                    .collect(),
            );
            (condition, Some(ids))
        }
        (None, Some(q)) => {
            let text = q
                .as_str()
                .ok_or_else(|| ApiError::invalid("Query", "must be a string"))?;
            if text.trim().is_empty() {
                return Err(ApiError::invalid("Query", "must not be empty").into());
            }
            (select::condition(state, caller, "Query", text).await?, None)
        }
    };
    let query = JobQuery {
        account_id: caller.scope().map(str::to_owned),
        condition: condition.clone(),
        order: vec![(JobOrder::Field(JobField::AuditId), false)],
    };
    let (total, entries) = state.db.query_job_history(&query, 0, MAX_BATCH).await?;
    if total > MAX_BATCH {
        return Err(ApiError::invalid(
            "Query",
            format!("selects {total} jobs; at most {MAX_BATCH} per request, narrow it"),
        )
        .into());
    }
    if let Some(ids) = &named {
        let missing: Vec<Refusal> = ids
            .iter()
            .filter(|id| !entries.iter().any(|e| e.audit_id == **id))
            .map(|id| Refusal {
                job_audit_id: *id,
                reason: "no job with this audit id".to_owned(),
            })
            .collect();
        if !missing.is_empty() {
            return Err(KeyfactorError::refused(
                StatusCode::NOT_FOUND,
                "JobAuditIds",
                format!(
                    "{} of the jobs do not exist; nothing was done",
                    missing.len()
                ),
                missing,
            ));
        }
    }
    let field = if named.is_some() {
        "JobAuditIds"
    } else {
        "Query"
    };
    Ok(Selection {
        entries,
        field,
        condition,
    })
}

/// 400 refusing the whole batch when any job was refused.
pub fn refuse_if_any(field: &str, action: &str, refused: Vec<Refusal>) -> KeyfactorResult<()> {
    if refused.is_empty() {
        return Ok(());
    }
    Err(KeyfactorError::refused(
        StatusCode::BAD_REQUEST,
        field,
        format!(
            "{} of the selected jobs cannot be {action}; nothing was done (see refused)",
            refused.len()
        ),
        refused,
    ))
}

//! The body Reschedule and Acknowledge share: `JobAuditIds` or `Query`, exactly one.
//!
//! Batches are all or nothing (the domain service's rule). Both endpoints answer 204
//! without a body, so a partial success could not say what was skipped; instead, when any
//! selected job is unknown (404) or not eligible in its state (409), nothing is done and the error lists
//! every refused job with the reason. This holds for `Query` too: Keyfactor tells callers
//! to select with the eligibility query (e.g. `JobType -ne "Inventory" AND Result -eq "4"
//! AND (Status -eq "4" OR Status -eq "3")`), and a query that also matches other jobs is
//! refused with their ids.

use serde_json::Value;

use super::history::condition;
use crate::api::ApiError;
use crate::api::json::{MAX_SAFE_INTEGER, whole_number};
use crate::api::keyfactor::kit::{Body, KeyfactorResult, Names};
use crate::domain::Service;
use crate::domain::history::{MAX_BATCH, Selection};

/// Reads the body into a selection, and the field names refusals use.
pub fn read(service: &Service, body: Value) -> KeyfactorResult<(Selection, Names)> {
    let mut body = Body::new(body, "")?;
    let ids = body.take("JobAuditIds");
    let query = body.take("Query");
    body.finish().map_err(|e| {
        ApiError::invalid(
            e.field.as_deref().unwrap_or("body"),
            "unknown field; give JobAuditIds or Query",
        )
    })?;
    match (ids, query) {
        (Some(_), Some(_)) => {
            Err(ApiError::invalid("Query", "give JobAuditIds or Query, not both").into())
        }
        (None, None) => Err(ApiError::invalid("JobAuditIds", "give JobAuditIds or Query").into()),
        (Some(ids), None) => Ok((
            Selection::AuditIds(ids_of(&ids)?),
            Names {
                selection: "JobAuditIds",
                ..Names::DEFAULT
            },
        )),
        (None, Some(query)) => Ok((
            Selection::Matching(condition(service, "Query", &query_text(&query)?)?),
            Names {
                selection: "Query",
                ..Names::DEFAULT
            },
        )),
    }
}

/// The query's text: a non-blank string without U+0000.
fn query_text(value: &Value) -> Result<String, ApiError> {
    let text = value
        .as_str()
        .ok_or_else(|| ApiError::invalid("Query", "must be a string"))?;
    crate::api::json::refuse_nul("Query", text)?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("Query", "must not be empty"));
    }
    Ok(text.to_owned())
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
        let id = whole_number(item)
            .filter(|n| n.abs() <= MAX_SAFE_INTEGER)
            .ok_or_else(|| {
                ApiError::invalid(
                    &format!("{field}[{i}]"),
                    format!("expected an integer of at most {MAX_SAFE_INTEGER}, got {item}"),
                )
            })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

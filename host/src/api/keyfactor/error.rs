//! Errors of the Keyfactor endpoints: the API's usual JSON error shape
//! (`{"code", "codeDesc", "message", "field"}`) plus, for a query fault, the `reason` and
//! the 1-based character `position`, and, for a refused batch, one entry per refused job.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keywarden_db::DbError;
use serde::Serialize;
use utoipa::ToSchema;

use super::query::QueryError;
use crate::api::ApiError;

/// A job a batch request could not act on, and why.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Refusal {
    #[serde(rename = "JobAuditId")]
    pub job_audit_id: i64,
    #[serde(rename = "Reason")]
    pub reason: String,
}

/// The JSON body of a Keyfactor endpoint's error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyfactorErrorBody {
    pub code: u16,
    #[serde(rename = "codeDesc")]
    pub code_desc: String,
    pub message: String,
    /// The request parameter or body field at fault (`QueryString`, `JobAuditIds`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why, without the field and position (query faults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// 1-based character position of the fault in the query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// Jobs refused, when a batch is refused as a whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
}

/// An error of a Keyfactor endpoint.
#[derive(Debug)]
pub struct KeyfactorError {
    api: ApiError,
    reason: Option<String>,
    position: Option<usize>,
    refused: Vec<Refusal>,
}

impl KeyfactorError {
    /// 400 for a fault in the query given as `parameter`.
    pub fn query(parameter: &str, fault: QueryError) -> Self {
        Self {
            api: ApiError::invalid(parameter, &fault),
            reason: Some(fault.reason),
            position: Some(fault.position),
            refused: Vec::new(),
        }
    }

    /// `status` refusing a batch as a whole, naming each refused job.
    pub fn refused(
        status: StatusCode,
        field: &str,
        message: String,
        refused: Vec<Refusal>,
    ) -> Self {
        Self {
            api: ApiError::new(status, message).with_field(field),
            reason: None,
            position: None,
            refused,
        }
    }
}

impl From<ApiError> for KeyfactorError {
    fn from(api: ApiError) -> Self {
        Self {
            api,
            reason: None,
            position: None,
            refused: Vec::new(),
        }
    }
}

impl From<DbError> for KeyfactorError {
    fn from(err: DbError) -> Self {
        ApiError::from(err).into()
    }
}

impl IntoResponse for KeyfactorError {
    fn into_response(self) -> Response {
        let status = self.api.status;
        let body = KeyfactorErrorBody {
            code: status.as_u16(),
            code_desc: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.api.message,
            field: self.api.field,
            reason: self.reason,
            position: self.position,
            refused: self.refused,
        };
        (status, axum::Json(body)).into_response()
    }
}

/// Result alias of the Keyfactor handlers.
pub type KeyfactorResult<T> = Result<T, KeyfactorError>;

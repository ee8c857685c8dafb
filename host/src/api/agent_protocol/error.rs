//! The one error of the agent protocol: Keyfactor's `Result` object, which agents parse
//! (`{"Result":{"Status":3,"Error":{"Code":..,"CodeString":..,"Message":..}}}`), with the
//! field at fault added. Host failures answer 500 with an empty body: the reference agent
//! concatenates the bodies of retried requests, so an error body before a successful
//! retry would spoil the success.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::ApiError;
use crate::domain::DomainError;

/// A refused agent-protocol request.
#[derive(Debug)]
pub struct AgentError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

/// Result alias of the agent-protocol handlers.
pub type AgentResult<T> = Result<T, AgentError>;

impl AgentError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AgentError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        AgentError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            field: None,
        }
    }
}

impl From<ApiError> for AgentError {
    fn from(e: ApiError) -> Self {
        AgentError {
            status: e.status,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<DomainError> for AgentError {
    fn from(e: DomainError) -> Self {
        ApiError::domain(e, "params").into()
    }
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            return self.status.into_response();
        }
        let body = json!({
            "Result": {
                "Status": 3,
                "Error": {
                    "Code": self.status.as_u16(),
                    "CodeString": self.status.canonical_reason().unwrap_or("Error"),
                    "Message": self.message,
                    "Field": self.field,
                }
            }
        });
        (self.status, axum::Json(body)).into_response()
    }
}

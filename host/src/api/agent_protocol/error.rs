//! The one error of the agent protocol: Keyfactor's `Result` object, which agents parse
//! (`{"Result":{"Status":3,"Error":{"Code":..,"CodeString":..,"Message":..}}}`), with the
//! field at fault added. Host failures answer 500 with an empty body: the reference agent
//! concatenates the bodies of retried requests, so an error body before a successful
//! retry would spoil the success.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use crate::api::ApiError;
use crate::domain::{DomainError, Field};

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

    /// A 400 about the body as a whole.
    pub fn bad_request(message: impl Into<String>) -> Self {
        AgentError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: None,
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
        ApiError::domain_named(e, agent_field_name).into()
    }
}

/// The model's fields in the agent protocol's member names.
fn agent_field_name(field: &Field) -> String {
    match field {
        Field::ClientMachine => "ClientMachine".to_owned(),
        Field::Csr => "CSR".to_owned(),
        Field::Capabilities => "Capabilities".to_owned(),
        Field::Job => "JobId".to_owned(),
        Field::Agent => "AgentId".to_owned(),
        Field::Certificate => "Certificates".to_owned(),
        Field::Item(i, inner) => format!("Inventory[{i}].{}", agent_field_name(inner)),
        other => crate::api::ciphertrust::error::field_name(other, "params"),
    }
}

/// A request body read for the agent protocol: its failures (too large, unreadable) are
/// answered in the protocol's shape like every other refusal.
#[derive(Debug)]
pub struct AgentBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for AgentBody {
    type Rejection = AgentError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AgentError> {
        crate::api::body::read_limited(req.into_body())
            .await
            .map(AgentBody)
            .map_err(|e| AgentError {
                status: match e {
                    crate::api::body::BodyFailure::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    crate::api::body::BodyFailure::Unreadable(_) => StatusCode::BAD_REQUEST,
                },
                message: format!("cannot read the request body: {e}"),
                field: None,
            })
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
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read: this connection cannot carry another
            // request, so the client must not keep it for one.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

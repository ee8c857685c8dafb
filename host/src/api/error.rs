//! The one error type of the HTTP API.
//!
//! Every handler returns `Result<_, ApiError>`, so every failure leaves the server as the
//! same JSON shape (`{"code", "codeDesc", "message", "field"?}`, CipherTrust style). Client
//! mistakes carry a message fit for the caller; internal failures are logged with their
//! cause and answered with a generic 500 so database or runtime details never leak.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keywarden_db::DbError;
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure: status, a message for the caller and optionally the request field at fault.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// HTTP status code, repeated in the body for clients that only keep the body.
    pub code: u16,
    /// Short description of the status.
    #[serde(rename = "codeDesc")]
    pub code_desc: String,
    /// What went wrong, in words fit for the caller.
    pub message: String,
    /// The request field at fault (`run_at`, `cckm_key_rotation_params.expire_in`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400: malformed request (bad JSON, bad query parameter, bad cron expression).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 naming `field`; the message is prefixed with the field so it reads on its own.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("{field}: {reason}")).with_field(field)
    }

    /// 422: well-formed but unacceptable (unknown operation, params failing the schema).
    pub fn unprocessable(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field}: {reason}"),
        )
        .with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 500: logs `err` (the details stay in the server log) and answers a generic message.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error while {context}; see the server log"),
        )
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => ApiError::not_found("not found"),
            DbError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, what),
            DbError::InvalidSort(field) => {
                ApiError::invalid("sort", format!("cannot sort by {field:?}"))
            }
            DbError::Invalid(what) => ApiError::bad_request(what),
            other => ApiError::internal("accessing the database", other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.status.as_u16(),
            code_desc: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result alias of the handlers.
pub type ApiResult<T> = Result<T, ApiError>;

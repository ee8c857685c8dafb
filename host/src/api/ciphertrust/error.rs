//! The error type of the CipherTrust dialect (`/api/v1`, `/healthz`, `/openapi.json`).
//!
//! Every handler returns `Result<_, ApiError>`, so every failure leaves the server as the
//! same JSON shape (`{"code", "codeDesc", "message", "field"?}`, CipherTrust style). Client
//! mistakes carry a message fit for the caller; internal failures are logged with their
//! cause and answered with a generic 500 so database or runtime details never leak.
//! Refusals of the domain service are named with this dialect's field names here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{DomainError, Field};

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

/// The name of `field` in this dialect; `params_key` is the request field that carried
/// the operation's params (`cckm_key_rotation_params`, `params`, ...).
pub fn field_name(field: &Field, params_key: &str) -> String {
    let path = |root: &str, path: &[String]| {
        std::iter::once(root.to_owned())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(".")
    };
    match field {
        Field::Operation => "operation".to_owned(),
        Field::Params(p) => path(params_key, p),
        Field::Schedule => "run_at".to_owned(),
        Field::Timezone => "timezone".to_owned(),
        Field::EndDate => "end_date".to_owned(),
        Field::RunOn => "run_on".to_owned(),
        Field::Account => "account".to_owned(),
        Field::Label => "label".to_owned(),
        Field::Sort => "sort".to_owned(),
        Field::Agent => "agent".to_owned(),
        Field::ClientMachine => "client_machine".to_owned(),
        Field::Csr => "csr".to_owned(),
        Field::Capabilities => "capabilities".to_owned(),
        Field::Job => "job".to_owned(),
        Field::Username => "username".to_owned(),
        Field::Directories => "directories".to_owned(),
        Field::Token => "id".to_owned(),
        Field::Subject => "subject".to_owned(),
        Field::Sans => "sans".to_owned(),
        Field::Store => "store".to_owned(),
        Field::StoreType => "store_type".to_owned(),
        Field::StorePath => "store_path".to_owned(),
        Field::Properties(p) => path("properties", p),
        Field::PasswordSecret => "password_secret".to_owned(),
        Field::KeySecret => "private_key_secret".to_owned(),
        Field::Certificate => "certificate".to_owned(),
        Field::Selection => "jobs".to_owned(),
        Field::Network => "network_id".to_owned(),
        Field::NetworkName => "name".to_owned(),
        Field::Ranges(None) => "ranges".to_owned(),
        Field::Ranges(Some(i)) => format!("ranges[{i}]"),
        Field::ScanTimeout { monitoring: false } => "discover_timeout_ms".to_owned(),
        Field::ScanTimeout { monitoring: true } => "monitor_timeout_ms".to_owned(),
        Field::ExpirationAlertDays => "expiration_alert_days".to_owned(),
        Field::QuietHours(i) => format!("quiet_hours[{i}]"),
        Field::AlertRecipients => "alert_recipients".to_owned(),
        Field::ScanKinds => "scan".to_owned(),
        Field::Policy(path) => path.clone(),
        Field::Item(i, inner) => format!("[{i}].{}", field_name(inner, params_key)),
    }
}

impl ApiError {
    /// A refusal of the domain service, its field named as this dialect names it.
    pub fn domain(err: DomainError, params_key: &str) -> Self {
        Self::domain_named(err, |f| field_name(f, params_key))
    }

    /// A refusal of the domain service, its field named by `name` (each dialect's way).
    pub fn domain_named(err: DomainError, name: impl Fn(&Field) -> String) -> Self {
        match err {
            DomainError::Invalid {
                field: Some(f),
                reason,
            } => ApiError::invalid(&name(&f), reason),
            DomainError::Invalid {
                field: None,
                reason,
            } => ApiError::bad_request(reason),
            DomainError::Unprocessable { field, reason } => {
                ApiError::unprocessable(&name(&field), reason)
            }
            DomainError::NotFound { field, reason } => {
                let err = ApiError::not_found(reason);
                match field {
                    Some(f) => err.with_field(name(&f)),
                    None => err,
                }
            }
            DomainError::Conflict { field, reason } => {
                let err = match &field {
                    Some(f) => {
                        ApiError::new(StatusCode::CONFLICT, format!("{}: {reason}", name(f)))
                    }
                    None => ApiError::new(StatusCode::CONFLICT, reason),
                };
                match field {
                    Some(f) => err.with_field(name(&f)),
                    None => err,
                }
            }
            DomainError::Forbidden(what) => ApiError::forbidden(what),
            DomainError::Denied { field, reason } => {
                let err = ApiError::forbidden(reason);
                match field {
                    Some(f) => err.with_field(name(&f)),
                    None => err,
                }
            }
            DomainError::Unauthenticated(what) => ApiError::unauthorized(what),
            DomainError::Refused {
                missing, message, ..
            } => ApiError::new(
                if missing {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::CONFLICT
                },
                message,
            )
            .with_field(name(&Field::Selection)),
            DomainError::Internal { context, cause } => ApiError::internal(&context, cause),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        ApiError::domain(err, "params")
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

//! The one error of every `/KeyfactorAPI` route: the API's usual JSON error shape
//! (`{"code", "codeDesc", "message", "field"}`) plus, for a query fault, the `reason` and
//! the 1-based character `position`, and, for a refused batch, one entry per refused job.
//! Refusals of the domain service are named with Keyfactor's field names here, per
//! endpoint ([`Names`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::ApiError;
use crate::api::keyfactor::query::QueryError;
use crate::domain::{DomainError, Field};

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
    /// HTTP status code, repeated in the body.
    pub code: u16,
    /// Short description of the status.
    #[serde(rename = "codeDesc")]
    pub code_desc: String,
    /// What went wrong, in words fit for the caller.
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

    /// A refusal of the domain service, its fields named as `names` says; a refused
    /// batch lists each refused job.
    pub fn domain(err: DomainError, names: &Names) -> Self {
        let refused = match &err {
            DomainError::Refused { refused, .. } => refused
                .iter()
                .map(|r| Refusal {
                    job_audit_id: r.audit_id,
                    reason: r.reason.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            refused,
            ..ApiError::domain_named(err, |f| names.name(f)).into()
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

impl From<DomainError> for KeyfactorError {
    fn from(err: DomainError) -> Self {
        KeyfactorError::domain(err, &Names::DEFAULT)
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
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result alias of the Keyfactor handlers.
pub type KeyfactorResult<T> = Result<T, KeyfactorError>;

/// How one endpoint names the model's fields. Endpoints start from [`Names::DEFAULT`] and
/// change what they spell differently.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub operation: &'static str,
    pub params: &'static str,
    pub schedule: &'static str,
    pub run_on: &'static str,
    /// The field naming a store, alone or inside a list item.
    pub store: &'static str,
    pub store_type: &'static str,
    /// The list a request's items are in (`CertificateStores`, `StoreIds`).
    pub items: &'static str,
    /// Whether an item *is* the store id (`StoreIds[0]`) rather than an object holding it
    /// (`CertificateStores[0].CertificateStoreId`).
    pub item_is_store: bool,
    pub selection: &'static str,
}

impl Names {
    pub const DEFAULT: Names = Names {
        operation: "JobTypeName",
        params: "JobFields",
        schedule: "Schedule",
        run_on: "AgentId",
        store: "CertificateStoreId",
        store_type: "CertStoreType",
        items: "CertificateStores",
        item_is_store: false,
        selection: "JobAuditIds",
    };

    /// The name of `field` at this endpoint.
    pub fn name(&self, field: &Field) -> String {
        let path = |root: &str, path: &[String]| {
            std::iter::once(root.to_owned())
                .chain(path.iter().cloned())
                .collect::<Vec<_>>()
                .join(".")
        };
        match field {
            Field::Operation => self.operation.to_owned(),
            Field::Params(p) => path(self.params, p),
            Field::Schedule | Field::Timezone | Field::EndDate => self.schedule.to_owned(),
            Field::RunOn => self.run_on.to_owned(),
            Field::Store => self.store.to_owned(),
            Field::StoreType => self.store_type.to_owned(),
            Field::StorePath => "Storepath".to_owned(),
            Field::Properties(p) => path("Properties", p),
            Field::PasswordSecret => "Password.SecretName".to_owned(),
            Field::KeySecret => "PrivateKeySecret".to_owned(),
            Field::Certificate => "Certificate".to_owned(),
            Field::Selection => self.selection.to_owned(),
            Field::Account => "Account".to_owned(),
            Field::Label => "Label".to_owned(),
            Field::Sort => "SortField".to_owned(),
            Field::Agent => "AgentId".to_owned(),
            Field::ClientMachine => "ClientMachine".to_owned(),
            Field::Csr => "CSR".to_owned(),
            Field::Capabilities => "Capabilities".to_owned(),
            Field::Job => "JobId".to_owned(),
            Field::Username => "Username".to_owned(),
            Field::Directories => "Dirs".to_owned(),
            Field::Token => "TokenId".to_owned(),
            Field::Subject => "SubjectName".to_owned(),
            Field::Sans => "SANs".to_owned(),
            Field::Network => "NetworkId".to_owned(),
            Field::NetworkName => "Name".to_owned(),
            Field::Ranges(None) => "Ranges".to_owned(),
            Field::Ranges(Some(i)) => format!("Ranges[{i}]"),
            Field::ScanTimeout { monitoring: false } => "DiscoverTimeoutMs".to_owned(),
            Field::ScanTimeout { monitoring: true } => "MonitorTimeoutMs".to_owned(),
            Field::ExpirationAlertDays => "ExpirationAlertDays".to_owned(),
            Field::QuietHours(i) => format!("QuietHours[{i}]"),
            Field::AlertRecipients => "SslAlertRecipients".to_owned(),
            Field::ScanKinds => "Discovery".to_owned(),
            Field::Policy(path) => path.clone(),
            Field::Item(i, inner) if self.item_is_store && **inner == Field::Store => {
                format!("{}[{i}]", self.items)
            }
            Field::Item(i, inner) => format!("{}[{i}].{}", self.items, self.name(inner)),
        }
    }
}

//! The agent protocol under `/KeyfactorAgents`: what Keyfactor's orchestrators (and
//! `keywarden agent`) call. Every call is a JSON `POST`; field names are read without
//! regard to case, as the agents read ours. The shapes, call by call, are in
//! `docs/agent-protocol.md`.
//!
//! Not part of the OpenAPI document: agents are not generated from it, and none of these
//! calls takes a bearer token (registration takes a registration credential or the
//! agent's client certificate; every later call names its session token).

pub mod error;
pub mod jobs;
pub mod register;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::Value;

use self::error::{AgentError, AgentResult};
use super::AppState;

/// Every `/KeyfactorAgents` route (relative to it).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Session/Register", post(register::register))
        .route(
            "/Inventory/Configuration",
            post(jobs::inventory_configuration),
        )
        .route("/Inventory/Update", post(jobs::inventory_update))
        .route("/Inventory/Complete", post(jobs::complete))
        .route(
            "/FetchLogs/Configuration",
            post(jobs::fetch_logs_configuration),
        )
        .route("/FetchLogs/Complete", post(jobs::complete))
        .route(
            "/Management/Configuration",
            post(jobs::management_configuration),
        )
        .route("/Management/Complete", post(jobs::complete))
        .route(
            "/Reenrollment/Configuration",
            post(jobs::reenrollment_configuration),
        )
        .route("/Reenrollment/Enroll", post(jobs::reenrollment_enroll))
        .route("/Reenrollment/Complete", post(jobs::complete))
        .route(
            "/Keywarden/Configuration",
            post(jobs::keywarden_configuration),
        )
        .route("/Keywarden/Complete", post(jobs::keywarden_complete))
        .fallback(not_found)
}

async fn not_found() -> AgentError {
    AgentError {
        status: axum::http::StatusCode::NOT_FOUND,
        message: "no such agent endpoint".to_owned(),
        field: None,
    }
}

/// Bare base64 of DER, as agents read certificates (no PEM armour: it crashes the
/// reference agent).
pub(crate) fn b64(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The request body as a JSON object.
pub(crate) fn body_object(bytes: &Bytes) -> AgentResult<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AgentError::bad_request("expected a JSON object")),
        Err(e) => Err(AgentError::bad_request(format!("invalid JSON body: {e}"))),
    }
}

/// The member called `name`, whatever its case.
pub(crate) fn member<'a>(
    body: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

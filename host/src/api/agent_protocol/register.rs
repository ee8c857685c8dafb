//! `POST /Session/Register`: an agent enrolls, renews its client certificate, or opens a
//! session and gets its jobs.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{AgentBody, AgentError, AgentResult};
use super::{b64, body_object, member};
use crate::api::AppState;
use crate::domain::agents::session::{AgentCredentials, Registered, Registration};
use crate::server::tls::PeerCertificate;

/// A base64 DER blob (line breaks and PEM armour tolerated), as agents send CSRs.
pub(crate) fn der_from_base64(field: &str, text: &str) -> AgentResult<Vec<u8>> {
    let cleaned: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|e| AgentError::invalid(field, format!("expected base64 DER: {e}")))
}

/// The agent version as text: Keyfactor's packed 64-bit number
/// (`major<<48 | minor<<32 | micro<<16 | build`) or a string.
fn version(value: Option<&Value>) -> AgentResult<String> {
    match value {
        None => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= 64 => Ok(s.clone()),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Ok(format!(
                "{}.{}.{}.{}",
                v >> 48,
                (v >> 32) & 0xffff,
                (v >> 16) & 0xffff,
                v & 0xffff
            )),
            None => Err(AgentError::invalid(
                "AgentVersion",
                "expected a non-negative packed version number",
            )),
        },
        Some(_) => Err(AgentError::invalid(
            "AgentVersion",
            "expected a packed version number or a string of at most 64 characters",
        )),
    }
}

fn registration(bytes: &Bytes) -> AgentResult<Registration> {
    let body = body_object(bytes)?;
    let client_machine = match member(&body, "ClientMachine") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(AgentError::invalid(
                "ClientMachine",
                "is required (a string)",
            ));
        }
    };
    let agent_id = match member(&body, "AgentId") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            Uuid::parse_str(s.trim())
                .map_err(|_| AgentError::invalid("AgentId", "expected a GUID or \"\""))?,
        ),
        Some(_) => return Err(AgentError::invalid("AgentId", "expected a string")),
    };
    let platform = match member(&body, "AgentPlatform") {
        None => 0,
        Some(v) => v
            .as_i64()
            .filter(|p| (0..=7).contains(p))
            .ok_or_else(|| AgentError::invalid("AgentPlatform", "expected a code 0 to 7"))?,
    };
    let capabilities = match member(&body, "Capabilities") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| AgentError::invalid("Capabilities", "expected strings"))?,
        Some(_) => return Err(AgentError::invalid("Capabilities", "expected an array")),
    };
    let csr = match member(&body, "CSR") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(der_from_base64("CSR", s)?),
        Some(_) => return Err(AgentError::invalid("CSR", "expected base64 DER or null")),
    };
    Ok(Registration {
        client_machine,
        agent_id,
        platform,
        version: version(member(&body, "AgentVersion"))?,
        capabilities,
        csr,
    })
}

/// HTTP basic auth, if sent.
fn basic_credentials(headers: &HeaderMap) -> AgentResult<AgentCredentials> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(AgentCredentials::None);
    };
    let text = value
        .to_str()
        .map_err(|_| AgentError::unauthorized("the Authorization header is not text"))?;
    let Some(encoded) = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(AgentError::unauthorized(
            "registration takes HTTP basic auth with a registration credential",
        ));
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AgentError::unauthorized("the basic credentials do not decode"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| AgentError::unauthorized("the basic credentials have no ':'"))?;
    Ok(AgentCredentials::Basic {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// A refusal the agent reads from `Result` (HTTP 200: it is an answer, not a fault).
fn result_error(code: &str, message: &str) -> Value {
    json!({"Status": 3, "Error": {"Code": 0, "CodeString": code, "Message": message}})
}

pub async fn register(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let registration = registration(&bytes)?;
    let credentials = basic_credentials(&headers)?;
    let peer = peer.and_then(|Extension(p)| p.0);
    let outcome = state
        .service
        .register_agent(peer.as_deref(), credentials, registration)
        .await?;
    Ok(Json(match outcome {
        Registered::Pending { agent_id, reason } => json!({
            "Session": null,
            "Result": result_error("PENDING", &format!("agent {agent_id}: {reason}")),
        }),
        // A0100007 makes the agent post a CSR for a new client certificate at once.
        Registered::RenewCertificate { agent_id } => json!({
            "Session": null,
            "Result": result_error(
                "A0100007",
                &format!("agent {agent_id}: enroll for a new client certificate"),
            ),
        }),
        Registered::Session(s) => json!({
            "Session": {
                "Token": s.token,
                "AgentId": s.agent.id.to_string(),
                "Certificate": s.certificate.as_ref().map(|c| b64(&c.der)),
                "HeartbeatInterval": s.heartbeat_minutes,
                "ClientMachine": s.agent.client_machine,
                "ClientParameters": {},
                "Jobs": super::jobs::announce(&s.jobs, &s.agent.capabilities),
            },
            "Result": {"Status": 1},
        }),
    }))
}

//! The job calls of the agent protocol: announcing handed jobs in a session, each job's
//! configuration, the inventory report, and the completion.
//!
//! Every call names `SessionToken` and `JobId`; the domain checks the token (and, for a
//! session opened over mTLS, the connection's certificate) and that the job runs on that
//! agent.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use keywarden_db::{Job, JobResult};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{AgentBody, AgentError, AgentResult};
use super::register::der_from_base64;
use super::{b64, body_object, member};
use crate::api::AppState;
use crate::domain::agents::FETCH_LOGS;
use crate::domain::agents::jobs::{
    AgentOutcome, AgentWork, FETCH_LOGS_CAPABILITY, ReportedEntry, ReportedStatus, StoreChange,
};
use crate::domain::agents::session::AgentCaller;
use crate::server::tls::PeerCertificate;

/// Job type ids the reference agent knows (PEM stores and fetch-logs).
const PEM_INVENTORY: &str = "a809ce1f-1eea-4738-a38e-15708c89c981";
const PEM_MANAGEMENT: &str = "1d411b36-ae72-433f-9f3f-8593e836a1af";
const PEM_REENROLLMENT: &str = "aa015d10-cffc-41f7-a9a4-c9615f6f3bdf";
const FETCH_LOGS_TYPE: &str = "0D8CF0C8-56CA-4B8A-B16A-C062018E170D";

/// The capability `keywarden agent` announces: it runs jobs on its own plugins and takes
/// them whole (`/Keywarden/...`) rather than in the reference agent's per-type shapes.
pub const KEYWARDEN_JOBS: &str = "Keywarden.Jobs";

/// How a session announces its jobs: type, id and the endpoints of its calls.
pub fn announce(jobs: &[Job], capabilities: &[String]) -> Vec<Value> {
    let whole = capabilities.iter().any(|c| c == KEYWARDEN_JOBS);
    jobs.iter()
        .map(|job| {
            let (type_id, path) = if whole {
                let capability = crate::domain::agents::jobs::store_capability(
                    job.target.as_deref().unwrap_or_default(),
                    &job.operation,
                );
                (job_type_id(&capability), "Keywarden")
            } else if job.operation == FETCH_LOGS {
                (FETCH_LOGS_TYPE.to_owned(), "FetchLogs")
            } else {
                let capability = crate::domain::agents::jobs::store_capability(
                    job.target.as_deref().unwrap_or_default(),
                    &job.operation,
                );
                (job_type_id(&capability), job.operation.as_str())
            };
            json!({
                "JobTypeId": type_id,
                "JobId": job.id.to_string(),
                "ConfigurationEndpoint": format!("/{path}/Configuration"),
                "CompletionEndpoint": format!("/{path}/Complete"),
                "Priority": 5,
                "Schedule": null,
            })
        })
        .collect()
}

/// The job type id of a capability: the reference agent's GUIDs where it has one, else
/// a name-based UUID of the capability (stable across servers).
fn job_type_id(capability: &str) -> String {
    for (known, id) in [
        ("CertStores.PEM.Inventory", PEM_INVENTORY),
        ("CertStores.PEM.Management", PEM_MANAGEMENT),
        ("CertStores.PEM.Reenrollment", PEM_REENROLLMENT),
    ] {
        if capability.eq_ignore_ascii_case(known) {
            return id.to_owned();
        }
    }
    if capability.eq_ignore_ascii_case(FETCH_LOGS_CAPABILITY) {
        return FETCH_LOGS_TYPE.to_owned();
    }
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("keywarden:{capability}").as_bytes(),
    )
    .to_string()
}

/// A job call's body, the agent behind its session, and the job it names.
struct JobCall {
    body: Map<String, Value>,
    caller: AgentCaller,
    job_id: Uuid,
}

async fn job_call(
    state: &AppState,
    peer: Option<Extension<PeerCertificate>>,
    bytes: &Bytes,
) -> AgentResult<JobCall> {
    let body = body_object(bytes)?;
    let token = match member(&body, "SessionToken") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(AgentError::unauthorized("SessionToken is required")),
    };
    let job_id = match member(&body, "JobId") {
        Some(Value::String(s)) => Uuid::parse_str(s.trim())
            .map_err(|_| AgentError::invalid("JobId", "expected a GUID"))?,
        _ => return Err(AgentError::invalid("JobId", "is required (a GUID)")),
    };
    let peer = peer.and_then(|Extension(p)| p.0);
    let caller = state.service.agent_caller(&token, peer.as_deref()).await?;
    Ok(JobCall {
        body,
        caller,
        job_id,
    })
}

/// Configuration of an inventory job: the store and what the server believes it holds.
pub async fn inventory_configuration(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let handed = state.service.agent_job(&call.caller, call.job_id).await?;
    let AgentWork::Inventory { store, known } = handed.work else {
        return Err(AgentError::invalid("JobId", "not an inventory job"));
    };
    let inventory: Vec<Value> = known
        .iter()
        .map(|e| {
            // The reference agent compares aliases with its lower-case SHA-1 thumbprints.
            let thumbprint = e.thumbprint.to_ascii_lowercase();
            json!({"Alias": thumbprint, "PrivateKeyEntry": e.has_private_key,
                   "Thumbprints": [thumbprint]})
        })
        .collect();
    Ok(Json(json!({
        "AuditId": handed.audit_id,
        "JobCancelled": false,
        "InventoryEndpoint": "/Inventory/Update",
        "Result": {"Status": 1},
        "Job": {
            "ClientMachine": store.client_machine,
            "StorePath": store.store_path,
            "StorePassword": null,
            "StoreType": store.store_type,
            "Properties": store.properties.to_string(),
            "Inventory": inventory,
        }
    })))
}

fn reported(items: &[Value]) -> AgentResult<Vec<ReportedEntry>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| format!("Inventory[{i}].{name}");
            let Value::Object(item) = item else {
                return Err(AgentError::invalid(
                    &format!("Inventory[{i}]"),
                    "expected an object",
                ));
            };
            let status = match member(item, "ItemStatus").and_then(Value::as_i64) {
                Some(1) => ReportedStatus::Added,
                Some(2) => ReportedStatus::Modified,
                Some(3) => ReportedStatus::Removed,
                Some(4) => ReportedStatus::Unchanged,
                _ => {
                    return Err(AgentError::invalid(
                        &field("ItemStatus"),
                        "expected 1 added, 2 modified, 3 removed or 4 unchanged",
                    ));
                }
            };
            let alias = member(item, "Alias")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let certificates = match member(item, "Certificates") {
                None => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|c| match c {
                        Value::String(s) => der_from_base64(&field("Certificates"), s),
                        _ => Err(AgentError::invalid(
                            &field("Certificates"),
                            "expected base64 DER strings",
                        )),
                    })
                    .collect::<AgentResult<Vec<_>>>()?,
                Some(_) => {
                    return Err(AgentError::invalid(
                        &field("Certificates"),
                        "expected an array",
                    ));
                }
            };
            Ok(ReportedEntry {
                status,
                alias,
                private_key: member(item, "PrivateKeyEntry")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                certificates,
            })
        })
        .collect()
}

/// The agent's inventory report.
pub async fn inventory_update(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let items = match member(&call.body, "Inventory") {
        None => Vec::new(),
        Some(Value::Array(items)) => reported(items)?,
        Some(_) => return Err(AgentError::invalid("Inventory", "expected an array")),
    };
    state
        .service
        .agent_inventory(&call.caller, call.job_id, items)
        .await?;
    Ok(Json(json!({"Result": {"Status": 1}})))
}

/// Configuration of a Management job: add a certificate (`OperationType` 2) or remove
/// the one with a thumbprint (3).
pub async fn management_configuration(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let handed = state.service.agent_job(&call.caller, call.job_id).await?;
    let AgentWork::Management { store, change } = handed.work else {
        return Err(AgentError::invalid("JobId", "not a management job"));
    };
    let (operation, alias, contents) = match change {
        StoreChange::Add { certificate } => (2, Value::Null, json!(b64(&certificate))),
        StoreChange::Remove { thumbprint } => {
            (3, json!(thumbprint.to_ascii_lowercase()), Value::Null)
        }
    };
    Ok(Json(json!({
        "AuditId": handed.audit_id,
        "JobCancelled": false,
        "Result": {"Status": 1},
        "Job": {
            "OperationType": operation,
            "ClientMachine": store.client_machine,
            "StorePath": store.store_path,
            "StorePassword": null,
            "Alias": alias,
            "PrivateKeyEntry": false,
            "EntryContents": contents,
            "EntryPassword": null,
            "PfxPassword": null,
            "Thumbprint": null,
            "Overwrite": false,
        }
    })))
}

/// Configuration of a Reenrollment job. Always a 200: the reference agent crashes on
/// any other answer to this call, so a refusal is told in `Result` (the agent then
/// abandons the job), with every member it reads present.
pub async fn reenrollment_configuration(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    body: Result<AgentBody, AgentError>,
) -> Json<Value> {
    let refused = |e: AgentError| {
        Json(json!({
            "AuditId": 0,
            "JobCancelled": false,
            "Result": {"Status": 3, "Error": {"Code": e.status.as_u16(), "CodeString": e.status.canonical_reason(),
                       "Message": e.message, "Field": e.field}},
            "KeyType": "ECC", "KeySize": 256, "Subject": "CN=refused", "StorePath": "",
            "StorePassword": "", "EnrollEndpoint": "/Reenrollment/Enroll", "Entropy": "",
        }))
    };
    let bytes = match body {
        Ok(AgentBody(bytes)) => bytes,
        Err(e) => return refused(e),
    };
    let call = match job_call(&state, peer, &bytes).await {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let handed = match state.service.agent_job(&call.caller, call.job_id).await {
        Ok(h) => h,
        Err(e) => return refused(e.into()),
    };
    let AgentWork::Reenrollment {
        store,
        subject,
        key_type,
        key_size,
    } = handed.work
    else {
        return refused(AgentError::invalid("JobId", "not a reenrollment job"));
    };
    Json(json!({
        "AuditId": handed.audit_id,
        "JobCancelled": false,
        "Result": {"Status": 1},
        "KeyType": key_type,
        "KeySize": key_size,
        "Subject": subject,
        "ClientMachine": store.client_machine,
        "StorePath": store.store_path,
        "StorePassword": "",
        "EnrollEndpoint": "/Reenrollment/Enroll",
        "Entropy": "",
    }))
}

/// The CSR of a Reenrollment job, signed by the job's certificate authority.
pub async fn reenrollment_enroll(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let csr = match member(&call.body, "CSRText") {
        Some(Value::String(s)) => der_from_base64("CSRText", s)?,
        _ => return Err(AgentError::invalid("CSRText", "is required (base64 DER)")),
    };
    let chain = state
        .service
        .agent_enroll(&call.caller, call.job_id, &csr)
        .await?;
    let leaf = chain
        .first()
        .ok_or_else(|| AgentError::invalid("CSRText", "the authority issued no certificate"))?;
    Ok(Json(
        json!({"Certificate": b64(leaf), "Result": {"Status": 1}}),
    ))
}

/// A handed job whole, for `keywarden agent`: the job record and its store.
pub async fn keywarden_configuration(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let handed = state
        .service
        .agent_job_record(&call.caller, call.job_id)
        .await?;
    Ok(Json(json!({
        "AuditId": handed.audit_id,
        "JobCancelled": false,
        "Result": {"Status": 1},
        "Job": handed.job,
        "Store": handed.store,
    })))
}

/// What `keywarden agent` reports when a job ended on it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeywardenCompletion {
    status: keywarden_db::JobStatus,
    #[serde(default)]
    result: Option<JobResult>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<Value>,
    #[serde(default)]
    logs: Vec<Value>,
    #[serde(default)]
    inventory: Option<Vec<KeywardenEntry>>,
    #[serde(default)]
    paths: Option<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeywardenEntry {
    alias: String,
    /// Base64 DER, leaf first.
    certificates: Vec<String>,
    #[serde(default)]
    private_key_entry: bool,
}

/// The end of a job that ran on `keywarden agent`, with the data to keep.
pub async fn keywarden_complete(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    use crate::runtime::bindings::certificate_store::CertificateEntry;
    use crate::runtime::invoke::FamilyData;
    let call = job_call(&state, peer, &bytes).await?;
    let report: KeywardenCompletion = serde_json::from_value(Value::Object(call.body.clone()))
        .map_err(|e| AgentError::bad_request(format!("not a Keywarden completion: {e}")))?;
    let data = match (report.inventory, report.paths) {
        (Some(entries), _) => {
            let mut out = Vec::with_capacity(entries.len());
            for (i, e) in entries.into_iter().enumerate() {
                let chain = e
                    .certificates
                    .iter()
                    .map(|c| der_from_base64(&format!("Inventory[{i}].Certificates"), c))
                    .collect::<AgentResult<Vec<_>>>()?;
                out.push(CertificateEntry {
                    alias: e.alias,
                    chain,
                    has_private_key: e.private_key_entry,
                });
            }
            FamilyData::Inventory(out)
        }
        (None, Some(paths)) => FamilyData::Paths(paths),
        (None, None) => FamilyData::None,
    };
    state
        .service
        .agent_finish(
            &call.caller,
            call.job_id,
            crate::domain::agents::jobs::RemoteFinish {
                status: report.status,
                result: report.result,
                message: report.message,
                details: report.details,
                logs: report.logs,
                data,
            },
        )
        .await?;
    Ok(Json(json!({"Result": {"Status": 1}})))
}

/// Configuration of a fetch-logs job.
pub async fn fetch_logs_configuration(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let handed = state.service.agent_job(&call.caller, call.job_id).await?;
    let AgentWork::FetchLogs { max_characters } = handed.work else {
        return Err(AgentError::invalid("JobId", "not a fetch-logs job"));
    };
    Ok(Json(json!({
        "AuditId": handed.audit_id,
        "JobCancelled": false,
        "MaxCharactersToReturn": max_characters,
        "Result": {"Status": 1},
    })))
}

/// A job's completion: `Status` 2 success, 3 warning, 4 error (1, "in process", is what
/// an agent reports when a configuration lacked a result; it counts as a warning).
pub async fn complete(
    State(state): State<AppState>,
    peer: Option<Extension<PeerCertificate>>,
    AgentBody(bytes): AgentBody,
) -> AgentResult<Json<Value>> {
    let call = job_call(&state, peer, &bytes).await?;
    let result = match member(&call.body, "Status").and_then(Value::as_i64) {
        Some(2) => JobResult::Success,
        Some(1 | 3) => JobResult::Warning,
        Some(4) => JobResult::Failure,
        _ => {
            return Err(AgentError::invalid(
                "Status",
                "expected 2 success, 3 warning or 4 error",
            ));
        }
    };
    let message = member(&call.body, "Message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let log = member(&call.body, "Log")
        .and_then(Value::as_str)
        // The reference agent's log buffer is not NUL-terminated; keep text only.
        .map(|l| {
            l.trim_end_matches(|c: char| c == '\0' || (c.is_control() && c != '\n'))
                .to_owned()
        });
    state
        .service
        .agent_complete(
            &call.caller,
            call.job_id,
            AgentOutcome {
                result,
                message,
                log,
            },
        )
        .await?;
    Ok(Json(json!({"Result": {"Status": 1}})))
}

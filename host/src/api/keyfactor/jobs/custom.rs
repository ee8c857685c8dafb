//! `POST /KeyfactorAPI/OrchestratorJobs/Custom`: runs a custom job type a plugin declares
//! (a `custom` family operation). `JobFields` are the operation's params, validated
//! against the plugin's JSON Schema like job-config params. `Schedule.Immediate` (or an
//! `ExactlyOnce` time already past) enqueues one job now; every other schedule becomes a
//! job config that fires the jobs (see `domain/schedule.rs`).

use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{SecondsFormat, Utc};
use keywarden_db::RunOn;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::api::ciphertrust::extract::ApiJson;
use crate::api::keyfactor::kit::{
    self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names,
};
use crate::api::{ApiError, AppState};
use crate::domain::Caller;
use crate::domain::jobs::{CustomJob, CustomScheduled};

/// Answer of the Custom endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomJobResponse {
    /// The job (Immediate) or the job config (other schedules).
    #[serde(rename = "JobId")]
    pub job_id: String,
    /// The job's audit id (Immediate only).
    #[serde(rename = "JobAuditId")]
    pub job_audit_id: Option<i64>,
    /// The job config firing the jobs (not Immediate).
    #[serde(rename = "JobConfigId")]
    pub job_config_id: Option<String>,
    #[serde(rename = "AgentId")]
    pub agent_id: Option<String>,
    #[serde(rename = "JobTypeName")]
    pub job_type_name: String,
    #[serde(rename = "Schedule")]
    #[schema(value_type = Object)]
    pub schedule: Value,
    #[serde(rename = "JobFields")]
    #[schema(value_type = Object)]
    pub job_fields: Value,
    #[serde(rename = "RequestTimestamp")]
    pub request_timestamp: String,
}

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Custom", tag = "keyfactor",
    responses(
        (status = 200, body = CustomJobResponse),
        (status = 400, body = KeyfactorErrorBody, description = "Malformed body or Schedule"),
        (status = 422, body = KeyfactorErrorBody, description = "Unknown custom job type or agent, or JobFields failing the plugin's schema")),
    security(("bearer" = [])))]
pub async fn custom(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<CustomJobResponse>> {
    let mut body = Body::new(body, "")?;
    let job_type = body.required_text("JobTypeName")?;
    let agent = body.text("AgentId")?;
    let schedule_body = body
        .take("Schedule")
        .ok_or_else(|| ApiError::invalid("Schedule", "is required, e.g. {\"Immediate\": true}"))?;
    let fields = Value::Object(body.json_object("JobFields")?.unwrap_or_else(Map::new));
    body.finish()?;
    let schedule = kit::schedule::parse(schedule_body.clone(), "Schedule")?.ok_or_else(|| {
        ApiError::unprocessable(
            "Schedule",
            "Off schedules nothing; give a schedule to run the job on",
        )
    })?;
    let now = Utc::now();
    let request = CustomJob {
        job_type: job_type.clone(),
        run_on: RunOn::from_option(agent.as_deref()),
        schedule,
        params: fields.clone(),
    };
    let scheduled = state
        .service
        .custom_job(&caller, request)
        .await
        .map_err(|e| KeyfactorError::domain(e, &Names::DEFAULT))?;
    let (job_id, job_audit_id, job_config_id) = match scheduled {
        CustomScheduled::Job { id, audit_id } => (id, audit_id, None),
        CustomScheduled::Config(config) => (config.id, None, Some(config.id.to_string())),
    };
    Ok(Json(CustomJobResponse {
        job_id: job_id.to_string(),
        job_audit_id,
        job_config_id,
        agent_id: agent,
        job_type_name: job_type,
        schedule: schedule_body,
        job_fields: fields,
        request_timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
    }))
}

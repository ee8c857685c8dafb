//! `POST /KeyfactorAPI/OrchestratorJobs/Custom`: runs a custom job type a plugin declares
//! (a `custom` family operation). `JobFields` are the operation's params, validated
//! against the plugin's JSON Schema like job-config params. `Schedule.Immediate` enqueues
//! one job now; every other schedule (Interval, Daily, Weekly, Monthly, ExactlyOnce)
//! becomes a job config whose cron (UTC) fires the jobs.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{SecondsFormat, Utc};
use keywarden_db::{JobCondition, JobConfig, JobField, JobOrder, JobQuery, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::schedule::{self, Planned};
use crate::api::auth::Caller;
use crate::api::config_check::{check, check_schema};
use crate::api::extract::ApiJson;
use crate::api::keyfactor::error::{KeyfactorErrorBody, KeyfactorResult};
use crate::api::{ApiError, ApiResult, AppState};

/// Body of the Custom endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
pub struct CustomJobRequest {
    /// The custom job type: a `custom` operation a loaded plugin declares.
    #[serde(rename = "JobTypeName")]
    pub job_type_name: String,
    /// The node (orchestrator) to run on; any node when absent.
    #[serde(rename = "AgentId")]
    pub agent_id: Option<String>,
    /// Exactly one of `{"Immediate": true}`, `{"Interval": {"Minutes": 30}}`,
    /// `{"Daily": {"Time": "...Z"}}`, `{"Weekly": {"Days": ["Monday"], "Time": "...Z"}}`,
    /// `{"Monthly": {"Day": 1, "Time": "...Z"}}`, `{"ExactlyOnce": {"Time": "...Z"}}`.
    #[serde(rename = "Schedule")]
    #[schema(value_type = Object)]
    pub schedule: Value,
    /// The operation's params.
    #[serde(rename = "JobFields")]
    #[schema(value_type = Option<Object>)]
    pub job_fields: Option<Value>,
}

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

fn take_text(map: &mut Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::invalid(key, "must be a non-empty string")),
    }
}

/// The custom operation called `name`, or 422 naming JobTypeName.
fn custom_operation(state: &AppState, name: &str) -> ApiResult<Value> {
    let plugins = state.registry.plugins();
    let ops: Vec<_> = plugins
        .iter()
        .flat_map(|p| p.manifest.operations.iter())
        .collect();
    if let Some(op) = ops.iter().find(|o| o.name == name && o.family == "custom") {
        return Ok(op.params_schema.clone());
    }
    if let Some(op) = ops.iter().find(|o| o.name == name) {
        return Err(ApiError::unprocessable(
            "JobTypeName",
            format!(
                "{name:?} is a {} operation, not a custom job type",
                op.family
            ),
        ));
    }
    let mut custom: Vec<&str> = ops
        .iter()
        .filter(|o| o.family == "custom")
        .map(|o| o.name.as_str())
        .collect();
    custom.sort_unstable();
    custom.dedup();
    Err(ApiError::unprocessable(
        "JobTypeName",
        format!(
            "no loaded plugin declares the custom job type {name:?}; custom job types: {}",
            if custom.is_empty() {
                "none".to_owned()
            } else {
                custom.join(", ")
            }
        ),
    ))
}

/// The agent must be this node or a node that has run here (heartbeat), else its jobs
/// would wait forever.
async fn check_agent(state: &AppState, agent: &str) -> ApiResult<()> {
    if agent == state.node_id {
        return Ok(());
    }
    let nodes = state.db.list_nodes().await?;
    if nodes.iter().any(|n| n.id == agent) {
        return Ok(());
    }
    let mut known: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    known.push(&state.node_id);
    known.sort_unstable();
    known.dedup();
    Err(ApiError::unprocessable(
        "AgentId",
        format!(
            "no node (agent) {agent:?} has run here; known: {}",
            known.join(", ")
        ),
    ))
}

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Custom", tag = "keyfactor",
    request_body = CustomJobRequest,
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
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("the request body must be a JSON object").into());
    };
    let job_type = take_text(&mut map, "JobTypeName")?
        .ok_or_else(|| ApiError::invalid("JobTypeName", "is required"))?;
    let agent = take_text(&mut map, "AgentId")?;
    let schedule_body = map
        .remove("Schedule")
        .ok_or_else(|| ApiError::invalid("Schedule", "is required, e.g. {\"Immediate\": true}"))?;
    let fields = match map.remove("JobFields") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(ApiError::invalid("JobFields", "must be a JSON object").into()),
    };
    if let Some(key) = map.keys().next() {
        return Err(ApiError::invalid(key, "unknown field").into());
    }
    let now = Utc::now();
    let planned = schedule::plan(&schedule_body, now)?;
    let schema = custom_operation(&state, &job_type)?;
    check_schema(&schema, &fields, "JobFields")?;
    if let Some(a) = &agent {
        check_agent(&state, a).await?;
    }
    let run_on = agent.clone().unwrap_or_else(|| "any".to_owned());
    let (job_id, job_audit_id, job_config_id) = match planned {
        Planned::Immediate => {
            let job = NewJob {
                id: Uuid::now_v7(),
                account_id: caller.account.clone(),
                job_config_id: None,
                name: job_type.clone(),
                description: "Keyfactor custom job".to_owned(),
                operation: job_type.clone(),
                target: None,
                params: fields.clone(),
                run_on,
                max_attempts: 1,
                retry_backoff_secs: 60,
                scheduled_for: now,
                enqueued_at: now,
            };
            state.db.insert_jobs(std::slice::from_ref(&job)).await?;
            let query = JobQuery {
                account_id: Some(caller.account.clone()),
                condition: JobCondition::is(JobField::Id, &job.id.to_string()),
                order: vec![(JobOrder::Field(JobField::AuditId), false)],
            };
            let (_, found) = state.db.query_job_history(&query, 0, 1).await?;
            (job.id, found.first().map(|e| e.audit_id), None)
        }
        Planned::Recurring { run_at, start, end } => {
            let name = format!("keyfactor-custom-{job_type}-{}", Uuid::now_v7().simple());
            let mut config = JobConfig::new(&caller.account, &name, &job_type, &run_at, now);
            config.description = "Keyfactor custom job".to_owned();
            config.run_on = run_on;
            config.params = fields.clone();
            config.params_key = "params".to_owned();
            config.catch_up = "one".to_owned();
            config.start_date = start;
            config.end_date = end;
            config.next_fire_at = check(&config, &state.registry, now)?;
            let stored = state.db.insert_config(&config).await?;
            (stored.id, None, Some(stored.id.to_string()))
        }
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

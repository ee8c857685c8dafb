//! Discovery: `PUT /KeyfactorAPI/CertificateStores/DiscoveryJob` queues a Discovery job
//! for a store type on a machine (Keyfactor's fields `ClientMachine`, `AgentId`, `Type`,
//! `Dirs`, `Extensions`, `IgnoredDirs`, `NamePatterns`; lists as arrays or comma-separated
//! strings) and answers 204; `GET /KeyfactorAPI/CertificateStores/DiscoveredPaths` lists
//! the store files discovery jobs found.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use keywarden_db::{DiscoveredFilter, DiscoveredPath, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::kf_body::{self, Body};
use super::store_schedule::{self, KfSchedule};
use super::store_types;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{ApiJson, ApiQuery, text};
use crate::certificates::job_params::{Discovery, StoreJobParams, operation};

/// Body of the discovery request. Field names are case-insensitive.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryRequest {
    pub client_machine: String,
    /// The node to run on; any node when absent.
    pub agent_id: Option<String>,
    /// Store type id or name.
    #[schema(value_type = Object)]
    pub r#type: Value,
    /// Directories to search (as the plugin sees them): an array or comma-separated.
    #[schema(value_type = Object)]
    pub dirs: Value,
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub ignored_dirs: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub name_patterns: Option<Value>,
    /// Immediate (default) or ExactlyOnce.
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
}

fn list(body: &mut Body, key: &str, required: bool) -> ApiResult<Vec<String>> {
    let items: Vec<String> = match body.take(key) {
        None => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(str::trim).map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(|s| s.trim().to_owned()).ok_or_else(|| {
                    ApiError::invalid(
                        &format!("{key}[{i}]"),
                        format!("expected a string, got {v}"),
                    )
                })
            })
            .collect::<ApiResult<_>>()?,
        Some(other) => {
            return Err(ApiError::invalid(
                key,
                format!("expected an array or a comma-separated string, got {other}"),
            ));
        }
    };
    let items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
    if required && items.is_empty() {
        return Err(ApiError::invalid(key, "is required"));
    }
    Ok(items)
}

#[utoipa::path(put, path = "/KeyfactorAPI/CertificateStores/DiscoveryJob", tag = "keyfactor-certificate-stores",
    request_body = DiscoveryRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn discovery_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    let mut body = Body::new(body, "")?;
    let client_machine = body.required_text("ClientMachine")?;
    let agent = body.text("AgentId")?;
    let store_type = body
        .take("Type")
        .ok_or_else(|| ApiError::invalid("Type", "is required"))?;
    let store_type = store_types::resolve(&state.registry, "Type", &store_type)?;
    if store_types::plugin_for(&state.registry, operation::DISCOVERY, &store_type).is_none() {
        return Err(ApiError::unprocessable(
            "Type",
            format!("no loaded plugin provides Discovery for store type {store_type}"),
        ));
    }
    let directories = list(&mut body, "Dirs", true)?;
    let extensions = list(&mut body, "Extensions", false)?;
    let ignored_directories = list(&mut body, "IgnoredDirs", false)?;
    let patterns = list(&mut body, "NamePatterns", false)?;
    let now = Utc::now();
    let at = match body
        .take("Schedule")
        .map(|s| store_schedule::parse(s, "Schedule"))
        .transpose()?
    {
        None | Some(KfSchedule::Immediate) => now,
        Some(KfSchedule::ExactlyOnce(at)) => at.max(now),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "Schedule",
                "discovery jobs run once: give Immediate or ExactlyOnce",
            ));
        }
    };
    body.ignore(&[
        "JobExecutionTimestamp",
        "KeyfactorSchedule",
        "SymLinks",
        "Compatibility",
        "UseSudo",
    ]);
    body.finish()?;
    let params = StoreJobParams {
        discovery: Some(Discovery {
            store_type: store_type.clone(),
            client_machine: client_machine.clone(),
            directories,
            extensions,
            ignored_directories,
            patterns,
        }),
        ..Default::default()
    };
    let job = NewJob {
        id: uuid::Uuid::now_v7(),
        account_id: caller.account.clone(),
        job_config_id: None,
        name: format!("Discovery {store_type} on {client_machine}"),
        description: String::new(),
        operation: operation::DISCOVERY.to_owned(),
        target: Some(store_type),
        params: params.to_value(),
        run_on: agent.unwrap_or_else(|| "any".to_owned()),
        max_attempts: 1,
        retry_backoff_secs: 60,
        scheduled_for: at,
        enqueued_at: now,
    };
    state.db.insert_jobs(std::slice::from_ref(&job)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A store file a discovery found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveredPathView {
    pub client_machine: String,
    pub cert_store_type: Option<i64>,
    pub cert_store_type_name: String,
    pub storepath: String,
    pub job_id: Option<String>,
    pub discovered_at: String,
}

impl From<&DiscoveredPath> for DiscoveredPathView {
    fn from(p: &DiscoveredPath) -> Self {
        DiscoveredPathView {
            client_machine: p.client_machine.clone(),
            cert_store_type: store_types::keyfactor_id(&p.store_type),
            cert_store_type_name: p.store_type.clone(),
            storepath: p.path.clone(),
            job_id: p.job_id.map(|id| id.to_string()),
            discovered_at: kf_body::time(p.discovered_at),
        }
    }
}

/// Query parameters of the discovered-paths listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[into_params(rename_all = "PascalCase")]
pub struct DiscoveredQuery {
    pub client_machine: Option<String>,
    /// Store type name (`PEM`, ...).
    pub cert_store_type: Option<String>,
    pub page_returned: Option<String>,
    pub return_limit: Option<String>,
}

#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/DiscoveredPaths", tag = "keyfactor-certificate-stores",
    params(DiscoveredQuery),
    responses((status = 200, body = Vec<DiscoveredPathView>,
        headers(("x-total-count" = i64, description = "Paths matching the filters"))),
        (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn discovered_paths(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<DiscoveredQuery>,
) -> ApiResult<Response> {
    let paging = kf_body::paging(
        q.page_returned.as_deref(),
        q.return_limit.as_deref(),
        None,
        None,
        |_| None,
    )?;
    let filter = DiscoveredFilter {
        account_id: caller.scope().map(str::to_owned),
        store_type: text(q.cert_store_type).map(|t| crate::certificates::canonical_store_type(&t)),
        client_machine: text(q.client_machine),
    };
    let (total, rows) = state
        .db
        .list_discovered_paths(&filter, paging.skip, paging.limit)
        .await?;
    Ok(kf_body::counted(
        total,
        rows.iter().map(DiscoveredPathView::from).collect(),
    ))
}

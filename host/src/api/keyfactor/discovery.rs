//! Discovery: `PUT /KeyfactorAPI/CertificateStores/DiscoveryJob` queues a Discovery job
//! for a store type on a machine (Keyfactor's fields `ClientMachine`, `AgentId`, `Type`,
//! `Dirs`, `Extensions`, `IgnoredDirs`, `NamePatterns`; lists as arrays or comma-separated
//! strings) and answers 204; `GET /KeyfactorAPI/CertificateStores/DiscoveredPaths` lists
//! the store files discovery jobs found.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keywarden_db::{DiscoveredFilter, DiscoveredPath};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names, Params};
use super::store_types;
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, ApiResult, AppState};
use crate::certificates::job_params::Discovery;
use crate::domain::Caller;
use crate::domain::certificate_stores::DiscoverySpec;

const NAMES: Names = Names {
    store_type: "Type",
    ..Names::DEFAULT
};

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
    responses((status = 204), (status = 400, body = KeyfactorErrorBody), (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn discovery_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let mut body = Body::new(body, "")?;
    let client_machine = body.required_text("ClientMachine")?;
    let agent = body.text("AgentId")?;
    let store_type = body
        .take("Type")
        .ok_or_else(|| ApiError::invalid("Type", "is required"))?;
    let store_type = store_types::name_of("Type", &store_type)?;
    let directories = list(&mut body, "Dirs", true)?;
    let extensions = list(&mut body, "Extensions", false)?;
    let ignored_directories = list(&mut body, "IgnoredDirs", false)?;
    let patterns = list(&mut body, "NamePatterns", false)?;
    let schedule = match body
        .take("Schedule")
        .map(|s| kit::schedule::parse(s, "Schedule"))
        .transpose()?
    {
        Some(None) => {
            return Err(ApiError::unprocessable(
                "Schedule",
                "discovery jobs run once: give Immediate or ExactlyOnce",
            )
            .into());
        }
        Some(Some(s)) => Some(s),
        None => None,
    };
    body.ignore(&[
        "JobExecutionTimestamp",
        "KeyfactorSchedule",
        "SymLinks",
        "Compatibility",
        "UseSudo",
    ]);
    body.finish()?;
    let spec = DiscoverySpec {
        discovery: Discovery {
            store_type,
            client_machine,
            directories,
            extensions,
            ignored_directories,
            patterns,
        },
        agent,
    };
    state
        .service
        .discover(&caller, spec, schedule)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
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
            discovered_at: kit::time(p.discovered_at),
        }
    }
}

#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/DiscoveredPaths", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = Vec<DiscoveredPathView>,
        headers(("x-total-count" = i64, description = "Paths matching the filters"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn discovered_paths(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(|_| None::<()>, "none")?;
    let filter = DiscoveredFilter {
        account_id: None,
        store_type: q.take("CertStoreType"),
        client_machine: q.take("ClientMachine"),
    };
    q.finish()?;
    let (total, rows) = state
        .service
        .discovered_paths(&caller, filter, paging.skip, paging.limit)
        .await?;
    Ok(kit::counted(
        total,
        rows.iter().map(DiscoveredPathView::from).collect(),
    ))
}

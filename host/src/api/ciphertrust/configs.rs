//! `/api/v1/scheduler/job-configs`: create, list, show, patch, delete and run-now.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keywarden_db::{ConfigFilter, Sort};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use uuid::Uuid;

use super::config_input::{Fields, apply, params_keys};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{self, ApiJson, ApiQuery, text};
use super::views::{JobConfigView, Page};
use crate::api::AppState;
use crate::domain::Caller;
use crate::domain::configs::{ConfigSpec, ParamsEdit, ScheduleSpec};
use crate::domain::dry_run::RunNow;

/// Query parameters of `GET /job-configs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigListQuery {
    pub skip: Option<String>,
    pub limit: Option<String>,
    /// Comma-separated fields, `-` prefix for descending (e.g. `name,-createdAt`).
    pub sort: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    pub operation: Option<String>,
    pub disabled: Option<String>,
    pub cloud_name: Option<String>,
    pub expire_in: Option<String>,
    #[serde(rename = "createdBefore", alias = "created_before")]
    pub created_before: Option<String>,
    #[serde(rename = "createdAfter", alias = "created_after")]
    pub created_after: Option<String>,
}

/// Answer of run-now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunNowResponse {
    pub job_id: String,
    pub job_config_id: String,
}

fn config_id(raw: &str) -> ApiResult<Uuid> {
    extract::path_id(raw, "job config")
}

#[utoipa::path(post, path = "/api/v1/scheduler/job-configs", tag = "job-configs",
    responses((status = 201, body = JobConfigView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<JobConfigView>)> {
    let mut spec = ConfigSpec::new(
        "",
        "",
        ScheduleSpec::Cron {
            run_at: String::new(),
            timezone: None,
        },
    );
    let applied = apply(&mut spec, Fields::new(body)?, true, "")?;
    let (key, value) = applied
        .params
        .unwrap_or_else(|| (params_keys(&spec.operation)[0].clone(), Value::Null));
    spec.params_key = key;
    spec.params = if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    };
    let key = spec.params_key.clone();
    let stored = state
        .service
        .create_config(&caller, spec)
        .await
        .map_err(|e| ApiError::domain(e, &key))?;
    Ok((StatusCode::CREATED, Json(JobConfigView::from(&stored))))
}

#[utoipa::path(get, path = "/api/v1/scheduler/job-configs", tag = "job-configs",
    responses((status = 200, body = Page<JobConfigView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<ConfigListQuery>,
) -> ApiResult<Json<Page<JobConfigView>>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let filter = ConfigFilter {
        account_id: None,
        name: text(q.name),
        id: extract::uuid_param("id", q.id.as_deref())?,
        operation: text(q.operation),
        disabled: extract::boolean("disabled", q.disabled.as_deref())?,
        cloud_name: text(q.cloud_name),
        expire_in: text(q.expire_in),
        created_before: extract::timestamp("createdBefore", q.created_before.as_deref())?,
        created_after: extract::timestamp("createdAfter", q.created_after.as_deref())?,
        count_bound: None, // the domain service sets its bound
    };
    let sort = Sort::parse(q.sort.as_deref().unwrap_or(""));
    let (total, rows) = state
        .service
        .configs(&caller, filter, &sort, skip, limit)
        .await?;
    Ok(Json(Page::new(
        skip,
        limit,
        total,
        rows.iter().map(JobConfigView::from).collect(),
    )))
}

#[utoipa::path(get, path = "/api/v1/scheduler/job-configs/{id}", tag = "job-configs",
    responses((status = 200, body = JobConfigView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobConfigView>> {
    let config = state.service.config(&caller, config_id(&id)?).await?;
    Ok(Json(JobConfigView::from(&config)))
}

/// Top-level fields replace. Without `operation`, the params object is merged into the
/// config's key by key (JSON merge patch, `null` deletes a key) and re-validated: params
/// that no longer fit the config's operation are a 409. With `operation`, the params are
/// given whole (`{}` when absent). Schedule changes recompute the next fire.
#[utoipa::path(patch, path = "/api/v1/scheduler/job-configs/{id}", tag = "job-configs",
    responses((status = 200, body = JobConfigView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<JobConfigView>> {
    let id = config_id(&id)?;
    let before = state.service.config(&caller, id).await?;
    let mut spec = ConfigSpec::from(&before);
    let applied = apply(&mut spec, Fields::new(body)?, false, &before.run_at)?;
    let edit = match (applied.operation_given, applied.params) {
        (true, given) => {
            let (key, params) =
                given.unwrap_or_else(|| (params_keys(&spec.operation)[0].clone(), Value::Null));
            spec.params_key = key;
            ParamsEdit::Replace(params)
        }
        (false, Some((key, patch))) => {
            spec.params_key = key;
            ParamsEdit::Merge(patch)
        }
        (false, None) => ParamsEdit::Keep,
    };
    let key = spec.params_key.clone();
    let stored = state
        .service
        .update_config(&caller, id, spec, edit)
        .await
        .map_err(|e| ApiError::domain(e, &key))?;
    Ok(Json(JobConfigView::from(&stored)))
}

#[utoipa::path(delete, path = "/api/v1/scheduler/job-configs/{id}", tag = "job-configs",
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_config(&caller, config_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query parameters of run-now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunNowQuery {
    /// `true`: wait for the config's (and its account's) maintenance windows.
    pub respect_windows: Option<String>,
    /// `true`: only report what the job would change (422 when its plugin cannot).
    pub dry_run: Option<String>,
}

/// Enqueues one job of the config, due now, whatever its schedule or `disabled` flag
/// (with `respect_windows=true`, due when its windows next allow; with `dry_run=true`, a
/// job that only reports what it would change).
#[utoipa::path(post, path = "/api/v1/scheduler/job-configs/{id}/run-now", tag = "job-configs",
    responses((status = 201, body = RunNowResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn run_now(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RunNowQuery>,
) -> ApiResult<(StatusCode, Json<RunNowResponse>)> {
    let how = RunNow {
        respect_windows: extract::boolean("respect_windows", q.respect_windows.as_deref())?
            .unwrap_or(false),
        dry_run: extract::boolean("dry_run", q.dry_run.as_deref())?.unwrap_or(false),
    };
    let (job_id, config) = state.service.run_now(&caller, config_id(&id)?, how).await?;
    Ok((
        StatusCode::CREATED,
        Json(RunNowResponse {
            job_id: job_id.to_string(),
            job_config_id: config.id.to_string(),
        }),
    ))
}

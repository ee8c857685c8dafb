//! `/api/v1/scheduler/jobs`: the runs, with their outcome, progress and logs.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use keywarden_db::{JobCountFilter, JobFilter, JobStatus, Sort};
use serde::Deserialize;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{self, ApiQuery, text};
use super::views::{JobCountView, JobView, Page, account_name};
use crate::api::AppState;
use crate::domain::Caller;

/// Query parameters of `GET /jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobListQuery {
    pub skip: Option<String>,
    pub limit: Option<String>,
    /// Comma-separated fields, `-` prefix for descending (e.g. `-createdAt`).
    pub sort: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// Account name or account URI; other accounts are visible to admins only.
    pub account: Option<String>,
    pub job_config_id: Option<String>,
    pub operation: Option<String>,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: Option<String>,
    #[serde(rename = "createdBefore", alias = "created_before")]
    pub created_before: Option<String>,
    #[serde(rename = "createdAfter", alias = "created_after")]
    pub created_after: Option<String>,
    /// Jobs that changed (were created, claimed, progressed or finished) at or after
    /// this time.
    #[serde(rename = "updatedAfter", alias = "updated_after")]
    pub updated_after: Option<String>,
    pub processing_node: Option<String>,
    /// `params`, `logs` or both (comma-separated): listings leave each job's params and
    /// logs out unless asked; `GET /jobs/{id}` always has them.
    pub include: Option<String>,
}

/// What `include` asks for, beyond the listed columns.
#[derive(Debug, Default, Clone, Copy)]
struct Include {
    params: bool,
    logs: bool,
}

impl Include {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut out = Self::default();
        for part in raw.unwrap_or("").split(',').map(str::trim) {
            match part {
                "" => {}
                "params" => out.params = true,
                "logs" => out.logs = true,
                other => {
                    return Err(ApiError::invalid(
                        "include",
                        format!("expected params or logs (comma-separated), got {other:?}"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[utoipa::path(get, path = "/api/v1/scheduler/jobs", tag = "jobs",
    responses((status = 200, body = Page<JobView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<JobListQuery>,
) -> ApiResult<Json<Page<JobView>>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let include = Include::parse(q.include.as_deref())?;
    let wanted_status = text(q.status)
        .map(|s| s.parse::<JobStatus>())
        .transpose()
        .map_err(|e| ApiError::invalid("status", e))?;
    let filter = JobFilter {
        id: extract::uuid_param("id", q.id.as_deref())?,
        name: text(q.name),
        account_id: text(q.account).map(|a| account_name(&a).to_owned()),
        job_config_id: extract::uuid_param("job_config_id", q.job_config_id.as_deref())?,
        operation: text(q.operation),
        status: wanted_status,
        created_before: extract::timestamp("createdBefore", q.created_before.as_deref())?,
        created_after: extract::timestamp("createdAfter", q.created_after.as_deref())?,
        updated_after: extract::timestamp("updatedAfter", q.updated_after.as_deref())?,
        processing_node: text(q.processing_node),
        omit_params: !include.params,
        omit_logs: !include.logs,
        count_bound: None, // the domain service sets its bound
    };
    let sort = Sort::parse(q.sort.as_deref().unwrap_or(""));
    let (total, rows) = state
        .service
        .jobs(&caller, filter, &sort, skip, limit)
        .await?;
    Ok(Json(Page::new(
        skip,
        limit,
        total,
        rows.iter()
            .map(|j| JobView::listed(j, include.params, include.logs))
            .collect(),
    )))
}

/// Query parameters of `GET /jobs/counts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobCountQuery {
    pub skip: Option<String>,
    pub limit: Option<String>,
    /// Account name or account URI; other accounts are visible to admins only.
    pub account: Option<String>,
    pub job_config_id: Option<String>,
    pub operation: Option<String>,
    /// First UTC day counted (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Last UTC day counted (`YYYY-MM-DD`).
    pub to: Option<String>,
}

/// Finished jobs counted per UTC day, config, operation, status and result: jobs still
/// stored and jobs the retention purge deleted alike, so the numbers do not change when
/// old jobs go.
#[utoipa::path(get, path = "/api/v1/scheduler/jobs/counts", tag = "jobs",
    responses((status = 200, body = Page<JobCountView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn counts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<JobCountQuery>,
) -> ApiResult<Json<Page<JobCountView>>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let filter = JobCountFilter {
        account_id: text(q.account).map(|a| account_name(&a).to_owned()),
        job_config_id: extract::uuid_param("job_config_id", q.job_config_id.as_deref())?,
        operation: text(q.operation),
        from: extract::date("from", q.from.as_deref())?,
        to: extract::date("to", q.to.as_deref())?,
    };
    let (total, rows) = state
        .service
        .job_counts(&caller, filter, skip, limit)
        .await?;
    Ok(Json(Page::new(
        skip,
        limit,
        total,
        rows.iter().map(JobCountView::from).collect(),
    )))
}

#[utoipa::path(get, path = "/api/v1/scheduler/jobs/{id}", tag = "jobs",
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = state
        .service
        .job(&caller, extract::path_id(&id, "job")?)
        .await?;
    Ok(Json(JobView::from(&job)))
}

/// Deletes a finished or queued job; a running one is refused (409) because its node
/// would lose track of it.
#[utoipa::path(delete, path = "/api/v1/scheduler/jobs/{id}", tag = "jobs",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_job(&caller, extract::path_id(&id, "job")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs an ended job again: a new job with the same operation, params, target and
/// config, in the job's account. 409 while the job is queued or running.
#[utoipa::path(post, path = "/api/v1/scheduler/jobs/{id}/retry", tag = "jobs",
    responses((status = 201, body = JobView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let job = state
        .service
        .retry_job(&caller, extract::path_id(&id, "job")?)
        .await?;
    Ok((StatusCode::CREATED, Json(JobView::from(&job))))
}

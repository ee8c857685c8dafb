//! Live job streams as server-sent events: one job's progress, logs and end
//! (`/scheduler/jobs/{id}/events`), and every job change the caller can see
//! (`/scheduler/events`). The domain decides what a caller may follow and what
//! happened; this module only renders it.
//!
//! Browsers' `EventSource` cannot send an `Authorization` header; clients read the
//! stream with `fetch` instead. Tokens never go in the URL (it ends up in logs).

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use keywarden_db::JobFilter;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiResult, ErrorBody};
use super::extract::{self, ApiQuery, text};
use super::views::{JobView, account_name};
use crate::api::AppState;
use crate::domain::Caller;
use crate::domain::job_events::JobUpdate;

/// Comments sent while nothing happens, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Follows one job: `job` (its record without params and logs: first, then on each
/// change of status or attempt), `progress` (`{"done","total"}`), `log` (a line as the
/// plugin wrote it; lines from before the stream opened come first) and `end` (the final
/// record with its logs; the stream then closes). A job that already ended answers
/// `job`, its stored `log` lines and `end` at once.
#[utoipa::path(get, path = "/api/v1/scheduler/jobs/{id}/events", tag = "jobs",
    responses(
        (status = 200, description = "Server-sent events: job, progress, log, end", content_type = "text/event-stream", body = String),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let updates = state
        .service
        .watch_job(&caller, extract::path_id(&id, "job")?)
        .await?;
    Ok(Sse::new(updates.map(|u| Ok(render(u)))).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn render(update: JobUpdate) -> Event {
    let (name, data) = match update {
        JobUpdate::Job(job) => ("job", json!(JobView::listed(&job, false, false))),
        JobUpdate::Progress { done, total } => ("progress", json!({"done": done, "total": total})),
        JobUpdate::Log(line) => ("log", json!(line)),
        JobUpdate::End(job) => ("end", json!(JobView::listed(&job, false, true))),
    };
    Event::default().event(name).data(data.to_string())
}

/// Query parameters of `GET /scheduler/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Account name or URI (admins; others always follow their own account).
    pub account: Option<String>,
    pub job_config_id: Option<String>,
    pub operation: Option<String>,
}

/// Every change of the jobs the caller can see, from the moment of the request: one
/// `job` event (the job's record without params and logs) each time a job is created,
/// claimed, reports progress or ends. The stream stays open until the client closes it.
#[utoipa::path(get, path = "/api/v1/scheduler/events", tag = "jobs",
    responses(
        (status = 200, description = "Server-sent events: job", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let filter = JobFilter {
        account_id: text(q.account).map(|a| account_name(&a).to_owned()),
        job_config_id: extract::uuid_param("job_config_id", q.job_config_id.as_deref())?,
        operation: text(q.operation),
        ..Default::default()
    };
    let changes = state.service.watch_jobs(&caller, filter)?.map(|job| {
        Ok(Event::default()
            .event("job")
            .data(json!(JobView::listed(&job, false, false)).to_string()))
    });
    Ok(Sse::new(changes).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

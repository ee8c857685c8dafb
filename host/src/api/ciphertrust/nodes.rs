//! `GET /api/v1/nodes`: the processes that run jobs, with their version, start, last
//! heartbeat, running jobs and whether they are alive (the domain's rule).

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{self, ApiQuery};
use super::views::{Page, time};
use crate::api::AppState;
use crate::domain::Caller;
use crate::domain::nodes::NodeStatus;

/// Query of `GET /api/v1/nodes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeListQuery {
    pub skip: Option<String>,
    pub limit: Option<String>,
}

/// One node.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// The node id (`--node-id`; what `run_on` names).
    pub id: String,
    /// The Keywarden version its latest process runs (empty if it never said).
    pub version: String,
    /// When its latest process started.
    pub started_at: String,
    /// Its latest heartbeat.
    pub last_seen_at: String,
    /// Jobs running on it now: the caller's account's (every account's for admins).
    pub running_jobs: i64,
    /// Seen within its last three heartbeat intervals.
    pub alive: bool,
}

impl From<&NodeStatus> for NodeView {
    fn from(s: &NodeStatus) -> Self {
        NodeView {
            id: s.node.id.clone(),
            version: s.node.version.clone(),
            started_at: time(s.node.started_at),
            last_seen_at: time(s.node.last_seen_at),
            running_jobs: s.running_jobs,
            alive: s.alive,
        }
    }
}

/// The nodes that ever ran here, by id.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes",
    responses((status = 200, body = Page<NodeView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<NodeListQuery>,
) -> ApiResult<Json<Page<NodeView>>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let (total, nodes) = state.service.nodes(&caller, skip, limit).await?;
    Ok(Json(Page::new(
        skip,
        limit,
        total,
        nodes.iter().map(NodeView::from).collect(),
    )))
}

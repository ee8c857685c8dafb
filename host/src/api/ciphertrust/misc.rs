//! Small endpoints: health and the plugin listing.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use crate::api::AppState;
use crate::domain::Caller;

/// Answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// This node's id.
    pub node: String,
    /// Loaded (ready) plugins.
    pub plugins: usize,
}

/// Liveness probe; needs no token so load balancers can call it.
#[utoipa::path(get, path = "/healthz", tag = "server", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        node: state.service.node_id().to_owned(),
        plugins: state.service.loaded_plugins(),
    })
}

/// Every file of the plugins folder: loaded ones with their manifest (operations, params
/// schemas, requested capabilities), failed ones with the reason. An account's token sees
/// only the loaded plugins its account may use.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<Object>)),
    security(("bearer" = [])))]
pub async fn plugins(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    serde_json::to_value(state.service.plugins(&caller))
        .map(Json)
        .map_err(|e| ApiError::internal("listing plugins", e))
}

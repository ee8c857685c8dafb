//! Small endpoints: health, plugin listing and token issuing.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
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
/// schemas, requested capabilities), failed ones with the reason.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<Object>)),
    security(("bearer" = [])))]
pub async fn plugins(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    serde_json::to_value(state.service.plugins())
        .map(Json)
        .map_err(|e| ApiError::internal("listing plugins", e))
}

/// Body of `POST /api/v1/tokens` (its schema is in the contract).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The account the token acts as (created on first use).
    pub account: String,
    /// What the token is for.
    #[serde(default)]
    pub label: String,
    /// Whether the token may act on every account.
    #[serde(default)]
    pub admin: bool,
}

/// A newly issued token; the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub id: String,
    pub account: String,
    pub label: String,
    pub admin: bool,
    /// The bearer token. Store it now: the server keeps only its hash.
    pub token: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 201, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let (stored, token) = state
        .service
        .issue_token(&caller, &body.account, &body.label, body.admin)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            id: stored.id,
            account: stored.account_id,
            label: stored.label,
            admin: stored.is_admin,
            token,
            created_at: stored
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }),
    ))
}

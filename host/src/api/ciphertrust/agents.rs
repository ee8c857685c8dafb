//! `/api/v1/agents/registration-credentials`: the credentials agents present at their
//! first registration (admins only; the secret is shown once).

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::extract::ApiJson;
use crate::api::{ApiResult, AppState};
use crate::domain::Caller;

/// Body of `POST /api/v1/agents/registration-credentials` (its schema is in the contract).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// What agents send as the basic-auth user name; unique across accounts.
    pub username: String,
    /// The account agents registering with it join; the caller's by default.
    #[serde(default)]
    pub account: Option<String>,
    /// Only an agent on this machine may register with it.
    #[serde(default)]
    pub client_machine: Option<String>,
}

/// A new registration credential; the password is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialResponse {
    pub username: String,
    pub account: String,
    pub client_machine: Option<String>,
    /// Store it now: the server keeps only its hash.
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/agents/registration-credentials", tag = "agents",
    responses((status = 201, body = CredentialResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_credential(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CredentialRequest>,
) -> ApiResult<(StatusCode, Json<CredentialResponse>)> {
    let created = state
        .service
        .create_registration_credential(
            &caller,
            &body.username,
            body.account.as_deref(),
            body.client_machine.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CredentialResponse {
            username: created.username,
            account: created.account,
            client_machine: created.client_machine,
            password: created.password,
        }),
    ))
}

/// Revokes a registration credential: no agent registers with it any more.
#[utoipa::path(delete, path = "/api/v1/agents/registration-credentials/{username}", tag = "agents",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_credential(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_registration_credential(&caller, &username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

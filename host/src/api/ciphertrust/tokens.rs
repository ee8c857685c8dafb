//! `/api/v1/tokens` (issue, list, revoke; admins only) and `/api/v1/audit` (the audit
//! log; admins only).

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::SecondsFormat;
use keywarden_db::{ApiToken, AuditEntry, AuditFilter, TokenRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{self, ApiJson, ApiQuery, text};
use super::views::account_name;
use crate::api::AppState;
use crate::domain::Caller;
use crate::domain::tokens::TokenSpec;

/// Largest page of the audit log.
const MAX_AUDIT_PAGE: i64 = 1000;

/// Body of `POST /api/v1/tokens` (its schema is in the contract).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The account the token acts as (created on first use).
    pub account: String,
    /// What the token is for.
    #[serde(default)]
    pub label: String,
    /// `read-only`, `operator` (the default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// The older way to ask for `role: admin`.
    #[serde(default)]
    pub admin: bool,
    /// RFC 3339 instant from which the token stops working (default: never).
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub account: String,
    pub label: String,
    /// `read-only`, `operator` or `admin`.
    pub role: String,
    pub admin: bool,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Usable now: neither revoked nor expired.
    pub active: bool,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        let time =
            |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(SecondsFormat::Micros, true);
        Self {
            id: t.id.clone(),
            account: t.account_id.clone(),
            label: t.label.clone(),
            role: t.role.to_string(),
            admin: t.is_admin,
            created_at: time(t.created_at),
            expires_at: t.expires_at.map(time),
            revoked_at: t.revoked_at.map(time),
            active: t.usable_at(chrono::Utc::now()),
        }
    }
}

/// A newly issued token; the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    #[serde(flatten)]
    pub view: TokenView,
    /// The bearer token. Store it now: the server keeps only its hash.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 201, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<TokenResponse>)> {
    let role = match (text(body.role), body.admin) {
        (None, admin) => {
            if admin {
                TokenRole::Admin
            } else {
                TokenRole::Operator
            }
        }
        (Some(word), admin) => {
            let role = word
                .parse::<TokenRole>()
                .map_err(|e| ApiError::invalid("role", e))?;
            if admin && role != TokenRole::Admin {
                return Err(ApiError::invalid(
                    "admin",
                    format!("admin: true contradicts role {role:?}; give one of them"),
                ));
            }
            role
        }
    };
    if body
        .expires_at
        .as_deref()
        .is_some_and(|at| at.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "expires_at",
            "give an RFC 3339 instant, or leave it out for a token that does not expire",
        ));
    }
    let expires_at = extract::timestamp("expires_at", body.expires_at.as_deref())?;
    let (stored, token) = state
        .service
        .issue_token(
            &caller,
            TokenSpec {
                account: body.account,
                label: body.label,
                role,
                expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            view: TokenView::from(&stored),
            token,
        }),
    ))
}

/// Query of `GET /api/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenListQuery {
    /// Only this account's tokens (name or account URI).
    pub account: Option<String>,
}

/// Tokens, without their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub total: usize,
    pub resources: Vec<TokenView>,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<TokenListQuery>,
) -> ApiResult<Json<TokenList>> {
    let account = text(q.account).map(|a| account_name(&a).to_owned());
    let tokens = state.service.tokens(&caller, account.as_deref()).await?;
    Ok(Json(TokenList {
        total: tokens.len(),
        resources: tokens.iter().map(TokenView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.revoke_token(&caller, id.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub account: Option<String>,
    pub token_id: Option<String>,
    /// Entries whose action starts with this (`POST`, `job failed`, `token`).
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Entries after this sequence number (the last `seq` of the previous page).
    pub after_seq: Option<String>,
    pub limit: Option<String>,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub account: String,
    pub token_id: Option<String>,
    pub action: String,
    pub target: String,
    pub result: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.entry.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            account: e.entry.account_id.clone(),
            token_id: e.entry.token_id.clone(),
            action: e.entry.action.clone(),
            target: e.entry.target.clone(),
            result: e.entry.result.clone(),
            detail: e.entry.detail.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// A page of the audit log, in chain order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries matching the filter (all pages).
    pub total: i64,
    /// Whether the entries of this page and the one before each hold their hashes, and
    /// each links to the one before it when they are consecutive.
    pub chain_intact: bool,
    pub resources: Vec<AuditView>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let (_, limit) = extract::paging(None, q.limit.as_deref())?;
    let after_seq =
        match text(q.after_seq) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::invalid("after_seq", "expected a whole number, 0 or more")
            })?),
        };
    let filter = AuditFilter {
        account_id: text(q.account).map(|a| account_name(&a).to_owned()),
        token_id: text(q.token_id),
        action_prefix: text(q.action),
        since: extract::timestamp("since", q.since.as_deref())?,
        until: extract::timestamp("until", q.until.as_deref())?,
        after_seq,
    };
    let (total, entries, chain_intact) = state
        .service
        .audit_log(&caller, filter, limit.min(MAX_AUDIT_PAGE))
        .await?;
    Ok(Json(AuditPage {
        total,
        chain_intact,
        resources: entries.iter().map(AuditView::from).collect(),
    }))
}

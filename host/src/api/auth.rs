//! Bearer-token authentication.
//!
//! Tokens are 32 random bytes from the OS, shown to the caller once; the store keeps only
//! their SHA-256, so a database leak yields no usable token. The middleware runs in front
//! of every `/api` route, so a new endpoint cannot forget to check.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// Who is calling: set by [`require_token`] as a request extension.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the token acts as.
    pub account: String,
    /// Admins see and act on every account.
    pub admin: bool,
}

impl Caller {
    /// The account restriction for store lookups: `None` (all accounts) for admins.
    pub fn scope(&self) -> Option<&str> {
        (!self.admin).then_some(self.account.as_str())
    }
}

/// A fresh token secret: `kw_` + 32 random bytes in base64url (no padding).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "kw_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Lower-case hex SHA-256 of a token secret, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Middleware: rejects requests without a valid `Authorization: Bearer` token (401) and
/// records the [`Caller`] for the handlers.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token> header"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "expected Authorization: Bearer <token>",
            ));
        }
    };
    if token.is_empty() {
        return Err(ApiError::unauthorized("empty bearer token"));
    }
    let found = state.db.find_token_by_hash(&hash_token(token)).await?;
    let token = found.ok_or_else(|| ApiError::unauthorized("invalid bearer token"))?;
    request.extensions_mut().insert(Caller {
        account: token.account_id,
        admin: token.is_admin,
    });
    Ok(next.run(request).await)
}

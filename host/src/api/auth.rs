//! Bearer-token authentication, in front of every route of both dialects (so a new
//! endpoint cannot forget it). The token is looked up through the domain service; the
//! [`Caller`] it stands for is handed to the handlers as a request extension. Each dialect
//! answers a missing or bad token with its own error body.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::ciphertrust::error::ApiError;
use crate::domain::Caller;

/// Why a request is not authenticated.
enum Refused {
    /// 401 with this message.
    Unauthorized(&'static str),
    /// The lookup failed (database down).
    Failed(crate::domain::DomainError),
}

/// The bearer token of a request.
fn token_of(request: &Request) -> Result<String, Refused> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(Refused::Unauthorized(
            "missing Authorization: Bearer <token> header",
        ))?;
    let value = header
        .to_str()
        .map_err(|_| Refused::Unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Ok(rest.trim().to_owned()),
        _ => Err(Refused::Unauthorized(
            "expected Authorization: Bearer <token>",
        )),
    }
}

async fn authenticate(state: &AppState, token: &str) -> Result<Caller, Refused> {
    if token.is_empty() {
        return Err(Refused::Unauthorized("empty bearer token"));
    }
    state
        .service
        .authenticate(token)
        .await
        .map_err(Refused::Failed)?
        .ok_or(Refused::Unauthorized("invalid bearer token"))
}

/// The middleware, answering in the error body `E` of its dialect
/// (`from_fn_with_state(state, auth::require::<ApiError>)`).
pub async fn require<E>(State(state): State<AppState>, mut request: Request, next: Next) -> Response
where
    E: From<ApiError> + IntoResponse,
{
    let caller = match token_of(&request) {
        Ok(token) => authenticate(&state, &token).await,
        Err(e) => Err(e),
    };
    match caller {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(Refused::Unauthorized(why)) => E::from(ApiError::unauthorized(why)).into_response(),
        Err(Refused::Failed(e)) => E::from(ApiError::from(e)).into_response(),
    }
}

//! Bearer-token authentication, in front of every route of both dialects (so a new
//! endpoint cannot forget it). Here too, once for every route: a read-only token may only
//! make safe requests (GET, HEAD), and every other request is written to the audit log
//! with its route, path, caller and status. The token is looked up through the domain service; the
//! [`Caller`] it stands for is handed to the handlers as a request extension. Each dialect
//! answers a missing or bad token with its own error body.

use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keywarden_db::TokenRole;

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
            let method = request.method().clone();
            let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && caller.role == TokenRole::ReadOnly {
                return E::from(ApiError::forbidden(
                    "this token is read-only: it may only read (GET), not change anything",
                ))
                .into_response();
            }
            if safe {
                request.extensions_mut().insert(caller);
                return next.run(request).await;
            }
            // A request that may change something is audited with how it ended.
            let route = request.extensions().get::<MatchedPath>().map_or_else(
                || request.uri().path().to_owned(),
                |m| m.as_str().to_owned(),
            );
            // The whole path: nested routers see it without their prefix.
            let path = request
                .extensions()
                .get::<OriginalUri>()
                .map_or_else(|| request.uri().path().to_owned(), |u| u.path().to_owned());
            request.extensions_mut().insert(caller.clone());
            let response = next.run(request).await;
            if let Err(e) = state
                .service
                .audit_request(
                    &caller,
                    method.as_str(),
                    &route,
                    &path,
                    response.status().as_u16(),
                )
                .await
            {
                tracing::error!(%route, "appending the request to the audit log failed: {e}");
            }
            response
        }
        Err(Refused::Unauthorized(why)) => E::from(ApiError::unauthorized(why)).into_response(),
        Err(Refused::Failed(e)) => E::from(ApiError::from(e)).into_response(),
    }
}

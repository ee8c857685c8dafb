//! Request extractors whose failures are [`ApiError`]s, so malformed input gets the API's
//! JSON error shape and a 400 instead of axum's plain-text rejections (which would answer
//! 422 for a JSON type mismatch).

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;

/// A JSON request body; any parse or type error is a 400 naming the problem.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = crate::api::body::read_limited(req.into_body())
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "the request body is empty; expected a JSON object",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// Query parameters; unknown names and malformed values are a 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
            for (name, value) in pairs {
                crate::api::json::refuse_nul(&name, &value)?;
            }
        }
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Default page size of the list endpoints.
pub const DEFAULT_LIMIT: i64 = 10;
/// Largest page a list endpoint returns; larger `limit`s are reduced to it.
pub const MAX_LIMIT: i64 = 1000;

/// Parses `skip` and `limit` (defaults 0 and [`DEFAULT_LIMIT`], limit capped at [`MAX_LIMIT`]).
pub fn paging(skip: Option<&str>, limit: Option<&str>) -> Result<(i64, i64), ApiError> {
    let number = |name: &str, raw: Option<&str>, default: i64| -> Result<i64, ApiError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n),
                _ => Err(ApiError::invalid(
                    name,
                    format!("expected a non-negative integer, got {s:?}"),
                )),
            },
        }
    };
    let skip = number("skip", skip, 0)?;
    let limit = number("limit", limit, DEFAULT_LIMIT)?.min(MAX_LIMIT);
    Ok((skip, limit))
}

/// Parses an optional RFC 3339 timestamp parameter or field.
pub fn timestamp(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| {
                ApiError::invalid(
                    name,
                    format!(
                        "expected an RFC 3339 time such as 2024-05-01T12:00:00Z, got {s:?} ({e})"
                    ),
                )
            }),
    }
}

/// Parses an optional calendar-day query parameter: an RFC 3339 full date
/// (`YYYY-MM-DD`, zero-padded, as the contract's `format: date` says).
pub fn date(name: &str, raw: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let refuse = |why: String| {
        ApiError::invalid(
            name,
            format!("expected a day such as 2024-05-01, got {s:?}{why}"),
        )
    };
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(refuse(String::new()));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|e| refuse(format!(" ({e})")))
}

/// Parses an optional boolean query parameter (`true`/`false`).
pub fn boolean(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(s) => Err(ApiError::invalid(
            name,
            format!("expected true or false, got {s:?}"),
        )),
    }
}

/// Parses an optional UUID filter. A malformed id cannot match anything, but saying so is
/// more useful than an empty page.
pub fn uuid_param(name: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| ApiError::invalid(name, format!("expected a UUID, got {s:?}"))),
    }
}

/// A path id; a malformed one names no resource, hence 404 like an unknown one.
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::not_found(format!("no {what} with id {raw:?}")))
}

/// Non-empty trimmed text of an optional parameter.
pub fn text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

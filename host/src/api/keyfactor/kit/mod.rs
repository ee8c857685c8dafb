//! The Keyfactor dialect's kit, used by every `/KeyfactorAPI` endpoint: one body reader,
//! one query-parameter and paging reader, one schedule reader, one error body.

pub mod body;
pub mod error;
pub mod params;
pub mod schedule;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use keywarden_db::Total;
use serde::Serialize;

pub use body::Body;
pub use error::{KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names};
pub use params::{Paging, Params};

/// A JSON array with the total count in `x-total-count`, as Keyfactor lists answer.
pub fn counted<T: Serialize>(total: impl Into<Total>, items: Vec<T>) -> Response {
    (total_headers(total.into()), Json(items)).into_response()
}

/// `x-total-count: N`; when counting stopped at its bound, N is that bound and
/// `x-total-count-exact: false` says there are more (see [`Total`]).
pub fn total_headers(total: Total) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total.count));
    if !total.exact {
        headers.insert("x-total-count-exact", HeaderValue::from_static("false"));
    }
    headers
}

/// RFC 3339 with seconds, as Keyfactor shows times.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

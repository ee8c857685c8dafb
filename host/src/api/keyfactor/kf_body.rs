//! Reading Keyfactor-style request bodies and list parameters for the certificate store
//! endpoints.
//!
//! Keyfactor's API (a .NET service) matches JSON field names case-insensitively, and its
//! clients rely on that, so bodies are read field by field with case-insensitive names;
//! every mistake names its field in Keyfactor's spelling. Lists answer a JSON array with
//! the total in the `x-total-count` header, paged by `PageReturned` (1-based) and
//! `ReturnLimit`, sorted by `SortField` and `SortAscending` (0 ascending, 1 descending).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use keywarden_db::Sort;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};

/// A JSON object being consumed field by field; what is left at the end is unknown.
#[derive(Debug)]
pub struct Body {
    /// Lower-cased name → value.
    fields: Map<String, Value>,
    /// Lower-cased name → name as sent, for errors.
    sent: std::collections::HashMap<String, String>,
    prefix: String,
}

impl Body {
    /// The object `value`, with `prefix` (e.g. `Schedule.`) for the field names in errors.
    pub fn new(value: Value, prefix: &str) -> ApiResult<Self> {
        let Value::Object(map) = value else {
            let what = if prefix.is_empty() {
                "the request body".to_owned()
            } else {
                prefix.trim_end_matches('.').to_owned()
            };
            return Err(match prefix {
                "" => ApiError::bad_request(format!("{what} must be a JSON object")),
                _ => ApiError::invalid(&what, "must be a JSON object"),
            });
        };
        let mut fields = Map::new();
        let mut sent = std::collections::HashMap::new();
        for (key, value) in map {
            let lower = key.to_ascii_lowercase();
            if fields.contains_key(&lower) {
                return Err(ApiError::invalid(
                    &format!("{prefix}{key}"),
                    "given twice (names are case-insensitive)",
                ));
            }
            fields.insert(lower.clone(), value);
            sent.insert(lower, key);
        }
        Ok(Self {
            fields,
            sent,
            prefix: prefix.to_owned(),
        })
    }

    /// The field name as errors show it.
    pub fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Removes and returns a field; `null` counts as absent.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.fields
            .remove(&key.to_ascii_lowercase())
            .filter(|v| !v.is_null())
    }

    /// The first of `keys` present (aliases such as `Storepath` / `StorePath`).
    pub fn take_any(&mut self, keys: &[&str]) -> Option<Value> {
        let mut found = None;
        for key in keys {
            if let Some(v) = self.take(key) {
                found.get_or_insert(v);
            }
        }
        found
    }

    pub fn text(&mut self, key: &str) -> ApiResult<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            Some(other) => Err(ApiError::invalid(
                &self.name(key),
                format!("expected a string, got {other}"),
            )),
        }
    }

    pub fn required_text(&mut self, key: &str) -> ApiResult<String> {
        self.text(key)?
            .ok_or_else(|| ApiError::invalid(&self.name(key), "is required"))
    }

    pub fn boolean(&mut self, key: &str) -> ApiResult<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(ApiError::invalid(
                &self.name(key),
                format!("expected true or false, got {other}"),
            )),
        }
    }

    pub fn integer(&mut self, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    &self.name(key),
                    format!("expected an integer from {min} to {max}, got {v}"),
                )),
            },
        }
    }

    pub fn uuid(&mut self, key: &str) -> ApiResult<Option<Uuid>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) => Uuid::parse_str(&s).map(Some).map_err(|_| {
                ApiError::invalid(&self.name(key), format!("expected a GUID, got {s:?}"))
            }),
        }
    }

    pub fn time(&mut self, key: &str) -> ApiResult<Option<DateTime<Utc>>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) => crate::api::extract::timestamp(&self.name(key), Some(&s)),
        }
    }

    /// Drops fields a client may send back from a GET (they are not editable).
    pub fn ignore(&mut self, keys: &[&str]) {
        for key in keys {
            self.fields.remove(&key.to_ascii_lowercase());
        }
    }

    /// Fails on the first field nobody took.
    pub fn finish(self) -> ApiResult<()> {
        match self.fields.keys().next() {
            Some(key) => {
                let sent = self.sent.get(key).unwrap_or(key);
                Err(ApiError::invalid(&self.name(sent), "unknown field"))
            }
            None => Ok(()),
        }
    }
}

/// Keyfactor's list parameters.
#[derive(Debug, Clone)]
pub struct Paging {
    pub skip: i64,
    pub limit: i64,
    pub sort: Sort,
}

/// Reads `PageReturned`, `ReturnLimit`, `SortField`, `SortAscending`; `to_column` maps a
/// Keyfactor field name to a store column (unknown → 400 naming `SortField`).
pub fn paging(
    page: Option<&str>,
    limit: Option<&str>,
    sort_field: Option<&str>,
    sort_ascending: Option<&str>,
    to_column: impl Fn(&str) -> Option<&'static str>,
) -> ApiResult<Paging> {
    let number = |name: &str, raw: Option<&str>, default: i64, min: i64| -> ApiResult<i64> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ApiError::invalid(
                    name,
                    format!("expected an integer of at least {min}, got {s:?}"),
                )),
            },
        }
    };
    let page = number("PageReturned", page, 1, 1)?;
    let limit = number("ReturnLimit", limit, 50, 1)?.min(crate::api::extract::MAX_LIMIT);
    let descending = match sort_ascending.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("0") => false,
        Some("1") => true,
        Some(s) => {
            return Err(ApiError::invalid(
                "SortAscending",
                format!("expected 0 (ascending) or 1 (descending), got {s:?}"),
            ));
        }
    };
    let sort = match sort_field.map(str::trim).filter(|s| !s.is_empty()) {
        None => Sort::default(),
        Some(field) => {
            let column = to_column(&field.to_ascii_lowercase()).ok_or_else(|| {
                ApiError::invalid("SortField", format!("cannot sort by {field:?}"))
            })?;
            Sort::by(column, descending)
        }
    };
    Ok(Paging {
        skip: (page - 1).saturating_mul(limit),
        limit,
        sort,
    })
}

/// A JSON array with the total count in `x-total-count`, as Keyfactor lists answer.
pub fn counted<T: Serialize>(total: i64, items: Vec<T>) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        headers.insert("x-total-count", v);
    }
    (headers, Json(items)).into_response()
}

/// RFC 3339 with seconds, as Keyfactor shows times.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

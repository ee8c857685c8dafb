//! The one reader of Keyfactor query parameters, and of its list parameters.
//!
//! Parameter names are case-insensitive (as ASP.NET binds them) and may carry the `pq.`
//! prefix older Keyfactor clients send (`pq.queryString`). A parameter given twice or one
//! the endpoint does not take is refused with 400 naming it.
//!
//! Lists answer a JSON array with the total in `x-total-count`, paged by `PageReturned`
//! (1-based, default 1) and `ReturnLimit` (default 50, at most 1000), sorted by
//! `SortField` and `SortAscending`: `0` (or `true`, `Ascending`) ascending, the default,
//! and `1` (or `false`, `Descending`) descending.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::KeyfactorError;
use crate::api::{ApiError, ApiResult};

/// Default `ReturnLimit`, as Keyfactor's.
pub const DEFAULT_RETURN_LIMIT: i64 = 50;
/// Largest `ReturnLimit`; larger values are reduced to it.
pub const MAX_RETURN_LIMIT: i64 = 1000;

/// A request's query parameters, consumed by name; what is left at the end is unknown.
#[derive(Debug)]
pub struct Params {
    /// Lower-cased name without `pq.` → (name as sent, value).
    values: BTreeMap<String, (String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = KeyfactorError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, KeyfactorError> {
        Params::parse(parts.uri.query().unwrap_or("")).map_err(KeyfactorError::from)
    }
}

impl Params {
    /// Reads a query string.
    pub fn parse(query: &str) -> ApiResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?;
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            crate::api::json::refuse_nul(&name, &value)?;
            let lower = name.to_ascii_lowercase();
            let key = lower.strip_prefix("pq.").unwrap_or(&lower).to_owned();
            if values.contains_key(&key) {
                return Err(ApiError::invalid(
                    &name,
                    "given twice (names are case-insensitive)",
                ));
            }
            values.insert(key, (name, value));
        }
        Ok(Self { values })
    }

    /// Whether the request has parameter `name` (any case, `pq.` or not).
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(&name.to_ascii_lowercase())
    }

    /// Removes and returns a parameter; a blank value counts as absent.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.values
            .remove(&name.to_ascii_lowercase())
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A whole number of at least `min` (`name` in errors), or `default`.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.take(name) {
            None => Ok(None),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    name,
                    format!("expected an integer from {min} to {max}, got {s:?}"),
                )),
            },
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &str) -> ApiResult<Option<bool>> {
        crate::api::ciphertrust::extract::boolean(name, self.take(name).as_deref())
    }

    /// Reads `PageReturned`, `ReturnLimit`, `SortField` and `SortAscending`; `sort_key`
    /// maps a sort field name (lower case) to the endpoint's sort key, `None` when it
    /// cannot sort by it (400 naming `SortField` and the fields it can sort by).
    pub fn paging<K>(
        &mut self,
        sort_key: impl Fn(&str) -> Option<K>,
        sortable: &str,
    ) -> ApiResult<Paging<K>> {
        let page = self.integer("PageReturned", 1, i64::MAX)?.unwrap_or(1);
        let limit = self
            .integer("ReturnLimit", 1, i64::MAX)?
            .unwrap_or(DEFAULT_RETURN_LIMIT)
            .min(MAX_RETURN_LIMIT);
        let descending = match self.take("SortAscending").map(|s| s.to_ascii_lowercase()) {
            None => false,
            Some(s) if matches!(s.as_str(), "0" | "true" | "ascending") => false,
            Some(s) if matches!(s.as_str(), "1" | "false" | "descending") => true,
            Some(s) => {
                return Err(ApiError::invalid(
                    "SortAscending",
                    format!("expected 0 (ascending) or 1 (descending), got {s:?}"),
                ));
            }
        };
        let sort = match self.take("SortField") {
            None => None,
            Some(field) => Some(sort_key(&field.to_ascii_lowercase()).ok_or_else(|| {
                ApiError::invalid(
                    "SortField",
                    format!("cannot sort by {field:?}; sortable fields: {sortable}"),
                )
            })?),
        };
        Ok(Paging {
            skip: (page - 1).saturating_mul(limit),
            limit,
            sort,
            descending,
        })
    }

    /// Fails on the first parameter nobody took.
    pub fn finish(self) -> ApiResult<()> {
        match self.values.into_values().next() {
            Some((name, _)) => Err(ApiError::invalid(&name, "unknown parameter")),
            None => Ok(()),
        }
    }
}

/// Keyfactor's list parameters, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Paging<K> {
    pub skip: i64,
    pub limit: i64,
    /// The sort key asked for, if any.
    pub sort: Option<K>,
    pub descending: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(query: &str) -> ApiResult<Paging<&'static str>> {
        let mut p = Params::parse(query)?;
        let out = p.paging(|f| (f == "name").then_some("name"), "Name")?;
        p.finish()?;
        Ok(out)
    }

    #[test]
    fn list_parameters_in_any_case_and_form() {
        let p = paging("pageReturned=3&RETURNLIMIT=20&sortField=Name&SortAscending=1").unwrap();
        assert_eq!(
            (p.skip, p.limit, p.sort, p.descending),
            (40, 20, Some("name"), true)
        );
        let p = paging("pq.pageReturned=2&pq.returnLimit=5000&SortAscending=Ascending").unwrap();
        assert_eq!((p.skip, p.limit, p.descending), (1000, 1000, false));
        for (query, field) in [
            ("PageReturned=0", "PageReturned"),
            ("ReturnLimit=x", "ReturnLimit"),
            ("SortAscending=2", "SortAscending"),
            ("SortField=Age", "SortField"),
            ("Other=1", "Other"),
            ("ReturnLimit=1&returnlimit=2", "returnlimit"),
        ] {
            let err = paging(query).unwrap_err();
            assert_eq!(
                err.field.as_deref(),
                Some(field),
                "{query}: {}",
                err.message
            );
        }
    }
}

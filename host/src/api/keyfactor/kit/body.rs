//! The one reader of Keyfactor request bodies.
//!
//! Keyfactor's API (a .NET service) matches JSON field names case-insensitively, and its
//! clients rely on that, so bodies are read field by field with case-insensitive names;
//! every mistake names its field in Keyfactor's spelling (with the object's prefix, e.g.
//! `Schedule.Weekly.Days[0]`), and a field nobody took is refused as unknown.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::{ApiError, ApiResult};

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
            Some(Value::String(s)) => {
                crate::api::json::refuse_nul(&self.name(key), &s)?;
                Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
            }
            Some(other) => Err(ApiError::invalid(
                &self.name(key),
                format!("expected a string, got {other}"),
            )),
        }
    }

    /// The text of the first of `keys` present (aliases such as `Storepath` /
    /// `StorePath`), errors naming the first.
    pub fn text_any(&mut self, keys: &[&str]) -> ApiResult<Option<String>> {
        let Some(value) = self.take_any(keys) else {
            return Ok(None);
        };
        self.fields.insert(keys[0].to_ascii_lowercase(), value);
        self.text(keys[0])
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
            Some(v) => match crate::api::json::whole_number(&v) {
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
            Some(s) => crate::api::ciphertrust::extract::timestamp(&self.name(key), Some(&s)),
        }
    }

    /// An object field as a nested body (its fields prefixed `key.`).
    pub fn object(&mut self, key: &str) -> ApiResult<Option<Body>> {
        let name = self.name(key);
        self.take(key)
            .map(|v| Body::new(v, &format!("{name}.")))
            .transpose()
    }

    /// An object field kept as JSON (no case folding inside: it is passed on as is).
    pub fn json_object(&mut self, key: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(ApiError::invalid(
                &self.name(key),
                format!("expected an object, got {other}"),
            )),
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

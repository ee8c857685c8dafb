//! Reading job-config requests (create and patch) into a [`ConfigSpec`].
//!
//! Bodies are read as JSON objects field by field rather than through one derived struct,
//! because the same fields serve create (required ones must be present) and patch (absent
//! = keep, `null` = clear), because the params object arrives under an operation-dependent
//! name, and because each mistake should name its field. What only the model can judge
//! (the schedule, the operation, the params schema) the domain service checks.

use chrono::{DateTime, Utc};
use keywarden_db::{RunOn, WindowSpec};
use serde_json::{Map, Value};

use axum::http::StatusCode;

use super::error::{ApiError, ApiResult};
use super::extract;
use crate::domain::configs::{ConfigSpec, MAX_PAUSE_AFTER_FAILURES, ScheduleSpec};
use crate::scheduler::gate::MAX_JITTER_SECS;
use crate::scheduler::windows::MAX_WINDOWS;

/// Fields of the response a client may send back unchanged (GET → edit → PATCH): ignored,
/// but only in the shape the response shows them (or `null`), so that a value meant for
/// something else is refused rather than silently dropped.
pub const READ_ONLY: &[(&str, Shown)] = &[
    ("id", Shown::Id),
    ("uri", Shown::Text),
    ("account", Shown::Text),
    ("application", Shown::Text),
    ("devAccount", Shown::Text),
    ("createdAt", Shown::Time),
    ("updatedAt", Shown::Time),
    ("next_run_at", Shown::Time),
    ("params_key", Shown::Text),
    ("paused_reason", Shown::Text),
    ("paused_at", Shown::Time),
];

/// The shape a response shows a read-only field in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// A UUID.
    Id,
    /// A string.
    Text,
    /// An RFC 3339 time.
    Time,
}

impl Shown {
    fn fits(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (Shown::Id, Value::String(s)) => uuid::Uuid::parse_str(s).is_ok(),
            (Shown::Text, Value::String(_)) => true,
            (Shown::Time, Value::String(s)) => DateTime::parse_from_rfc3339(s).is_ok(),
            _ => false,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Shown::Id => "a UUID",
            Shown::Text => "a string",
            Shown::Time => "an RFC 3339 time",
        }
    }
}

/// The request fields that may carry the params of `operation`, canonical one first:
/// `<operation>_params` for CipherTrust operations (`database_backup` also under the
/// reference's `cckm_database_backup_params`), `params` for custom operations, and
/// `job_config_params` (the response's name) for any.
pub fn params_keys(operation: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if operation.starts_with("cckm_") {
        keys.push(format!("{operation}_params"));
    } else if operation == "database_backup" {
        keys.push("database_backup_params".to_owned());
        keys.push("cckm_database_backup_params".to_owned());
    } else {
        keys.push("params".to_owned());
        keys.push(format!("{operation}_params"));
    }
    keys.push("job_config_params".to_owned());
    keys
}

fn is_params_field(key: &str) -> bool {
    key == "params" || key.ends_with("_params")
}

/// A request body being consumed field by field; what is left at the end is unknown.
#[derive(Debug)]
pub struct Fields(Map<String, Value>);

impl Fields {
    pub fn new(body: Value) -> ApiResult<Self> {
        match body {
            Value::Object(map) => Ok(Fields(map)),
            _ => Err(ApiError::bad_request(
                "the request body must be a JSON object",
            )),
        }
    }

    /// `None` if absent, `Some(None)` if `null`, else the string.
    fn string(&mut self, key: &str) -> ApiResult<Option<Option<String>>> {
        match self.0.remove(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => {
                crate::api::json::refuse_nul(key, &s)?;
                Ok(Some(Some(s)))
            }
            Some(other) => Err(ApiError::invalid(
                key,
                format!("expected a string, got {other}"),
            )),
        }
    }

    /// A string that may not be null or blank.
    fn required_text(&mut self, key: &str) -> ApiResult<Option<String>> {
        match self.string(key)? {
            None => Ok(None),
            Some(Some(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(ApiError::invalid(key, "must not be empty")),
        }
    }

    fn integer(&mut self, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match crate::api::json::whole_number(&v) {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    key,
                    format!("expected an integer from {min} to {max}, got {v}"),
                )),
            },
        }
    }

    fn boolean(&mut self, key: &str) -> ApiResult<Option<bool>> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(ApiError::invalid(
                key,
                format!("expected true or false, got {other}"),
            )),
        }
    }

    fn time(&mut self, key: &str) -> ApiResult<Option<Option<DateTime<Utc>>>> {
        match self.string(key)? {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(s)) => extract::timestamp(key, Some(&s)).map(Some),
        }
    }

    /// A list of windows: `None` if absent, empty if `null`.
    fn windows(&mut self, key: &str) -> ApiResult<Option<Vec<WindowSpec>>> {
        let items = match self.0.remove(key) {
            None => return Ok(None),
            Some(Value::Null) => return Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(ApiError::invalid(
                    key,
                    format!(
                        "expected a list of windows ({{\"start\": cron, \"timezone\": zone, \"duration_secs\": n}}), got {other}"
                    ),
                ));
            }
        };
        if items.len() > MAX_WINDOWS {
            return Err(ApiError::invalid(
                key,
                format!("at most {MAX_WINDOWS} windows, got {}", items.len()),
            ));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let here = format!("{key}[{i}]");
                if let Some(text) = item
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.values())
                    .find_map(|v| v.as_str().filter(|s| s.contains('\0')))
                {
                    crate::api::json::refuse_nul(&here, text)?;
                }
                let mut item = item;
                // Whole numbers may come as `3600.0`, as everywhere else in the API.
                if let Some(secs) = item
                    .get("duration_secs")
                    .and_then(crate::api::json::whole_number)
                {
                    item["duration_secs"] = Value::from(secs);
                }
                let mut window = serde_json::from_value::<WindowSpec>(item)
                    .map_err(|e| ApiError::invalid(&here, e.to_string()))?;
                // Blank counts as absent, as for the config's own `timezone`.
                window.timezone = window
                    .timezone
                    .map(|z| z.trim().to_owned())
                    .filter(|z| !z.is_empty());
                Ok(window)
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    /// One of a word enum's words (any case).
    fn word<T>(&mut self, key: &str) -> ApiResult<Option<T>>
    where
        T: std::str::FromStr<Err = keywarden_db::UnknownWord>,
    {
        match self.required_text(key)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e| ApiError::invalid(key, e)),
        }
    }
}

/// What a request carried besides the fields written into the spec.
#[derive(Debug)]
pub struct Applied {
    /// The params object, as `(field name, value)`.
    pub params: Option<(String, Value)>,
    /// Whether the request named the operation (a PATCH then restates the params whole).
    pub operation_given: bool,
}

/// Applies the top-level fields of `fields` to `spec` and returns what else the request
/// carried. On create (`creating`), `name`, `operation` and `run_at` are required and
/// absent optional fields keep `spec`'s defaults. Giving any of `run_at`, `timezone`,
/// `start_date`, `end_date` makes the schedule a cron one; `shown_run_at` is the cron
/// expression the config shows when it was made from a recurrence.
pub fn apply(
    spec: &mut ConfigSpec,
    mut fields: Fields,
    creating: bool,
    shown_run_at: &str,
) -> ApiResult<Applied> {
    let mut operation_given = false;
    let (mut run_at, mut timezone) = match &spec.schedule {
        ScheduleSpec::Cron { run_at, timezone } => (run_at.clone(), timezone.clone()),
        ScheduleSpec::Recurrence(_) => (shown_run_at.to_owned(), None),
    };
    let mut cron_given = false;
    for key in ["name", "operation", "run_at"] {
        match fields.required_text(key)? {
            Some(v) if key == "name" => spec.name = v,
            Some(v) if key == "operation" => {
                spec.operation = v;
                operation_given = true;
            }
            Some(v) => {
                run_at = v;
                cron_given = true;
            }
            None if creating => return Err(ApiError::invalid(key, "is required")),
            None => {}
        }
    }
    if spec.name.chars().count() > 256 {
        return Err(ApiError::invalid("name", "must be at most 256 characters"));
    }
    if let Some(v) = fields.string("description")? {
        spec.description = v.unwrap_or_default();
    }
    if let Some(v) = fields.required_text("run_on")? {
        spec.run_on = RunOn::from_option(Some(&v));
    }
    if let Some(v) = fields.string("timezone")? {
        timezone = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        cron_given = true;
    }
    if let Some(v) = fields.time("start_date")? {
        spec.start_date = v;
        cron_given = true;
    }
    if let Some(v) = fields.time("end_date")? {
        spec.end_date = v;
        cron_given = true;
    }
    if cron_given || creating {
        spec.schedule = ScheduleSpec::Cron { run_at, timezone };
    }
    if let Some(v) = fields.boolean("disabled")? {
        spec.disabled = v;
    }
    if let Some(v) = fields.word("catch_up")? {
        spec.catch_up = v;
    }
    if let Some(v) = fields.word("overlap")? {
        spec.overlap = v;
    }
    if let Some(v) = fields.integer("max_retries", 0, 100)? {
        spec.max_retries = v as i32;
    }
    if let Some(v) = fields.integer("retry_backoff_secs", 0, 7 * 86_400)? {
        spec.retry_backoff_secs = v;
    }
    if let Some(v) = fields.windows("maintenance_windows")? {
        spec.policy.maintenance_windows = v;
    }
    if let Some(v) = fields.windows("blackout_windows")? {
        spec.policy.blackout_windows = v;
    }
    if let Some(v) = fields.integer("jitter_secs", 0, MAX_JITTER_SECS)? {
        spec.policy.jitter_secs = v;
    }
    if let Some(v) = fields.integer("pause_after_failures", 0, MAX_PAUSE_AFTER_FAILURES.into())? {
        spec.policy.pause_after_failures = v as i32;
    }
    if let Some(v) = fields.word("when_target_busy")? {
        spec.policy.when_target_busy = v;
    }
    match fields.0.remove("alerts") {
        None | Some(Value::Null) => {}
        Some(Value::Object(mut map)) => {
            let mut flag = |key: &str, current: bool| -> ApiResult<bool> {
                match map.remove(key) {
                    None | Some(Value::Null) => Ok(current),
                    Some(Value::Bool(b)) => Ok(b),
                    Some(other) => Err(ApiError::invalid(
                        &format!("alerts.{key}"),
                        format!("expected true or false, got {other}"),
                    )),
                }
            };
            let a = spec.alerts;
            spec.alerts = keywarden_db::JobAlerts {
                on_failure: flag("on_failure", a.on_failure)?,
                on_missed_run: flag("on_missed_run", a.on_missed_run)?,
                on_retries_exhausted: flag("on_retries_exhausted", a.on_retries_exhausted)?,
            };
            if let Some(extra) = map.keys().next() {
                return Err(ApiError::invalid(
                    &format!("alerts.{extra}"),
                    "unknown field; expected on_failure, on_missed_run, on_retries_exhausted",
                ));
            }
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "alerts",
                format!("expected an object, got {other}"),
            ));
        }
    }
    let operation = spec.operation.clone();
    // A PATCH that keeps the operation merges its params into the config's: params meant
    // for another operation conflict with what the config holds.
    let merging = !creating && !operation_given;
    let params = take_params(&mut fields, &operation, merging)?;
    Ok(Applied {
        params,
        operation_given,
    })
}

/// Picks the params object for `operation` out of the remaining fields and rejects
/// everything else that is left: params meant for another operation are a mistake the
/// caller should hear about (a 409 when `merging` into a config's params: they conflict
/// with the operation it holds), not data to drop silently.
fn take_params(
    fields: &mut Fields,
    operation: &str,
    merging: bool,
) -> ApiResult<Option<(String, Value)>> {
    let accepted = params_keys(operation);
    let mut found: Option<(String, Value)> = None;
    for key in &accepted {
        if let Some(value) = fields.0.remove(key) {
            if let Some((first, _)) = &found {
                return Err(ApiError::invalid(
                    key,
                    format!("params given twice, as {first} and {key}; send one"),
                ));
            }
            if !matches!(value, Value::Object(_) | Value::Null) {
                return Err(ApiError::invalid(key, "must be a JSON object"));
            }
            found = Some((key.clone(), value));
        }
    }
    for (key, shown) in READ_ONLY {
        if let Some(value) = fields.0.remove(*key)
            && !shown.fits(&value)
        {
            return Err(ApiError::invalid(
                key,
                format!(
                    "is shown in responses and ignored when sent back, as {} or null; got {value}",
                    shown.describe()
                ),
            ));
        }
    }
    if let Some(key) = fields.0.keys().find(|k| is_params_field(k)) {
        let reason = format!(
            "does not apply to operation {operation:?}; its params go in {}",
            accepted[0]
        );
        return Err(if merging {
            ApiError::new(StatusCode::CONFLICT, format!("{key}: {reason}")).with_field(key)
        } else {
            ApiError::unprocessable(key, reason)
        });
    }
    if let Some(key) = fields.0.keys().next() {
        return Err(ApiError::invalid(key, "unknown field"));
    }
    // `job_config_params` is an alias: store the canonical name.
    Ok(found.map(|(key, value)| {
        let key = if key == "job_config_params" {
            accepted[0].clone()
        } else {
            key
        };
        (key, value)
    }))
}

//! Checks a job config before it is stored: the schedule parses, a plugin provides the
//! operation, the params satisfy that operation's JSON Schema and the duration params
//! read as `Xd`/`Yh`. Catching these at the API means a bad config is refused with a
//! reason instead of failing silently at 3 a.m.

use chrono::{DateTime, Utc};
use jsonschema::error::ValidationErrorKind;
use keywarden_db::JobConfig;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::plugins::PluginRegistry;
use crate::scheduler::fire_times::{self, Schedule, Window};

/// Params whose values are durations in the CipherTrust dialect, for every operation (the
/// list endpoint filters on `expire_in` too, so they must mean the same everywhere).
const DURATION_PARAMS: &[&str] = &["expiration", "expire_in", "rotation_after"];

/// The target a config's jobs act on: `params.cloud_name` when it is a string.
pub fn target_of(params: &Value) -> Option<String> {
    params
        .get("cloud_name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Validates `config` and returns its next fire time (as of `now`; `None` when disabled
/// or when no fire remains inside its window).
pub fn check(
    config: &JobConfig,
    registry: &PluginRegistry,
    now: DateTime<Utc>,
) -> ApiResult<Option<DateTime<Utc>>> {
    let schedule = Schedule::parse(&config.run_at, config.timezone.as_deref())
        .map_err(|e| ApiError::invalid(e.field, e.reason))?;
    let target = target_of(&config.params);
    let (_, operation) = registry
        .resolve(&config.operation, target.as_deref())
        .map_err(|unresolved| {
            let wanted = match &target {
                Some(t) => format!("{:?} for cloud_name {t:?}", config.operation),
                None => format!("{:?}", config.operation),
            };
            let available = if unresolved.available.is_empty() {
                "none (the plugins folder has no loaded plugin)".to_owned()
            } else {
                unresolved.available.join(", ")
            };
            ApiError::unprocessable(
                "operation",
                format!("no plugin provides operation {wanted}; available operations: {available}"),
            )
        })?;
    check_schema(&operation.params_schema, &config.params, &config.params_key)?;
    check_durations(&config.params, &config.params_key)?;
    if config.disabled {
        return Ok(None);
    }
    let window = Window {
        start: config.start_date,
        end: config.end_date,
    };
    Ok(fire_times::first_fire(&schedule, window, now))
}

/// Validates `params` against the operation's schema; the first error names its field as
/// `<params_key>.<path>` (for a missing or unexpected property, that property).
pub(crate) fn check_schema(schema: &Value, params: &Value, params_key: &str) -> ApiResult<()> {
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        // The registry accepted the schema at load; if it does not compile here the
        // plugin is at fault, not the caller, but the config still cannot be accepted.
        ApiError::unprocessable(
            "operation",
            format!("the plugin's params schema is invalid: {e}"),
        )
    })?;
    let Some(error) = validator.iter_errors(params).next() else {
        return Ok(());
    };
    let mut path: Vec<String> = error
        .instance_path
        .as_str()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    match &error.kind {
        ValidationErrorKind::Required { property } => {
            path.push(
                property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned),
            );
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            if let Some(first) = unexpected.first() {
                path.push(first.clone());
            }
        }
        _ => {}
    }
    let field = std::iter::once(params_key.to_owned())
        .chain(path)
        .collect::<Vec<_>>()
        .join(".");
    Err(ApiError::unprocessable(&field, error.to_string()))
}

fn check_durations(params: &Value, params_key: &str) -> ApiResult<()> {
    for key in DURATION_PARAMS {
        let Some(value) = params.get(*key) else {
            continue;
        };
        let field = format!("{params_key}.{key}");
        let text = value.as_str().ok_or_else(|| {
            ApiError::unprocessable(&field, "expected a string such as 6d or 12h")
        })?;
        fire_times::parse_duration_param(text).map_err(|e| ApiError::unprocessable(&field, e))?;
        if *key == "rotation_after" && !text.ends_with('d') {
            // The reference counts rotation_after in days only.
            return Err(ApiError::unprocessable(
                &field,
                format!("invalid duration {text:?}: rotation_after takes days only, e.g. 30d"),
            ));
        }
    }
    Ok(())
}

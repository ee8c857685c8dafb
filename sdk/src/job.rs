//! What a job receives ([`JobContext`]) and what it hands back ([`Outcome`] or [`JobError`]).

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::wit::keywarden::plugin::types as wit;

/// Everything a job knows about the run it is part of.
///
/// The host has already validated `params` against the operation's JSON Schema, so
/// [`JobContext::params`] normally only fails on constraints the schema cannot express.
#[derive(Debug, Clone, PartialEq)]
pub struct JobContext {
    /// Identifier of the job run, for correlating logs.
    pub job_id: String,
    /// The operation name the job was started for (one of the manifest's operations).
    pub operation: String,
    /// What it applies to: a cloud (`aws`), a store type (`PEM`), or `None`.
    pub target: Option<String>,
    /// The params object, parsed. An empty params string from the host becomes `{}`.
    pub params: Value,
    /// Report what the job would do, without doing it (see [`JobContext::dry_run`]).
    pub dry_run: bool,
}

impl JobContext {
    /// Build a context by hand, e.g. to unit-test a plugin natively.
    pub fn new(operation: impl Into<String>, params: Value) -> Self {
        Self {
            job_id: String::new(),
            operation: operation.into(),
            target: None,
            params,
            dry_run: false,
        }
    }

    /// Whether this run is a dry run: write nothing (no file, no [`state`](crate::state)
    /// change, no write over HTTP, no CSR) and say in the outcome what a real run would
    /// have done, in the same details shape (e.g. `would_rotate` beside `rotated`).
    ///
    /// Only rotation, Management and Reenrollment are ever run dry. The host narrows the
    /// sandbox to match (granted directories read-only, `state::set` fails,
    /// `enrollment::submit_csr` answers not-granted), but it cannot tell a read from a
    /// write in an HTTP request to a cloud: there it relies on the plugin.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// This context as a dry run (or not), e.g. to unit-test a plugin natively.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Deserialize the params into the plugin's own type.
    ///
    /// Errors name the offending field (e.g. `aws_param.retain_alias`), so the host can
    /// report a precise client error instead of a generic failure.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_path_to_error::deserialize::<_, T>(&self.params).map_err(|err| {
            let mut field = match err.path().to_string() {
                root if root == "." => String::new(),
                path => path,
            };
            let reason = err.inner().to_string();
            // serde reports a missing field at its parent; name the field itself.
            if let Some(missing) = reason
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(missing);
            }
            JobError::InvalidParams { field, reason }
        })
    }

    /// The error to return for an operation this plugin does not know.
    ///
    /// Handy as the fallback arm of a `match ctx.operation.as_str()`.
    pub fn unsupported(&self) -> JobError {
        JobError::Unsupported(format!(
            "operation `{}` is not provided by this plugin",
            self.operation
        ))
    }

    pub(crate) fn from_wit(ctx: wit::JobContext) -> Result<Self, JobError> {
        let params = parse_json_object(&ctx.params, "")?;
        Ok(Self {
            job_id: ctx.job_id,
            operation: ctx.operation,
            target: ctx.target,
            params,
            dry_run: ctx.dry_run,
        })
    }
}

/// Parse a JSON text the host sent; empty text means `{}`.
pub(crate) fn parse_json_object(text: &str, field: &str) -> Result<Value, JobError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|err| JobError::InvalidParams {
        field: field.to_owned(),
        reason: format!("not valid JSON: {err}"),
    })
}

/// Serialize a details/attributes value for the host, which expects a JSON object.
///
/// `null` becomes `{}`; any other non-object is wrapped as `{"value": ...}`.
pub(crate) fn json_object_text(value: Value) -> String {
    let object = match value {
        Value::Null => Value::Object(Map::new()),
        Value::Object(map) => Value::Object(map),
        other => {
            let mut map = Map::new();
            map.insert("value".to_owned(), other);
            Value::Object(map)
        }
    };
    object.to_string()
}

/// How a job ended, as the plugin judges it. The host records it as-is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobResult {
    /// Everything the job set out to do was done.
    Success,
    /// Partly done: some items failed (the details should say which).
    Warning,
    /// Nothing useful was done.
    Failure,
}

/// What a job returns when it ran to the end: a verdict, one line for people, and
/// structured details (a JSON object) for machines.
///
/// A job that *ran* but did not achieve its goal should return
/// [`Outcome::failure`]; [`JobError`] is for jobs that could not produce an outcome
/// at all (bad params, unsupported operation, unexpected failure).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The verdict.
    pub result: JobResult,
    /// One line for people.
    pub message: String,
    /// Structured details; should be a JSON object (see [`Outcome::with_details`]).
    pub details: Value,
}

impl Outcome {
    /// An outcome with the given verdict and message and empty details (`{}`).
    pub fn new(result: JobResult, message: impl Into<String>) -> Self {
        Self {
            result,
            message: message.into(),
            details: Value::Object(Map::new()),
        }
    }

    /// Everything was done.
    pub fn success(message: impl Into<String>) -> Self {
        Self::new(JobResult::Success, message)
    }

    /// Partly done; put what failed into the details.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(JobResult::Warning, message)
    }

    /// The job ran but achieved nothing useful.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(JobResult::Failure, message)
    }

    /// Replace the details. Pass a JSON object (e.g. `json!({"num_rotated": 3})`);
    /// `null` is sent as `{}` and any other value as `{"value": ...}`, because the host
    /// stores details as an object.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Add (or replace) one key of the details object.
    #[must_use]
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        if !self.details.is_object() {
            self.details = Value::Object(Map::new());
        }
        if let Value::Object(map) = &mut self.details {
            map.insert(key.into(), value.into());
        }
        self
    }

    pub(crate) fn into_wit(self) -> wit::JobOutcome {
        wit::JobOutcome {
            result: match self.result {
                JobResult::Success => wit::JobResult::Success,
                JobResult::Warning => wit::JobResult::Warning,
                JobResult::Failure => wit::JobResult::Failure,
            },
            message: self.message,
            details: json_object_text(self.details),
        }
    }
}

/// Why a job could not produce an [`Outcome`].
///
/// `?` works on the SDK's own errors, `std::io::Error`, `serde_json::Error`, `String`
/// and `&str`: they all become [`JobError::Failed`] with a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The params were rejected; the host reports this as a client error.
    InvalidParams {
        /// Path of the field, e.g. `aws_param.retain_alias` (empty for the whole object).
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// This plugin does not provide the operation (or job family) it was called for.
    Unsupported(String),
    /// The job failed; the text is shown to the user.
    Failed(String),
}

impl JobError {
    /// A rejected parameter.
    pub fn invalid_param(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParams {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A failure with a message (anything displayable).
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// The operation or family is not provided.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }

    pub(crate) fn into_wit(self) -> wit::JobError {
        match self {
            JobError::InvalidParams { field, reason } => {
                wit::JobError::InvalidParams(wit::ParamError { field, reason })
            }
            JobError::Unsupported(message) => wit::JobError::Unsupported(message),
            JobError::Failed(message) => wit::JobError::Failed(message),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::InvalidParams { field, reason } if field.is_empty() => {
                write!(f, "invalid params: {reason}")
            }
            JobError::InvalidParams { field, reason } => {
                write!(f, "invalid params: `{field}`: {reason}")
            }
            JobError::Unsupported(message) => write!(f, "unsupported: {message}"),
            JobError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for JobError {}

impl From<String> for JobError {
    fn from(message: String) -> Self {
        JobError::Failed(message)
    }
}

impl From<&str> for JobError {
    fn from(message: &str) -> Self {
        JobError::Failed(message.to_owned())
    }
}

impl From<std::io::Error> for JobError {
    fn from(err: std::io::Error) -> Self {
        JobError::Failed(err.to_string())
    }
}

impl From<serde_json::Error> for JobError {
    fn from(err: serde_json::Error) -> Self {
        JobError::Failed(err.to_string())
    }
}

macro_rules! failed_from {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for JobError {
            fn from(err: $ty) -> Self {
                JobError::Failed(err.to_string())
            }
        }
    )*};
}

failed_from!(
    crate::secrets::SecretError,
    crate::state::StateError,
    crate::http::HttpError,
    crate::tls::ProbeError,
    crate::enrollment::EnrollmentError,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        retain_alias: bool,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        name: String,
        aws_param: Option<Inner>,
    }

    #[test]
    fn params_errors_name_the_field() {
        let ctx = JobContext::new("x", json!({"name": "a", "aws_param": {"retain_alias": 3}}));
        let err = ctx.params::<Params>().unwrap_err();
        assert!(
            matches!(&err, JobError::InvalidParams { field, .. } if field == "aws_param.retain_alias"),
            "{err:?}"
        );

        let ctx = JobContext::new("x", json!({"aws_param": {"retain_alias": true}}));
        let err = ctx.params::<Params>().unwrap_err();
        assert!(
            matches!(&err, JobError::InvalidParams { field, .. } if field == "name"),
            "{err:?}"
        );

        let ctx = JobContext::new("x", json!({"name": "a", "aws_param": {}}));
        let err = ctx.params::<Params>().unwrap_err();
        assert!(
            matches!(&err, JobError::InvalidParams { field, .. } if field == "aws_param.retain_alias"),
            "{err:?}"
        );
    }

    #[test]
    fn details_are_always_objects() {
        assert_eq!(json_object_text(Value::Null), "{}");
        assert_eq!(json_object_text(json!(3)), r#"{"value":3}"#);
        let outcome = Outcome::success("ok").with_detail("n", 2).into_wit();
        assert_eq!(outcome.details, r#"{"n":2}"#);
    }
}

//! How configs and jobs look on the wire: the CipherTrust scheduler shapes (see
//! `docs/ciphertrust.md`) plus Keywarden's extra fields. The model stays dialect-free; this is the
//! only place that knows these names.

use chrono::{DateTime, SecondsFormat, Utc};
use keywarden_db::{Job, JobConfig, JobCount, Total};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Resource-name prefix of everything this server owns.
const NS: &str = "keywarden";

pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(time)
}

/// `keywarden:keywarden:admin:accounts:<account>`, the reference's account URI shape.
pub fn account_uri(account: &str) -> String {
    format!("{NS}:{NS}:admin:accounts:{account}")
}

/// The account name from either a bare name or an account URI.
pub fn account_name(raw: &str) -> &str {
    raw.rsplit_once(":admin:accounts:")
        .map_or(raw, |(_, name)| name)
}

/// A job configuration as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobConfigView {
    pub id: String,
    /// `keywarden:<account>:scheduler:job_configs:<id>`.
    pub uri: String,
    pub account: String,
    pub application: String,
    #[serde(rename = "devAccount")]
    pub dev_account: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    pub name: String,
    pub description: String,
    pub operation: String,
    pub run_at: String,
    pub run_on: String,
    pub timezone: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub disabled: bool,
    /// Missed-fire policy: `skip`, `one` or `all`.
    pub catch_up: String,
    /// Policy when the previous run is unfinished: `skip` or `allow`.
    pub overlap: String,
    pub max_retries: i32,
    pub retry_backoff_secs: i64,
    /// Which failures of its jobs raise an alert: `on_failure`, `on_missed_run`,
    /// `on_retries_exhausted`.
    #[schema(value_type = Object)]
    pub alerts: keywarden_db::JobAlerts,
    /// When the scheduler fires next; null when it never will (disabled, past end_date).
    pub next_run_at: Option<String>,
    /// Jobs start only inside one of these (and the account's); empty: any time.
    #[schema(value_type = Vec<Object>)]
    pub maintenance_windows: Vec<keywarden_db::WindowSpec>,
    /// Jobs never start inside these.
    #[schema(value_type = Vec<Object>)]
    pub blackout_windows: Vec<keywarden_db::WindowSpec>,
    /// Each fire starts up to this many seconds late, by an offset fixed per config.
    pub jitter_secs: i64,
    /// The config pauses itself after this many failed runs in a row (0: never).
    pub pause_after_failures: i32,
    /// When another job works on the same target: `wait` (default) or `skip`.
    pub when_target_busy: String,
    /// Why the config paused itself; null unless it did.
    pub paused_reason: Option<String>,
    /// When it was paused (by request or by itself); null while enabled.
    pub paused_at: Option<String>,
    /// The request field that carried the params (`cckm_key_rotation_params`, `params`, ...).
    pub params_key: String,
    /// The operation's params object.
    #[schema(value_type = Object)]
    pub job_config_params: Value,
}

impl From<&JobConfig> for JobConfigView {
    fn from(c: &JobConfig) -> Self {
        JobConfigView {
            id: c.id.to_string(),
            uri: format!("{NS}:{}:scheduler:job_configs:{}", c.account_id, c.id),
            account: account_uri(&c.account_id),
            application: format!("{NS}:{NS}:admin:apps:{NS}"),
            dev_account: account_uri(NS),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
            name: c.name.clone(),
            description: c.description.clone(),
            operation: c.operation.clone(),
            run_at: c.run_at.clone(),
            run_on: c.run_on.to_string(),
            timezone: c.timezone.clone(),
            start_date: opt_time(c.start_date),
            end_date: opt_time(c.end_date),
            disabled: c.disabled,
            catch_up: c.catch_up.to_string(),
            overlap: c.overlap.to_string(),
            max_retries: c.max_retries,
            retry_backoff_secs: c.retry_backoff_secs,
            alerts: c.alerts,
            next_run_at: opt_time(c.next_fire_at),
            maintenance_windows: c.policy.maintenance_windows.clone(),
            blackout_windows: c.policy.blackout_windows.clone(),
            jitter_secs: c.policy.jitter_secs,
            pause_after_failures: c.policy.pause_after_failures,
            when_target_busy: c.policy.when_target_busy.to_string(),
            paused_reason: c.paused_reason.clone(),
            paused_at: opt_time(c.paused_at),
            params_key: c.params_key.clone(),
            job_config_params: c.params.clone(),
        }
    }
}

/// The `details` object of a job: the reference's summary wrapping the plugin's details.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetailsView {
    pub job_id: String,
    pub job_config_id: Option<String>,
    pub name: String,
    pub operation: String,
    pub status: String,
    pub result: Option<String>,
    pub message: Option<String>,
    /// What the plugin reported (operation-defined).
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Progress counters of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub done: i64,
    /// 0 = unknown.
    pub total: i64,
}

/// One run of an operation as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// `keywarden:<account>:scheduler:jobs:<id>`.
    pub uri: String,
    pub account: String,
    pub application: String,
    #[serde(rename = "devAccount")]
    pub dev_account: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    pub name: String,
    pub job_config_id: Option<String>,
    pub description: String,
    pub operation: String,
    pub target: Option<String>,
    /// The operation's params. In listings only with `include=params`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub job_config_params: Option<Value>,
    pub run_on: String,
    pub enqueued_at: String,
    pub scheduled_for: String,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub processing_node: Option<String>,
    /// `success`, `warning` or `failure` once finished.
    pub result: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub progress: ProgressView,
    /// A dry run: it only reported what it would change (`run-now?dry_run=true`).
    pub dry_run: bool,
    /// The plugin's log lines. In listings only with `include=logs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub logs: Option<Vec<Value>>,
    pub details: JobDetailsView,
}

impl JobView {
    /// The view of a listing, with params and logs only when asked for.
    pub fn listed(j: &Job, params: bool, logs: bool) -> Self {
        let mut view = Self::from(j);
        if !params {
            view.job_config_params = None;
        }
        if !logs {
            view.logs = None;
        }
        view
    }
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        let config_id = j.job_config_id.map(|id| id.to_string());
        JobView {
            id: j.id.to_string(),
            uri: format!("{NS}:{}:scheduler:jobs:{}", j.account_id, j.id),
            account: account_uri(&j.account_id),
            application: format!("{NS}:{NS}:admin:apps:{NS}"),
            dev_account: account_uri(NS),
            created_at: time(j.created_at),
            updated_at: time(j.updated_at),
            name: j.name.clone(),
            job_config_id: config_id.clone(),
            description: j.description.clone(),
            operation: j.operation.clone(),
            target: j.target.clone(),
            job_config_params: Some(j.params.clone()),
            run_on: j.run_on.to_string(),
            enqueued_at: time(j.enqueued_at),
            scheduled_for: time(j.scheduled_for),
            status: j.status.to_string(),
            processing_node: j.processing_node.clone(),
            result: j.result.map(|r| r.to_string()),
            message: j.message.clone(),
            started_at: opt_time(j.started_at),
            finished_at: opt_time(j.finished_at),
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            progress: ProgressView {
                done: j.progress_done,
                total: j.progress_total,
            },
            dry_run: j.dry_run,
            logs: Some(j.logs.clone()),
            details: JobDetailsView {
                job_id: j.id.to_string(),
                job_config_id: config_id,
                name: j.name.clone(),
                operation: j.operation.clone(),
                status: j.status.to_string(),
                result: j.result.map(|r| r.to_string()),
                message: j.message.clone(),
                details: j
                    .details
                    .clone()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            },
        }
    }
}

/// Finished jobs of one UTC day, config, operation, status and result.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobCountView {
    /// The account URI.
    pub account: String,
    /// `YYYY-MM-DD`, the UTC day the jobs ended.
    pub day: String,
    pub job_config_id: Option<String>,
    pub operation: String,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    /// `success`, `warning` or `failure`.
    pub result: Option<String>,
    pub count: i64,
}

impl From<&JobCount> for JobCountView {
    fn from(c: &JobCount) -> Self {
        JobCountView {
            account: account_uri(&c.account_id),
            day: c.day.format("%Y-%m-%d").to_string(),
            job_config_id: c.job_config_id.map(|id| id.to_string()),
            operation: c.operation.clone(),
            status: c.status.to_string(),
            result: c.result.map(|r| r.to_string()),
            count: c.count,
        }
    }
}

/// A page of a list endpoint: `{skip, limit, total, resources}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub skip: i64,
    pub limit: i64,
    /// Matching resources in total, regardless of paging; when `total_exact` is false,
    /// there are more than this (jobs, job configs and inventories stop counting at
    /// 10,000: page on until a page comes back short).
    pub total: i64,
    /// Whether `total` is every match.
    pub total_exact: bool,
    pub resources: Vec<T>,
}

impl<T: ToSchema> Page<T> {
    /// A page of `resources` out of `total`.
    pub fn new(skip: i64, limit: i64, total: impl Into<Total>, resources: Vec<T>) -> Page<T> {
        let total = total.into();
        Page {
            skip,
            limit,
            total: total.count,
            total_exact: total.exact,
            resources,
        }
    }
}

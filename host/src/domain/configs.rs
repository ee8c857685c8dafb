//! Job configs: what runs, when and where. Every config is built and checked here, whichever
//! dialect asked for it: the schedule parses and has a next fire, a loaded plugin provides
//! the operation for its target, the params satisfy that operation's schema, the node it is
//! pinned to exists. Catching these when the config is written means a bad config is
//! refused with a reason instead of failing silently at 3 a.m.

use chrono::{DateTime, Utc};
use jsonschema::error::ValidationErrorKind;
use keywarden_db::{
    CatchUp, CertificateStore, ConfigFilter, JobConfig, Overlap, Recurrence, RunOn,
    SchedulingPolicy, Sort, Total, truncate_micros,
};
use serde_json::Value;
use uuid::Uuid;

use super::jobs::JobSpec;
use super::schedule::{self, recurrence_fires};
use super::target::target_of;
use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::scheduler::fire_times::{self, Schedule, Window};
use crate::scheduler::gate::{Gate, MAX_JITTER_SECS};

/// Params whose values are durations (`6d`, `12h`), for every operation: the config
/// listing filters on `expire_in`, so they must mean the same everywhere.
const DURATION_PARAMS: &[&str] = &["expiration", "expire_in", "rotation_after"];

/// How an update changes a config's params.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamsEdit {
    /// Left as they are.
    Keep,
    /// Replaced whole (with the operation they are for): params that do not fit it are the
    /// request's own mistake (422).
    Replace(Value),
    /// Merged into the config's key by key (RFC 7396 JSON merge patch: `null` deletes a
    /// key): params that then no longer fit the config's unchanged operation conflict with
    /// what the config holds (409). Whether a patch fits depends on the params it merges
    /// into, which a request schema cannot know, so every misfit of a merge is a conflict.
    Merge(Value),
}

/// When a config fires.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSpec {
    /// A cron expression (5 fields, 6 with seconds, a macro or `@every Nm`) read in
    /// `timezone` (UTC when `None`), inside the config's start/end window.
    Cron {
        run_at: String,
        timezone: Option<String>,
    },
    /// A recurrence; it brings its own window (a one-off is closed on its instant).
    Recurrence(Recurrence),
}

/// Everything a job config is made of that its writer chooses.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSpec {
    pub name: String,
    pub description: String,
    pub operation: String,
    /// The operation's params, a JSON object.
    pub params: Value,
    /// The request field that carried the params, shown back by the CipherTrust dialect.
    pub params_key: String,
    pub schedule: ScheduleSpec,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub run_on: RunOn,
    pub catch_up: CatchUp,
    pub overlap: Overlap,
    pub max_retries: i32,
    pub retry_backoff_secs: i64,
    pub alerts: keywarden_db::JobAlerts,
    /// Maintenance and blackout windows, jitter, pause after failures.
    pub policy: SchedulingPolicy,
}

impl ConfigSpec {
    /// A config of `operation` on `schedule` with the defaults of the APIs: params `{}`,
    /// any node, catch up once after an outage, skip overlapping fires, no retries.
    pub fn new(name: &str, operation: &str, schedule: ScheduleSpec) -> Self {
        Self {
            name: name.to_owned(),
            description: String::new(),
            operation: operation.to_owned(),
            params: Value::Object(Default::default()),
            params_key: "params".to_owned(),
            schedule,
            start_date: None,
            end_date: None,
            disabled: false,
            run_on: RunOn::Any,
            catch_up: CatchUp::One,
            overlap: Overlap::Skip,
            max_retries: 0,
            retry_backoff_secs: 60,
            alerts: Default::default(),
            policy: SchedulingPolicy::default(),
        }
    }
}

impl From<&JobConfig> for ConfigSpec {
    /// What a stored config was made from, to be edited and written back.
    fn from(c: &JobConfig) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            operation: c.operation.clone(),
            params: c.params.clone(),
            params_key: c.params_key.clone(),
            schedule: match &c.recurrence {
                Some(r) => ScheduleSpec::Recurrence(r.clone()),
                None => ScheduleSpec::Cron {
                    run_at: c.run_at.clone(),
                    timezone: c.timezone.clone(),
                },
            },
            start_date: c.start_date,
            end_date: c.end_date,
            disabled: c.disabled,
            run_on: c.run_on.clone(),
            catch_up: c.catch_up,
            overlap: c.overlap,
            max_retries: c.max_retries,
            retry_backoff_secs: c.retry_backoff_secs,
            alerts: c.alerts,
            policy: c.policy.clone(),
        }
    }
}

impl Service {
    /// A config of the caller's account (any account for admins).
    pub async fn config(&self, caller: &Caller, id: Uuid) -> DomainResult<JobConfig> {
        self.db
            .get_config(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no job config with id {id}")))
    }

    /// A page of the caller's configs matching `filter` (its account field is ignored).
    pub async fn configs(
        &self,
        caller: &Caller,
        mut filter: ConfigFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(Total, Vec<JobConfig>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        filter.count_bound = Some(super::LIST_COUNT_BOUND);
        let (counted, configs) = self.db.list_configs(&filter, sort, skip, limit).await?;
        Ok((Total::of(counted, filter.count_bound), configs))
    }

    /// Creates a config in the caller's account.
    pub async fn create_config(
        &self,
        caller: &Caller,
        spec: ConfigSpec,
    ) -> DomainResult<JobConfig> {
        let now = Utc::now();
        let config = self
            .build_config(&caller.account, spec, None, None, now)
            .await?;
        Ok(self.db.insert_config(&config).await?)
    }

    /// Replaces what `spec` holds in a config of the caller's, its params edited by
    /// `params` (`spec.params` is ignored); the next fire moves only when the schedule, its
    /// window or `disabled` changed.
    pub async fn update_config(
        &self,
        caller: &Caller,
        id: Uuid,
        mut spec: ConfigSpec,
        params: ParamsEdit,
    ) -> DomainResult<JobConfig> {
        let before = self.config(caller, id).await?;
        self.check_host_caller(caller, &before.operation)?;
        self.check_host_caller(caller, &spec.operation)?;
        let merged = matches!(params, ParamsEdit::Merge(_));
        spec.params = match params {
            ParamsEdit::Keep => before.params.clone(),
            ParamsEdit::Replace(Value::Null) => Value::Object(Default::default()),
            ParamsEdit::Replace(params) => params,
            ParamsEdit::Merge(patch) => {
                let mut params = before.params.clone();
                merge_patch(&mut params, patch);
                if params.is_object() {
                    params
                } else {
                    // A `null` patch clears them.
                    Value::Object(Default::default())
                }
            }
        };
        if let Some(store) = before
            .params
            .get("certificate_store_id")
            .and_then(Value::as_str)
        {
            return Err(DomainError::Conflict {
                field: None,
                reason: format!(
                    "job config {id} is the inventory schedule of certificate store {store}; \
                     change it through the certificate store (POST /KeyfactorAPI/CertificateStores/Schedule)"
                ),
            });
        }
        let config = self
            .build_config(&before.account_id, spec, Some(&before), None, Utc::now())
            .await
            .map_err(|e| match e {
                // Only the params changed (the operation is the config's): the merged
                // params, or the target they name, no longer fit.
                DomainError::Unprocessable {
                    field: field @ (Field::Params(_) | Field::Operation),
                    reason,
                } if merged => DomainError::conflict(
                    field,
                    format!("the config's params would no longer fit its operation: {reason}"),
                ),
                e => e,
            })?;
        Ok(self.db.update_config(&config).await?)
    }

    /// Deletes a config of the caller's; its past jobs stay.
    pub async fn delete_config(&self, caller: &Caller, id: Uuid) -> DomainResult<()> {
        let config = self.config(caller, id).await?;
        self.check_host_caller(caller, &config.operation)?;
        if self.db.delete_config(caller.scope(), id).await? {
            Ok(())
        } else {
            Err(DomainError::not_found(format!(
                "no job config with id {id}"
            )))
        }
    }

    /// Enqueues one job of a config, due now, whatever its schedule or `disabled` flag;
    /// with `respect_windows`, due at the first instant its (and its account's) windows
    /// allow instead, and checked again when it starts; a dry run only if the operation's
    /// plugin can make one (see [`super::dry_run`]), refused before anything is queued.
    pub async fn run_now(
        &self,
        caller: &Caller,
        id: Uuid,
        how: super::dry_run::RunNow,
    ) -> DomainResult<(Uuid, JobConfig)> {
        let config = self.config(caller, id).await?;
        self.check_host_caller(caller, &config.operation)?;
        if how.dry_run {
            self.check_dry_run(&config)?;
        }
        let now = Utc::now();
        let mut job = JobSpec::from_config(&config, now);
        job.dry_run = how.dry_run;
        if how.respect_windows {
            let start = self
                .gate(&config.account_id, config.id, &config.policy)?
                .without_jitter()
                .start(now, true)
                .ok_or_else(|| {
                    DomainError::conflict(
                        Field::Policy("maintenance_windows".into()),
                        format!(
                            "no maintenance window of the config (or of its account) opens within {} days",
                            crate::scheduler::windows::HORIZON_DAYS
                        ),
                    )
                })?;
            job.due = start.at;
            job.start_by = start.by;
        }
        let ids = self.enqueue(&config.account_id, vec![job]).await?;
        Ok((ids[0], config))
    }

    /// The start rules of config `id` of `account` with `policy`: its windows and jitter
    /// and the account's windows.
    pub(crate) fn gate(
        &self,
        account: &str,
        id: Uuid,
        policy: &SchedulingPolicy,
    ) -> DomainResult<Gate> {
        let account_policy = self.account_table(account).map(|a| a.scheduling_policy());
        Gate::new(id, policy, account_policy.as_ref())
            .map_err(|e| DomainError::invalid(Field::Policy(e.path()), e.reason))
    }

    /// Builds and checks the inventory config of `store` (whose schedulability the
    /// caller checked), replacing `existing` when given.
    pub(crate) async fn build_store_config(
        &self,
        store: &CertificateStore,
        spec: ConfigSpec,
        existing: Option<&JobConfig>,
        now: DateTime<Utc>,
    ) -> DomainResult<JobConfig> {
        self.build_config(&store.account_id, spec, existing, Some(store), now)
            .await
    }

    /// Builds and checks a config from `spec`: of `account`, replacing `existing` when
    /// given, the inventory schedule of `store` when given.
    async fn build_config(
        &self,
        account: &str,
        mut spec: ConfigSpec,
        existing: Option<&JobConfig>,
        store: Option<&CertificateStore>,
        now: DateTime<Utc>,
    ) -> DomainResult<JobConfig> {
        if !spec.params.is_object() {
            return Err(DomainError::invalid(
                Field::Params(Vec::new()),
                "must be a JSON object",
            ));
        }
        if store.is_none()
            && spec
                .params
                .get("cloud_name")
                .is_some_and(|v| v.as_str().is_none_or(|s| s.contains('\0')))
        {
            // It becomes the config's target, a text column.
            return Err(DomainError::invalid(
                Field::param(&["cloud_name"]),
                "must be a string (without U+0000) naming the cloud the operation acts on",
            ));
        }
        let target = target_of(&spec.params, store.map(|s| s.store_type.as_str()));
        if store.is_none() {
            self.check_operation(
                account,
                &spec.operation,
                target.as_deref(),
                &mut spec.params,
            )?;
        }
        self.check_run_on(&spec.run_on, account).await?;
        if existing.is_none() {
            self.check_config_quota(account).await?;
        }
        let mut config = match existing {
            Some(old) => old.clone(),
            None => JobConfig::new(account, &spec.name, &spec.operation, "", now),
        };
        let gate = self.checked_gate(account, config.id, &spec.policy)?;
        let (run_at, timezone, window, next, kind, recurrence) = match &spec.schedule {
            ScheduleSpec::Cron { run_at, timezone } => {
                let parsed = Schedule::parse(run_at, timezone.as_deref()).map_err(|e| {
                    let field = if e.field == "timezone" {
                        Field::Timezone
                    } else {
                        Field::Schedule
                    };
                    DomainError::invalid(field, e.reason)
                })?;
                self.check_schedule_interval(account, &parsed, now)?;
                let window = Window {
                    start: spec.start_date,
                    end: spec.end_date,
                };
                let next = fire_times::first_fire(&parsed, window, now);
                let kind =
                    schedule::classify(run_at, timezone.as_deref(), window, config.created_at);
                (
                    run_at.trim().to_owned(),
                    timezone.clone(),
                    window,
                    next,
                    Some(kind),
                    None,
                )
            }
            ScheduleSpec::Recurrence(r) => {
                let fires = recurrence_fires(r, now);
                if let Ok(parsed) = Schedule::parse(&fires.run_at, None) {
                    self.check_schedule_interval(account, &parsed, now)?;
                }
                (
                    fires.run_at,
                    None,
                    fires.window,
                    fires.next,
                    r.kind(),
                    Some(r.clone()),
                )
            }
        };
        let next = match existing {
            Some(_) => self.after_queued_ahead(
                &spec.schedule,
                &run_at,
                timezone.as_deref(),
                window,
                next,
                now,
            ),
            None => next,
        };
        if !spec.disabled && next.is_some() {
            check_windows_reachable(
                &gate,
                &run_at,
                timezone.as_deref(),
                window,
                spec.catch_up,
                now,
            )?;
        }
        let schedule_changed = existing.is_none_or(|old| {
            old.run_at != run_at
                || old.timezone != timezone
                || old.start_date != window.start
                || old.end_date != window.end
                || old.disabled != spec.disabled
                || old.recurrence != recurrence
        });
        config.name = spec.name;
        config.description = spec.description;
        config.operation = spec.operation;
        config.params = spec.params;
        config.params_key = spec.params_key;
        config.run_at = run_at;
        config.timezone = timezone;
        config.start_date = window.start;
        config.end_date = window.end;
        config.disabled = spec.disabled;
        config.run_on = spec.run_on;
        config.catch_up = spec.catch_up;
        config.overlap = spec.overlap;
        config.max_retries = spec.max_retries;
        config.retry_backoff_secs = spec.retry_backoff_secs;
        config.alerts = spec.alerts;
        config.policy = spec.policy;
        if !spec.disabled {
            // Resumed (or never paused): what paused it no longer holds.
            config.paused_reason = None;
            config.paused_at = None;
        } else if existing.is_none_or(|old| !old.disabled) {
            config.paused_at = Some(truncate_micros(now));
        }
        config.target = target;
        config.schedule_kind = kind;
        config.recurrence = recurrence;
        if schedule_changed {
            config.next_fire_at = if config.disabled { None } else { next };
        }
        config.next_fire_at = config.next_fire_at.map(truncate_micros);
        Ok(config)
    }

    /// The first fire of an edited or resumed config. The scheduler queues a fire up to
    /// `[server] fire_ahead_ms` before its time (`scheduler::tick::Timing`), so one that
    /// close may already be queued: the config starts after it rather than queue it
    /// twice. (A config resumed that close to a fire it had not queued skips that fire.)
    fn after_queued_ahead(
        &self,
        spec: &ScheduleSpec,
        run_at: &str,
        timezone: Option<&str>,
        window: Window,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let ahead =
            chrono::Duration::from_std(self.registry.runtime().config().server.fire_ahead())
                .unwrap_or_default();
        let repeats = match spec {
            ScheduleSpec::Cron { .. } => true,
            ScheduleSpec::Recurrence(r) => {
                !matches!(r, Recurrence::Immediate | Recurrence::Once { .. })
            }
        };
        match next {
            Some(at) if repeats && at <= now + ahead => Schedule::parse(run_at, timezone)
                .ok()
                .and_then(|s| fire_times::first_fire(&s, window, now + ahead)),
            _ => next,
        }
    }

    /// The gate of a config being written, its policy's numbers checked first.
    fn checked_gate(
        &self,
        account: &str,
        id: Uuid,
        policy: &SchedulingPolicy,
    ) -> DomainResult<Gate> {
        if !(0..=MAX_JITTER_SECS).contains(&policy.jitter_secs) {
            return Err(DomainError::invalid(
                Field::Policy("jitter_secs".into()),
                format!("must be from 0 to {MAX_JITTER_SECS} seconds (a day)"),
            ));
        }
        if !(0..=MAX_PAUSE_AFTER_FAILURES).contains(&policy.pause_after_failures) {
            return Err(DomainError::invalid(
                Field::Policy("pause_after_failures".into()),
                format!("must be from 0 (never) to {MAX_PAUSE_AFTER_FAILURES}"),
            ));
        }
        self.gate(account, id, policy)
    }

    /// A loaded plugin provides `operation` for `target`, `account` may run it (its pinned
    /// params set in `params`), and `params` satisfy its schema and the duration rules.
    pub(crate) fn check_operation(
        &self,
        account: &str,
        operation: &str,
        target: Option<&str>,
        params: &mut Value,
    ) -> DomainResult<()> {
        if super::host_operations::is_host_operation(operation) {
            return self.check_host_operation(account, operation, params);
        }
        let (plugin, op) = self
            .registry
            .resolve(operation, target)
            .map_err(|unresolved| {
                let wanted = match target {
                    Some(t) => format!("{operation:?} for target {t:?}"),
                    None => format!("{operation:?}"),
                };
                let available = if unresolved.available.is_empty() {
                    "none (the plugins folder has no loaded plugin)".to_owned()
                } else {
                    unresolved.available.join(", ")
                };
                DomainError::unprocessable(
                    Field::Operation,
                    format!(
                        "no plugin provides operation {wanted}; available operations: {available}"
                    ),
                )
            })?;
        // The account's grant may pin params (its cloud scope); they are set before the
        // schema sees them, so the stored config shows them.
        self.account_job_grants(account, &plugin, operation, Some(params))?;
        check_schema(&op.params_schema, params, Field::Params)?;
        check_durations(params)
    }

    /// A job may be pinned only to a node that exists: this one, or one that has run here
    /// (its jobs would wait forever otherwise).
    pub(crate) async fn check_run_on(&self, run_on: &RunOn, account: &str) -> DomainResult<()> {
        let Some(node) = run_on.node() else {
            return Ok(());
        };
        if node == self.node_id {
            return Ok(());
        }
        // An agent of the account (its jobs wait for its next session).
        if let Ok(id) = uuid::Uuid::parse_str(node)
            && node == id.to_string()
            && self.db.get_agent(Some(account), id).await?.is_some()
        {
            return Ok(());
        }
        let nodes = self.db.list_nodes().await?;
        if nodes.iter().any(|n| n.id == node) {
            return Ok(());
        }
        let mut known: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        known.push(&self.node_id);
        known.sort_unstable();
        known.dedup();
        Err(DomainError::unprocessable(
            Field::RunOn,
            format!(
                "no node (agent) {node:?} has run here; known: {}",
                known.join(", ")
            ),
        ))
    }
}

/// Most failed runs in a row a config may wait for before it pauses itself.
pub const MAX_PAUSE_AFTER_FAILURES: i32 = 1000;

/// Refuses windows under which the schedule's jobs could never start: none opens (or
/// blackouts cover every opening) within the search horizon, or, under `catch_up =
/// skip` (a fire outside the windows is dropped), no fire of the schedule falls inside
/// one. Caught when the config is written rather than found out by a rotation that
/// never happens.
fn check_windows_reachable(
    gate: &Gate,
    run_at: &str,
    timezone: Option<&str>,
    window: Window,
    catch_up: CatchUp,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if gate.windows().is_empty() {
        return Ok(());
    }
    let Ok(schedule) = Schedule::parse(run_at, timezone) else {
        return Ok(());
    };
    if gate
        .first_runnable(&schedule, window, catch_up, now)
        .is_some()
    {
        return Ok(());
    }
    let days = crate::scheduler::windows::HORIZON_DAYS;
    let reason = if Gate::defers(catch_up) || gate.windows().next_allowed(now).is_none() {
        format!(
            "the maintenance windows (with the blackout windows and the account's windows) leave no instant to start a job in the next {days} days"
        )
    } else {
        format!(
            "no fire of {run_at:?} in the next {days} days falls inside the maintenance windows (with the blackout windows and the account's windows), and with catch_up = skip a fire outside them is dropped; \
             move the windows or the schedule, or set catch_up to one so a fire waits for the next window"
        )
    };
    Err(DomainError::unprocessable(
        Field::Policy("maintenance_windows".into()),
        reason,
    ))
}

/// Validates `value` against `schema`; the first error names its field as `field(path)`
/// (for a missing or unexpected property, that property).
pub(crate) fn check_schema(
    schema: &Value,
    value: &Value,
    field: fn(Vec<String>) -> Field,
) -> DomainResult<()> {
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        // The registry accepted the schema at load; if it does not compile here the
        // plugin is at fault, not the caller, but the request still cannot be accepted.
        DomainError::unprocessable(
            Field::Operation,
            format!("the plugin's params schema is invalid: {e}"),
        )
    })?;
    let Some(error) = validator.iter_errors(value).next() else {
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
    Err(DomainError::unprocessable(field(path), error.to_string()))
}

fn check_durations(params: &Value) -> DomainResult<()> {
    for key in DURATION_PARAMS {
        let Some(value) = params.get(*key) else {
            continue;
        };
        let field = || Field::param(&[key]);
        let text = value.as_str().ok_or_else(|| {
            DomainError::unprocessable(field(), "expected a string such as 6d or 12h")
        })?;
        fire_times::parse_duration_param(text)
            .map_err(|e| DomainError::unprocessable(field(), e))?;
        if *key == "rotation_after" && !text.ends_with('d') {
            // The reference counts rotation_after in days only.
            return Err(DomainError::unprocessable(
                field(),
                format!("invalid duration {text:?}: rotation_after takes days only, e.g. 30d"),
            ));
        }
    }
    Ok(())
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` deletes, anything else
/// replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = target {
                for (key, value) in patch {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge_patch(map.entry(key).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

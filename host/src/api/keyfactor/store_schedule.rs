//! Inventory schedules: Keyfactor's schedule objects (Immediate, Interval, Daily, Weekly,
//! Monthly, ExactlyOnce, Off) translated into the one job config each store owns.
//!
//! Keyfactor has no cron; Keywarden's scheduler only has cron. The translation:
//! - `{"Interval": {"Minutes": n}}` → `*/n * * * *` for n dividing 60, `0 */h * * *`
//!   for whole hours h dividing 24. Other intervals cannot repeat evenly in cron and are
//!   refused (422) rather than drifting. Fires are aligned to the clock (every 15 min =
//!   :00, :15, ...), not to the request time.
//! - `{"Daily": {"Time": t}}` → `M H * * *`, `{"Weekly": {"Days": [...], "Time": t}}` →
//!   `M H * * D,...`, `{"Monthly": {"Day": d, "Time": t}}` → `M H d * *`; times in UTC.
//! - `{"ExactlyOnce": {"Time": t}}` → a seconds cron of that instant with start and end
//!   date at `t`, so it fires once; a time already past runs at once, like Immediate.
//! - `{"Immediate": true}` → one job now, linked to the store's config.
//! - `{"Off": true}` → no schedule (the config is deleted; past jobs stay).
//!
//! The schedule as given is kept in the config's description, so the store shows it back
//! in Keyfactor's shape (`InventorySchedule`).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveTime, SubsecRound, Timelike, Utc, Weekday};
use keywarden_db::{CertificateStore, JobConfig, NewJob};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::kf_body::Body;
use super::store_types;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::ApiJson;
use crate::certificates::job_params::{StoreJobParams, operation};
use crate::scheduler::fire_times::{Schedule, Window, first_fire};

/// Prefix of the description of a store's inventory config; the rest is the schedule.
const DESCRIPTION_PREFIX: &str = "Keyfactor inventory schedule: ";

/// A Keyfactor schedule, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum KfSchedule {
    Off,
    Immediate,
    Interval(u32),
    Daily(NaiveTime),
    Weekly(Vec<Weekday>, NaiveTime),
    Monthly(u32, NaiveTime),
    ExactlyOnce(DateTime<Utc>),
}

/// Reads a schedule object; `field` names it in errors (`Schedule`, `InventorySchedule`).
pub fn parse(value: Value, field: &str) -> ApiResult<KfSchedule> {
    let mut body = Body::new(value, &format!("{field}."))?;
    let mut found: Vec<(String, KfSchedule)> = Vec::new();
    if let Some(v) = body.take("Immediate") {
        match v {
            Value::Bool(true) => found.push(("Immediate".into(), KfSchedule::Immediate)),
            Value::Bool(false) => {}
            other => {
                return Err(ApiError::invalid(
                    &format!("{field}.Immediate"),
                    format!("expected true, got {other}"),
                ));
            }
        }
    }
    if let Some(v) = body.take("Off")
        && v == Value::Bool(true)
    {
        found.push(("Off".into(), KfSchedule::Off));
    }
    if let Some(v) = body.take("Interval") {
        let f = format!("{field}.Interval");
        let mut inner = Body::new(v, &format!("{f}."))?;
        let minutes = inner
            .integer("Minutes", 1, 1440)?
            .ok_or_else(|| ApiError::invalid(&format!("{f}.Minutes"), "is required"))?;
        inner.finish()?;
        found.push(("Interval".into(), KfSchedule::Interval(minutes as u32)));
    }
    if let Some(v) = body.take("Daily") {
        let f = format!("{field}.Daily");
        let mut inner = Body::new(v, &format!("{f}."))?;
        let time = time_of_day(&mut inner, &f)?;
        inner.finish()?;
        found.push(("Daily".into(), KfSchedule::Daily(time)));
    }
    if let Some(v) = body.take("Weekly") {
        let f = format!("{field}.Weekly");
        let mut inner = Body::new(v, &format!("{f}."))?;
        let time = time_of_day(&mut inner, &f)?;
        let days = weekdays(inner.take("Days"), &format!("{f}.Days"))?;
        inner.finish()?;
        found.push(("Weekly".into(), KfSchedule::Weekly(days, time)));
    }
    if let Some(v) = body.take("Monthly") {
        let f = format!("{field}.Monthly");
        let mut inner = Body::new(v, &format!("{f}."))?;
        let time = time_of_day(&mut inner, &f)?;
        let day = inner
            .integer("Day", 1, 31)?
            .ok_or_else(|| ApiError::invalid(&format!("{f}.Day"), "is required"))?;
        inner.finish()?;
        found.push(("Monthly".into(), KfSchedule::Monthly(day as u32, time)));
    }
    if let Some(v) = body.take("ExactlyOnce") {
        let f = format!("{field}.ExactlyOnce");
        let mut inner = Body::new(v, &format!("{f}."))?;
        let at = inner
            .time("Time")?
            .ok_or_else(|| ApiError::invalid(&format!("{f}.Time"), "is required"))?;
        inner.finish()?;
        found.push((
            "ExactlyOnce".into(),
            KfSchedule::ExactlyOnce(at.trunc_subsecs(0)),
        ));
    }
    body.finish()?;
    match found.len() {
        1 => Ok(found.remove(0).1),
        0 => Err(ApiError::invalid(
            field,
            "give one of Immediate, Interval, Daily, Weekly, Monthly, ExactlyOnce or Off",
        )),
        _ => Err(ApiError::invalid(
            field,
            format!(
                "give one schedule kind, not {}",
                found
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
    }
}

/// `Time` as an RFC 3339 instant (Keyfactor's form; its UTC time of day counts) or `HH:MM`.
fn time_of_day(body: &mut Body, field: &str) -> ApiResult<NaiveTime> {
    let name = format!("{field}.Time");
    let raw = body
        .text("Time")?
        .ok_or_else(|| ApiError::invalid(&name, "is required"))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Ok(t
            .with_timezone(&Utc)
            .time()
            .with_second(0)
            .unwrap_or_default());
    }
    NaiveTime::parse_from_str(&raw, "%H:%M").map_err(|_| {
        ApiError::invalid(
            &name,
            format!("expected an RFC 3339 time such as 2024-01-01T02:30:00Z or HH:MM, got {raw:?}"),
        )
    })
}

fn weekdays(value: Option<Value>, field: &str) -> ApiResult<Vec<Weekday>> {
    let Some(Value::Array(items)) = value else {
        return Err(ApiError::invalid(
            field,
            "expected a non-empty array of day names",
        ));
    };
    let mut days = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let day = match item {
            Value::String(s) => s.trim().parse::<Weekday>().ok(),
            Value::Number(n) => n
                .as_u64()
                .filter(|n| *n < 7)
                .and_then(|n| Weekday::try_from(((n + 6) % 7) as u8).ok()),
            _ => None,
        };
        let day = day.ok_or_else(|| {
            ApiError::invalid(
                &format!("{field}[{i}]"),
                format!("expected a day name such as Monday or 0-6 (0 = Sunday), got {item}"),
            )
        })?;
        if !days.contains(&day) {
            days.push(day);
        }
    }
    if days.is_empty() {
        return Err(ApiError::invalid(field, "expected at least one day"));
    }
    days.sort_by_key(Weekday::num_days_from_sunday);
    Ok(days)
}

impl KfSchedule {
    /// Keyfactor's JSON shape.
    pub fn to_json(&self) -> Value {
        let hm = |t: &NaiveTime| format!("1970-01-01T{:02}:{:02}:00Z", t.hour(), t.minute());
        match self {
            KfSchedule::Off => json!({"Off": true}),
            KfSchedule::Immediate => json!({"Immediate": true}),
            KfSchedule::Interval(m) => json!({"Interval": {"Minutes": m}}),
            KfSchedule::Daily(t) => json!({"Daily": {"Time": hm(t)}}),
            KfSchedule::Weekly(days, t) => json!({"Weekly": {
                "Days": days.iter().map(|d| format!("{d:?}")).map(|d| full_day(&d)).collect::<Vec<_>>(),
                "Time": hm(t)}}),
            KfSchedule::Monthly(day, t) => json!({"Monthly": {"Day": day, "Time": hm(t)}}),
            KfSchedule::ExactlyOnce(at) => {
                json!({"ExactlyOnce": {"Time": super::kf_body::time(*at)}})
            }
        }
    }

    /// The cron expression and window, or `None` for Off and Immediate (and a past
    /// ExactlyOnce), which never fire from the scheduler.
    fn cron(&self, now: DateTime<Utc>, field: &str) -> ApiResult<Option<(String, Window)>> {
        let always = Window {
            start: None,
            end: None,
        };
        let hm = |t: &NaiveTime| format!("{} {}", t.minute(), t.hour());
        Ok(match self {
            KfSchedule::Off | KfSchedule::Immediate => None,
            KfSchedule::Interval(m) if *m == 60 => Some(("0 * * * *".into(), always)),
            KfSchedule::Interval(m) if 60 % m == 0 => Some((format!("*/{m} * * * *"), always)),
            KfSchedule::Interval(m) if m % 60 == 0 && 24 % (m / 60) == 0 => {
                let hours = m / 60;
                let expr = if hours == 24 {
                    "0 0 * * *".to_owned()
                } else {
                    format!("0 */{hours} * * *")
                };
                Some((expr, always))
            }
            KfSchedule::Interval(m) => {
                return Err(ApiError::unprocessable(
                    &format!("{field}.Interval.Minutes"),
                    format!(
                        "{m} minutes cannot repeat evenly around the clock; use a divisor of 60 \
                         (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) or whole hours dividing 24"
                    ),
                ));
            }
            KfSchedule::Daily(t) => Some((format!("{} * * *", hm(t)), always)),
            KfSchedule::Weekly(days, t) => {
                let days: Vec<String> = days
                    .iter()
                    .map(|d| d.num_days_from_sunday().to_string())
                    .collect();
                Some((format!("{} * * {}", hm(t), days.join(",")), always))
            }
            KfSchedule::Monthly(day, t) => Some((format!("{} {day} * *", hm(t)), always)),
            KfSchedule::ExactlyOnce(at) if *at <= now => None,
            KfSchedule::ExactlyOnce(at) => Some((
                format!(
                    "{} {} {} {} {} *",
                    at.second(),
                    at.minute(),
                    at.hour(),
                    at.day(),
                    at.month()
                ),
                Window {
                    start: Some(*at),
                    end: Some(*at),
                },
            )),
        })
    }

    /// Checks that the schedule can be translated, before anything is stored.
    pub fn check(&self, field: &str) -> ApiResult<()> {
        self.cron(Utc::now(), field).map(|_| ())
    }

    /// Whether the schedule means "run once now".
    fn runs_now(&self, now: DateTime<Utc>) -> bool {
        match self {
            KfSchedule::Immediate => true,
            KfSchedule::ExactlyOnce(at) => *at <= now,
            _ => false,
        }
    }
}

fn full_day(short: &str) -> String {
    match short {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    }
    .to_owned()
}

/// The schedule kept in a store's inventory config, in Keyfactor's shape.
pub fn render(config: &JobConfig) -> Option<Value> {
    config
        .description
        .strip_prefix(DESCRIPTION_PREFIX)
        .and_then(|json| serde_json::from_str(json).ok())
}

/// A job of `store` (operation `operation`, due at `at`), run on the store's agent.
pub fn store_job(
    store: &CertificateStore,
    operation: &str,
    params: &StoreJobParams,
    config: Option<&JobConfig>,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> NewJob {
    NewJob {
        id: uuid::Uuid::now_v7(),
        account_id: store.account_id.clone(),
        job_config_id: config.map(|c| c.id),
        name: format!("{operation} {}:{}", store.client_machine, store.store_path),
        description: config.map(|c| c.description.clone()).unwrap_or_default(),
        operation: operation.to_owned(),
        target: Some(store.store_type.clone()),
        params: params.to_value(),
        run_on: store.agent_id.clone().unwrap_or_else(|| "any".to_owned()),
        max_attempts: 1,
        retry_backoff_secs: 60,
        scheduled_for: at,
        enqueued_at: now,
    }
}

/// Replaces the inventory schedule of `store` with `schedule` and returns the store.
/// `field` names the schedule in errors.
pub async fn apply(
    state: &AppState,
    store: &CertificateStore,
    schedule: &KfSchedule,
    field: &str,
) -> ApiResult<CertificateStore> {
    let now = Utc::now();
    if !matches!(schedule, KfSchedule::Off) {
        check_schedulable(state, store, field)?;
    }
    let config = match schedule {
        KfSchedule::Off => None,
        _ => Some(inventory_config(state, store, schedule, now, field).await?),
    };
    let jobs: Vec<NewJob> = match &config {
        Some(c) if schedule.runs_now(now) => {
            let params = StoreJobParams {
                certificate_store_id: Some(store.id.to_string()),
                ..Default::default()
            };
            let mut job = store_job(store, operation::INVENTORY, &params, Some(c), now, now);
            job.name = c.name.clone();
            job.max_attempts = c.max_retries + 1;
            vec![job]
        }
        _ => Vec::new(),
    };
    Ok(state
        .db
        .set_inventory_schedule(&store.account_id, store.id, config.as_ref(), &jobs)
        .await?)
}

/// 422 unless the store is approved and its type's plugin provides Inventory.
pub fn check_schedulable(state: &AppState, store: &CertificateStore, field: &str) -> ApiResult<()> {
    if !store.approved {
        return Err(ApiError::unprocessable(
            field,
            format!("certificate store {} is not approved", store.id),
        ));
    }
    if store_types::plugin_for(&state.registry, operation::INVENTORY, &store.store_type).is_none() {
        return Err(ApiError::unprocessable(
            field,
            format!(
                "no loaded plugin provides Inventory for store type {} (store {})",
                store.store_type, store.id
            ),
        ));
    }
    Ok(())
}

async fn inventory_config(
    state: &AppState,
    store: &CertificateStore,
    schedule: &KfSchedule,
    now: DateTime<Utc>,
    field: &str,
) -> ApiResult<JobConfig> {
    let cron = schedule.cron(now, field)?;
    let existing = match store.inventory_config_id {
        Some(id) => state.db.get_config(Some(&store.account_id), id).await?,
        None => None,
    };
    let run_at = cron
        .as_ref()
        .map_or_else(|| now_cron(now), |(expr, _)| expr.clone());
    let mut config = JobConfig::new(
        &store.account_id,
        &format!("inventory {}", store.id),
        operation::INVENTORY,
        &run_at,
        now,
    );
    if let Some(old) = existing {
        config.id = old.id;
        config.created_at = old.created_at;
    }
    config.description = format!("{DESCRIPTION_PREFIX}{}", schedule.to_json());
    config.run_on = store.agent_id.clone().unwrap_or_else(|| "any".to_owned());
    config.params = StoreJobParams {
        certificate_store_id: Some(store.id.to_string()),
        ..Default::default()
    }
    .to_value();
    config.params_key = "params".to_owned();
    config.catch_up = "one".to_owned();
    config.max_retries = 1;
    match cron {
        Some((expr, window)) => {
            config.start_date = window.start;
            config.end_date = window.end;
            let parsed = Schedule::parse(&expr, None)
                .map_err(|e| ApiError::internal("translating the schedule", e))?;
            config.next_fire_at = first_fire(&parsed, window, now);
        }
        None => {
            // Runs once now (or never): the config only records the schedule.
            config.start_date = Some(now.trunc_subsecs(0));
            config.end_date = config.start_date;
            config.next_fire_at = None;
        }
    }
    Ok(config)
}

/// A seconds cron matching `now` only, for configs that never fire from the scheduler.
fn now_cron(now: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {} {} *",
        now.second(),
        now.minute(),
        now.hour(),
        now.day(),
        now.month()
    )
}

/// Body of `POST /KeyfactorAPI/CertificateStores/Schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRequest {
    /// GUIDs of the stores.
    pub store_ids: Vec<String>,
    /// One of `{"Immediate": true}`, `{"Interval": {"Minutes": 15}}`,
    /// `{"Daily": {"Time": "2024-01-01T02:30:00Z"}}`, `{"Weekly": {"Days": ["Monday"],
    /// "Time": ...}}`, `{"Monthly": {"Day": 1, "Time": ...}}`, `{"ExactlyOnce": {"Time":
    /// ...}}`, `{"Off": true}`.
    #[schema(value_type = Object)]
    pub schedule: Value,
}

/// Sets the inventory schedule of every listed store (all are checked before any changes).
#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Schedule", tag = "keyfactor-certificate-stores",
    request_body = ScheduleRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn schedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    let mut body = Body::new(body, "")?;
    let ids = match body.take("StoreIds") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids,
        _ => {
            return Err(ApiError::invalid(
                "StoreIds",
                "expected a non-empty array of store GUIDs",
            ));
        }
    };
    let schedule = parse(
        body.take("Schedule")
            .ok_or_else(|| ApiError::invalid("Schedule", "is required"))?,
        "Schedule",
    )?;
    body.finish()?;
    let mut stores = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("StoreIds[{i}]");
        let uuid = id
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            .ok_or_else(|| ApiError::invalid(&field, format!("expected a GUID, got {id}")))?;
        let store = state
            .db
            .get_certificate_store(caller.scope(), uuid)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("no certificate store with id {uuid}"))
                    .with_field(field.clone())
            })?;
        if !matches!(schedule, KfSchedule::Off) {
            check_schedulable(&state, &store, &field)?;
        }
        schedule.cron(Utc::now(), "Schedule")?;
        stores.push(store);
    }
    for store in &stores {
        apply(&state, store, &schedule, "Schedule").await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

//! Keyfactor schedules: the ScheduleType of a job (from its config's cron and window) and
//! the `Schedule` object of `POST /OrchestratorJobs/Custom` turned into a cron config.
//!
//! ScheduleType codes: `null` (immediately: a job no config fired), `I_` interval, `D_`
//! daily, `W_` weekly, `M_` monthly, `O_` once. A config whose window lets it fire only
//! once is `O_`; a cron with a fixed minute and hour is daily, weekly (day of week
//! restricted) or monthly (day of month restricted); every other recurring cron (steps,
//! wildcards in minute or hour, restricted months) counts as `I_`.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use keywarden_db::{ConfigFilter, Database, JobConfig, Sort};
use serde_json::Value;
use uuid::Uuid;

use crate::api::{ApiError, ApiResult};
use crate::scheduler::fire_times::Schedule;

/// Keyfactor's ScheduleType codes and the names accepted for them in queries.
pub const SCHEDULE_TYPES: &[(&str, &str)] = &[
    ("I_", "Interval"),
    ("D_", "Daily"),
    ("W_", "Weekly"),
    ("M_", "Monthly"),
    ("O_", "ExactlyOnce"),
];

/// The ScheduleType of the jobs `config` fires.
pub fn classify(config: &JobConfig) -> &'static str {
    if fires_at_most_once(config) {
        return "O_";
    }
    let run_at = config.run_at.trim().to_ascii_lowercase();
    match run_at.as_str() {
        "@monthly" => return "M_",
        "@weekly" => return "W_",
        "@daily" | "@midnight" => return "D_",
        s if s.starts_with('@') => return "I_",
        _ => {}
    }
    let mut fields: Vec<&str> = run_at.split_whitespace().collect();
    let fixed = |f: &str| !f.contains(['*', '/', '?']);
    if fields.len() == 6 {
        if !fixed(fields[0]) {
            return "I_";
        }
        fields.remove(0);
    }
    if fields.len() != 5 {
        return "I_";
    }
    let any = |f: &str| f == "*" || f == "?";
    let (minute, hour, dom, month, dow) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
    if !fixed(minute) || !fixed(hour) || !any(month) {
        return "I_";
    }
    match (any(dom), any(dow)) {
        (true, true) => "D_",
        (true, false) => "W_",
        (false, true) => "M_",
        (false, false) => "I_",
    }
}

/// A window with an end that leaves room for a single fire.
fn fires_at_most_once(config: &JobConfig) -> bool {
    let Some(end) = config.end_date else {
        return false;
    };
    let Ok(schedule) = Schedule::parse(&config.run_at, config.timezone.as_deref()) else {
        return false;
    };
    let from = config.start_date.unwrap_or(config.created_at) - Duration::seconds(1);
    match schedule.next_after(from).filter(|f| *f <= end) {
        None => true,
        Some(first) => schedule.next_after(first).is_none_or(|second| second > end),
    }
}

/// Most configs classified for one request; beyond it ScheduleType cannot be evaluated.
const MAX_CONFIGS: i64 = 100_000;

/// The ScheduleType of every config visible in `scope`, by id.
pub async fn config_schedule_types(
    store: &dyn Database,
    scope: Option<&str>,
) -> ApiResult<HashMap<Uuid, &'static str>> {
    let filter = ConfigFilter {
        account_id: scope.map(str::to_owned),
        ..Default::default()
    };
    let sort = Sort::by("id", false);
    let mut out = HashMap::new();
    let mut skip = 0;
    loop {
        let (total, page) = store.list_configs(&filter, &sort, skip, 1000).await?;
        if total > MAX_CONFIGS {
            return Err(ApiError::bad_request(format!(
                "the account has {total} job configs; schedule types are evaluated for at most {MAX_CONFIGS}"
            )));
        }
        if page.is_empty() {
            break;
        }
        skip += page.len() as i64;
        out.extend(page.iter().map(|c| (c.id, classify(c))));
    }
    Ok(out)
}

/// A custom job's schedule as a job config would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Run once, now (no config).
    Immediate,
    /// A config: cron in UTC and its window.
    Recurring {
        run_at: String,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    },
}

const WEEKDAYS: &[(&str, &str)] = &[
    ("sunday", "sun"),
    ("monday", "mon"),
    ("tuesday", "tue"),
    ("wednesday", "wed"),
    ("thursday", "thu"),
    ("friday", "fri"),
    ("saturday", "sat"),
];

fn object<'a>(v: &'a Value, field: &str) -> ApiResult<&'a serde_json::Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid(field, "must be a JSON object"))
}

fn time(v: &serde_json::Map<String, Value>, field: &str) -> ApiResult<DateTime<Utc>> {
    let name = format!("{field}.Time");
    let raw = v.get("Time").and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid(
            &name,
            "is required: an RFC 3339 time such as 2024-05-01T10:30:00Z",
        )
    })?;
    crate::api::extract::timestamp(&name, Some(raw))?
        .ok_or_else(|| ApiError::invalid(&name, "must not be empty"))
}

/// Reads Keyfactor's `Schedule` object (exactly one of `Immediate`, `Interval`, `Daily`,
/// `Weekly`, `Monthly`, `ExactlyOnce`). Times are read in UTC.
pub fn plan(schedule: &Value, now: DateTime<Utc>) -> ApiResult<Planned> {
    let map = object(schedule, "Schedule")?;
    let mut keys = map.keys();
    let (Some(kind), None) = (keys.next(), keys.next()) else {
        return Err(ApiError::invalid(
            "Schedule",
            "give exactly one of Immediate, Interval, Daily, Weekly, Monthly or ExactlyOnce",
        ));
    };
    let value = &map[kind];
    let field = format!("Schedule.{kind}");
    let recurring = |run_at: String| Planned::Recurring {
        run_at,
        start: None,
        end: None,
    };
    match kind.as_str() {
        "Immediate" => match value {
            Value::Bool(true) => Ok(Planned::Immediate),
            _ => Err(ApiError::invalid(&field, "must be true")),
        },
        "Interval" => {
            let minutes = object(value, &field)?
                .get("Minutes")
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &format!("{field}.Minutes"),
                        "is required: a whole number of minutes",
                    )
                })?;
            match minutes {
                1..=30 if 60 % minutes == 0 => Ok(recurring(format!("*/{minutes} * * * *"))),
                60..=1440 if minutes % 60 == 0 && 24 % (minutes / 60) == 0 => {
                    Ok(recurring(format!("0 */{} * * *", minutes / 60)))
                }
                _ => Err(ApiError::invalid(
                    &format!("{field}.Minutes"),
                    format!(
                        "{minutes} cannot be kept by the clock: use a divisor of 60 minutes or a number of hours dividing 24"
                    ),
                )),
            }
        }
        "Daily" => {
            let t = time(object(value, &field)?, &field)?;
            Ok(recurring(format!("{} {} * * *", t.minute(), t.hour())))
        }
        "Weekly" => {
            let body = object(value, &field)?;
            let t = time(body, &field)?;
            let days_field = format!("{field}.Days");
            let days = body
                .get("Days")
                .and_then(Value::as_array)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid(
                        &days_field,
                        "is required: a list of day names such as [\"Monday\"]",
                    )
                })?;
            let mut crons = Vec::new();
            for d in days {
                let name = d.as_str().unwrap_or_default().to_ascii_lowercase();
                let short = WEEKDAYS
                    .iter()
                    .find(|(long, short)| name == *long || name == *short)
                    .map(|(_, short)| *short)
                    .ok_or_else(|| ApiError::invalid(&days_field, format!("unknown day {d}")))?;
                if !crons.contains(&short) {
                    crons.push(short);
                }
            }
            Ok(recurring(format!(
                "{} {} * * {}",
                t.minute(),
                t.hour(),
                crons.join(",")
            )))
        }
        "Monthly" => {
            let body = object(value, &field)?;
            let t = time(body, &field)?;
            let day = body
                .get("Day")
                .and_then(Value::as_i64)
                .filter(|d| (1..=31).contains(d))
                .ok_or_else(|| {
                    ApiError::invalid(
                        &format!("{field}.Day"),
                        "is required: a day of the month from 1 to 31",
                    )
                })?;
            Ok(recurring(format!("{} {} {day} * *", t.minute(), t.hour())))
        }
        "ExactlyOnce" => {
            let t = time(object(value, &field)?, &field)?;
            let t = t.with_nanosecond(0).unwrap_or(t);
            if t <= now {
                return Err(ApiError::invalid(
                    &format!("{field}.Time"),
                    "is in the past; use Immediate to run now",
                ));
            }
            Ok(Planned::Recurring {
                run_at: format!(
                    "{} {} {} {} {} *",
                    t.second(),
                    t.minute(),
                    t.hour(),
                    t.day(),
                    t.month()
                ),
                start: Some(t),
                end: Some(t),
            })
        }
        other => Err(ApiError::invalid(
            "Schedule",
            format!(
                "unknown schedule {other:?}: use Immediate, Interval, Daily, Weekly, Monthly or ExactlyOnce"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn config(run_at: &str, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> JobConfig {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let mut c = JobConfig::new("a", "n", "hello", run_at, now);
        c.start_date = start;
        c.end_date = end;
        c
    }

    #[test]
    fn classifies_crons() {
        for (cron, want) in [
            ("*/5 * * * *", "I_"),
            ("0 * * * *", "I_"),
            ("@hourly", "I_"),
            ("30 2 * * *", "D_"),
            ("@daily", "D_"),
            ("0 9 * * mon,fri", "W_"),
            ("0 0 9 * * 1", "W_"),
            ("@weekly", "W_"),
            ("0 3 15 * *", "M_"),
            ("@monthly", "M_"),
            ("0 0 1 1 *", "I_"),
            ("*/10 0 9 * * *", "I_"),
        ] {
            assert_eq!(classify(&config(cron, None, None)), want, "{cron}");
        }
    }

    #[test]
    fn a_window_with_one_fire_is_once() {
        let at = Utc.with_ymd_and_hms(2030, 5, 1, 10, 30, 0).unwrap();
        assert_eq!(classify(&config("0 30 10 1 5 *", Some(at), Some(at))), "O_");
        // A weekly cron inside a three-week window fires thrice: weekly.
        let end = at + Duration::days(21);
        assert_eq!(classify(&config("0 9 * * wed", Some(at), Some(end))), "W_");
        assert_eq!(
            classify(&config(
                "0 9 * * wed",
                Some(at),
                Some(at + Duration::days(3))
            )),
            "O_"
        );
    }

    #[test]
    fn plans_keyfactor_schedules_and_round_trips_their_type() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let t = "2024-03-04T10:30:00Z";
        let cases = [
            (json!({"Immediate": true}), None),
            (
                json!({"Interval": {"Minutes": 15}}),
                Some(("*/15 * * * *", "I_")),
            ),
            (
                json!({"Interval": {"Minutes": 120}}),
                Some(("0 */2 * * *", "I_")),
            ),
            (json!({"Daily": {"Time": t}}), Some(("30 10 * * *", "D_"))),
            (
                json!({"Weekly": {"Days": ["Monday", "fri", "monday"], "Time": t}}),
                Some(("30 10 * * mon,fri", "W_")),
            ),
            (
                json!({"Monthly": {"Day": 4, "Time": t}}),
                Some(("30 10 4 * *", "M_")),
            ),
            (
                json!({"ExactlyOnce": {"Time": "2030-01-02T03:04:05.678Z"}}),
                Some(("5 4 3 2 1 *", "O_")),
            ),
        ];
        for (body, want) in cases {
            let planned = plan(&body, now).unwrap_or_else(|e| panic!("{body}: {}", e.message));
            match (planned, want) {
                (Planned::Immediate, None) => {}
                (Planned::Recurring { run_at, start, end }, Some((cron, kind))) => {
                    assert_eq!(run_at, cron, "{body}");
                    Schedule::parse(&run_at, None).expect("a valid cron");
                    assert_eq!(classify(&config(&run_at, start, end)), kind, "{body}");
                }
                (other, want) => panic!("{body}: {other:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn refuses_bad_schedules_naming_the_field() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for (body, field) in [
            (json!({}), "Schedule"),
            (
                json!({"Daily": {"Time": "x"}, "Immediate": true}),
                "Schedule",
            ),
            (json!("daily"), "Schedule"),
            (json!({"Hourly": {}}), "Schedule"),
            (json!({"Immediate": false}), "Schedule.Immediate"),
            (
                json!({"Interval": {"Minutes": 7}}),
                "Schedule.Interval.Minutes",
            ),
            (json!({"Interval": {}}), "Schedule.Interval.Minutes"),
            (json!({"Daily": {"Time": "10:30"}}), "Schedule.Daily.Time"),
            (json!({"Daily": {}}), "Schedule.Daily.Time"),
            (
                json!({"Weekly": {"Days": ["Someday"], "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Weekly.Days",
            ),
            (
                json!({"Weekly": {"Days": [], "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Weekly.Days",
            ),
            (
                json!({"Monthly": {"Day": 32, "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Monthly.Day",
            ),
            (
                json!({"ExactlyOnce": {"Time": "2020-01-01T00:00:00Z"}}),
                "Schedule.ExactlyOnce.Time",
            ),
        ] {
            let err = plan(&body, now).expect_err(&body.to_string());
            assert_eq!(err.field.as_deref(), Some(field), "{body}: {}", err.message);
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }
}

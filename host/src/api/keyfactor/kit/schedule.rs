//! The one reader and writer of Keyfactor schedule objects, for every endpoint that takes
//! one (inventory schedules, custom jobs, management and discovery jobs).
//!
//! A schedule object holds exactly one of `Immediate`, `Interval {Minutes}`,
//! `Daily {Time}`, `Weekly {Days, Time}`, `Monthly {Day, Time}`, `ExactlyOnce {Time}` or
//! `Off`, as Keyfactor documents them. The rules, settled once here:
//! - field names are case-insensitive, like every Keyfactor field;
//! - `Immediate` and `Off` are booleans; `false` counts as absent;
//! - `Time` is an RFC 3339 date-time (Keyfactor's model); for Daily, Weekly and Monthly
//!   its time of day in UTC is what counts; fractions of a second are dropped;
//! - `Days` are day names (`Monday`, `mon`, any case) or .NET's numbers (0 = Sunday to
//!   6 = Saturday), at least one;
//! - `Minutes` is a whole number from 1 to 525,600 (a year); `Day` from 1 to 31;
//! - an `ExactlyOnce` time already past runs at once (the domain service decides that).
//!
//! Every mistake is a 400 naming the field (`Schedule.Weekly.Days[0]`); a schedule of a
//! kind an endpoint cannot use is refused by the domain service (422).

use chrono::{DateTime, SubsecRound, Utc, Weekday};
use keywarden_db::Recurrence;
use serde_json::{Value, json};

use super::body::Body;
use crate::api::{ApiError, ApiResult};

/// Longest interval, in minutes.
pub const MAX_INTERVAL_MINUTES: i64 = 525_600;

/// The schedule kinds, as Keyfactor names them.
pub const KINDS: &[&str] = &[
    "Immediate",
    "Interval",
    "Daily",
    "Weekly",
    "Monthly",
    "ExactlyOnce",
    "Off",
];

/// Reads the schedule object `value`, named `field` in errors (`Schedule`,
/// `InventorySchedule`). `None` is `Off`.
pub fn parse(value: Value, field: &str) -> ApiResult<Option<Recurrence>> {
    let mut body = Body::new(value, &format!("{field}."))?;
    let mut given: Vec<(&str, Value)> = Vec::new();
    for kind in KINDS {
        let Some(v) = body.take(kind) else {
            continue;
        };
        if matches!(*kind, "Immediate" | "Off") {
            match v {
                Value::Bool(true) => given.push((kind, v)),
                Value::Bool(false) => {}
                other => {
                    return Err(ApiError::invalid(
                        &format!("{field}.{kind}"),
                        format!("expected true or false, got {other}"),
                    ));
                }
            }
        } else {
            given.push((kind, v));
        }
    }
    body.ignore(&["IsEmpty"]);
    body.finish().map_err(|e| match e.field.clone() {
        Some(f) => ApiError::invalid(
            &f,
            format!("unknown field; a schedule is one of {}", KINDS.join(", ")),
        ),
        None => e,
    })?;
    let (kind, value) = match given.len() {
        1 => given.remove(0),
        0 => {
            return Err(ApiError::invalid(
                field,
                format!("give one of {}", KINDS.join(", ")),
            ));
        }
        _ => {
            let kinds: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
            return Err(ApiError::invalid(
                field,
                format!("give one schedule kind, not {}", kinds.join(" and ")),
            ));
        }
    };
    let name = format!("{field}.{kind}");
    Ok(Some(match kind {
        "Off" => return Ok(None),
        "Immediate" => Recurrence::Immediate,
        "Interval" => {
            let mut inner = Body::new(value, &format!("{name}."))?;
            let minutes = inner
                .integer("Minutes", 1, MAX_INTERVAL_MINUTES)?
                .ok_or_else(|| ApiError::invalid(&format!("{name}.Minutes"), "is required"))?;
            inner.finish()?;
            Recurrence::Interval {
                minutes: minutes as u32,
            }
        }
        "Daily" => {
            let mut inner = Body::new(value, &format!("{name}."))?;
            let at = time(&mut inner)?;
            inner.finish()?;
            Recurrence::Daily { at }
        }
        "Weekly" => {
            let mut inner = Body::new(value, &format!("{name}."))?;
            let days = weekdays(inner.take("Days"), &inner.name("Days"))?;
            let at = time(&mut inner)?;
            inner.finish()?;
            Recurrence::Weekly { days, at }
        }
        "Monthly" => {
            let mut inner = Body::new(value, &format!("{name}."))?;
            let day = inner
                .integer("Day", 1, 31)?
                .ok_or_else(|| ApiError::invalid(&format!("{name}.Day"), "is required"))?;
            let at = time(&mut inner)?;
            inner.finish()?;
            Recurrence::Monthly {
                day: day as u32,
                at,
            }
        }
        _ => {
            let mut inner = Body::new(value, &format!("{name}."))?;
            let at = time(&mut inner)?;
            inner.finish()?;
            Recurrence::Once { at }
        }
    }))
}

/// The required `Time` of a schedule kind, to the second.
fn time(body: &mut Body) -> ApiResult<DateTime<Utc>> {
    body.time("Time")?
        .map(|t| t.trunc_subsecs(0))
        .ok_or_else(|| {
            ApiError::invalid(
                &body.name("Time"),
                "is required: an RFC 3339 time such as 2024-05-01T10:30:00Z",
            )
        })
}

fn weekdays(value: Option<Value>, field: &str) -> ApiResult<Vec<Weekday>> {
    let Some(Value::Array(items)) = value else {
        return Err(ApiError::invalid(
            field,
            "is required: a non-empty array of day names such as [\"Monday\"] or numbers 0-6 (0 = Sunday)",
        ));
    };
    let mut days = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let day = match item {
            Value::String(s) => s.trim().parse::<Weekday>().ok(),
            Value::Number(_) => crate::api::json::whole_number(item)
                .filter(|n| (0..7).contains(n))
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

/// Keyfactor's shape of a schedule (`None`: `{"Off": true}`).
pub fn render(recurrence: Option<&Recurrence>) -> Value {
    let t = |at: &DateTime<Utc>| super::time(*at);
    match recurrence {
        None => json!({"Off": true}),
        Some(Recurrence::Immediate) => json!({"Immediate": true}),
        Some(Recurrence::Interval { minutes }) => json!({"Interval": {"Minutes": minutes}}),
        Some(Recurrence::Daily { at }) => json!({"Daily": {"Time": t(at)}}),
        Some(Recurrence::Weekly { days, at }) => json!({"Weekly": {
            "Days": days.iter().map(|d| day_name(*d)).collect::<Vec<_>>(),
            "Time": t(at)}}),
        Some(Recurrence::Monthly { day, at }) => {
            json!({"Monthly": {"Day": day, "Time": t(at)}})
        }
        Some(Recurrence::Once { at }) => json!({"ExactlyOnce": {"Time": t(at)}}),
    }
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reads_every_kind_in_any_case_and_renders_it_back() {
        let t = "2024-03-04T10:30:00Z";
        for (body, want) in [
            (json!({"Immediate": true}), Some(Recurrence::Immediate)),
            (json!({"off": true}), None),
            (
                json!({"interval": {"minutes": 90}}),
                Some(Recurrence::Interval { minutes: 90 }),
            ),
            (
                json!({"Daily": {"Time": "2024-03-04T10:30:00.678Z"}}),
                Some(Recurrence::Daily { at: at(t) }),
            ),
            (
                json!({"WEEKLY": {"days": ["friday", "Mon", 1, 0], "time": t}}),
                Some(Recurrence::Weekly {
                    days: vec![Weekday::Sun, Weekday::Mon, Weekday::Fri],
                    at: at(t),
                }),
            ),
            (
                json!({"Monthly": {"Day": 31, "Time": t}, "Immediate": false}),
                Some(Recurrence::Monthly { day: 31, at: at(t) }),
            ),
            (
                json!({"ExactlyOnce": {"Time": "2030-01-02T04:04:05+01:00"}}),
                Some(Recurrence::Once {
                    at: at("2030-01-02T03:04:05Z"),
                }),
            ),
        ] {
            let got =
                parse(body.clone(), "Schedule").unwrap_or_else(|e| panic!("{body}: {}", e.message));
            assert_eq!(got, want, "{body}");
            // What is rendered reads back the same.
            assert_eq!(
                parse(render(got.as_ref()), "Schedule").unwrap(),
                want,
                "{body}"
            );
        }
        assert_eq!(
            render(Some(&Recurrence::Weekly {
                days: vec![Weekday::Mon],
                at: at(t)
            })),
            json!({"Weekly": {"Days": ["Monday"], "Time": t}})
        );
    }

    #[test]
    fn refuses_bad_schedules_naming_the_field() {
        for (body, field) in [
            (json!({}), "Schedule"),
            (json!("daily"), "Schedule"),
            (json!({"Immediate": false}), "Schedule"),
            (json!({"Immediate": "yes"}), "Schedule.Immediate"),
            (
                json!({"Daily": {"Time": "x"}, "Immediate": true}),
                "Schedule",
            ),
            (json!({"Hourly": {}}), "Schedule.Hourly"),
            (
                json!({"Interval": {"Minutes": 0}}),
                "Schedule.Interval.Minutes",
            ),
            (
                json!({"Interval": {"Minutes": 525601}}),
                "Schedule.Interval.Minutes",
            ),
            (
                json!({"Interval": {"Minutes": 1.5}}),
                "Schedule.Interval.Minutes",
            ),
            (json!({"Interval": {}}), "Schedule.Interval.Minutes"),
            (
                json!({"Interval": {"Minutes": 5, "Seconds": 1}}),
                "Schedule.Interval.Seconds",
            ),
            (json!({"Daily": {"Time": "10:30"}}), "Schedule.Daily.Time"),
            (json!({"Daily": {}}), "Schedule.Daily.Time"),
            (
                json!({"Weekly": {"Days": ["Someday"], "Time": "02:00"}}),
                "Schedule.Weekly.Days[0]",
            ),
            (
                json!({"Weekly": {"Days": [7], "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Weekly.Days[0]",
            ),
            (
                json!({"Weekly": {"Days": [], "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Weekly.Days",
            ),
            (
                json!({"Monthly": {"Day": 32, "Time": "2024-01-01T00:00:00Z"}}),
                "Schedule.Monthly.Day",
            ),
            (json!({"ExactlyOnce": {}}), "Schedule.ExactlyOnce.Time"),
        ] {
            let err = parse(body.clone(), "Schedule").expect_err(&body.to_string());
            assert_eq!(err.field.as_deref(), Some(field), "{body}: {}", err.message);
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
}

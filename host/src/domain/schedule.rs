//! Schedules in the model: a cron expression (CipherTrust's `run_at`) or a recurrence
//! (Keyfactor's schedule objects), turned into what the scheduler fires from (a cron
//! expression and a window) and classified into a [`ScheduleKind`], once, when a job
//! config is written.
//!
//! Recurrences become cron in UTC:
//! - every N minutes: `*/N * * * *` when N divides an hour, `0 */H * * *` when it is whole
//!   hours dividing a day, otherwise `@every Nm` (fires at the multiples of N minutes since
//!   1970-01-01T00:00Z, so a 90-minute interval fires at 00:00, 01:30, 03:00, ... and a
//!   1440-minute one at midnight UTC);
//! - daily / weekly / monthly at a time: `M H * * *`, `M H * * D,...`, `M H d * *`, with the
//!   time of day of the given instant in UTC (a monthly day 31 fires in months that have it);
//! - once at an instant: a seconds cron of that instant, with the window closed on it. An
//!   instant already past runs at once (one job, due now), like an immediate request.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use keywarden_db::{Recurrence, ScheduleKind};

use crate::scheduler::fire_times::{Schedule, ScheduleError, Window, first_fire};

/// What a schedule means for the scheduler as of a given instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fires {
    /// The cron expression (UTC) the config keeps; it never fires when `next` is `None`.
    pub run_at: String,
    /// The window that bounds it.
    pub window: Window,
    /// The first fire after now, if any.
    pub next: Option<DateTime<Utc>>,
    /// Whether the schedule asks for one job right away (immediately, or once at an
    /// instant already past).
    pub runs_now: bool,
}

/// The cron expression, window and next fire of `recurrence` as of `now`.
pub fn recurrence_fires(recurrence: &Recurrence, now: DateTime<Utc>) -> Fires {
    let always = Window::default();
    let hm = |at: &DateTime<Utc>| format!("{} {}", at.minute(), at.hour());
    let (run_at, window) = match recurrence {
        Recurrence::Immediate => return never(now, true),
        Recurrence::Once { at } if *at <= now => return never(now, true),
        Recurrence::Interval { minutes } => (interval_cron(*minutes), always),
        Recurrence::Daily { at } => (format!("{} * * *", hm(at)), always),
        Recurrence::Weekly { days, at } => {
            let days: Vec<String> = days
                .iter()
                .map(|d| d.num_days_from_sunday().to_string())
                .collect();
            (format!("{} * * {}", hm(at), days.join(",")), always)
        }
        Recurrence::Monthly { day, at } => (format!("{} {day} * *", hm(at)), always),
        Recurrence::Once { at } => (
            seconds_cron(*at),
            Window {
                start: Some(*at),
                end: Some(*at),
            },
        ),
    };
    let next = Schedule::parse(&run_at, None)
        .ok()
        .and_then(|s| first_fire(&s, window, now));
    Fires {
        run_at,
        window,
        next,
        runs_now: false,
    }
}

/// A schedule that never fires from the scheduler: a seconds cron of `now` with the window
/// closed on it, so the config still has a valid expression to show.
fn never(now: DateTime<Utc>, runs_now: bool) -> Fires {
    let at = now.with_nanosecond(0).unwrap_or(now);
    Fires {
        run_at: seconds_cron(at),
        window: Window {
            start: Some(at),
            end: Some(at),
        },
        next: None,
        runs_now,
    }
}

fn seconds_cron(at: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {} {} *",
        at.second(),
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    )
}

/// Cron for every `minutes` minutes (see the module docs).
fn interval_cron(minutes: u32) -> String {
    match minutes {
        60 => "0 * * * *".to_owned(),
        m if m < 60 && 60 % m == 0 => format!("*/{m} * * * *"),
        m if m % 60 == 0 && m < 1440 && 1440 % m == 0 => format!("0 */{} * * *", m / 60),
        m => format!("@every {m}m"),
    }
}

/// The kind of schedule a cron expression and window make: once when the window leaves
/// room for a single fire; daily, weekly or monthly for a fixed minute and hour with the
/// day of week or of month restricted accordingly; an interval otherwise (steps or
/// wildcards in minute or hour, `@every`, restricted months).
pub fn classify(
    run_at: &str,
    timezone: Option<&str>,
    window: Window,
    created_at: DateTime<Utc>,
) -> ScheduleKind {
    if fires_at_most_once(run_at, timezone, window, created_at) {
        return ScheduleKind::Once;
    }
    let run_at = run_at.trim().to_ascii_lowercase();
    match run_at.as_str() {
        "@monthly" => return ScheduleKind::Monthly,
        "@weekly" => return ScheduleKind::Weekly,
        "@daily" | "@midnight" => return ScheduleKind::Daily,
        s if s.starts_with('@') => return ScheduleKind::Interval,
        _ => {}
    }
    let mut fields: Vec<&str> = run_at.split_whitespace().collect();
    let fixed = |f: &str| !f.contains(['*', '/', '?']);
    if fields.len() == 6 {
        if !fixed(fields[0]) {
            return ScheduleKind::Interval;
        }
        fields.remove(0);
    }
    let [minute, hour, dom, month, dow] = fields[..] else {
        return ScheduleKind::Interval;
    };
    let any = |f: &str| f == "*" || f == "?";
    if !fixed(minute) || !fixed(hour) || !any(month) {
        return ScheduleKind::Interval;
    }
    match (any(dom), any(dow)) {
        (true, true) => ScheduleKind::Daily,
        (true, false) => ScheduleKind::Weekly,
        (false, true) => ScheduleKind::Monthly,
        (false, false) => ScheduleKind::Interval,
    }
}

/// A window with an end that leaves room for a single fire.
fn fires_at_most_once(
    run_at: &str,
    timezone: Option<&str>,
    window: Window,
    created_at: DateTime<Utc>,
) -> bool {
    let Some(end) = window.end else {
        return false;
    };
    let Ok(schedule) = Schedule::parse(run_at, timezone) else {
        return false;
    };
    let from = window.start.unwrap_or(created_at) - Duration::seconds(1);
    match schedule.next_after(from).filter(|f| *f <= end) {
        None => true,
        Some(first) => schedule.next_after(first).is_none_or(|second| second > end),
    }
}

/// Parses a cron schedule, for callers that only need to know it is valid.
pub fn parse_cron(run_at: &str, timezone: Option<&str>) -> Result<Schedule, ScheduleError> {
    Schedule::parse(run_at, timezone)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Weekday};

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_crons() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for (cron, want) in [
            ("*/5 * * * *", ScheduleKind::Interval),
            ("0 * * * *", ScheduleKind::Interval),
            ("@hourly", ScheduleKind::Interval),
            ("@every 90m", ScheduleKind::Interval),
            ("30 2 * * *", ScheduleKind::Daily),
            ("@daily", ScheduleKind::Daily),
            ("0 9 * * mon,fri", ScheduleKind::Weekly),
            ("0 0 9 * * 1", ScheduleKind::Weekly),
            ("@weekly", ScheduleKind::Weekly),
            ("0 3 15 * *", ScheduleKind::Monthly),
            ("@monthly", ScheduleKind::Monthly),
            ("0 0 1 1 *", ScheduleKind::Interval),
            ("*/10 0 9 * * *", ScheduleKind::Interval),
        ] {
            assert_eq!(classify(cron, None, Window::default(), now), want, "{cron}");
        }
    }

    #[test]
    fn a_window_with_one_fire_is_once() {
        let start = at("2030-05-01T10:30:00Z");
        let window = |end| Window {
            start: Some(start),
            end: Some(end),
        };
        let now = at("2024-01-01T00:00:00Z");
        assert_eq!(
            classify("0 30 10 1 5 *", None, window(start), now),
            ScheduleKind::Once
        );
        // A weekly cron inside a three-week window fires thrice: weekly.
        assert_eq!(
            classify("0 9 * * wed", None, window(start + Duration::days(21)), now),
            ScheduleKind::Weekly
        );
        assert_eq!(
            classify("0 9 * * wed", None, window(start + Duration::days(3)), now),
            ScheduleKind::Once
        );
    }

    #[test]
    fn recurrences_become_crons_of_their_kind() {
        let now = at("2024-01-01T00:00:00Z");
        let t = at("2024-03-04T10:30:00Z");
        for (recurrence, cron) in [
            (Recurrence::Interval { minutes: 15 }, "*/15 * * * *"),
            (Recurrence::Interval { minutes: 60 }, "0 * * * *"),
            (Recurrence::Interval { minutes: 120 }, "0 */2 * * *"),
            (Recurrence::Interval { minutes: 1440 }, "@every 1440m"),
            (Recurrence::Interval { minutes: 90 }, "@every 90m"),
            (Recurrence::Interval { minutes: 7 }, "@every 7m"),
            (Recurrence::Daily { at: t }, "30 10 * * *"),
            (
                Recurrence::Weekly {
                    days: vec![Weekday::Mon, Weekday::Fri],
                    at: t,
                },
                "30 10 * * 1,5",
            ),
            (Recurrence::Monthly { day: 4, at: t }, "30 10 4 * *"),
            (
                Recurrence::Once {
                    at: at("2030-01-02T03:04:05Z"),
                },
                "5 4 3 2 1 *",
            ),
        ] {
            let fires = recurrence_fires(&recurrence, now);
            assert_eq!(fires.run_at, cron, "{recurrence:?}");
            assert!(fires.next.is_some() && !fires.runs_now, "{recurrence:?}");
            assert_eq!(
                Some(classify(&fires.run_at, None, fires.window, now)),
                recurrence.kind(),
                "{recurrence:?}"
            );
        }
        let every_90 = recurrence_fires(&Recurrence::Interval { minutes: 90 }, now);
        assert_eq!(every_90.next, Some(at("2024-01-01T01:30:00Z")));
    }

    #[test]
    fn immediate_and_past_instants_run_now_and_never_fire() {
        let now = at("2024-01-01T12:00:00.250Z");
        for recurrence in [
            Recurrence::Immediate,
            Recurrence::Once {
                at: at("2020-01-01T00:00:00Z"),
            },
        ] {
            let fires = recurrence_fires(&recurrence, now);
            assert!(fires.runs_now, "{recurrence:?}");
            assert_eq!(fires.next, None);
            assert_eq!(fires.window.start, fires.window.end);
            Schedule::parse(&fires.run_at, None).expect("a valid cron to show");
        }
    }
}

//! Quiet hours: weekly windows (UTC) during which a network's alerts wait. A window runs
//! from its start day and time to its end day and time; one that ends "before" it starts
//! runs over the end of the week (Saturday 22:00 to Sunday 06:00).

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use keywarden_db::QuietHour;

const WEEK: i64 = 7 * 24 * 60;

/// Minutes since Sunday 00:00 UTC.
fn week_minute(t: DateTime<Utc>) -> i64 {
    i64::from(t.weekday().num_days_from_sunday()) * 24 * 60
        + i64::from(t.hour()) * 60
        + i64::from(t.minute())
}

/// Minutes from `now` to the end of the window holding it, if one does.
fn minutes_left(minute: i64, q: &QuietHour) -> Option<i64> {
    let start = i64::from(q.start_day) * 24 * 60 + i64::from(q.start_minute);
    let end = i64::from(q.end_day) * 24 * 60 + i64::from(q.end_minute);
    let length = (end - start).rem_euclid(WEEK);
    let into = (minute - start).rem_euclid(WEEK);
    (length > 0 && into < length).then_some(length - into)
}

/// When the quiet hours holding `now` end (windows that touch or overlap count as
/// one), or `None` when `now` is not in any.
pub fn quiet_until(now: DateTime<Utc>, hours: &[QuietHour]) -> Option<DateTime<Utc>> {
    // The start of the minute, so the end lands on a whole minute.
    let base = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let mut at = base;
    // Each step leaves one window; a week of windows ends within their number of steps.
    for _ in 0..=hours.len() {
        let left = hours
            .iter()
            .filter_map(|q| minutes_left(week_minute(at), q))
            .max()?;
        at += Duration::minutes(left);
        if !hours
            .iter()
            .any(|q| minutes_left(week_minute(at), q).is_some())
        {
            return Some(at);
        }
    }
    // Windows covering the whole week: quiet for good; look again in a week.
    Some(base + Duration::days(7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(start_day: u8, start: (u16, u16), end_day: u8, end: (u16, u16)) -> QuietHour {
        QuietHour {
            start_day,
            start_minute: start.0 * 60 + start.1,
            end_day,
            end_minute: end.0 * 60 + end.1,
        }
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        // 2026-11-29 is a Sunday.
        Utc.with_ymd_and_hms(2026, 11, 29, h, m, 7).unwrap() + Duration::days(i64::from(d))
    }

    #[test]
    fn windows_within_a_day_across_days_and_across_the_week_end() {
        let nightly = q(1, (22, 0), 2, (6, 0)); // Monday 22:00 to Tuesday 06:00
        assert_eq!(
            quiet_until(at(1, 23, 30), &[nightly]),
            Some(at(2, 6, 0) - Duration::seconds(7))
        );
        assert_eq!(quiet_until(at(1, 21, 59), &[nightly]), None);
        assert_eq!(
            quiet_until(at(2, 6, 0), &[nightly]),
            None,
            "the end is not quiet"
        );
        let weekend = q(6, (22, 0), 0, (6, 0)); // Saturday 22:00 to Sunday 06:00
        assert_eq!(
            quiet_until(at(0, 1, 0), &[weekend]),
            Some(at(0, 6, 0) - Duration::seconds(7))
        );
        assert_eq!(quiet_until(at(0, 7, 0), &[weekend]), None);
        let lunch = q(3, (12, 0), 3, (13, 0));
        assert_eq!(
            quiet_until(at(3, 12, 30), &[lunch]),
            Some(at(3, 13, 0) - Duration::seconds(7))
        );
        assert_eq!(quiet_until(at(3, 12, 30), &[]), None);
    }

    #[test]
    fn touching_windows_are_one_and_a_full_week_is_quiet_for_a_week() {
        let a = q(1, (10, 0), 1, (11, 0));
        let b = q(1, (11, 0), 1, (12, 0));
        assert_eq!(
            quiet_until(at(1, 10, 15), &[b, a]),
            Some(at(1, 12, 0) - Duration::seconds(7))
        );
        let always = q(0, (0, 0), 6, (23, 59));
        let rest = q(6, (23, 59), 0, (0, 0));
        let now = at(2, 3, 4);
        let until = quiet_until(now, &[always, rest]).unwrap();
        assert!(until > now + Duration::days(6), "{until}");
        let empty = q(2, (5, 0), 2, (5, 0));
        assert_eq!(quiet_until(at(2, 5, 0), &[empty]), None, "an empty window");
    }
}

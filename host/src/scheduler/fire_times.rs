//! Fire-time arithmetic for scheduled jobs: cron parsing, timezone- and
//! DST-aware "next fire" search, catch-up planning after downtime, and the
//! `Xd`/`Yh` duration parameters.
//!
//! Everything here is pure (no clock, no I/O) so the scheduler loop can be
//! tested with fixed instants. All instants are UTC; only the wall-clock
//! matching happens in the schedule's timezone.
//!
//! # DST rules
//! A schedule is either *fixed-time* or *elapsed-time*:
//! - **elapsed-time**: its seconds, minutes or hours field contains `*` or a
//!   step `/` (e.g. `*/15 * * * *`, `0 * * * *`, `@hourly`). These mean "every
//!   so often" and follow real elapsed time: wall times inside a
//!   spring-forward gap do not exist and are skipped, and wall times repeated by
//!   a fall-back fire in *both* occurrences (so `@hourly` fires every real hour).
//! - **fixed-time**: everything else (`30 2 * * *`, `0,30 1 * * *`, `0-5 9 * * *`,
//!   `@daily`). Each matching wall-clock time fires exactly once per day: a time
//!   in a spring-forward gap fires at the first instant after the gap (several
//!   gap times collapse into that one fire), a time repeated by a fall-back
//!   fires only at its first occurrence.
//!
//! Day-of-month and day-of-week combine as in Vixie cron/POSIX: when both are
//! restricted (neither starts with `*` or `?`), a day matches if *either*
//! matches; otherwise both must match.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use cron::TimeUnitSpec;

/// How far ahead (in days) a search for the next matching date goes before
/// giving up. 50 years covers every satisfiable schedule (the rarest, e.g.
/// Feb 29 on a given weekday, recur within 40 years).
const SEARCH_DAYS: u64 = 50 * 366;

/// Longest duration accepted by [`parse_duration_param`], in days (10 years):
/// anything longer is almost certainly a typo.
pub const MAX_DURATION_DAYS: i64 = 3650;

/// Why a schedule was rejected. `field` names the config field at fault
/// (`"run_at"` or `"timezone"`) so the API and CLI can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ScheduleError {
    /// The config field at fault: `"run_at"` or `"timezone"`.
    pub field: &'static str,
    /// Human-readable explanation of what is wrong and why.
    pub reason: String,
}

/// Longest `@every` period: a year.
const MAX_EVERY_SECS: i64 = 366 * 86_400;

/// A validated schedule: a cron expression bound to a timezone, or a fixed period.
///
/// Accepts standard 5-field cron (`min hour dom mon dow`), 6-field cron with
/// seconds first (`sec min hour dom mon dow`), the macros `@yearly`,
/// `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`, and
/// `@every N` with a unit `s`, `m`, `h` or `d` (e.g. `@every 90m`), which fires at
/// the multiples of the period since 1970-01-01T00:00Z, whatever the timezone (a
/// period is elapsed time; it is how intervals that do not divide an hour or a day
/// are kept). Day-of-week numbers follow standard cron in both forms: 0 and 7 are
/// Sunday, 1 is Monday; names (`MON`, `sun`) work too. See the module docs for DST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    rule: Rule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Cron(Box<CronRule>),
    /// Every so many seconds, counted from the Unix epoch.
    Every(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CronRule {
    tz: Tz,
    cron: cron::Schedule,
    /// Both day fields restricted: a day matches if either matches.
    day_or: bool,
    /// Elapsed-time schedule (see module docs).
    elapsed: bool,
}

impl Schedule {
    /// Parses `run_at` and the optional IANA `timezone` (default UTC).
    ///
    /// Rejects unknown timezones, field counts other than 5 or 6 (7-field
    /// input with a year is not supported), out-of-range values (with the cron
    /// crate's explanation) and expressions that can never fire (`0 0 31 2 *`),
    /// so that a bad config fails at load time rather than silently never running.
    pub fn parse(run_at: &str, timezone: Option<&str>) -> Result<Self, ScheduleError> {
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => name.trim().parse::<Tz>().map_err(|_| ScheduleError {
                field: "timezone",
                reason: format!(
                    "unknown timezone {name:?}: expected an IANA name such as \"Europe/Berlin\" or \"UTC\""
                ),
            })?,
        };
        let invalid = |why: String| ScheduleError {
            field: "run_at",
            reason: format!("invalid cron expression {run_at:?}: {why}"),
        };
        if let Some(period) = every(run_at).transpose().map_err(invalid)? {
            return Ok(Schedule {
                source: run_at.trim().to_owned(),
                rule: Rule::Every(period),
            });
        }
        let mut fields = expand_fields(run_at).map_err(invalid)?;
        let starred = |f: &str| f.starts_with('*') || f.starts_with('?');
        let day_or = !starred(&fields[3]) && !starred(&fields[5]);
        fields[5] = translate_dow(&fields[5]).map_err(invalid)?;
        let cron = cron::Schedule::from_str(&fields.join(" "))
            .map_err(|e| invalid(describe_cron_error(&fields, &e)))?;
        let rule = CronRule {
            tz,
            cron,
            day_or,
            elapsed: fields[..3].iter().any(|f| f.contains(['*', '/'])),
        };
        let probe = NaiveDate::from_ymd_opt(2000, 1, 1).map(|d| d.and_time(NaiveTime::MIN));
        if probe.and_then(|p| rule.next_match(p)).is_none() {
            return Err(invalid(
                "it never fires: no date matches its day-of-month, month and day-of-week fields"
                    .to_owned(),
            ));
        }
        Ok(Schedule {
            source: run_at.trim().to_owned(),
            rule: Rule::Cron(Box::new(rule)),
        })
    }

    /// The expression as written in the config (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The timezone whose wall clock the expression is matched against (UTC for a
    /// period).
    pub fn timezone(&self) -> Tz {
        match &self.rule {
            Rule::Cron(c) => c.tz,
            Rule::Every(_) => Tz::UTC,
        }
    }

    /// The first fire strictly after `after`, or `None` if there is none within
    /// 50 years. Matching happens on the schedule timezone's wall clock with the
    /// DST rules from the module docs.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron(c) => c.next_after(after),
            Rule::Every(period) => {
                let secs = after.timestamp();
                let next = secs
                    .div_euclid(*period)
                    .checked_add(1)?
                    .checked_mul(*period)?;
                DateTime::from_timestamp(next, 0)
            }
        }
    }
}

/// The period of an `@every N<unit>` expression in seconds; `None` for other expressions.
fn every(run_at: &str) -> Option<Result<i64, String>> {
    let text = run_at.trim();
    let rest = text
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("@every"))
        .map(|_| text[6..].trim())?;
    let bad = || {
        format!(
            "@every takes a whole number and a unit s, m, h or d, from 1s to 366d, e.g. @every 90m; got {rest:?}"
        )
    };
    let unit = match rest.chars().last() {
        Some('s' | 'S') => 1,
        Some('m' | 'M') => 60,
        Some('h' | 'H') => 3600,
        Some('d' | 'D') => 86_400,
        _ => return Some(Err(bad())),
    };
    let digits = &rest[..rest.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Err(bad()));
    }
    Some(
        digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .filter(|secs| (1..=MAX_EVERY_SECS).contains(secs))
            .ok_or_else(bad),
    )
}

impl CronRule {
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = self.wall(after);
        let mut cursor = local;
        // Elapsed-time schedules also fire in the second copy of a fall-back's
        // repeated wall times; those can be earlier than `local`. `settled`:
        // `after` is itself in that second copy, so no first copy can win.
        let mut settled = false;
        if self.elapsed {
            if let Some(t) = self.fall_back_after(after) {
                cursor = cursor.min(self.wall(t));
            }
            let repeated = self.tz.from_local_datetime(&local);
            settled = matches!(repeated, LocalResult::Ambiguous(_, second) if second == after);
        }
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(wall) = self.next_match(cursor) {
            let (earliest, second) = match self.tz.from_local_datetime(&wall) {
                LocalResult::Single(t) => (t.to_utc(), None),
                LocalResult::Ambiguous(first, second) => {
                    (first.to_utc(), self.elapsed.then(|| second.to_utc()))
                }
                LocalResult::None => {
                    let end = gap_end(self.tz, wall)?;
                    if self.elapsed || end <= after {
                        // Skip the rest of the gap.
                        cursor = self.wall(end).max(wall + Duration::seconds(1));
                        continue;
                    }
                    (end, None)
                }
            };
            // Later wall times never resolve to an earlier first occurrence.
            if earliest > after {
                return Some(best.map_or(earliest, |b| b.min(earliest)));
            }
            if let Some(t) = second.filter(|t| *t > after) {
                if settled {
                    return Some(t);
                }
                best = best.or(Some(t)); // second copies rise with the wall time
            }
            cursor = wall.checked_add_signed(Duration::seconds(1))?;
            if best.is_some() {
                // Further second copies come later; only first copies from
                // `local` on can still be earlier.
                cursor = cursor.max(local);
            }
        }
        best
    }

    fn wall(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// The instant of a fall-back (UTC offset decrease) within 3 hours after
    /// `after`, if any: real folds are at most a few hours long.
    fn fall_back_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = |secs: i64| {
            let t = DateTime::from_timestamp(secs, 0)?;
            Some(
                self.tz
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )
        };
        let (mut lo, mut hi) = (after.timestamp(), after.timestamp() + 3 * 3600);
        let before = offset(lo)?;
        if offset(hi)? >= before {
            return None;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset(mid)? == before {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        DateTime::from_timestamp(hi, 0)
    }

    /// The earliest matching wall time at or after `from` (within [`SEARCH_DAYS`]).
    fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let from = if from.nanosecond() == 0 {
            from
        } else {
            from.with_nanosecond(0)?
                .checked_add_signed(Duration::seconds(1))?
        };
        let last = from
            .date()
            .checked_add_days(chrono::Days::new(SEARCH_DAYS))?;
        let (mut date, mut time) = (from.date(), from.time());
        while date <= last {
            if !self.cron.months().includes(date.month()) {
                let (y, m) = (date.year(), date.month());
                date = NaiveDate::from_ymd_opt(y + i32::from(m == 12), m % 12 + 1, 1)?;
                time = NaiveTime::MIN;
                continue;
            }
            if self.day_matches(date)
                && let Some(t) = self.first_time_from(time)
            {
                return Some(date.and_time(t));
            }
            date = date.succ_opt()?;
            time = NaiveTime::MIN;
        }
        None
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.cron.days_of_month().includes(date.day());
        let dow = self
            .cron
            .days_of_week()
            .includes(date.weekday().number_from_sunday());
        if self.day_or { dom || dow } else { dom && dow }
    }

    /// The earliest matching time of day at or after `from`.
    fn first_time_from(&self, from: NaiveTime) -> Option<NaiveTime> {
        let (h0, m0, s0) = (from.hour(), from.minute(), from.second());
        for h in self.cron.hours().range(h0..) {
            let m_from = if h == h0 { m0 } else { 0 };
            for m in self.cron.minutes().range(m_from..) {
                let s_from = if h == h0 && m == m0 { s0 } else { 0 };
                if let Some(s) = self.cron.seconds().range(s_from..).next() {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }
}

/// The first instant after the spring-forward gap that swallowed `wall`
/// (binary search over UTC seconds: wall time rises with the instant).
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    let wall_at =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).naive_local());
    let guess = wall.and_utc().timestamp();
    let (mut lo, mut hi) = (guess - 86_400, guess + 86_400);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall_at(mid)? < wall {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The cron crate's reason for rejecting `fields`, prefixed with the field at
/// fault (found by checking each field alone). The crate's own message quotes
/// the internal 6-field form with a caret, which would confuse 5-field users.
fn describe_cron_error(fields: &[String], error: &cron::error::Error) -> String {
    const NAMES: [&str; 6] = [
        "second",
        "minute",
        "hour",
        "day-of-month",
        "month",
        "day-of-week",
    ];
    let message = |e: &cron::error::Error| {
        let text = e.to_string();
        let last = text.lines().last().unwrap_or_default().trim();
        // The crate says "less than" for what is an inclusive maximum.
        last.replace(" must be less than ", " must be at most ")
    };
    for (i, field) in fields.iter().enumerate() {
        let mut probe = ["*"; 6];
        probe[i] = field;
        if let Err(e) = cron::Schedule::from_str(&probe.join(" ")) {
            return format!("{} field {field:?}: {}", NAMES[i], message(&e));
        }
    }
    message(error)
}

/// Turns `run_at` into 6 fields (`sec min hour dom mon dow`), expanding
/// macros; day-of-week is still in standard numbering.
fn expand_fields(run_at: &str) -> Result<Vec<String>, String> {
    let text = run_at.trim();
    let text = match text.strip_prefix('@') {
        Some(name) => match name.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 0 1 1 *",
            "monthly" => "0 0 0 1 * *",
            "weekly" => "0 0 0 * * 0",
            "daily" | "midnight" => "0 0 0 * * *",
            "hourly" => "0 0 * * * *",
            _ => {
                return Err(
                    "unsupported macro; expected @every N (s, m, h or d) or one of @yearly, @annually, @monthly, \
                            @weekly, @daily, @midnight, @hourly"
                        .to_owned(),
                );
            }
        },
        None => text,
    };
    let mut fields: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    match fields.len() {
        5 => fields.insert(0, "0".to_owned()),
        6 => {}
        7 => return Err("expected 5 or 6 fields, got 7 (a year field is not supported)".into()),
        n => return Err(format!("expected 5 or 6 fields, got {n}")),
    }
    Ok(fields)
}

/// Rewrites numeric day-of-week items from standard cron (0–7, 0 and 7 =
/// Sunday) to the cron crate's numbering (1–7, 1 = Sunday) as explicit lists,
/// so ranges and steps keep their standard meaning. Items with names pass through.
fn translate_dow(field: &str) -> Result<String, String> {
    let items = field.split(',').map(|item| {
        if item == "*" || item == "?" || item.bytes().any(|b| b.is_ascii_alphabetic()) {
            return Ok(item.to_owned());
        }
        let days = standard_days(item)?;
        Ok(days
            .iter()
            .map(|d| (d + 1).to_string())
            .collect::<Vec<_>>()
            .join(","))
    });
    Ok(items.collect::<Result<Vec<_>, String>>()?.join(","))
}

/// The days (0 = Sunday … 6 = Saturday) selected by one numeric day-of-week
/// item: `n`, `a-b`, `*/s`, `a-b/s` or `a/s` (= `a-7/s`, as `*` covers 0–7).
fn standard_days(item: &str) -> Result<BTreeSet<u32>, String> {
    let bad = || {
        format!(
            "day-of-week item {item:?} is not a number 0-7, a range like 1-5 or a step like */2"
        )
    };
    let number = |s: &str| -> Result<u32, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match s.parse::<u32>() {
            Ok(n) if n <= 7 => Ok(n),
            _ => Err(format!(
                "day-of-week value {s} is out of range 0-7 (0 and 7 are Sunday)"
            )),
        }
    };
    let (base, step) = match item.split_once('/') {
        Some((base, step)) if !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) => {
            (base, Some(step.parse::<u32>().map_err(|_| bad())?))
        }
        Some(_) => return Err(bad()),
        None => (item, None),
    };
    if step == Some(0) {
        return Err(format!("day-of-week step in {item:?} must be at least 1"));
    }
    let (lo, hi) = match base.split_once('-') {
        _ if base == "*" => (0, 7),
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let a = number(base)?;
            (a, if step.is_some() { 7 } else { a })
        }
    };
    if lo > hi {
        return Err(format!(
            "day-of-week range {lo}-{hi} must go from low to high"
        ));
    }
    let step = step.unwrap_or(1) as usize;
    Ok((lo..=hi).step_by(step).map(|d| d % 7).collect())
}

/// Parses duration parameters such as `expiration`, `expire_in` or
/// `rotation_after`: a positive whole number of days (`6d`) or hours (`12h`),
/// no spaces, at most [`MAX_DURATION_DAYS`] days. The error says why.
pub fn parse_duration_param(s: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a number followed by d (days) or h (hours), e.g. 6d";
    let (digits, per_day) = match s.as_bytes().last() {
        Some(b'd') => (&s[..s.len() - 1], 1),
        Some(b'h') => (&s[..s.len() - 1], 24),
        _ => return Err(format!("invalid duration {s:?}: {EXPECTED}")),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid duration {s:?}: {EXPECTED}"));
    }
    let too_long = || format!("invalid duration {s:?}: at most {MAX_DURATION_DAYS} days allowed");
    let n: i64 = digits.parse().map_err(|_| too_long())?;
    if n == 0 {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    if n > MAX_DURATION_DAYS * per_day {
        return Err(too_long());
    }
    Ok(if per_day == 1 {
        Duration::days(n)
    } else {
        Duration::hours(n)
    })
}

mod plan;
pub use plan::{CatchUp, FirePlan, Window, first_fire, plan_fires};

#[cfg(test)]
mod tests;

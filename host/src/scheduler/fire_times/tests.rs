use super::*;
use std::collections::BTreeSet;

pub(super) fn utc(s: &str) -> DateTime<Utc> {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test instant {s}: {e}"))
}

pub(super) fn sched(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, Some(tz)).unwrap_or_else(|e| panic!("{expr} in {tz}: {e}"))
}

/// The next `n` fires strictly after `from`, as RFC 3339 UTC strings.
fn fires(s: &Schedule, from: &str, n: usize) -> Vec<String> {
    let mut at = utc(from);
    (0..n)
        .map(|_| {
            at = s.next_after(at).expect("schedule should fire");
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        })
        .collect()
}

/// Weekdays on which `expr` (UTC) fires during the week of Sun 2026-03-01.
fn weekdays(expr: &str) -> Vec<String> {
    let s = sched(expr, "UTC");
    let mut at = utc("2026-02-28T23:59:59Z");
    let mut days = Vec::new();
    while let Some(f) = s
        .next_after(at)
        .filter(|f| *f < utc("2026-03-08T00:00:00Z"))
    {
        days.push(f.weekday().to_string());
        at = f;
    }
    days
}

fn err(expr: &str) -> String {
    Schedule::parse(expr, None).unwrap_err().to_string()
}

#[test]
fn day_of_week_uses_standard_numbering() {
    assert_eq!(weekdays("0 9 * * 1"), ["Mon"]);
    assert_eq!(weekdays("0 9 * * 0"), ["Sun"]);
    assert_eq!(weekdays("0 9 * * 7"), ["Sun"]);
    assert_eq!(weekdays("0 9 * * 6"), ["Sat"]);
    assert_eq!(weekdays("0 9 * * 1-5"), ["Mon", "Tue", "Wed", "Thu", "Fri"]);
    assert_eq!(weekdays("0 9 * * 5-7"), ["Sun", "Fri", "Sat"]);
    assert_eq!(weekdays("0 9 * * */2"), ["Sun", "Tue", "Thu", "Sat"]);
    assert_eq!(weekdays("0 9 * * 1-5/2"), ["Mon", "Wed", "Fri"]);
    assert_eq!(weekdays("0 9 * * 0,3"), ["Sun", "Wed"]);
    assert_eq!(weekdays("0 9 * * 0,7"), ["Sun"]);
    assert_eq!(weekdays("0 9 * * *").len(), 7);
    assert_eq!(weekdays("0 9 * * ?").len(), 7);
}

#[test]
fn day_of_week_names_pass_through() {
    assert_eq!(weekdays("0 9 * * MON"), ["Mon"]);
    assert_eq!(weekdays("0 9 * * sun"), ["Sun"]);
    assert_eq!(
        weekdays("0 9 * * MON-FRI"),
        ["Mon", "Tue", "Wed", "Thu", "Fri"]
    );
    assert_eq!(weekdays("0 9 * * 1,sat"), ["Mon", "Sat"]);
}

#[test]
fn five_and_six_field_forms() {
    let five = sched("0 9 * * 1", "UTC");
    assert_eq!(
        fires(&five, "2026-03-01T00:00:00Z", 2),
        ["2026-03-02T09:00:00Z", "2026-03-09T09:00:00Z"]
    );
    let six = sched("30 0 9 * * 1", "UTC");
    assert_eq!(
        fires(&six, "2026-03-01T00:00:00Z", 1),
        ["2026-03-02T09:00:30Z"]
    );
    assert_eq!(weekdays("0 0 9 * * 0"), ["Sun"]);
    assert_eq!(weekdays("0 0 9 * * 7"), ["Sun"]);
    let every_10s = sched("*/10 * * * * *", "UTC");
    assert_eq!(
        fires(&every_10s, "2026-03-01T00:00:05Z", 2),
        ["2026-03-01T00:00:10Z", "2026-03-01T00:00:20Z"]
    );
    // Extra whitespace is fine; source keeps the config text.
    assert_eq!(sched("  0  1 * * * ", "UTC").source(), "0  1 * * *");
}

#[test]
fn macros() {
    let from = "2026-03-15T10:30:00Z";
    let first = |m: &str| fires(&sched(m, "UTC"), from, 1).remove(0);
    assert_eq!(first("@yearly"), "2027-01-01T00:00:00Z");
    assert_eq!(first("@annually"), "2027-01-01T00:00:00Z");
    assert_eq!(first("@monthly"), "2026-04-01T00:00:00Z");
    assert_eq!(first("@weekly"), "2026-03-22T00:00:00Z"); // Sunday
    assert_eq!(first("@daily"), "2026-03-16T00:00:00Z");
    assert_eq!(first("@midnight"), "2026-03-16T00:00:00Z");
    assert_eq!(first("@hourly"), "2026-03-15T11:00:00Z");
    assert_eq!(first(" @Daily "), "2026-03-16T00:00:00Z");
}

#[test]
fn next_after_is_strict_and_ignores_subseconds() {
    let s = sched("0 1 * * *", "UTC");
    assert_eq!(
        fires(&s, "2026-03-01T01:00:00Z", 1),
        ["2026-03-02T01:00:00Z"]
    );
    assert_eq!(
        fires(&s, "2026-03-01T00:59:59.999Z", 1),
        ["2026-03-01T01:00:00Z"]
    );
    let secs = sched("* * * * * *", "UTC");
    assert_eq!(
        fires(&secs, "2026-03-01T00:00:00.5Z", 1),
        ["2026-03-01T00:00:01Z"]
    );
}

#[test]
fn day_of_month_and_day_of_week_combine_like_vixie_cron() {
    // Both restricted: the 13th OR any Friday (Mar 6, 13, 20 are Fridays).
    let either = sched("0 0 13 * 5", "UTC");
    assert_eq!(
        fires(&either, "2026-03-01T00:00:00Z", 3),
        [
            "2026-03-06T00:00:00Z",
            "2026-03-13T00:00:00Z",
            "2026-03-20T00:00:00Z"
        ]
    );
    let either = sched("0 0 1 * 1", "UTC");
    assert_eq!(
        fires(&either, "2026-03-28T00:00:00Z", 2),
        ["2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z"]
    );
    // A field starting with `*` means both must match (Vixie): the 1st AND Sun/Tue/Thu/Sat.
    let both = sched("0 0 1 * */2", "UTC");
    assert_eq!(
        fires(&both, "2026-03-01T00:00:00Z", 2),
        ["2026-08-01T00:00:00Z", "2026-09-01T00:00:00Z"]
    );
    // A starred field means only the other one counts.
    let dom_only = sched("0 0 13 * *", "UTC");
    assert_eq!(
        fires(&dom_only, "2026-03-01T00:00:00Z", 1),
        ["2026-03-13T00:00:00Z"]
    );
    let leap = sched("0 0 29 2 *", "UTC");
    assert_eq!(
        fires(&leap, "2026-03-01T00:00:00Z", 1),
        ["2028-02-29T00:00:00Z"]
    );
}

#[test]
fn timezone_shifts_wall_clock() {
    let s = sched("0 9 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&s, "2026-01-10T00:00:00Z", 1),
        ["2026-01-10T08:00:00Z"]
    );
    assert_eq!(
        fires(&s, "2026-07-10T00:00:00Z", 1),
        ["2026-07-10T07:00:00Z"]
    );
    assert_eq!(s.timezone(), chrono_tz::Europe::Berlin);
    assert_eq!(
        Schedule::parse("0 9 * * *", None).unwrap().timezone(),
        Tz::UTC
    );
}

#[test]
fn parse_errors_say_why() {
    assert_eq!(
        err("x"),
        r#"run_at: invalid cron expression "x": expected 5 or 6 fields, got 1"#
    );
    assert_eq!(
        err(""),
        r#"run_at: invalid cron expression "": expected 5 or 6 fields, got 0"#
    );
    assert!(err("0 0 1 * * * 2030").ends_with("got 7 (a year field is not supported)"));
    assert!(err("1 2 3 4 5 6 7 8").ends_with("expected 5 or 6 fields, got 8"));
    let bad_hour = Schedule::parse("0 25 * * *", None).unwrap_err();
    assert_eq!(bad_hour.field, "run_at");
    assert_eq!(
        bad_hour.to_string(),
        r#"run_at: invalid cron expression "0 25 * * *": hour field "25": Hours must be at most 23. ('25' specified.)"#
    );
    assert!(
        err("0 0 * * MOON")
            .ends_with(r#"day-of-week field "MOON": 'MOON' is not a valid day of the week."#)
    );
    assert!(
        err("0 0 32 * *").contains(r#"day-of-month field "32": Days of Month must be at most 31"#)
    );
    assert!(err("61 * * * * *").contains(r#"second field "61""#));
    assert!(err("0 0 * 13 *").contains(r#"month field "13""#));
    assert!(err("*/0 * * * *").contains(r#"minute field "*/0": range step cannot be zero"#));
    assert!(err("0 0 * * 8").contains("day-of-week value 8 is out of range 0-7"));
    assert!(err("0 0 * * 5-1").contains("range 5-1 must go from low to high"));
    assert!(err("0 0 * * */0").contains("step in \"*/0\" must be at least 1"));
    assert!(err("0 0 * * 1-").contains("is not a number 0-7"));
    assert!(err("@fortnightly").contains("unsupported macro"));
    assert!(err("@reboot").contains("unsupported macro"));
    assert!(err("0 0 31 2 *").contains("never fires"));
}

#[test]
fn unknown_timezone_is_rejected() {
    let e = Schedule::parse("0 1 * * *", Some("Mars/Olympus")).unwrap_err();
    assert_eq!(e.field, "timezone");
    assert!(
        e.to_string()
            .starts_with(r#"timezone: unknown timezone "Mars/Olympus""#),
        "{e}"
    );
    assert!(Schedule::parse("0 1 * * *", Some("")).is_err());
}

#[test]
fn dst_gap_fixed_time_fires_once_after_the_gap() {
    // New York 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let ny = sched("30 2 * * *", "America/New_York");
    assert_eq!(
        fires(&ny, "2026-03-07T12:00:00Z", 3),
        [
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
            "2026-03-10T06:30:00Z"
        ]
    );
    // Two gap times collapse into one fire.
    let two = sched("0,30 2 * * *", "America/New_York");
    assert_eq!(
        fires(&two, "2026-03-07T12:00:00Z", 2),
        ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]
    );
    // Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let berlin = sched("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&berlin, "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
    );
}

#[test]
fn dst_fold_fixed_time_fires_first_occurrence_only() {
    // New York 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z).
    let ny = sched("30 1 * * *", "America/New_York");
    assert_eq!(
        fires(&ny, "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    // Asking from inside the repeated hour does not fire again.
    assert_eq!(
        fires(&ny, "2026-11-01T06:15:00Z", 1),
        ["2026-11-02T06:30:00Z"]
    );
    // Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z).
    let berlin = sched("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&berlin, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
}

#[test]
fn dst_elapsed_time_schedules_follow_real_time() {
    // Every 30 min through the New York fall-back: both 01:00/01:30 occur.
    let ny = sched("*/30 * * * *", "America/New_York");
    assert_eq!(
        fires(&ny, "2026-11-01T04:45:00Z", 5),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:00:00Z"
        ]
    );
    // Starting inside the first 01:xx still reaches the repeated hour.
    assert_eq!(
        fires(&ny, "2026-11-01T05:40:00Z", 1),
        ["2026-11-01T06:00:00Z"]
    );
    // Spring forward: gap times simply do not exist.
    assert_eq!(
        fires(&ny, "2026-03-08T06:15:00Z", 3),
        [
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:30:00Z"
        ]
    );
    // Hourly in Berlin fires every real hour across the fall-back.
    let hourly = sched("@hourly", "Europe/Berlin");
    assert_eq!(
        fires(&hourly, "2026-10-24T23:30:00Z", 3),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z"
        ]
    );
    let every_min = sched("* 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&every_min, "2026-03-28T12:00:00Z", 1),
        ["2026-03-30T00:00:00Z"]
    );
}

#[test]
fn duration_params() {
    assert_eq!(parse_duration_param("6d"), Ok(Duration::days(6)));
    assert_eq!(parse_duration_param("12h"), Ok(Duration::hours(12)));
    assert_eq!(parse_duration_param("3650d"), Ok(Duration::days(3650)));
    assert_eq!(parse_duration_param("87600h"), Ok(Duration::hours(87600)));
    let expected = "expected a number followed by d (days) or h (hours), e.g. 6d";
    for bad in [
        "", "6", "d", "6m", " 6d", "6d ", "6 d", "-1d", "+1d", "1.5d", "6D",
    ] {
        let e = parse_duration_param(bad).unwrap_err();
        assert!(e.contains(expected), "{bad:?}: {e}");
    }
    assert!(
        parse_duration_param("0d")
            .unwrap_err()
            .contains("greater than zero")
    );
    for long in ["3651d", "87601h", "99999999999999999999999d"] {
        assert!(
            parse_duration_param(long)
                .unwrap_err()
                .contains("at most 3650 days"),
            "{long}"
        );
    }
}

/// Brute-force fire set over `[from, to]` by the module-doc rules, minute
/// resolution: elapsed-time schedules fire at every instant whose wall clock
/// matches; fixed-time ones once per matching wall time (first occurrence, or
/// the first instant whose wall clock passes a gap time).
fn brute_fires(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Rule::Cron(s) = &s.rule else {
        panic!("brute force covers cron schedules")
    };
    let minutes = (to - from).num_minutes();
    let instants: Vec<_> = (0..=minutes).map(|m| from + Duration::minutes(m)).collect();
    let matches = |w: NaiveDateTime| s.next_match(w) == Some(w);
    let mut set: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    for &t in &instants {
        let w = s.wall(t);
        if s.elapsed && matches(w) {
            set.insert(t);
        }
    }
    if !s.elapsed {
        let mut w = s.wall(from).date().and_time(NaiveTime::MIN);
        while let Some(m) = s.next_match(w).filter(|m| *m <= s.wall(to)) {
            if let Some(&t) = instants.iter().find(|t| s.wall(**t) >= m) {
                set.insert(t);
            }
            w = m + Duration::seconds(1);
        }
    }
    set.into_iter().collect()
}

#[test]
fn next_after_agrees_with_brute_force_around_transitions() {
    let exprs = [
        "*/30 * * * *",
        "*/7 1-3 * * *",
        "0 * * * *",
        "45 * * * *",
        "30 2 * * *",
        "10,50 1,2 * * *",
        "59 1 * * *",
        "0 2,3 * * *",
        "0 0 * * *",
    ];
    let days = [
        ("America/New_York", "2026-03-08T00:00:00Z"),
        ("America/New_York", "2026-11-01T00:00:00Z"),
        ("Europe/Berlin", "2026-03-29T00:00:00Z"),
        ("Europe/Berlin", "2026-10-25T00:00:00Z"),
        ("America/Santiago", "2026-09-06T00:00:00Z"), // midnight gap
        ("Australia/Lord_Howe", "2026-04-04T12:00:00Z"), // 30-minute fold
    ];
    for (tz, day) in days {
        let from = utc(day) - Duration::days(1);
        let to = utc(day) + Duration::days(2);
        for expr in exprs {
            let s = sched(expr, tz);
            let expected = brute_fires(&s, from, to);
            let mut after = from;
            while after < to - Duration::days(1) {
                let want = expected.iter().find(|t| **t > after).copied();
                assert_eq!(s.next_after(after), want, "{expr} in {tz} after {after}");
                after += Duration::seconds(7 * 60 + 13);
            }
            for &t in &expected[..expected.len() - 1] {
                let want = expected.iter().find(|x| **x > t).copied();
                assert_eq!(s.next_after(t), want, "{expr} in {tz} after fire {t}");
            }
        }
    }
}

#[test]
fn per_second_schedule_is_fast_across_transitions() {
    let s = sched("* * * * * *", "America/New_York");
    for (start, end) in [
        ("2026-11-01T04:00:00Z", "2026-11-01T07:00:00Z"),
        ("2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z"),
    ] {
        let mut at = utc(start);
        while at < utc(end) {
            let next = s.next_after(at).unwrap();
            assert_eq!(next - at, Duration::seconds(1), "after {at}");
            at = next;
        }
    }
}

#[test]
fn every_fires_at_multiples_of_its_period_since_the_epoch() {
    let s = sched("@every 90m", "UTC");
    assert_eq!(
        fires(&s, "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-01T01:30:00Z",
            "2024-01-01T03:00:00Z",
            "2024-01-01T04:30:00Z"
        ]
    );
    // The timezone does not move a period.
    let berlin = Schedule::parse("@every 90m", Some("Europe/Berlin")).unwrap();
    assert_eq!(
        fires(&berlin, "2024-01-01T00:00:00Z", 1),
        ["2024-01-01T01:30:00Z"]
    );
    // A 7-minute period runs on across the hour (1704069420 = 420 * 4057308).
    let s = sched("@EVERY 7m", "UTC");
    assert_eq!(
        fires(&s, "2024-01-01T00:56:00Z", 2),
        ["2024-01-01T00:57:00Z", "2024-01-01T01:04:00Z"]
    );
    // Strict: a fire instant is not its own next fire.
    assert_eq!(
        fires(&s, "2024-01-01T00:57:00Z", 1),
        ["2024-01-01T01:04:00Z"]
    );
    assert_eq!(
        fires(&sched("@every 30s", "UTC"), "1970-01-01T00:00:30Z", 1),
        ["1970-01-01T00:01:00Z"]
    );
    for bad in [
        "@every",
        "@every 0m",
        "@every 5",
        "@every m",
        "@every 1w",
        "@every 367d",
        "@every -5m",
    ] {
        assert!(err(bad).contains("@every takes"), "{bad}: {}", err(bad));
    }
}

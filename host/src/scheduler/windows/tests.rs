use chrono::{DateTime, Utc};
use keywarden_db::{SchedulingPolicy, WindowSpec};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn window(start: &str, tz: Option<&str>, secs: i64) -> WindowSpec {
    WindowSpec {
        start: start.into(),
        timezone: tz.map(Into::into),
        duration_secs: secs,
    }
}

fn maintenance(specs: Vec<WindowSpec>) -> SchedulingPolicy {
    SchedulingPolicy {
        maintenance_windows: specs,
        ..Default::default()
    }
}

#[test]
fn a_window_holds_from_its_opening_until_just_before_it_closes() {
    // Saturday 22:00 for six hours (2026-12-05 is a Saturday).
    let w = Windows::of([&maintenance(vec![window("0 22 * * sat", None, 6 * 3600)])]).unwrap();
    assert!(!w.allows(at("2026-12-05T21:59:59Z")));
    assert!(w.allows(at("2026-12-05T22:00:00Z")));
    assert!(w.allows(at("2026-12-06T03:59:59Z")));
    assert!(!w.allows(at("2026-12-06T04:00:00Z")));
    assert!(!w.allows(at("2026-12-07T23:00:00Z")));
    assert_eq!(
        w.next_allowed(at("2026-12-01T10:00:00Z")),
        Some(at("2026-12-05T22:00:00Z"))
    );
    assert_eq!(
        w.next_allowed(at("2026-12-05T23:00:00Z")),
        Some(at("2026-12-05T23:00:00Z"))
    );
    assert_eq!(
        w.open_until(at("2026-12-05T23:00:00Z")),
        Some(at("2026-12-06T04:00:00Z"))
    );
}

#[test]
fn a_window_is_read_in_its_time_zone_across_dst() {
    // 02:00 Berlin for an hour: 01:00 UTC in winter, 00:00 UTC in summer.
    let w = Windows::of([&maintenance(vec![window(
        "0 2 * * *",
        Some("Europe/Berlin"),
        3600,
    )])])
    .unwrap();
    assert!(w.allows(at("2026-01-10T01:30:00Z")));
    assert!(!w.allows(at("2026-01-10T00:30:00Z")));
    assert!(w.allows(at("2026-07-10T00:30:00Z")));
    assert!(!w.allows(at("2026-07-10T01:30:00Z")));
}

#[test]
fn a_blackout_wins_and_pushes_the_start_past_its_end() {
    let policy = SchedulingPolicy {
        maintenance_windows: vec![window("0 20 * * *", None, 4 * 3600)],
        blackout_windows: vec![window("0 19 * * *", None, 2 * 3600)],
        ..Default::default()
    };
    let w = Windows::of([&policy]).unwrap();
    assert!(!w.allows(at("2026-12-01T20:30:00Z")));
    assert!(w.allows(at("2026-12-01T21:00:00Z")));
    assert_eq!(
        w.next_allowed(at("2026-12-01T12:00:00Z")),
        Some(at("2026-12-01T21:00:00Z"))
    );
    // Allowed until the maintenance window closes at midnight.
    assert_eq!(
        w.open_until(at("2026-12-01T21:00:00Z")),
        Some(at("2026-12-02T00:00:00Z"))
    );
    // Only blackouts: allowed until the next one opens.
    let only = SchedulingPolicy {
        blackout_windows: vec![window("0 19 * * *", None, 2 * 3600)],
        ..Default::default()
    };
    let w = Windows::of([&only]).unwrap();
    assert!(w.allows(at("2026-12-01T12:00:00Z")));
    assert_eq!(
        w.open_until(at("2026-12-01T12:00:00Z")),
        Some(at("2026-12-01T19:00:00Z"))
    );
    assert_eq!(
        w.next_allowed(at("2026-12-01T19:30:00Z")),
        Some(at("2026-12-01T21:00:00Z"))
    );
}

#[test]
fn the_account_window_and_the_config_window_must_both_hold() {
    let config = maintenance(vec![window("0 20 * * sat", None, 4 * 3600)]);
    let account = maintenance(vec![window("0 22 * * sat", None, 4 * 3600)]);
    let w = Windows::of([&config, &account]).unwrap();
    assert!(!w.allows(at("2026-12-05T21:00:00Z")));
    assert_eq!(
        w.next_allowed(at("2026-12-05T12:00:00Z")),
        Some(at("2026-12-05T22:00:00Z"))
    );
    assert_eq!(
        w.open_until(at("2026-12-05T22:00:00Z")),
        Some(at("2026-12-06T00:00:00Z"))
    );
    assert!(!w.allows(at("2026-12-06T01:00:00Z")));
}

#[test]
fn overlapping_windows_close_with_the_last_of_them() {
    // Every hour for two hours: always open, each stretch ends two hours after the
    // latest opening that holds the instant.
    let w = Windows::of([&maintenance(vec![window("0 * * * *", None, 7200)])]).unwrap();
    assert!(w.allows(at("2026-12-01T10:30:00Z")));
    assert_eq!(
        w.open_until(at("2026-12-01T10:30:00Z")),
        Some(at("2026-12-01T12:00:00Z"))
    );
}

#[test]
fn windows_that_never_leave_room_give_no_start() {
    let policy = SchedulingPolicy {
        maintenance_windows: vec![window("0 0 * * *", None, 3600)],
        blackout_windows: vec![window("30 23 * * *", None, 2 * 3600)],
        ..Default::default()
    };
    let w = Windows::of([&policy]).unwrap();
    assert_eq!(w.next_allowed(at("2026-12-01T00:00:00Z")), None);
    assert_eq!(w.stretches(at("2026-12-01T00:00:00Z")).next(), None);
}

#[test]
fn stretches_follow_each_other() {
    let w = Windows::of([&maintenance(vec![window("0 22 * * *", None, 3600)])]).unwrap();
    let got: Vec<_> = w.stretches(at("2026-12-01T00:00:00Z")).take(2).collect();
    assert_eq!(
        got,
        vec![
            (at("2026-12-01T22:00:00Z"), Some(at("2026-12-01T23:00:00Z"))),
            (at("2026-12-02T22:00:00Z"), Some(at("2026-12-02T23:00:00Z"))),
        ]
    );
}

#[test]
fn bad_windows_name_their_field() {
    let err = |policy: SchedulingPolicy| Windows::of([&policy]).unwrap_err();
    let e = err(maintenance(vec![
        window("0 22 * * *", None, 3600),
        window("nope", None, 3600),
    ]));
    assert_eq!(e.path(), "maintenance_windows[1].start");
    let e = err(maintenance(vec![window(
        "0 22 * * *",
        Some("Mars/Olympus"),
        3600,
    )]));
    assert_eq!(e.path(), "maintenance_windows[0].timezone");
    let e = err(SchedulingPolicy {
        blackout_windows: vec![window("0 22 * * *", None, 0)],
        ..Default::default()
    });
    assert_eq!(e.path(), "blackout_windows[0].duration_secs");
    assert!(e.reason.contains("from 1 to"), "{}", e.reason);
    let e = err(maintenance(vec![window("0 22 * * *", None, 3600); 17]));
    assert_eq!(e.path(), "maintenance_windows");
}

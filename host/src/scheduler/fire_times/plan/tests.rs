use super::*;
use crate::scheduler::fire_times::tests::{sched, utc};

const OPEN: Window = Window {
    start: None,
    end: None,
};

fn plan(
    window: Window,
    next: &str,
    now: &str,
    policy: CatchUp,
    max: usize,
) -> (Vec<String>, Option<String>) {
    let hourly = sched("0 * * * *", "UTC");
    let p = plan_fires(
        &hourly,
        window,
        utc(next),
        utc(now),
        policy,
        Duration::minutes(2),
        max,
    );
    let fmt = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    (p.fires.into_iter().map(fmt).collect(), p.next_fire.map(fmt))
}

#[test]
fn catch_up_policies_after_downtime() {
    let (next, now) = ("2026-03-01T10:00:00Z", "2026-03-01T13:30:00Z");
    let after = Some("14:00".to_owned());
    assert_eq!(
        plan(OPEN, next, now, CatchUp::One, 10),
        (vec!["13:00".into()], after.clone())
    );
    assert_eq!(
        plan(OPEN, next, now, CatchUp::All, 10),
        (
            vec![
                "10:00".into(),
                "11:00".into(),
                "12:00".into(),
                "13:00".into()
            ],
            after.clone()
        )
    );
    // Beyond the cap the oldest are dropped.
    assert_eq!(
        plan(OPEN, next, now, CatchUp::All, 2),
        (vec!["12:00".into(), "13:00".into()], after.clone())
    );
    assert_eq!(
        plan(OPEN, next, now, CatchUp::All, 0),
        (vec![], after.clone())
    );
    // Skip: 13:00 is 30 min late, beyond the 2 min grace.
    assert_eq!(
        plan(OPEN, next, now, CatchUp::Skip, 10),
        (vec![], after.clone())
    );
    // Skip still runs a fire that is on time.
    let on_time = plan(OPEN, next, "2026-03-01T13:01:30Z", CatchUp::Skip, 10);
    assert_eq!(on_time, (vec!["13:00".into()], after.clone()));
}

#[test]
fn normal_ticks() {
    // Exactly on time: every policy runs it.
    for policy in [CatchUp::Skip, CatchUp::One, CatchUp::All] {
        let p = plan(
            OPEN,
            "2026-03-01T10:00:00Z",
            "2026-03-01T10:00:00Z",
            policy,
            5,
        );
        assert_eq!(p, (vec!["10:00".into()], Some("11:00".into())));
    }
    // Nothing due yet: nothing runs and the stored next fire stays.
    let p = plan(
        OPEN,
        "2026-03-01T11:00:00Z",
        "2026-03-01T10:59:59Z",
        CatchUp::All,
        5,
    );
    assert_eq!(p, (vec![], Some("11:00".into())));
}

#[test]
fn window_bounds_fires() {
    let (next, now) = ("2026-03-01T10:00:00Z", "2026-03-01T13:30:00Z");
    let from_noon = Window {
        start: Some(utc("2026-03-01T12:00:00Z")),
        end: None,
    };
    let p = plan(from_noon, next, now, CatchUp::All, 10);
    assert_eq!(
        p,
        (vec!["12:00".into(), "13:00".into()], Some("14:00".into()))
    );
    // Past the end: only fires up to the end, then no next fire.
    let until = Window {
        start: None,
        end: Some(utc("2026-03-01T11:30:00Z")),
    };
    assert_eq!(
        plan(until, next, now, CatchUp::All, 10),
        (vec!["10:00".into(), "11:00".into()], None)
    );
    assert_eq!(
        plan(until, next, now, CatchUp::One, 10),
        (vec!["11:00".into()], None)
    );
    // The end is inclusive.
    let until_13 = Window {
        start: None,
        end: Some(utc("2026-03-01T13:00:00Z")),
    };
    assert_eq!(
        plan(until_13, next, now, CatchUp::One, 10),
        (vec!["13:00".into()], None)
    );
    // A start moved past the stored next fire pushes it to the start.
    let later = Window {
        start: Some(utc("2026-03-02T00:00:00Z")),
        end: None,
    };
    let p = plan(later, "2026-03-01T14:00:00Z", now, CatchUp::All, 10);
    assert_eq!(p, (vec![], Some("00:00".into())));
    // An end moved before the stored next fire ends the schedule.
    let p = plan(until, "2026-03-01T14:00:00Z", now, CatchUp::All, 10);
    assert_eq!(p, (vec![], None));
}

#[test]
fn first_fire_respects_now_and_window() {
    let s = sched("0 * * * *", "UTC");
    let now = utc("2026-03-01T10:00:00Z");
    assert_eq!(first_fire(&s, OPEN, now), Some(utc("2026-03-01T11:00:00Z")));
    let start = Window {
        start: Some(utc("2026-03-05T00:00:00Z")),
        end: None,
    };
    assert_eq!(
        first_fire(&s, start, now),
        Some(utc("2026-03-05T00:00:00Z"))
    );
    let start = Window {
        start: Some(utc("2026-03-05T00:00:01Z")),
        end: None,
    };
    assert_eq!(
        first_fire(&s, start, now),
        Some(utc("2026-03-05T01:00:00Z"))
    );
    let past_start = Window {
        start: Some(utc("2026-01-01T00:00:00Z")),
        end: None,
    };
    assert_eq!(
        first_fire(&s, past_start, now),
        Some(utc("2026-03-01T11:00:00Z"))
    );
    let ended = Window {
        start: None,
        end: Some(utc("2026-03-01T10:30:00Z")),
    };
    assert_eq!(first_fire(&s, ended, now), None);
}

#[test]
fn long_outage_is_cheap_and_capped() {
    let s = sched("* * * * * *", "UTC");
    let (next, now) = (utc("2025-03-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"));
    let p = plan_fires(&s, OPEN, next, now, CatchUp::All, Duration::seconds(2), 3);
    let want = [
        "2026-02-28T23:59:58Z",
        "2026-02-28T23:59:59Z",
        "2026-03-01T00:00:00Z",
    ];
    assert_eq!(p.fires, want.map(utc));
    assert_eq!(p.next_fire, Some(utc("2026-03-01T00:00:01Z")));
    let yearly = sched("@yearly", "UTC");
    let p = plan_fires(
        &yearly,
        OPEN,
        utc("2000-01-01T00:00:00Z"),
        now,
        CatchUp::One,
        Duration::seconds(2),
        9,
    );
    assert_eq!(p.fires, [utc("2026-01-01T00:00:00Z")]);
    assert_eq!(p.next_fire, Some(utc("2027-01-01T00:00:00Z")));
}

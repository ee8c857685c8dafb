use chrono::{DateTime, Duration, Utc};
use keywarden_db::{CatchUp, SchedulingPolicy, WindowSpec};
use uuid::Uuid;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn policy(windows: &[(&str, i64)], jitter_secs: i64) -> SchedulingPolicy {
    SchedulingPolicy {
        maintenance_windows: windows
            .iter()
            .map(|(start, secs)| WindowSpec {
                start: (*start).into(),
                timezone: None,
                duration_secs: *secs,
            })
            .collect(),
        jitter_secs,
        ..Default::default()
    }
}

#[test]
fn jitter_is_never_early_stays_below_the_jitter_and_is_fixed_per_config() {
    let fire = at("2026-12-02T03:00:00Z");
    let p = policy(&[], 600);
    for _ in 0..200 {
        let id = Uuid::now_v7();
        let gate = Gate::new(id, &p, None).unwrap();
        let start = gate.start(fire, false).unwrap();
        assert!(start.at >= fire && start.at < fire + Duration::seconds(600));
        assert_eq!(start.by, None);
        // Same config, next day: same offset.
        let next = gate.start(fire + Duration::days(1), false).unwrap();
        assert_eq!(next.at - start.at, Duration::days(1));
        assert_eq!(
            Gate::new(id, &p, None).unwrap().start(fire, false),
            Some(start)
        );
    }
}

#[test]
fn jitter_spreads_a_thousand_configs_evenly() {
    // 1,000 configs on one cron, a 10-minute jitter: every minute gets about a tenth.
    let fire = at("2026-12-02T03:00:00Z");
    let p = policy(&[], 600);
    let mut minutes = [0usize; 10];
    for _ in 0..1000 {
        let start = Gate::new(Uuid::now_v7(), &p, None)
            .unwrap()
            .start(fire, false)
            .unwrap();
        minutes[((start.at - fire).num_seconds() / 60) as usize] += 1;
    }
    // Expected 100 each (standard deviation about 9.5).
    assert!(
        minutes.iter().all(|&n| (55..=145).contains(&n)),
        "{minutes:?}"
    );
}

#[test]
fn a_fire_outside_the_window_waits_for_its_opening_or_is_dropped() {
    // Window: Saturdays 22:00 for 4 h; the fire is on Wednesday.
    let gate = Gate::new(
        Uuid::now_v7(),
        &policy(&[("0 22 * * sat", 14_400)], 3600),
        None,
    )
    .unwrap();
    let fire = at("2026-12-02T03:00:00Z");
    assert_eq!(gate.start(fire, false), None);
    let start = gate.start(fire, true).unwrap();
    let opens = at("2026-12-05T22:00:00Z");
    // Jitter kept within the first half of the window (2 h > 1 h jitter: all of it).
    assert!(
        start.at >= opens && start.at < opens + Duration::hours(1),
        "{start:?}"
    );
    assert_eq!(start.by, Some(at("2026-12-06T02:00:00Z")));
    // A fire inside the window starts with its offset, gated until the close.
    let inside = gate.start(at("2026-12-05T22:30:00Z"), false).unwrap();
    assert_eq!(inside.by, Some(at("2026-12-06T02:00:00Z")));
    // A short window squeezes the jitter into its first half.
    let short = Gate::new(
        Uuid::now_v7(),
        &policy(&[("0 22 * * sat", 600)], 3600),
        None,
    )
    .unwrap();
    let start = short.start(fire, true).unwrap();
    assert!(
        start.at >= opens && start.at < opens + Duration::minutes(5),
        "{start:?}"
    );
    // Run-now that respects windows: no jitter, the opening itself.
    let plain = gate.clone().without_jitter().start(fire, true).unwrap();
    assert_eq!(plain.at, opens);
}

#[test]
fn first_runnable_tells_a_window_that_can_never_open_for_the_schedule() {
    let now = at("2026-12-01T00:00:00Z");
    let sunday = Gate::new(Uuid::now_v7(), &policy(&[("0 0 * * sun", 86_400)], 0), None).unwrap();
    let monday = Schedule::parse("0 9 * * mon", None).unwrap();
    let open = Window::default();
    // Skip: Monday fires fall outside a Sunday window, always.
    assert_eq!(
        sunday.first_runnable(&monday, open, CatchUp::Skip, now),
        None
    );
    // One: the Monday fire waits for Sunday.
    assert_eq!(
        sunday.first_runnable(&monday, open, CatchUp::One, now),
        Some(at("2026-12-07T09:00:00Z"))
    );
    // A Sunday cron fits.
    let sun = Schedule::parse("0 9 * * sun", None).unwrap();
    assert_eq!(
        sunday.first_runnable(&sun, open, CatchUp::Skip, now),
        Some(at("2026-12-06T09:00:00Z"))
    );
    // An every-second cron finds the window without walking every second.
    let busy = Schedule::parse("* * * * * *", None).unwrap();
    assert_eq!(
        sunday.first_runnable(&busy, open, CatchUp::Skip, now),
        Some(at("2026-12-06T00:00:00Z"))
    );
    // No window at all: the first fire.
    let free = Gate::new(Uuid::now_v7(), &SchedulingPolicy::default(), None).unwrap();
    assert_eq!(
        free.first_runnable(&monday, open, CatchUp::Skip, now),
        Some(at("2026-12-07T09:00:00Z"))
    );
}

#[test]
fn the_account_window_narrows_the_config_window() {
    let config = policy(&[("0 20 * * *", 4 * 3600)], 0);
    let account = policy(&[("0 23 * * *", 3600)], 0);
    let gate = Gate::new(Uuid::now_v7(), &config, Some(&account)).unwrap();
    let start = gate.start(at("2026-12-01T20:30:00Z"), true).unwrap();
    assert_eq!(start.at, at("2026-12-01T23:00:00Z"));
    assert_eq!(start.by, Some(at("2026-12-02T00:00:00Z")));
}

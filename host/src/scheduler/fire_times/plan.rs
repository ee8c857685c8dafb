//! Planning fires over time: the first fire of a schedule inside its start/end window,
//! and which fires are due after the scheduler was down, per catch-up policy.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

use super::Schedule;

pub use keywarden_db::CatchUp;

/// The config's `start_date`/`end_date`, both inclusive: fires before `start`
/// or after `end` never happen. `None` means unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// First instant at which a fire may happen (`start_date`).
    pub start: Option<DateTime<Utc>>,
    /// Last instant at which a fire may happen (`end_date`).
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    /// Whether `t` lies inside the window.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t <= e)
    }
}

/// The outcome of one scheduler tick for one config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirePlan {
    /// Due times to run now, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// The new stored next fire time, strictly after `now`; `None` once no
    /// fire remains before the window's end.
    pub next_fire: Option<DateTime<Utc>>,
}

/// The first fire strictly after `now` and not before `window.start`, or
/// `None` if it would fall after `window.end`. Used when a config is created
/// or its schedule changes, to initialise the stored next fire time.
pub fn first_fire(
    schedule: &Schedule,
    window: Window,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    first_from(schedule, window, now)
}

/// The first fire strictly after `cursor` inside `window`.
fn first_from(schedule: &Schedule, window: Window, cursor: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cursor = match window
        .start
        .and_then(|s| s.checked_sub_signed(Duration::nanoseconds(1)))
    {
        Some(before_start) => cursor.max(before_start),
        None => cursor,
    };
    schedule.next_after(cursor).filter(|f| window.contains(*f))
}

/// Decides which fires to run at `now`, given the stored `next_fire`.
///
/// The *due* fires are the stored `next_fire` plus every schedule fire after
/// it, up to and including `now`, that lies inside `window`. Then:
/// - [`CatchUp::Skip`]: runs the latest due fire only if `now - due <= grace`
///   (pass about twice the scheduler tick); anything older is dropped.
/// - [`CatchUp::One`]: runs the latest due fire, if any is due.
/// - [`CatchUp::All`]: runs all due fires, oldest first, but at most
///   `max_fires` of them: beyond the cap the *oldest* are dropped, so a long
///   outage cannot flood the runner and the most recent runs survive.
///
/// `max_fires` caps every policy (0 runs nothing). Dropped fires are consumed
/// all the same: the returned `next_fire` is the first fire after `now` (or the
/// stored one, if nothing was due yet). Cost grows with the fires actually
/// returned, not with the outage's length.
pub fn plan_fires(
    schedule: &Schedule,
    window: Window,
    next_fire: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up: CatchUp,
    grace: Duration,
    max_fires: usize,
) -> FirePlan {
    let limit = match catch_up {
        CatchUp::All => max_fires,
        CatchUp::Skip | CatchUp::One => max_fires.min(1),
    };
    let mut fires = last_due(schedule, window, next_fire, now, limit);
    if catch_up == CatchUp::Skip {
        fires.retain(|f| now.signed_duration_since(*f) <= grace);
    }
    let next_fire = if next_fire <= now {
        first_from(schedule, window, now)
    } else if window.contains(next_fire) {
        Some(next_fire)
    } else {
        let cursor = next_fire.checked_sub_signed(Duration::nanoseconds(1));
        cursor.and_then(|c| first_from(schedule, window, c))
    };
    FirePlan { fires, next_fire }
}

/// The last `limit` due fires (see [`plan_fires`]), oldest first. Looks back
/// from `now` over a growing span so a long outage costs O(limit), not O(outage).
fn last_due(
    schedule: &Schedule,
    window: Window,
    next_fire: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let hi = window.end.map_or(now, |e| e.min(now));
    let lo = window.start.map_or(next_fire, |s| s.max(next_fire));
    if limit == 0 || lo > hi {
        return Vec::new();
    }
    let mut span = Some(Duration::minutes(1));
    loop {
        let from = span
            .and_then(|s| hi.checked_sub_signed(s))
            .filter(|f| *f > lo)
            .unwrap_or(lo);
        let mut ring = VecDeque::new();
        let mut push = |f| {
            if ring.len() == limit {
                ring.pop_front();
            }
            ring.push_back(f);
        };
        let mut cursor = from
            .checked_sub_signed(Duration::nanoseconds(1))
            .unwrap_or(from);
        if from == next_fire {
            push(next_fire);
            cursor = next_fire;
        }
        while let Some(f) = schedule.next_after(cursor)
            && f <= hi
        {
            push(f);
            cursor = f;
        }
        if ring.len() >= limit || from == lo {
            return ring.into();
        }
        span = span.and_then(|s| s.checked_mul(4));
    }
}

#[cfg(test)]
mod tests;

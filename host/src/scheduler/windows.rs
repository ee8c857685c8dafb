//! Maintenance and blackout windows: the instants at which a job config's jobs may start.
//!
//! A window opens at each fire of a cron expression (read in its time zone, DST rules as
//! for schedules) and stays open for its duration: `[opening, opening + duration)`. A job
//! may start at `t` when `t` lies in no blackout window and, for every *group* of
//! maintenance windows (the config's, the account's), in at least one window of the group.
//! So an account's change window narrows every config of the account, and a config's
//! windows narrow it further; a blackout anywhere wins.
//!
//! Everything here is pure (no clock, no I/O) and bounded: searches give up after
//! [`HORIZON_DAYS`] or a fixed number of steps, so no window set can keep a scheduler tick
//! busy.

use chrono::{DateTime, Duration, Utc};
use keywarden_db::{SchedulingPolicy, WindowSpec};

use super::fire_times::Schedule;

/// How far ahead a search for an open instant goes before it says there is none.
pub const HORIZON_DAYS: i64 = 400;
/// Most windows of one kind per config (or account).
pub const MAX_WINDOWS: usize = 16;
/// Shortest window: a second (schedules take seconds too).
pub const MIN_WINDOW_SECS: i64 = 1;
/// Longest window: 31 days (a longer one is a schedule, not a window).
pub const MAX_WINDOW_SECS: i64 = 31 * 86_400;
/// Steps of one search (window changes crossed) before it gives up.
const MAX_STEPS: usize = 10_000;
/// Openings looked at to find where overlapping windows close; past that the close found
/// so far is used, which is earlier than the real one (so never outside a window).
const MAX_OPENINGS: usize = 1_000;

/// Why a window was refused: which of its fields, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowError {
    /// `maintenance_windows` or `blackout_windows`.
    pub list: &'static str,
    /// Position in the list.
    pub index: usize,
    /// `start`, `timezone` or `duration_secs`; empty for the list itself.
    pub field: &'static str,
    pub reason: String,
}

impl WindowError {
    /// The field as a path: `maintenance_windows[0].start`.
    pub fn path(&self) -> String {
        if self.field.is_empty() {
            self.list.to_owned()
        } else {
            format!("{}[{}].{}", self.list, self.index, self.field)
        }
    }
}

/// One recurring window.
#[derive(Debug, Clone)]
struct Recurring {
    opens: Schedule,
    length: Duration,
}

impl Recurring {
    fn parse(spec: &WindowSpec, list: &'static str, index: usize) -> Result<Self, WindowError> {
        let error = |field, reason: String| WindowError {
            list,
            index,
            field,
            reason,
        };
        let opens = Schedule::parse(&spec.start, spec.timezone.as_deref()).map_err(|e| {
            let field = if e.field == "timezone" {
                "timezone"
            } else {
                "start"
            };
            error(field, e.reason)
        })?;
        if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&spec.duration_secs) {
            return Err(error(
                "duration_secs",
                format!(
                    "must be from {MIN_WINDOW_SECS} to {MAX_WINDOW_SECS} (31 days) seconds, got {}",
                    spec.duration_secs
                ),
            ));
        }
        Ok(Recurring {
            opens,
            length: Duration::seconds(spec.duration_secs),
        })
    }

    /// Whether an opening lies in `(t - length, t]`.
    fn contains(&self, t: DateTime<Utc>) -> bool {
        t.checked_sub_signed(self.length)
            .and_then(|from| self.opens.next_after(from))
            .is_some_and(|o| o <= t)
    }

    /// When the windows holding `t` close (the latest, when several overlap).
    fn closes(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = t.checked_sub_signed(self.length)?;
        let mut last = None;
        for _ in 0..MAX_OPENINGS {
            match self.opens.next_after(cursor) {
                Some(o) if o <= t => {
                    last = Some(o);
                    cursor = o;
                }
                _ => break,
            }
        }
        last.and_then(|o| o.checked_add_signed(self.length))
    }
}

/// Where jobs of one config may start.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    /// Each group must hold the instant (in one of its windows).
    groups: Vec<Vec<Recurring>>,
    blackouts: Vec<Recurring>,
}

impl Windows {
    /// The windows of `policies` (a config's and its account's), or the first one that is
    /// not a window.
    pub fn of<'a>(
        policies: impl IntoIterator<Item = &'a SchedulingPolicy>,
    ) -> Result<Self, WindowError> {
        let mut windows = Windows::default();
        for policy in policies {
            let group = parse_list(&policy.maintenance_windows, "maintenance_windows")?;
            if !group.is_empty() {
                windows.groups.push(group);
            }
            windows
                .blackouts
                .extend(parse_list(&policy.blackout_windows, "blackout_windows")?);
        }
        Ok(windows)
    }

    /// No window gates anything.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.blackouts.is_empty()
    }

    /// Whether a job may start at `t`.
    pub fn allows(&self, t: DateTime<Utc>) -> bool {
        !self.blackouts.iter().any(|b| b.contains(t))
            && self.groups.iter().all(|g| g.iter().any(|w| w.contains(t)))
    }

    /// The first instant at or after `t` at which a job may start, within
    /// [`HORIZON_DAYS`].
    pub fn next_allowed(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = t.checked_add_signed(Duration::days(HORIZON_DAYS))?;
        let mut c = t;
        for _ in 0..MAX_STEPS {
            if c > limit {
                return None;
            }
            if let Some(end) = self
                .blackouts
                .iter()
                .filter(|b| b.contains(c))
                .filter_map(|b| b.closes(c))
                .max()
            {
                c = end;
                continue;
            }
            match self
                .groups
                .iter()
                .find(|g| !g.iter().any(|w| w.contains(c)))
            {
                Some(closed) => c = closed.iter().filter_map(|w| w.opens.next_after(c)).min()?,
                None => return Some(c),
            }
        }
        None
    }

    /// For an allowed `t`: the instant the permission ends (a maintenance window closes
    /// or a blackout opens), `None` when nothing ever ends it.
    pub fn open_until(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let closes = self
            .groups
            .iter()
            .filter_map(|g| g.iter().filter_map(|w| w.closes(t)).max());
        let blackouts = self.blackouts.iter().filter_map(|b| b.opens.next_after(t));
        closes.chain(blackouts).min()
    }

    /// The allowed stretches `[from, until)` from `t` on, in order, within
    /// [`HORIZON_DAYS`] (`until` is `None` for a stretch that never ends).
    pub fn stretches(
        &self,
        t: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>)> + '_ {
        let limit = t.checked_add_signed(Duration::days(HORIZON_DAYS));
        let mut cursor = Some(t);
        std::iter::from_fn(move || {
            let from = self.next_allowed(cursor?)?;
            if limit.is_some_and(|l| from > l) {
                return None;
            }
            let until = self.open_until(from);
            // A stretch always moves the cursor on, even if a close came out at `from`.
            cursor = until.map(|u| u.max(from + Duration::seconds(1)));
            Some((from, until))
        })
        .take(MAX_STEPS)
    }
}

fn parse_list(specs: &[WindowSpec], list: &'static str) -> Result<Vec<Recurring>, WindowError> {
    if specs.len() > MAX_WINDOWS {
        return Err(WindowError {
            list,
            index: 0,
            field: "",
            reason: format!("at most {MAX_WINDOWS} windows, got {}", specs.len()),
        });
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| Recurring::parse(s, list, i))
        .collect()
}

#[cfg(test)]
mod tests;

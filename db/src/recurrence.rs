//! A schedule given as a recurrence (every N minutes, daily at, weekly on, monthly on,
//! once at) instead of a cron expression: Keyfactor's schedule objects. The job config
//! keeps it as given, so it can be shown back the way it was asked for; the scheduler
//! fires from the cron expression and window the host derives from it.

use chrono::{DateTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::kinds::ScheduleKind;

/// How often a job config fires, as the client said it.
///
/// Times are instants as given; for the daily, weekly and monthly forms only their time
/// of day in UTC counts (Keyfactor sends full date-times and means the time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recurrence {
    /// Once, when the request was made: the config only records that (it never fires).
    Immediate,
    /// Every `minutes` minutes, aligned to the clock.
    Interval { minutes: u32 },
    /// Every day at the time of day of `at`.
    Daily { at: DateTime<Utc> },
    /// On `days` (no repeats, Sunday first) at the time of day of `at`.
    Weekly {
        days: Vec<Weekday>,
        at: DateTime<Utc>,
    },
    /// On day `day` (1-31) of every month that has it, at the time of day of `at`.
    Monthly { day: u32, at: DateTime<Utc> },
    /// Once, at `at`.
    Once { at: DateTime<Utc> },
}

impl Recurrence {
    /// The kind of schedule it is; `None` for [`Recurrence::Immediate`].
    pub fn kind(&self) -> Option<ScheduleKind> {
        Some(match self {
            Recurrence::Immediate => return None,
            Recurrence::Interval { .. } => ScheduleKind::Interval,
            Recurrence::Daily { .. } => ScheduleKind::Daily,
            Recurrence::Weekly { .. } => ScheduleKind::Weekly,
            Recurrence::Monthly { .. } => ScheduleKind::Monthly,
            Recurrence::Once { .. } => ScheduleKind::Once,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_as_tagged_json() {
        let at = "2024-01-01T02:30:00Z".parse().unwrap();
        let weekly = Recurrence::Weekly {
            days: vec![Weekday::Mon, Weekday::Fri],
            at,
        };
        let json = serde_json::to_value(&weekly).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "weekly", "days": ["Mon", "Fri"], "at": "2024-01-01T02:30:00Z"})
        );
        assert_eq!(serde_json::from_value::<Recurrence>(json).unwrap(), weekly);
        assert_eq!(weekly.kind(), Some(ScheduleKind::Weekly));
        assert_eq!(Recurrence::Immediate.kind(), None);
    }
}

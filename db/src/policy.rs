//! How a job config's fires turn into runs beyond its cron: the maintenance windows its
//! jobs may start in, the blackout windows they never start in, a jitter that spreads
//! configs sharing a cron expression, and the pause after too many failed runs.
//!
//! Stored as written; the host parses the windows' cron expressions (the database crate
//! does not know cron) and checks every value when a config is written.

use serde::{Deserialize, Serialize};

/// The scheduling policy of one job config (or, in the operator's TOML, of an account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulingPolicy {
    /// Jobs start only inside one of these (none: any time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<WindowSpec>,
    /// Jobs never start inside any of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blackout_windows: Vec<WindowSpec>,
    /// Each fire starts up to this many seconds late, by an offset fixed per config
    /// (0: on the dot).
    #[serde(skip_serializing_if = "is_zero")]
    pub jitter_secs: i64,
    /// The config pauses itself after this many failed runs in a row (0: never).
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub pause_after_failures: i32,
    /// What its jobs do when another job works on their target.
    #[serde(skip_serializing_if = "is_wait")]
    pub when_target_busy: crate::WhenBusy,
}

fn is_wait(v: &crate::WhenBusy) -> bool {
    *v == crate::WhenBusy::Wait
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

impl SchedulingPolicy {
    /// Whether any window gates when jobs may start.
    pub fn has_windows(&self) -> bool {
        !self.maintenance_windows.is_empty() || !self.blackout_windows.is_empty()
    }
}

/// A recurring window: it opens at each fire of `start` (a cron expression read in
/// `timezone`, UTC when `None`) and stays open `duration_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// When it opens: a cron expression.
    pub start: String,
    /// The IANA time zone `start` is read in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// How long it stays open.
    pub duration_secs: i64,
}

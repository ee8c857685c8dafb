//! When a fire of a job config may start: its jitter and its (and its account's)
//! maintenance and blackout windows, decided once per fire by the scheduler and again by
//! the executor for a job that waited past its window.
//!
//! A fire at `f` starts at `f + offset`, where the offset (below the config's jitter) is
//! fixed per config, so a thousand configs on `0 3 * * *` spread evenly over the jitter
//! and each of them starts at the same point every day. If that instant is outside the
//! windows, the fire waits for the next opening (plus the offset, kept within the first
//! half of the window) or, under `catch_up = skip`, is dropped as a missed run.

use chrono::{DateTime, Duration, Utc};
use keywarden_db::{CatchUp, JobConfig, SchedulingPolicy};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::fire_times::{Schedule, Window, first_fire};
use super::windows::{WindowError, Windows};

/// The windows of each account (`[accounts.NAME]`), by account name.
pub type AccountPolicies = std::sync::Arc<std::collections::BTreeMap<String, SchedulingPolicy>>;

/// Longest jitter: a day.
pub const MAX_JITTER_SECS: i64 = 86_400;

/// The start rules of one config.
#[derive(Debug, Clone)]
pub struct Gate {
    windows: Windows,
    /// Where in any spread this config starts: in `[0, 1)`, fixed per config.
    fraction: f64,
    jitter: Duration,
}

/// When a fire starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Its job's due time.
    pub at: DateTime<Utc>,
    /// The last instant its windows let it start (`None`: not gated).
    pub by: Option<DateTime<Utc>>,
}

impl Gate {
    /// The gate of `config` under its account's `account` policy.
    pub fn of(config: &JobConfig, account: Option<&SchedulingPolicy>) -> Result<Self, WindowError> {
        Self::new(config.id, &config.policy, account)
    }

    /// The gate of a config with id `id` and policy `policy`.
    pub fn new(
        id: Uuid,
        policy: &SchedulingPolicy,
        account: Option<&SchedulingPolicy>,
    ) -> Result<Self, WindowError> {
        Ok(Gate {
            windows: Windows::of(std::iter::once(policy).chain(account))?,
            fraction: fraction_of(id),
            jitter: Duration::seconds(policy.jitter_secs.clamp(0, MAX_JITTER_SECS)),
        })
    }

    /// The same windows without jitter (what a run-now that respects windows uses).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = Duration::zero();
        self
    }

    /// The windows alone.
    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    /// This config's offset within `spread`.
    fn offset(&self, spread: Duration) -> Duration {
        let micros = (spread.num_microseconds().unwrap_or(i64::MAX) as f64 * self.fraction) as i64;
        Duration::microseconds(micros.max(0))
    }

    /// When the fire at `fire` starts; `None` when it falls outside the windows and
    /// `defer` is false (or no window opens within the search horizon).
    pub fn start(&self, fire: DateTime<Utc>, defer: bool) -> Option<Start> {
        let at = fire + self.offset(self.jitter);
        if self.windows.is_empty() {
            return Some(Start { at, by: None });
        }
        if self.windows.allows(at) {
            return Some(Start {
                at,
                by: self.windows.open_until(at),
            });
        }
        if !defer {
            return None;
        }
        let opens = self.windows.next_allowed(at)?;
        let by = self.windows.open_until(opens);
        let spread = by.map_or(self.jitter, |until| self.jitter.min((until - opens) / 2));
        Some(Start {
            at: opens + self.offset(spread),
            by,
        })
    }

    /// Whether fires are deferred to the next window (else dropped) under `catch_up`.
    pub fn defers(catch_up: CatchUp) -> bool {
        catch_up != CatchUp::Skip
    }

    /// The first fire of `schedule` (inside the config's start/end `window`) after `now`
    /// that can start at all under `catch_up`: with `skip`, only a fire whose start falls
    /// inside the windows; otherwise any fire, provided some window opens after it.
    pub fn first_runnable(
        &self,
        schedule: &Schedule,
        window: Window,
        catch_up: CatchUp,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let first = first_fire(schedule, window, now)?;
        if Self::defers(catch_up) {
            return self.start(first, true).map(|_| first);
        }
        // A fire starts inside a stretch [from, until) when fire + offset lies in it: look
        // at each stretch's first such fire rather than at every fire.
        let offset = self.offset(self.jitter);
        let from_fire = |t: DateTime<Utc>| t - offset - Duration::microseconds(1);
        self.windows
            .stretches(first + offset)
            .find_map(|(from, until)| {
                let fire = first_fire(schedule, window, from_fire(from).max(now))?;
                let at = fire + offset;
                (at >= from && until.is_none_or(|u| at < u)).then_some(fire)
            })
    }
}

/// A number in `[0, 1)` fixed by the config's id: its place in every spread. From a hash,
/// so ids made one after another (v7, ordered by time) still land far apart.
fn fraction_of(id: Uuid) -> f64 {
    let digest = Sha256::digest(id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    // The top 53 bits, so the division is exact in an f64.
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;

//! `rotation_after`: X days after creation, then X days after the last rotation. The
//! last rotation this plugin made is kept in the durable `state` import (scoped by the
//! host to the plugin and the job config), so it holds across runs and restarts.

use chrono::{DateTime, Duration, Utc};
use keywarden_sdk::state;

use crate::error::CloudError;
use crate::time::{parse_rfc3339, rfc3339};

/// Whether a key with these dates is due under `rotation_after = every`.
pub fn due(
    now: DateTime<Utc>,
    every: Duration,
    created: Option<DateTime<Utc>>,
    last_rotation: Option<DateTime<Utc>>,
) -> bool {
    match last_rotation.or(created) {
        Some(since) => now >= since + every,
        None => true,
    }
}

fn state_key(key_id: &str) -> String {
    format!("last_rotation/{key_id}")
}

/// The last rotation of `key_id` this plugin recorded for this job config.
pub fn last_rotation(key_id: &str) -> Option<DateTime<Utc>> {
    state::get(&state_key(key_id)).and_then(|t| parse_rfc3339(&t))
}

/// Records that `key_id` was rotated at `now`.
pub fn record_rotation(key_id: &str, now: DateTime<Utc>) -> Result<(), CloudError> {
    state::set(&state_key(key_id), &rfc3339(now)).map_err(|e| CloudError(e.to_string()))
}

/// Drops the record of `key_id` (a key a rotation replaced), so the state does not grow
/// with every rotation. Best effort: a stale entry only wastes room.
pub fn forget_rotation(key_id: &str) {
    let _ = state::remove(&state_key(key_id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_counts_from_the_last_rotation_else_creation() {
        let t = |d: i64| DateTime::from_timestamp(d * 86_400, 0).unwrap();
        let every = Duration::days(10);
        assert!(!due(t(15), every, Some(t(10)), None));
        assert!(due(t(20), every, Some(t(10)), None));
        assert!(!due(t(20), every, Some(t(0)), Some(t(15))));
        assert!(due(t(25), every, Some(t(0)), Some(t(15))));
        assert!(due(t(0), every, None, None));
    }
}

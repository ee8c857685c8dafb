//! Small durable key/value state, scoped to the plugin and the job config that runs it
//! (e.g. the last rotation date of each key), so a job can pick up where the previous
//! run stopped.

use std::fmt;

use crate::wit::keywarden::plugin::state as wit;

/// Why state could not be written (e.g. the state quota is exceeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state not saved: {}", self.0)
    }
}

impl std::error::Error for StateError {}

/// The stored value of `key`.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// Store `value` under `key`.
pub fn set(key: &str, value: &str) -> Result<(), StateError> {
    wit::set(key, Some(value)).map_err(StateError)
}

/// Delete `key` (no error if it is absent).
pub fn remove(key: &str) -> Result<(), StateError> {
    wit::set(key, None).map_err(StateError)
}

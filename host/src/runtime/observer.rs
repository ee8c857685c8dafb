//! Live notifications from a running job, for whoever wants them (the executor
//! persists progress; the CLI prints it).

use super::capabilities::log::LogLine;

/// Receives progress and log lines as a job produces them. Calls happen on the job's
/// task and must not block.
pub trait JobObserver: Send + Sync {
    fn progress(&self, _done: u64, _total: u64) {}
    fn log(&self, _line: &LogLine) {}
    /// `plugin`'s component was instantiated for the job in `took`.
    fn instantiated(&self, _plugin: &str, _took: std::time::Duration) {}
    /// The run ended without an outcome (the failure says why).
    fn failed(&self, _plugin: &str, _failure: &super::invoke::JobFailure) {}
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl JobObserver for NoObserver {}

//! Per-job resource limits enforced by the store, remembering which limit was hit so
//! that the job's error can say so.

/// Table elements a job may grow to (function tables of large Rust programs stay far
/// below this).
const MAX_TABLE_ELEMENTS: usize = 200_000;

/// A `ResourceLimiter` with a memory cap.
#[derive(Debug)]
pub struct JobLimiter {
    memory_cap: usize,
    /// Set when a `memory.grow` beyond the cap was refused.
    pub memory_exceeded: bool,
    /// Largest total memory the job asked for, for reporting.
    pub peak_memory: usize,
}

impl JobLimiter {
    pub fn new(memory_cap: usize) -> Self {
        Self {
            memory_cap,
            memory_exceeded: false,
            peak_memory: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for JobLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_exceeded = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

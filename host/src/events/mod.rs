//! Live job events: what running jobs report (progress, log lines) and when jobs change
//! state, as it happens, for the streams of `GET /api/v1/scheduler/jobs/{id}/events`
//! and `GET /api/v1/scheduler/events` (see `domain/job_events.rs`).
//!
//! The [`JobEvents`] hub lives in one process: the executor publishes into it, the
//! domain subscribes. It is a fast path, never the record — a stream also re-reads the
//! database, which is how it sees jobs run by other nodes and catches up after falling
//! behind.

mod hub;

pub use hub::{JobEvent, JobEventKind, JobEvents, Recent, STREAMS_PER_ACCOUNT, StreamGuard};

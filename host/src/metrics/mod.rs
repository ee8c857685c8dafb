//! What a node measures about itself, in Prometheus's text format (`GET /metrics`).
//!
//! One [`Metrics`] per server, handed to the parts that count (executor, scheduler,
//! plugins folder, HTTP layer) rather than kept in a global, so servers sharing a process
//! (the tests) each count their own. Values that live in the database (queue depth, the
//! oldest due job) are read when scraped.

mod families;
mod http;
mod render;

pub use families::{JobLabels, Metrics, failure_reason};
pub use http::track_requests;
pub use render::render;

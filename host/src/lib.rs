//! Keywarden: schedules and runs key- and certificate-lifecycle jobs, each operation a
//! sandboxed WebAssembly component.

pub mod cli;
pub mod config;
pub mod plugins;
pub mod runtime;
pub mod scheduler;

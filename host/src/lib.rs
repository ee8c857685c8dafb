//! Keywarden: schedules and runs key- and certificate-lifecycle jobs, each operation a
//! sandboxed WebAssembly component.

pub mod alerts;
pub mod api;
pub mod authority;
pub mod backup;
pub mod certificates;
pub mod cli;
pub mod discovery;
pub mod domain;
pub mod events;
pub mod executor;
pub mod metrics;
pub mod operator_config;
pub mod orchestrator;
pub mod plugins;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod tenancy;

pub use api::app;
pub use server::serve;

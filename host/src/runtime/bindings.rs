#![allow(
    unsafe_code,
    reason = "the code bindgen! generates uses unsafe internally"
)]
//! The one place that generates Rust types from `wit/` (the current contract; the same
//! macro makes `bindings_v1.rs` from the frozen `wit/v0.1.0/`).
//!
//! Everything else in the host refers to these types; nothing copies WIT by hand.

/// `bindgen!` for the `plugin` world at `path`, with the one fault rule for every version
/// of the contract: host faults (the database behind `state`, a certificate authority
/// that is down) trap instead of answering the guest (see `capabilities::HostFault`).
macro_rules! plugin_bindings {
    ($path:literal) => {
        wasmtime::component::bindgen!({
            world: "plugin",
            path: $path,
            imports: {
                "keywarden:plugin/state.get": async | trappable,
                "keywarden:plugin/state.set": async | trappable,
                "keywarden:plugin/enrollment.submit-csr": async | trappable,
                default: async,
            },
            exports: { default: async },
        });
    };
}
pub(crate) use plugin_bindings;

plugin_bindings!("../wit");

pub use self::exports::keywarden::plugin::{
    certificate_store, custom_job, key_management, network_discovery,
};
pub use self::keywarden::plugin::{config, enrollment, log, progress, secrets, state, tls, types};

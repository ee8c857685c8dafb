#![allow(
    unsafe_code,
    reason = "the code bindgen! generates uses unsafe internally"
)]
//! The one place that generates Rust types from `wit/`.
//!
//! Everything else in the host refers to these types; nothing copies WIT by hand.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    // Host faults (the database behind `state`, a certificate authority that is down)
    // trap instead of answering the guest (see `capabilities::HostFault`).
    imports: {
        "keywarden:plugin/state.get": async | trappable,
        "keywarden:plugin/state.set": async | trappable,
        "keywarden:plugin/enrollment.submit-csr": async | trappable,
        default: async,
    },
    exports: { default: async },
});

pub use self::exports::keywarden::plugin::{
    certificate_store, custom_job, key_management, network_discovery,
};
pub use self::keywarden::plugin::{config, enrollment, log, progress, secrets, state, tls, types};

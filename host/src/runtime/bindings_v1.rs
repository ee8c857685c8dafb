#![allow(
    unsafe_code,
    reason = "the code bindgen! generates uses unsafe internally"
)]
//! Rust types for the frozen `keywarden:plugin@0.1.0` contract (`wit/v0.1.0/`), so
//! components built against it keep running. Only [`super::wit_v1`] uses them: it
//! converts to and from the current types at that one place.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.1.0",
    // The same fault rule as the current contract (see `bindings.rs`).
    imports: {
        "keywarden:plugin/state.get": async | trappable,
        "keywarden:plugin/state.set": async | trappable,
        "keywarden:plugin/enrollment.submit-csr": async | trappable,
        default: async,
    },
    exports: { default: async },
});

pub use self::exports::keywarden::plugin::{certificate_store, key_management};
pub use self::keywarden::plugin::{config, enrollment, log, progress, secrets, state, tls, types};

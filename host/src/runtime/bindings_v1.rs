#![allow(
    unsafe_code,
    reason = "the code bindgen! generates uses unsafe internally"
)]
//! Rust types for the frozen `keywarden:plugin@0.1.0` contract (`wit/v0.1.0/`), so
//! components built against it keep running. Only [`super::wit_v1`] uses them: it
//! converts to and from the current types at that one place.

super::bindings::plugin_bindings!("../wit/v0.1.0");

pub use self::exports::keywarden::plugin::{certificate_store, key_management};
pub use self::keywarden::plugin::{config, enrollment, log, progress, secrets, state, tls, types};

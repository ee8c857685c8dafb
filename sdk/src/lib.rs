//! Write [Keywarden](https://github.com/) job plugins in Rust.
//!
//! A Keywarden plugin is a WebAssembly component (WASI 0.2, target `wasm32-wasip2`)
//! that the server runs in a sandbox. This crate hides the WIT bindings behind a small,
//! safe API:
//!
//! * implement [`Plugin`] for a unit struct: [`Plugin::describe`] returns the
//!   [`Manifest`] (operations with their params schemas, requested [`Capabilities`]),
//!   and you override the method of each job family you serve (e.g.
//!   [`Plugin::run_custom`]); the others answer [`JobError::Unsupported`];
//! * call [`export_plugin!`] once;
//! * for rotation, Management or Reenrollment, declare [`Operation::dry_run`] and honour
//!   [`JobContext::dry_run`]: write nothing, report what a real run would do (see
//!   `docs/plugins.md` for the contract's versions and the dry-run rules);
//! * use the host's capabilities through [`log`], [`progress`], [`secrets`], [`config`],
//!   [`state`], [`http`], [`tls`], [`enrollment`] and [`files`]. Everything beyond what the operator
//!   granted fails with an error you can report, never silently.
//!
//! # Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "hello"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! keywarden-sdk = { path = "../../sdk" }
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use keywarden_sdk::prelude::*;
//! use keywarden_sdk::{config, log, progress, secrets};
//! use serde::Deserialize;
//!
//! struct Hello;
//!
//! #[derive(Deserialize)]
//! struct Params {
//!     name: String,
//!     #[serde(default)]
//!     secret: Option<String>,
//! }
//!
//! impl Plugin for Hello {
//!     fn describe() -> Manifest {
//!         Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!             .describe("Greets people.")
//!             .operation(
//!                 Operation::custom("hello")
//!                     .describe("Say hello to someone")
//!                     .params_schema(json!({
//!                         "type": "object",
//!                         "properties": {
//!                             "name": {"type": "string"},
//!                             "secret": {"type": "string"}
//!                         },
//!                         "required": ["name"],
//!                         "additionalProperties": false
//!                     })),
//!             )
//!             .capabilities(Capabilities::new().secret("greeting-token"))
//!     }
//!
//!     fn run_custom(ctx: JobContext) -> Result<Outcome, JobError> {
//!         match ctx.operation.as_str() {
//!             "hello" => {
//!                 let params: Params = ctx.params()?; // names the bad field on error
//!                 let greeting = config::get_or("greeting", "Hello");
//!                 log::info_with("greeting", &[("name", &params.name)]);
//!                 progress::report(1, 1);
//!                 let mut outcome = Outcome::success(format!("{greeting}, {}!", params.name))
//!                     .with_details(json!({"greeting": format!("{greeting}, {}!", params.name)}));
//!                 if let Some(name) = params.secret {
//!                     // `?` turns SecretError into JobError::Failed with a readable text.
//!                     let value = secrets::reveal(&name)?;
//!                     outcome = outcome.with_detail("secret_length", value.len());
//!                 }
//!                 Ok(outcome)
//!             }
//!             _ => Err(ctx.unsupported()),
//!         }
//!     }
//! }
//!
//! keywarden_sdk::export_plugin!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component the server loads.
//!
//! # Errors versus failed outcomes
//!
//! Return `Ok(Outcome::failure(..))` when the job ran and found it could not do its
//! work (a store is unreadable, the cloud refused); return `Err(JobError::..)` when it
//! could not run at all (bad params, unsupported operation). The host records both,
//! but reports [`JobError::InvalidParams`] as a client error.
//!
//! # Native builds
//!
//! The crate also compiles for the host target so plugin logic can be unit-tested
//! natively; calling a host capability there panics (there is no host).

mod adapter;
pub mod certificate_store;
pub mod config;
pub mod enrollment;
pub mod files;
pub mod http;
mod job;
pub mod key_management;
pub mod log;
mod manifest;
pub mod progress;
pub mod secrets;
pub mod state;
pub mod tls;

pub use job::{JobContext, JobError, JobResult, Outcome};
pub use manifest::{Capabilities, Family, Manifest, Operation, PathRequest};
/// Re-exported so plugins use the same `serde_json` the SDK's types are built on.
pub use serde_json;

/// The generated WIT bindings. Not public API: use the modules of this crate instead.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all, clippy::pedantic)]
pub mod wit {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "keywarden_sdk::wit",
        generate_all,
    });
}

/// What [`export_plugin!`] expands to needs these; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapter::Adapter;
}

/// The most used names, for `use keywarden_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::certificate_store::{
        CertificateEntry, DiscoveryRequest, NewEntry, ReenrollmentRequest, Store,
    };
    pub use crate::key_management::{CloudKey, Synchronized};
    pub use crate::{
        Capabilities, JobContext, JobError, JobResult, Manifest, Operation, Outcome, Plugin,
    };
    pub use serde_json::{Value, json};
}

use certificate_store::{CertificateEntry, DiscoveryRequest, NewEntry, ReenrollmentRequest, Store};
use key_management::Synchronized;

/// A Keywarden plugin.
///
/// Implement it on a unit struct and pass the struct to [`export_plugin!`]. Every
/// method is an associated function because the host may run each job in a fresh
/// instance: keep no state between calls (use [`state`] for what must survive).
///
/// The host only calls the operations [`Plugin::describe`] lists, dispatching by
/// family; every family method defaults to [`JobError::Unsupported`], so override
/// exactly the ones your manifest promises and `match` on [`JobContext::operation`]
/// inside them.
pub trait Plugin: 'static {
    /// Name, version, operations with their params schemas, requested capabilities.
    /// Called when the host loads the plugin (e.g. for `plugins inspect`); keep it pure.
    fn describe() -> Manifest;

    /// Run a [`Family::Custom`] operation.
    fn run_custom(ctx: JobContext) -> Result<Outcome, JobError> {
        Err(not_provided("custom", &ctx))
    }

    /// Rotate cloud keys ([`Family::KeyManagement`], e.g. `cckm_key_rotation`).
    fn rotate_keys(ctx: JobContext) -> Result<Outcome, JobError> {
        Err(not_provided("key rotation", &ctx))
    }

    /// Pull the cloud's keys into the host ([`Family::KeyManagement`], e.g.
    /// `cckm_synchronization`).
    fn synchronize_keys(ctx: JobContext) -> Result<Synchronized, JobError> {
        Err(not_provided("key synchronization", &ctx))
    }

    /// List the entries of a certificate store ([`Family::CertificateStore`], Inventory).
    fn inventory(ctx: JobContext, store: Store) -> Result<Vec<CertificateEntry>, JobError> {
        let _ = store;
        Err(not_provided("inventory", &ctx))
    }

    /// Install an entry into a store (Management/Add).
    fn add(ctx: JobContext, store: Store, entry: NewEntry) -> Result<Outcome, JobError> {
        let _ = (store, entry);
        Err(not_provided("add", &ctx))
    }

    /// Remove the entry `alias` from a store (Management/Remove).
    fn remove(ctx: JobContext, store: Store, alias: String) -> Result<Outcome, JobError> {
        let _ = (store, alias);
        Err(not_provided("remove", &ctx))
    }

    /// Create an empty store (Management/Create).
    fn create(ctx: JobContext, store: Store) -> Result<Outcome, JobError> {
        let _ = store;
        Err(not_provided("create", &ctx))
    }

    /// Find stores; returns their paths (Discovery).
    fn discover(ctx: JobContext, request: DiscoveryRequest) -> Result<Vec<String>, JobError> {
        let _ = request;
        Err(not_provided("discovery", &ctx))
    }

    /// Generate a key in the store, get it certified, install it (Reenrollment).
    fn reenroll(
        ctx: JobContext,
        store: Store,
        request: ReenrollmentRequest,
    ) -> Result<Outcome, JobError> {
        let _ = (store, request);
        Err(not_provided("reenrollment", &ctx))
    }

    /// Scan endpoints for TLS certificates ([`Family::NetworkDiscovery`]).
    fn scan(ctx: JobContext) -> Result<Outcome, JobError> {
        Err(not_provided("network discovery", &ctx))
    }
}

fn not_provided(what: &str, ctx: &JobContext) -> JobError {
    JobError::Unsupported(format!(
        "this plugin does not provide {what} jobs (operation `{}`)",
        ctx.operation
    ))
}

/// Export a [`Plugin`] implementation as the component's `describe` and job-family
/// interfaces. Use it exactly once, in the plugin's `cdylib` crate.
///
/// ```ignore
/// struct MyPlugin;
/// impl keywarden_sdk::Plugin for MyPlugin { /* ... */ }
/// keywarden_sdk::export_plugin!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[allow(unsafe_code)]
        const _: () = {
            type __KeywardenPluginAdapter = $crate::__private::Adapter<$plugin>;
    $crate::wit::export!(__KeywardenPluginAdapter with_types_in $crate::wit);
        };
    };
}

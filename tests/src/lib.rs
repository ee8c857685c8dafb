//! Shared helpers for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root (this crate lives in `<root>/tests`).
pub(crate) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives one level below the repository root")
}

/// The directory holding the compiled plugins (`hello.wasm`, `noop.wasm`,
/// `hostile.wasm`, ...): `<repo>/target/plugins`.
///
/// The first call in a process builds them (`xtask::build_plugins`, release mode,
/// wasm32-wasip2); later calls return at once. Test binaries running concurrently are
/// safe: cargo's lock on `target/wasm` serialises the builds and the copies into the
/// directory are atomic renames. Panics with the build error if the build fails.
pub fn plugins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let out = root.join("target").join("plugins");
        if let Err(err) = xtask::build_plugins(root, &out) {
            panic!("building the plugins failed: {err:#}");
        }
        out
    })
    .clone()
}

/// The venv that `env_var` names, else the one `.ci/<script>` installs and prints as
/// `export <env_var>=...` (moto, LocalStack, schemathesis). Panics with the reason when
/// neither works.
pub fn ci_venv(script: &str, env_var: &str) -> PathBuf {
    if let Some(v) = std::env::var_os(env_var) {
        return PathBuf::from(v);
    }
    xtask::ci_exports(repo_root(), script)
        .into_iter()
        .find_map(|(name, value)| (name == env_var).then(|| PathBuf::from(value)))
        .unwrap_or_else(|| panic!(".ci/{script} provided no {env_var}; see its messages above"))
}

pub mod aws;
pub mod browser;
pub mod cagent;
pub mod cloud_jobs;
pub mod fakes;
pub mod localstack;
pub mod moto;
pub mod server;
pub mod sse;
pub mod sshd;
mod support;
pub mod tls_fleet;
pub mod webhook;
pub use support::*;

/// The `keywarden` binary (debug build of the host crate), built once per process: tests
/// that run `keywarden agent` as a process of its own need it. Panics with cargo's
/// output when the build fails.
pub fn keywarden_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_keywarden("debug")).clone()
}

/// The `keywarden` binary built with the profile of the code calling it: release for
/// `cargo bench`, debug otherwise, so a benchmark measures the server it was built as.
pub fn keywarden_bench_binary() -> PathBuf {
    if cfg!(debug_assertions) {
        return keywarden_binary();
    }
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_keywarden("release")).clone()
}

/// Builds the `keywarden` binary with cargo's `profile` (`debug` or `release`) and
/// returns its path; panics with cargo's output when the build fails.
fn build_keywarden(profile: &str) -> PathBuf {
    let root = repo_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut args = vec!["build", "-p", "keywarden", "--bin", "keywarden"];
    if profile == "release" {
        args.push("--release");
    }
    let out = std::process::Command::new(cargo)
        .current_dir(root)
        .args(&args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building keywarden ({profile}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join("target").join(profile).join("keywarden")
}

/// A plugins folder holding only `package` built with the test-only cargo `features`
/// (e.g. a build that sends a request its cloud's API forbids), built once per process
/// and variant. Panics with the build error if the build fails.
pub fn plugin_variant(package: &str, features: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{package}-{features}");
    let mut built = BUILT.lock().unwrap();
    if let Some((_, dir)) = built.iter().find(|(k, _)| *k == key) {
        return dir.clone();
    }
    let dir = repo_root()
        .join("target")
        .join("plugin-variants")
        .join(&key);
    if let Err(err) = xtask::build_plugin_variant(repo_root(), package, features, &dir) {
        panic!("building {package} with {features} failed: {err:#}");
    }
    built.push((key, dir.clone()));
    dir
}

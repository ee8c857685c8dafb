//! Per-plugin configuration set by the operator (`[plugins.NAME.config]`).
//!
//! Use it for settings that belong to the deployment rather than to a single job
//! (endpoints, defaults); use params for per-job input.

/// The value of `key`, if the operator set it.
pub fn get(key: &str) -> Option<String> {
    crate::wit::keywarden::plugin::config::get(key)
}

/// The value of `key`, or `default` when it is not set.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_owned())
}

/// All configured entries.
pub fn entries() -> Vec<(String, String)> {
    crate::wit::keywarden::plugin::config::entries()
}

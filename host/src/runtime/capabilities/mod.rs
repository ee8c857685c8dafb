//! One module per host-side WIT interface: its context, its `Host` impl and its
//! `add_to_linker`. Grants are checked inside the host functions, which answer the
//! guest with a WIT error rather than trapping. Only a fault of the host itself (the
//! database behind `state`, a certificate authority that is down) traps, with a
//! [`HostFault`], so the guest never mistakes it for an answer.

pub mod enrollment;
pub mod http;
pub mod log;
pub mod plugin_config;
pub mod progress;
pub mod secrets;
pub mod state;
pub mod tls;
pub mod types;

use std::sync::{Arc, Mutex};

/// A failure of the host while serving an import. It traps the guest (it cannot handle
/// it); the job ends as a host failure, which is retried under its config's retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{capability}: {message}")]
pub struct HostFault {
    /// The import that failed (`state`, `enrollment`).
    pub capability: &'static str,
    /// What failed, for the job's message (no secrets).
    pub message: String,
}

impl HostFault {
    pub fn new(capability: &'static str, message: impl Into<String>) -> Self {
        Self {
            capability,
            message: message.into(),
        }
    }
}

/// Secret values revealed during one job, so that logs and outputs can be scrubbed of
/// them before anything leaves the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Redactions(Arc<Mutex<Vec<String>>>);

impl Redactions {
    /// Remembers a revealed secret, with the forms a plugin could emit it in without
    /// meaning to hide it: JSON-escaped and base64 (standard, unpadded, URL-safe). Each
    /// value once, so revealing one secret in a loop does not grow the list.
    pub fn remember(&self, value: &str) {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        // One-character secrets would blank out half of every log line; don't bother.
        if value.len() < 4 {
            return;
        }
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let forms = [
            value.to_owned(),
            escaped.trim_matches('"').to_owned(),
            STANDARD.encode(value),
            STANDARD_NO_PAD.encode(value),
            URL_SAFE_NO_PAD.encode(value),
        ];
        let mut secrets = self.0.lock().expect("redactions lock");
        for form in forms {
            if !secrets.contains(&form) {
                secrets.push(form);
            }
        }
        // Longest first, so a form containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every revealed secret replaced by `[REDACTED]`.
    pub fn scrub(&self, text: &str) -> String {
        let secrets = self.0.lock().expect("redactions lock");
        let mut out = text.to_owned();
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        out
    }
}

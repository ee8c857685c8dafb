//! Fakes of cloud key services that cannot be installed here, each checking every
//! request against the vendor's published API description (`tests/fakes/specs/`) and
//! answering only what that description allows. A request outside it is recorded as a
//! violation and answered 400; tests end with [`Violations::assert_none`], so a plugin
//! that drifts from the real API fails its test. Test names using them say `fake_<cloud>`.

pub mod api;
pub mod azure;
pub mod discovery;
pub mod gcp;
pub mod oci;
pub mod openapi;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// What the plugins sent that the vendor's API does not allow.
#[derive(Clone, Default)]
pub struct Violations(Arc<Mutex<Vec<String>>>);

impl Violations {
    pub fn record(&self, what: String) {
        eprintln!("fake: spec violation: {what}");
        self.0.lock().unwrap().push(what);
    }

    pub fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Panics naming every violation.
    pub fn assert_none(&self) {
        let all = self.list();
        assert!(
            all.is_empty(),
            "requests outside the vendor's API: {all:#?}"
        );
    }
}

/// Panics naming every one of `operations` missing from `calls` (a fake's answered
/// `operationId`s): a test that means to cover them shows it did.
pub fn assert_called(calls: &[String], operations: &[&str]) {
    let missing: Vec<&&str> = operations
        .iter()
        .filter(|op| !calls.iter().any(|c| c == *op))
        .collect();
    assert!(missing.is_empty(), "never called: {missing:?} in {calls:?}");
}

/// Serves `router` on a fresh loopback port.
pub async fn listen(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A vendor API document from `tests/fakes/specs/`.
pub fn spec(file: &str) -> Value {
    let path = crate::repo_root()
        .join("tests")
        .join("fakes")
        .join("specs")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the spec is JSON")
}

/// 32 random hex digits (Key Vault versions, tokens).
pub fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `len` random bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(len);
    out
}

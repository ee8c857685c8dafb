//! What every fake does around its own state: check the request against the vendor's
//! document (recording a violation when it is outside), check the answer too, remember
//! the call, and keep the bearer tokens its token endpoint issued.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Violations;
use super::openapi::{Matched, Swagger};

pub struct Api {
    spec: Swagger,
    pub violations: Violations,
    calls: Mutex<Vec<String>>,
}

impl Api {
    pub fn new(spec: Swagger) -> Self {
        Self {
            spec,
            violations: Violations::default(),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The operation the request names, or why it is outside the document (recorded).
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Matched, String> {
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        self.spec
            .check_request(
                method.as_str(),
                uri.path(),
                uri.query().unwrap_or(""),
                content_type,
                body,
            )
            .inspect_err(|e| self.violations.record(e.clone()))
    }

    /// Renders the fake's answer to operation `op` after checking it against the
    /// document, and remembers the call as `label`. An answer of 501 means the fake does
    /// not implement a call the document has: that is recorded too, and `error` words it.
    pub fn answer(
        &self,
        op: &str,
        label: String,
        (status, body): (StatusCode, Value),
        error: impl FnOnce(&str) -> (StatusCode, Value),
    ) -> Response {
        let (status, body) = if status == StatusCode::NOT_IMPLEMENTED {
            let what = format!("the fake does not implement {op}");
            self.violations.record(what.clone());
            error(&what)
        } else {
            (status, body)
        };
        if let Err(e) = self.spec.check_response(op, status.as_u16(), &body) {
            self.violations
                .record(format!("the fake's own answer: {e}"));
        }
        self.calls.lock().unwrap().push(label);
        (status, axum::Json(body)).into_response()
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// Bearer tokens a fake's token endpoint issued, each until it expires.
#[derive(Default)]
pub struct Tokens {
    live: Mutex<HashMap<String, Instant>>,
    issued: AtomicUsize,
}

impl Tokens {
    /// A new token (`prefix` + 64 random hex digits) valid for `lifetime`.
    pub fn issue(&self, prefix: &str, lifetime: Duration) -> String {
        let token = format!("{prefix}{}{}", super::hex_id(), super::hex_id());
        self.live
            .lock()
            .unwrap()
            .insert(token.clone(), Instant::now() + lifetime);
        self.issued.fetch_add(1, Ordering::SeqCst);
        token
    }

    /// Whether the request carries `Authorization: Bearer` with a live token.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| {
                self.live
                    .lock()
                    .unwrap()
                    .get(t)
                    .is_some_and(|until| Instant::now() < *until)
            })
    }

    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// Every token issued, for tests that check none leaked.
    pub fn all(&self) -> Vec<String> {
        self.live.lock().unwrap().keys().cloned().collect()
    }
}

//! Cloud KMS v1 over the SDK's wasi:http client: each call carries the bearer token,
//! lists follow `nextPageToken`, and Google's error object becomes a message naming the
//! call.

use cloud_common::rest::{self, Service};
use cloud_common::{CloudError, PageGuard};
use keywarden_sdk::http::Method;
use serde_json::Value;

use crate::auth::Auth;

const ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// Google's error object: `{"error": {"code", "message", "status"}}`.
const CLOUD_KMS: Service = Service {
    name: "Cloud KMS",
    code: "/error/status",
    message: "/error/message",
};

pub struct Kms {
    /// `https://cloudkms.googleapis.com` or the operator's `endpoint`.
    endpoint: String,
    pub auth: Auth,
}

impl Kms {
    pub fn new(auth: Auth) -> Self {
        let endpoint = keywarden_sdk::config::get_or("endpoint", ENDPOINT);
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            auth,
        }
    }

    /// `method` on `v1/{path}` with `body`; the parsed answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CloudError> {
        let url = format!("{}/v1/{path}", self.endpoint);
        rest::call(&CLOUD_KMS, &self.auth, method, &url, body)
    }

    /// Every item of a paged list (`field`, `nextPageToken`).
    pub fn list(&self, path: &str, field: &str) -> Result<Vec<Value>, CloudError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut guard = PageGuard::new();
        loop {
            let mut page_path = format!("{path}?pageSize=100");
            if let Some(t) = &token {
                page_path.push_str("&pageToken=");
                page_path.extend(form_urlencoded::byte_serialize(t.as_bytes()));
            }
            let page = self.call(Method::Get, &page_path, None)?;
            if let Some(items) = page[field].as_array() {
                out.extend(items.iter().cloned());
            }
            token = page["nextPageToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            match &token {
                None => return Ok(out),
                Some(t) => guard.next(&format!("Cloud KMS list {path}"), t)?,
            }
        }
    }
}

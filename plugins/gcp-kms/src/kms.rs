//! Cloud KMS v1 over the SDK's wasi:http client: each call carries the bearer token,
//! lists follow `nextPageToken`, and Google's error object becomes a message naming the
//! call.

use cloud_common::CloudError;
use keywarden_sdk::http::{Method, Request};
use serde_json::{Value, json};

use crate::auth::Auth;

const ENDPOINT: &str = "https://cloudkms.googleapis.com";

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
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut retried = false;
        loop {
            let token = self.auth.token()?;
            let mut request = Request::new(method.clone(), &url)
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send()?;
            if response.is_success() {
                if response.body.is_empty() {
                    return Ok(json!({}));
                }
                return response
                    .json()
                    .map_err(|e| CloudError(format!("Cloud KMS {what}: {e}")));
            }
            if response.status == 401 && !retried {
                retried = true;
                self.auth.refused();
                continue;
            }
            let err: Value = response.json().unwrap_or(Value::Null);
            let status = err
                .pointer("/error/status")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {}", response.status));
            let message = err
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| response.text().chars().take(200).collect());
            return Err(CloudError(format!(
                "Cloud KMS {what} failed: {status}: {message}"
            )));
        }
    }

    /// Every item of a paged list (`field`, `nextPageToken`).
    pub fn list(&self, path: &str, field: &str) -> Result<Vec<Value>, CloudError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
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
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

//! A minimal AWS KMS client: the JSON 1.1 protocol over the SDK's wasi:http client,
//! every request signed with SigV4 by the `aws-sigv4` crate.
//!
//! Only the calls rotation and synchronization need are wrapped. Errors carry AWS's
//! error type and message, never the credentials.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use keywarden_sdk::http::Request;
use serde_json::{Value, json};

/// Where and as whom to call KMS.
pub struct Kms {
    /// `https://kms.<region>.amazonaws.com` or an operator-set endpoint (e.g. moto).
    endpoint: String,
    region: String,
    credentials: Credentials,
}

/// A failed KMS call (the plugins' shared error type).
pub use cloud_common::CloudError as KmsError;

impl Kms {
    pub fn new(
        endpoint: String,
        region: String,
        access_key: String,
        secret_key: String,
        session_token: Option<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials: Credentials::new(access_key, secret_key, session_token, None, "keywarden"),
        }
    }

    /// Calls `TrentService.<action>` with `body`; the parsed answer or AWS's error.
    pub fn call(&self, action: &str, body: &Value) -> Result<Value, KmsError> {
        let payload = body.to_string().into_bytes();
        let url = format!("{}/", self.endpoint);
        let target = format!("TrentService.{action}");
        let host = host_of(&self.endpoint);
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-target".to_owned(), target),
            ("host".to_owned(), host),
        ];
        headers.extend(self.sign(&url, &headers, &payload)?);
        let mut request = Request::post(url).body(payload);
        for (name, value) in headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request.send()?;
        if response.is_success() {
            return cloud_common::rest::success_json(&response, &format!("KMS {action}"));
        }
        let err: Value = response.json().unwrap_or(Value::Null);
        let kind = err
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let message = err
            .get("message")
            .or_else(|| err.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| response.text().chars().take(200).collect());
        Err(KmsError(format!("KMS {action} failed: {kind}: {message}")))
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, maybe `x-amz-security-token`).
    fn sign(
        &self,
        url: &str,
        headers: &[(String, String)],
        payload: &[u8],
    ) -> Result<Vec<(String, String)>, KmsError> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| KmsError(format!("signing parameters: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(payload),
        )
        .map_err(|e| KmsError(format!("signing the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| KmsError(format!("signing the request: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Every page of a list call, `items` collected from `field`.
    pub fn list_all(&self, action: &str, body: Value, field: &str) -> Result<Vec<Value>, KmsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut guard = cloud_common::PageGuard::new();
        loop {
            let mut request = body.clone();
            if let Some(m) = &marker {
                request["Marker"] = json!(m);
            }
            let page = self.call(action, &request)?;
            if let Some(items) = page.get(field).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            let truncated = page.get("Truncated").and_then(Value::as_bool) == Some(true);
            marker = page
                .get("NextMarker")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match &marker {
                Some(m) if truncated => guard.next(&format!("KMS {action}"), m)?,
                _ => return Ok(out),
            }
        }
    }
}

/// `host[:port]` of an endpoint URL, as the `host` header SigV4 signs.
fn host_of(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

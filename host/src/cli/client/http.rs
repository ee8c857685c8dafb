//! The one HTTP client of the CLI: base URL, bearer token, reqwest with rustls.
//!
//! Every command builds a [`Call`] and hands it here, so status checks, error bodies and
//! the exit codes they mean live in one place.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::args::ClientArgs;
use super::error::ClientError;
use super::render::Output;

/// A request: method, path below the server's base URL, query and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    pub fn put(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PUT, path).body(body)
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds a query parameter when it has a value.
    pub fn query(mut self, key: &str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((key.to_owned(), v.to_string()));
        }
        self
    }

    pub fn query_pairs(mut self, pairs: &[(String, String)]) -> Self {
        self.query.extend(pairs.iter().cloned());
        self
    }
}

/// The client: where the server is, the token (never printed) and how to print answers.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    pub output: Output,
}

impl Client {
    pub fn new(args: &ClientArgs) -> Result<Self, ClientError> {
        let token = match &args.token_file {
            Some(file) => Some(read_token(file)?),
            None => std::env::var("KEYWARDEN_TOKEN")
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("keywarden-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &args.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| ClientError::local(format!("--ca-file {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| ClientError::local(format!("--ca-file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(ClientError::local)?;
        Ok(Self {
            base: args.server.trim_end_matches('/').to_owned(),
            token,
            http,
            output: args.output,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the call; a 2xx answer is returned as it is, any other becomes the error
    /// its body describes.
    pub async fn send(&self, call: &Call) -> Result<reqwest::Response, ClientError> {
        let mut request = self
            .http
            .request(call.method.clone(), self.url(&call.path))
            .query(&call.query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.refusal(response).await)
        }
    }

    /// Sends the call and returns its JSON answer (`Null` for an empty one, e.g. 204).
    pub async fn json(&self, call: &Call) -> Result<Value, ClientError> {
        Ok(self.counted(call).await?.0)
    }

    /// [`json`](Self::json), with the `x-total-count` header the Keyfactor lists carry.
    pub async fn counted(&self, call: &Call) -> Result<(Value, Option<i64>), ClientError> {
        let response = self.send(call).await?;
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if bytes.is_empty() {
            return Ok((Value::Null, total));
        }
        let value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((value, total))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        ClientError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    async fn refusal(&self, response: reqwest::Response) -> ClientError {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut message = text("message")
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
        if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
            message.push_str(" (no token: set KEYWARDEN_TOKEN or pass --token-file)");
        }
        ClientError::Api {
            status: status.as_u16(),
            message,
            field: text("field"),
        }
    }
}

fn read_token(file: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ClientError::local(format!("--token-file {}: {e}", file.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ClientError::local(format!(
            "--token-file {} is empty",
            file.display()
        )));
    }
    Ok(token.to_owned())
}

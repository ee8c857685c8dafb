//! JSON calls to a cloud's REST API with a bearer token: one retry with a fresh token
//! when the service refuses the cached one, and the service's error object turned into
//! a message naming the call.

use keywarden_sdk::http::{Method, Request, Response};
use serde_json::{Value, json};

use crate::error::CloudError;

/// Where a service keeps its bearer token.
pub trait Bearer {
    fn token(&self) -> Result<String, CloudError>;
    /// The service refused the token: forget it.
    fn refused(&self);
}

/// How a service names itself and words its errors (JSON pointers into the body).
pub struct Service {
    pub name: &'static str,
    pub code: &'static str,
    pub message: &'static str,
}

/// The JSON of a successful answer (`{}` for an empty body).
pub fn success_json(response: &Response, what: &str) -> Result<Value, CloudError> {
    if response.body.is_empty() {
        return Ok(json!({}));
    }
    response
        .json()
        .map_err(|e| CloudError(format!("{what}: {e}")))
}

/// `method url` with `body`, authorized by `auth`.
pub fn call(
    service: &Service,
    auth: &impl Bearer,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, CloudError> {
    let what = format!(
        "{} {method} {}",
        service.name,
        url.split('?').next().unwrap_or(url)
    );
    let mut retried = false;
    loop {
        let token = auth.token()?;
        let mut request = Request::new(method.clone(), url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send()?;
        if response.is_success() {
            return success_json(&response, &what);
        }
        if response.status == 401 && !retried {
            retried = true;
            auth.refused();
            continue;
        }
        let err: Value = response.json().unwrap_or(Value::Null);
        let code = err
            .pointer(service.code)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let message = err
            .pointer(service.message)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| response.text().chars().take(200).collect());
        return Err(CloudError(format!("{what} failed: {code}: {message}")));
    }
}

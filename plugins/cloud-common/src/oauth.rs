//! An OAuth 2.0 token request (RFC 6749): a form posted to the token endpoint, answered
//! with `{access_token, expires_in}` or `{error, error_description}`. Entra ID's client
//! credentials and Google's JWT bearer grant are both this exchange.

use keywarden_sdk::http::Request;
use serde_json::Value;

use crate::error::CloudError;

/// Posts `form` to `url`; the token and its lifetime in seconds, or the endpoint's
/// `error: error_description` after `refused` (which says whose credential it was).
pub fn request_token(
    url: &str,
    form: &[(&str, &str)],
    refused: &str,
) -> Result<(String, i64), CloudError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()?;
    let answer: Value = response.json().unwrap_or(Value::Null);
    if !response.is_success() {
        let code = answer["error"].as_str().unwrap_or("unknown_error");
        // Entra's descriptions run on with trace ids: the first line says it.
        let description = answer["error_description"]
            .as_str()
            .map(|d| d.lines().next().unwrap_or(d).to_owned())
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        return Err(CloudError(format!("{refused}: {code}: {description}")));
    }
    let token = answer["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CloudError("the token endpoint answered no access_token".into()))?;
    // A number in current answers, a string in some older ones.
    let lifetime = match &answer["expires_in"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(300);
    Ok((token.to_owned(), lifetime))
}

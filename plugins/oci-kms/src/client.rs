//! Signed calls to OCI's Key Management API (`/20180608`): on the regional control
//! plane (vault listing) and on each vault's management endpoint (keys and versions).
//! Lists follow the `opc-next-page` header; OCI's error object `{code, message}` becomes
//! a message naming the call.

use cloud_common::{CloudError, PageGuard, now};
use keywarden_sdk::http::{Method, Request};
use serde_json::Value;

use crate::auth::HINT;
use crate::signer::Signer;

pub const API: &str = "/20180608";
/// Items asked for per page; a service may answer fewer and a next page.
const PAGE: u32 = 100;

pub struct Oci {
    signer: Signer,
}

impl Oci {
    pub fn new(signer: Signer) -> Self {
        Self { signer }
    }

    /// `method {endpoint}/20180608{path}` with `body`; the parsed answer and the next
    /// page's token.
    pub fn call(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, Option<String>), CloudError> {
        let endpoint = endpoint.trim_end_matches('/');
        let authority = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest);
        let path_and_query = format!("{API}{path}");
        let what = format!(
            "{method} {}",
            path_and_query.split('?').next().unwrap_or(&path_and_query)
        );
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut request = Request::new(method.clone(), format!("{endpoint}{path_and_query}"))
            .header("accept", "application/json");
        for (name, value) in self
            .signer
            .headers(&method, authority, &path_and_query, &body, now())
        {
            request = request.header(name, value);
        }
        let response = request.body(body).send()?;
        if response.is_success() {
            let answer = cloud_common::rest::success_json(&response, &format!("OCI {what}"))?;
            let next = response
                .header("opc-next-page")
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            return Ok((answer, next));
        }
        let err: Value = response.json().unwrap_or(Value::Null);
        let code = err["code"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let message = err["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| response.text().chars().take(200).collect());
        let hint = if response.status == 401 { HINT } else { "" };
        let request_id = response
            .header("opc-request-id")
            .map(|id| format!(" (opc-request-id {id})"))
            .unwrap_or_default();
        Err(CloudError(format!(
            "OCI {what} failed: {} {code}: {message}{hint}{request_id}",
            response.status
        )))
    }

    /// Every item of a list (`path` has its query already), page after page.
    pub fn list(&self, endpoint: &str, path: &str) -> Result<Vec<Value>, CloudError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let first = format!("{path}{sep}limit={PAGE}");
        let mut out = Vec::new();
        let mut guard = PageGuard::new();
        let mut page = self.call(Method::Get, endpoint, &first, None)?;
        loop {
            match page.0 {
                Value::Array(items) => out.extend(items),
                _ => {
                    return Err(CloudError(format!(
                        "OCI GET {API}{path} did not answer a list"
                    )));
                }
            }
            let Some(token) = page.1 else {
                return Ok(out);
            };
            guard.next(&format!("OCI GET {API}{path}"), &token)?;
            let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            page = self.call(
                Method::Get,
                endpoint,
                &format!("{first}&page={token}"),
                None,
            )?;
        }
    }
}

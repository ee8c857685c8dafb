//! One vault's keys API (version 7.6): each call carries the bearer token and
//! `api-version`, follows `nextLink` pages, and turns Key Vault's error object into a
//! message naming the call.

use std::rc::Rc;

use cloud_common::CloudError;
use cloud_common::rest::{self, Service};
use keywarden_sdk::http::Method;
use serde_json::Value;

use crate::auth::Auth;

pub const API_VERSION: &str = "7.6";

/// Key Vault's error object: `{"error": {"code", "message"}}`.
const KEY_VAULT: Service = Service {
    name: "Key Vault",
    code: "/error/code",
    message: "/error/message",
};

pub struct Vault {
    /// `https://NAME.vault.azure.net`, no trailing slash.
    pub url: String,
    auth: Rc<Auth>,
}

impl Vault {
    pub fn new(url: &str, auth: Rc<Auth>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            auth,
        }
    }

    /// `method` on `path` (below the vault URL) with `body`; the parsed answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CloudError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.send(
            method,
            &format!("{}{path}{sep}api-version={API_VERSION}", self.url),
            body,
        )
    }

    fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value, CloudError> {
        rest::call(&KEY_VAULT, &*self.auth, method, url, body)
    }

    /// Every item of a paged list (`value`, `nextLink`). A `nextLink` outside this vault
    /// is refused rather than followed.
    pub fn list(&self, path: &str) -> Result<Vec<Value>, CloudError> {
        let mut out = Vec::new();
        let mut page = self.call(Method::Get, path, None)?;
        loop {
            if let Some(items) = page["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            let Some(next) = page["nextLink"].as_str().filter(|n| !n.is_empty()) else {
                return Ok(out);
            };
            if !next.starts_with(&format!("{}/", self.url)) {
                return Err(CloudError(format!(
                    "Key Vault answered a next page outside the vault: {next}"
                )));
            }
            page = self.send(Method::Get, next, None)?;
        }
    }
}

/// The vaults a job works on: `azure_param.vaults`, else the operator's `vault_urls`.
pub fn vaults(
    from_params: &[String],
    auth: &Rc<Auth>,
) -> Result<Vec<Vault>, keywarden_sdk::JobError> {
    let urls: Vec<String> = if from_params.is_empty() {
        keywarden_sdk::config::get("vault_urls")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        from_params.to_vec()
    };
    if urls.is_empty() {
        return Err(keywarden_sdk::JobError::invalid_param(
            "azure_param.vaults",
            "no vault: name vault URLs here or have the operator set `vault_urls`",
        ));
    }
    Ok(urls.iter().map(|u| Vault::new(u, auth.clone())).collect())
}

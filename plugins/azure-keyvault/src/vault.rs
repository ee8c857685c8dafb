//! One vault's keys API (version 7.6): each call carries the bearer token and
//! `api-version`, follows `nextLink` pages, and turns Key Vault's error object into a
//! message naming the call.

use std::rc::Rc;

use cloud_common::rest::{self, Service};
use cloud_common::{CloudError, PageGuard, origin};
use keywarden_sdk::JobError;
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
    /// (compared by origin: Key Vault writes `:443` into it) or one already followed is
    /// refused rather than followed.
    pub fn list(&self, path: &str) -> Result<Vec<Value>, CloudError> {
        let mut out = Vec::new();
        let mut guard = PageGuard::new();
        let mut page = self.call(Method::Get, path, None)?;
        loop {
            if let Some(items) = page["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            let Some(next) = page["nextLink"].as_str().filter(|n| !n.is_empty()) else {
                return Ok(out);
            };
            if !self.holds(next) {
                return Err(CloudError(format!(
                    "Key Vault answered a next page outside the vault: {next}"
                )));
            }
            guard.next(&format!("Key Vault GET {path}"), next)?;
            page = self.send(Method::Get, next, None)?;
        }
    }

    /// Whether `url` is on this vault, below `/keys`.
    pub fn holds(&self, url: &str) -> bool {
        let Some(origin) = origin(url) else {
            return false;
        };
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        Some(origin) == cloud_common::origin(&self.url)
            && (path == "/keys" || path.starts_with("/keys/") || path.starts_with("/keys?"))
    }
}

/// The vaults a job works on: `azure_param.vaults`, else the operator's `vault_urls`.
/// Each is a bare origin (`https://NAME.vault.azure.net`); when the operator set
/// `vault_urls`, a job may only narrow it.
pub fn vaults(from_params: &[String], auth: &Rc<Auth>) -> Result<Vec<Vault>, JobError> {
    let configured = cloud_common::config_list("vault_urls");
    let urls = if from_params.is_empty() {
        configured.clone()
    } else {
        from_params.to_vec()
    };
    if urls.is_empty() {
        return Err(JobError::invalid_param(
            "azure_param.vaults",
            "no vault: name vault URLs here or have the operator set `vault_urls`",
        ));
    }
    let allowed: Vec<Option<String>> = configured.iter().map(|u| origin(u)).collect();
    let mut out = Vec::new();
    for url in urls {
        let bare = url.trim_end_matches('/');
        let Some(o) =
            origin(bare).filter(|_| bare.matches('/').count() == 2 && !bare.contains(['?', '#']))
        else {
            return Err(JobError::invalid_param(
                "azure_param.vaults",
                format!("{url:?} is not a vault URL like https://NAME.vault.azure.net"),
            ));
        };
        if !configured.is_empty() && !allowed.contains(&Some(o)) {
            return Err(JobError::invalid_param(
                "azure_param.vaults",
                format!("{url:?} is not among the operator's vault_urls"),
            ));
        }
        out.push(Vault::new(bare, auth.clone()));
    }
    Ok(out)
}

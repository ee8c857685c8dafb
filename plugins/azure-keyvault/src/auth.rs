//! Microsoft Entra ID client credentials: the client secret, from the secrets import, is
//! exchanged at the tenant's token endpoint for a bearer token the vaults accept.

use cloud_common::{BearerCache, CloudError};
use keywarden_sdk::http::Request;
use keywarden_sdk::{JobError, config, secrets};
use serde_json::Value;

/// Default name of the client secret; the operator may rename it (`client_secret_secret`).
pub const CLIENT_SECRET: &str = "azure-client-secret";
const AUTHORITY: &str = "https://login.microsoftonline.com";
/// The scope of a Key Vault data-plane token in Azure's public cloud.
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";

/// The credential and the token it last bought.
pub struct Auth {
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: String,
    cache: BearerCache,
}

impl Auth {
    /// From the operator's config (`tenant_id`, `client_id`, `authority_host`, `scope`,
    /// `client_secret_secret`) and the secrets import.
    pub fn from_config() -> Result<Self, JobError> {
        let setting = |key: &str| {
            config::get(key)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    JobError::failed(format!(
                        "the operator has not set `{key}` in this plugin's settings"
                    ))
                })
        };
        let tenant = setting("tenant_id")?;
        let client_id = setting("client_id")?;
        let authority = config::get_or("authority_host", AUTHORITY);
        let secret_name = config::get_or("client_secret_secret", CLIENT_SECRET);
        let client_secret = secrets::reveal(&secret_name).map_err(|e| {
            JobError::failed(format!(
                "Azure client secret unavailable: {e} (the plugin reads secret {secret_name:?}, set by config `client_secret_secret`)"
            ))
        })?;
        Ok(Self {
            token_url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            client_id,
            client_secret,
            scope: config::get_or("scope", VAULT_SCOPE),
            cache: BearerCache::new(),
        })
    }

    /// A bearer token for the vaults.
    pub fn token(&self) -> Result<String, CloudError> {
        self.cache.get(|| self.fetch())
    }

    /// The vault refused the token: the next call fetches another.
    pub fn refused(&self) {
        self.cache.clear();
    }

    fn fetch(&self) -> Result<(String, i64), CloudError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("scope", &self.scope)
            .finish();
        let response = Request::post(&self.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .send()?;
        let answer: Value = response.json().unwrap_or(Value::Null);
        if !response.is_success() {
            let code = answer["error"].as_str().unwrap_or("unknown_error");
            let description = answer["error_description"]
                .as_str()
                .map(|d| d.lines().next().unwrap_or(d).to_owned())
                .unwrap_or_else(|| format!("HTTP {}", response.status));
            return Err(CloudError(format!(
                "Microsoft Entra ID refused the client credentials of client {}: {code}: {description}",
                self.client_id
            )));
        }
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CloudError("the token endpoint answered no access_token".into()))?;
        // expires_in is a number in v2.0 answers and a string in some older ones.
        let lifetime = match &answer["expires_in"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(300);
        Ok((token.to_owned(), lifetime))
    }
}

//! Microsoft Entra ID client credentials: the client secret, from the secrets import, is
//! exchanged at the tenant's token endpoint for a bearer token the vaults accept.

use cloud_common::{BearerCache, CloudError};
use keywarden_sdk::{JobError, config, secrets};

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
        cloud_common::oauth::request_token(
            &self.token_url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("scope", &self.scope),
            ],
            &format!(
                "Microsoft Entra ID refused the client credentials of client {}",
                self.client_id
            ),
        )
    }
}

impl cloud_common::rest::Bearer for Auth {
    fn token(&self) -> Result<String, CloudError> {
        Auth::token(self)
    }
    fn refused(&self) {
        Auth::refused(self)
    }
}

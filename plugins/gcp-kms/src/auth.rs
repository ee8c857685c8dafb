//! A service account's OAuth token: a JWT signed with the account's private key (RS256),
//! exchanged at the account's `token_uri` (Google's "OAuth 2.0 for server to server
//! applications"). The key JSON comes from the secrets import and is dropped once parsed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloud_common::{BearerCache, CloudError, now};
use keywarden_sdk::{JobError, config, secrets};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use zeroize::Zeroize;

/// Default name of the secret holding the service-account JSON key.
pub const SERVICE_ACCOUNT_SECRET: &str = "gcp-service-account";
const SCOPE: &str = "https://www.googleapis.com/auth/cloudkms";
/// Google accepts assertions valid for at most an hour.
const ASSERTION_SECS: i64 = 3600;

/// The fields of a service-account key file this plugin uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    project_id: Option<String>,
    private_key_id: String,
    private_key: String,
    client_email: String,
    token_uri: String,
}

pub struct Auth {
    email: String,
    key_id: String,
    signer: SigningKey<Sha256>,
    token_uri: String,
    /// The key's project, the default scope.
    pub project: Option<String>,
    cache: BearerCache,
}

impl Auth {
    pub fn from_secret() -> Result<Self, JobError> {
        let name = config::get_or("service_account_secret", SERVICE_ACCOUNT_SECRET);
        let mut text = secrets::reveal(&name).map_err(|e| {
            JobError::failed(format!(
                "GCP service account key unavailable: {e} (the plugin reads secret {name:?}, set by config `service_account_secret`)"
            ))
        })?;
        let parsed: Result<KeyFile, _> = serde_json::from_str(&text);
        text.zeroize();
        // serde's message can quote the input: say only where it failed.
        let mut key = parsed.map_err(|e| {
            JobError::failed(format!(
                "secret {name:?} is not a service-account JSON key (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if key.kind != "service_account" {
            key.private_key.zeroize();
            return Err(JobError::failed(format!(
                "secret {name:?} holds a {:?} credential, not a service_account key",
                key.kind
            )));
        }
        let private = RsaPrivateKey::from_pkcs8_pem(&key.private_key).map_err(|_| {
            JobError::failed(format!(
                "the private_key of secret {name:?} is not a PKCS#8 PEM RSA key"
            ))
        });
        key.private_key.zeroize();
        Ok(Self {
            email: key.client_email,
            key_id: key.private_key_id,
            signer: SigningKey::<Sha256>::new(private?),
            token_uri: key.token_uri,
            project: key.project_id,
            cache: BearerCache::new(),
        })
    }

    pub fn token(&self) -> Result<String, CloudError> {
        self.cache.get(|| self.fetch())
    }

    /// Cloud KMS refused the token: the next call buys another.
    pub fn refused(&self) {
        self.cache.clear();
    }

    /// The signed JWT: `{alg: RS256, typ: JWT, kid}` and `{iss, scope, aud, iat, exp}`.
    fn assertion(&self) -> String {
        let iat = now().timestamp();
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.key_id});
        let claims = json!({"iss": self.email, "scope": SCOPE, "aud": self.token_uri,
                            "iat": iat, "exp": iat + ASSERTION_SECS});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signer.sign(signing_input.as_bytes()).to_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn fetch(&self) -> Result<(String, i64), CloudError> {
        cloud_common::oauth::request_token(
            &self.token_uri,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &self.assertion()),
            ],
            &format!(
                "Google refused the service account {}'s assertion",
                self.email
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

//! The operator's webhook: each alert POSTed once as JSON, signed so the receiver can
//! tell it came from this server and was not replayed.
//!
//! Headers: `X-Keywarden-Alert-Id` (the same on every retry of one alert: receivers drop
//! repeats by it), `X-Keywarden-Timestamp` (Unix seconds) and `X-Keywarden-Signature:
//! sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the `[alerts]
//! webhook_secret`.

use std::time::Duration;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use keywarden_db::{Alert, SslNetwork};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::operator_config::OperatorConfig;
use crate::runtime::capabilities::secrets::{ConfiguredSecrets, SecretResolver};

pub struct Webhook {
    url: reqwest::Url,
    secret: Vec<u8>,
    client: reqwest::Client,
}

/// `sha256=<hex>` of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the webhook receives for `alert`.
pub fn payload(alert: &Alert, network: Option<&SslNetwork>) -> Value {
    json!({
        "id": alert.id,
        "kind": alert.kind,
        "account": alert.account_id,
        "subject": alert.subject,
        "message": alert.message,
        "created_at": alert.created_at,
        "details": alert.details,
        "network": network.map(|n| json!({"id": n.id, "name": n.name})),
        "recipients": network.map(|n| n.alert_recipients.clone()).unwrap_or_default(),
        "job_config_id": alert.job_config_id,
        "job_id": alert.job_id,
        "attempt": alert.attempts + 1,
    })
}

impl Webhook {
    /// The webhook `[alerts]` configures, if any; its secret must resolve now.
    pub fn from_config(config: &OperatorConfig) -> anyhow::Result<Option<Webhook>> {
        let Some(url) = &config.alerts.webhook_url else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(url).context("[alerts] webhook_url")?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "[alerts] webhook_url must be http:// or https://"
        );
        let name = config
            .alerts
            .webhook_secret
            .as_deref()
            .context("[alerts] webhook_secret is required with a webhook_url")?;
        anyhow::ensure!(
            config.secrets.contains_key(name),
            "[alerts] webhook_secret names {name:?}, which [secrets] does not define"
        );
        if let Some((plugin, _)) = config
            .plugins
            .iter()
            .find(|(_, grants)| grants.secrets.iter().any(|s| s == name))
        {
            anyhow::bail!(
                "[alerts] webhook_secret {name:?} is granted to plugin {plugin:?}, which could sign alerts with it; give the webhook a secret of its own"
            );
        }
        let secret = ConfiguredSecrets::new(config.secrets.clone())
            .resolve(name)
            .filter(|v| !v.is_empty())
            .with_context(|| format!("[alerts] webhook_secret {name:?} has no value"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.alerts.timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the webhook's HTTP client")?;
        Ok(Some(Webhook {
            url,
            secret: secret.into_bytes(),
            client,
        }))
    }

    /// Sends one alert; `Err` says why it did not arrive (no secret in it).
    pub async fn send(&self, alert: &Alert, network: Option<&SslNetwork>) -> Result<(), String> {
        let body = serde_json::to_vec(&payload(alert, network)).map_err(|e| e.to_string())?;
        let timestamp = chrono::Utc::now().timestamp();
        let answer = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("x-keywarden-alert-id", alert.id.to_string())
            .header("x-keywarden-timestamp", timestamp.to_string())
            .header(
                "x-keywarden-signature",
                signature(&self.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the webhook could not be reached: {}", e.without_url()))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("Jefe"), with the message split at the dot.
        let sig = signature(b"Jefe", 0, b"");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            want,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let parts = signature(b"Jefe", 1700000000, b"{\"a\":1}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        assert_eq!(
            parts,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
}

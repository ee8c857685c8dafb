//! The delivery loop, on every node: claim due alerts (a lease, so one node sends each),
//! hold back those in their network's quiet hours (no attempt counted), send the rest,
//! and retry failures with doubling delays until `[alerts] max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{Alert, AlertOutcome, Database};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::quiet::quiet_until;
use super::webhook::Webhook;
use crate::operator_config::AlertsConfig;

/// Alerts taken per pass.
const BATCH: i64 = 20;

/// How long a claimed batch is held by its node: longer than sending every alert of it
/// can take, so no other node sends one of them meanwhile.
fn lease(config: &AlertsConfig) -> Duration {
    Duration::from_secs(config.timeout_secs.max(1) * BATCH as u64 + 60)
}

/// The delay before retry `attempt` (1 after the first failure): `backoff_secs`
/// doubled each time, at most `max_backoff_secs`.
pub fn backoff(config: &AlertsConfig, attempt: u32) -> chrono::Duration {
    let base = config.backoff_secs.max(1);
    let secs = base
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(config.max_backoff_secs.max(base));
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Starts the loop, or nothing when no webhook is configured (alerts are then only
/// listed).
pub fn spawn(
    db: Arc<dyn Database>,
    webhook: Option<Webhook>,
    config: AlertsConfig,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    let webhook = webhook?;
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(config.interval_ms.max(50)));
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => {
                    if let Err(e) = pass(&*db, &webhook, &config).await {
                        tracing::warn!("alert delivery failed: {e}");
                    }
                }
            }
        }
    }))
}

/// One pass over the due alerts.
pub async fn pass(
    db: &dyn Database,
    webhook: &Webhook,
    config: &AlertsConfig,
) -> Result<(), keywarden_db::DbError> {
    let now = Utc::now();
    for alert in db.claim_alerts(now, BATCH, lease(config)).await? {
        let outcome = deliver(db, webhook, config, &alert).await?;
        db.settle_alert(alert.id, &outcome).await?;
    }
    Ok(())
}

async fn deliver(
    db: &dyn Database,
    webhook: &Webhook,
    config: &AlertsConfig,
    alert: &Alert,
) -> Result<AlertOutcome, keywarden_db::DbError> {
    // The network as it is now: quiet hours changed after the alert was raised count.
    let network = match alert.network_id {
        Some(id) => db.get_ssl_network(Some(&alert.account_id), id).await?,
        None => None,
    };
    let now = Utc::now();
    if let Some(until) = network
        .as_ref()
        .and_then(|n| quiet_until(now, &n.quiet_hours))
    {
        let recheck =
            now + chrono::Duration::seconds(config.quiet_recheck_secs.clamp(1, 86_400) as i64);
        return Ok(AlertOutcome::Deferred {
            until: until.min(recheck),
        });
    }
    Ok(match webhook.send(alert, network.as_ref()).await {
        Ok(()) => {
            tracing::info!(alert = %alert.id, kind = %alert.kind, "alert delivered");
            AlertOutcome::Delivered { at: Utc::now() }
        }
        Err(error) => {
            let attempt = u32::try_from(alert.attempts + 1).unwrap_or(u32::MAX);
            let retry_at = (attempt < config.max_attempts.max(1))
                .then(|| Utc::now() + backoff(config, attempt));
            tracing::warn!(alert = %alert.id, attempt, "alert not delivered: {error}");
            AlertOutcome::Failed { error, retry_at }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = AlertsConfig {
            backoff_secs: 5,
            max_backoff_secs: 60,
            ..Default::default()
        };
        let secs: Vec<i64> = (1..=6).map(|a| backoff(&config, a).num_seconds()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff(&config, 200).num_seconds(), 60);
    }
}

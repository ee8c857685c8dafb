//! Which probes of a network's endpoints raise alerts: a certificate that ends within the
//! network's ExpirationAlertDays, one that differs from the certificate served at the
//! previous probe, one whose chain is not trusted, and one not valid for the name
//! probed. Each is raised once per endpoint and certificate (its dedupe key holds both),
//! so rescanning does not repeat it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use keywarden_db::{AlertKind, NewAlert, SslEndpoint, SslNetwork, SslObservation};
use serde_json::json;
use uuid::Uuid;

/// An endpoint's identity within its network.
pub type EndpointKey = (String, i64, String);

fn endpoint_name(o: &SslObservation) -> String {
    let host = if o.host.contains(':') {
        format!("[{}]", o.host)
    } else {
        o.host.clone()
    };
    if o.sni_name.is_empty() {
        format!("{host}:{}", o.port)
    } else {
        format!("{host}:{} ({})", o.port, o.sni_name)
    }
}

/// The alerts `observations` raise, given the endpoints the network had before them.
pub fn alerts(
    network: &SslNetwork,
    job_id: Uuid,
    observations: &[SslObservation],
    known: &HashMap<EndpointKey, SslEndpoint>,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let horizon = now + Duration::days(network.expiration_alert_days);
    let mut out = Vec::new();
    for o in observations {
        let Some(cert) = &o.certificate else {
            continue;
        };
        let key = (o.host.clone(), o.port, o.sni_name.clone());
        let previous = known.get(&key).and_then(|e| e.thumbprint.clone());
        let name = endpoint_name(o);
        let mut raise = |kind: AlertKind, message: String| {
            out.push(NewAlert {
                id: Uuid::now_v7(),
                account_id: network.account_id.clone(),
                kind,
                dedupe_key: format!(
                    "{kind}:{}:{}:{}:{}:{}",
                    network.id, o.host, o.port, o.sni_name, cert.thumbprint
                ),
                subject: name.clone(),
                message,
                details: json!({
                    "network": network.name,
                    "host": o.host,
                    "port": o.port,
                    "server_name": o.sni_name,
                    "address": o.address,
                    "thumbprint": cert.thumbprint,
                    "previous_thumbprint": previous,
                    "subject": cert.subject,
                    "issuer": cert.issuer,
                    "not_after": cert.not_after,
                    "trusted": cert.trusted,
                    "trust_error": cert.trust_error,
                    "name_matches": cert.name_matches,
                }),
                network_id: Some(network.id),
                job_config_id: None,
                job_id: Some(job_id),
                created_at: now,
            });
        };
        if cert.not_after <= horizon {
            let message = if cert.not_after <= now {
                format!(
                    "{name} serves a certificate that expired on {}",
                    cert.not_after.date_naive()
                )
            } else {
                format!(
                    "{name} serves a certificate that expires on {} (within {} days)",
                    cert.not_after.date_naive(),
                    network.expiration_alert_days
                )
            };
            raise(AlertKind::CertificateExpiring, message);
        }
        if let Some(prev) = &previous
            && *prev != cert.thumbprint
        {
            raise(
                AlertKind::CertificateChanged,
                format!(
                    "{name} serves another certificate: {} (was {prev})",
                    cert.thumbprint
                ),
            );
        }
        if !cert.trusted {
            raise(
                AlertKind::CertificateUntrusted,
                format!(
                    "{name} serves a certificate that is not trusted: {}",
                    cert.trust_error.as_deref().unwrap_or("no trusted root")
                ),
            );
        }
        if !cert.name_matches {
            let probed = if o.sni_name.is_empty() {
                &o.host
            } else {
                &o.sni_name
            };
            raise(
                AlertKind::NameMismatch,
                format!("{name} serves a certificate not valid for {probed}"),
            );
        }
    }
    out
}

//! Keeping what an SSL scan part's job saw: the host's own record of its probes (the
//! `tls` import's [`ProbeRecord`]), not the plugin's report, becomes the network's
//! endpoints and their history. A job that is not a scan part keeps nothing here (its
//! details still hold the plugin's report).

use chrono::Utc;
use keywarden_db::{
    Database, Job, ObservedCertificate, ProbeStatus, ScanKind, ScanStats, SslEndpointFilter,
    SslObservation, SslScanPart, truncate_micros,
};

use crate::discovery::ranges::NetworkRange;

use crate::certificates::parse;
use crate::runtime::bindings::tls::{Peer, ProbeError};
use crate::runtime::capabilities::tls::ProbeRecord;

/// The most alerts one part raises (a server that presents a new certificate at every
/// handshake would otherwise raise one per endpoint per scan).
const MAX_ALERTS_PER_PART: usize = 500;

/// The model's status for a probe's outcome (converted here, once).
pub fn status(outcome: &Result<Peer, ProbeError>) -> ProbeStatus {
    match outcome {
        Ok(_) => ProbeStatus::CertificateFound,
        Err(ProbeError::TimedOut(_)) => ProbeStatus::TimedOut,
        Err(ProbeError::Refused(_)) => ProbeStatus::Refused,
        Err(ProbeError::NotTls(_)) => ProbeStatus::NotTls,
        Err(ProbeError::Handshake(_)) => ProbeStatus::Handshake,
        Err(ProbeError::Unreachable(_)) => ProbeStatus::Unreachable,
        Err(ProbeError::NotGranted(_)) => ProbeStatus::NotGranted,
    }
}

/// The certificate a peer served, summarised; `None` when it sent none that parses (kept
/// as a handshake failure).
fn certificate(peer: &Peer) -> Option<ObservedCertificate> {
    let leaf = peer.chain.first()?;
    let summary = parse::summarize(leaf).ok()?;
    Some(ObservedCertificate {
        thumbprint: summary.thumbprint,
        subject: summary.subject,
        issuer: summary.issuer,
        serial_number: summary.serial_number,
        not_before: summary.not_before,
        not_after: summary.not_after,
        certificate: parse::base64_der(leaf),
        chain: peer.chain.iter().map(|c| parse::base64_der(c)).collect(),
        protocol: peer.protocol.clone(),
        cipher_suite: peer.cipher_suite.clone(),
        trusted: peer.trusted,
        trust_error: peer.trust_error.clone(),
        name_matches: peer.name_matches,
        expired: peer.expired,
    })
}

/// The record as observations (its dropped probes are only counted: see `keep`).
pub fn observations(record: &ProbeRecord) -> Vec<SslObservation> {
    let mut out = Vec::with_capacity(record.probes.len());
    for p in &record.probes {
        let cert = p.outcome.as_ref().ok().and_then(certificate);
        let status = match (&p.outcome, &cert) {
            (Ok(_), None) => ProbeStatus::Handshake,
            (outcome, _) => status(outcome),
        };
        out.push(SslObservation {
            host: p.host.clone(),
            port: i64::from(p.port),
            sni_name: p.server_name.clone().unwrap_or_default(),
            address: p.outcome.as_ref().ok().map(|peer| peer.address.clone()),
            status,
            certificate: cert,
        });
    }
    out
}

/// The observations of endpoints the part names (its ranges, or its monitored endpoints
/// with their SNI), each once, the first probe of it kept; and how many were left out.
/// A plugin probes what it is granted, but only what the part asked for becomes the
/// network's endpoints.
fn within_part(
    part: &SslScanPart,
    observations: Vec<SslObservation>,
) -> (Vec<SslObservation>, usize) {
    let items = part.definitions.as_array().cloned().unwrap_or_default();
    let ranges: Vec<NetworkRange> = items
        .iter()
        .filter_map(|d| d.as_str())
        .filter_map(|r| NetworkRange::parse(r).ok())
        .collect();
    let named = |o: &SslObservation| -> bool {
        let Ok(port) = u16::try_from(o.port) else {
            return false;
        };
        match part.kind {
            ScanKind::Discovery => {
                o.sni_name.is_empty() && ranges.iter().any(|r| r.contains(&o.host, port))
            }
            ScanKind::Monitoring => items.iter().any(|d| {
                d["host"]
                    .as_str()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&o.host))
                    && d["port"].as_i64() == Some(o.port)
                    && d["server_name"].as_str().unwrap_or_default() == o.sni_name
            }),
        }
    };
    let before = observations.len();
    let mut seen = std::collections::HashSet::new();
    let kept: Vec<SslObservation> = observations
        .into_iter()
        .filter(|o| named(o) && seen.insert((o.host.clone(), o.port, o.sni_name.clone())))
        .collect();
    let left_out = before - kept.len();
    (kept, left_out)
}

/// Keeps `record` for `job` if the job is an SSL scan part.
pub(crate) async fn keep(db: &dyn Database, job: &Job, record: &ProbeRecord) -> Result<(), String> {
    let failed = |e: keywarden_db::DbError| format!("the scan results could not be saved: {e}");
    let Some(part) = db.ssl_part_for_job(job.id).await.map_err(failed)? else {
        return Ok(());
    };
    // The network may be gone (deleted mid-scan): nothing to keep then.
    let Some(network) = db
        .get_ssl_network(Some(&part.account_id), part.network_id)
        .await
        .map_err(failed)?
    else {
        return Ok(());
    };
    let observations = observations(record);
    let (observations, outside) = within_part(&part, observations);
    if outside > 0 {
        tracing::warn!(job = %job.id, outside, "probes outside the scan part's endpoints (or repeated) were not kept");
    }
    let mut stats = ScanStats::default();
    for o in &observations {
        stats.count(o.status);
    }
    stats.total += i64::try_from(record.dropped).unwrap_or(i64::MAX);
    let now = truncate_micros(Utc::now());
    // Alerts first, from the endpoints as they were: raising is idempotent (one per
    // endpoint and certificate), so a retry after a failed keep raises nothing twice.
    let filter = SslEndpointFilter {
        account_id: Some(part.account_id.clone()),
        network_id: Some(part.network_id),
        ..Default::default()
    };
    let (_, endpoints) = db
        .list_ssl_endpoints(&filter, &keywarden_db::Sort::default(), 0, i64::MAX)
        .await
        .map_err(failed)?;
    let known = endpoints
        .into_iter()
        .map(|e| ((e.host.clone(), e.port, e.sni_name.clone()), e))
        .collect();
    let mut raised = crate::alerts::ssl::alerts(&network, job.id, &observations, &known, now);
    if raised.len() > MAX_ALERTS_PER_PART {
        tracing::warn!(job = %job.id, raised = raised.len(), "a scan part raised more alerts than {MAX_ALERTS_PER_PART}; the rest are left out");
        raised.truncate(MAX_ALERTS_PER_PART);
    }
    db.raise_alerts(&raised).await.map_err(failed)?;
    db.keep_ssl_results(&part, &observations, &stats, network.auto_monitor, now)
        .await
        .map(|_| ())
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn part(kind: ScanKind, definitions: serde_json::Value) -> SslScanPart {
        SslScanPart {
            id: Uuid::now_v7(),
            scan_id: Uuid::now_v7(),
            account_id: "a".into(),
            network_id: Uuid::now_v7(),
            kind,
            seq: 0,
            job_id: Uuid::now_v7(),
            definitions,
            estimated_endpoints: 4,
            created_at: Utc::now(),
            finished_at: None,
            stats: None,
            job_status: None,
            job_started_at: None,
            job_finished_at: None,
        }
    }

    fn seen(host: &str, port: i64, sni: &str) -> SslObservation {
        SslObservation {
            host: host.into(),
            port,
            sni_name: sni.into(),
            address: None,
            status: ProbeStatus::Refused,
            certificate: None,
        }
    }

    #[test]
    fn only_what_the_part_names_is_kept_once() {
        let discovery = part(
            ScanKind::Discovery,
            json!(["127.0.0.0/31:443", "web.test:8443"]),
        );
        let (kept, out) = within_part(
            &discovery,
            vec![
                seen("127.0.0.1", 443, ""),
                seen("127.0.0.1", 443, ""),
                seen("127.0.0.2", 443, ""),
                seen("127.0.0.0", 8443, ""),
                seen("web.test", 8443, ""),
                seen("127.0.0.0", 443, "evil.test"),
            ],
        );
        let hosts: Vec<(&str, i64)> = kept.iter().map(|o| (o.host.as_str(), o.port)).collect();
        assert_eq!(hosts, [("127.0.0.1", 443), ("web.test", 8443)]);
        assert_eq!(out, 4);
        let monitoring = part(
            ScanKind::Monitoring,
            json!([{"host": "127.0.0.5", "port": 443, "server_name": "a.test"}]),
        );
        let (kept, out) = within_part(
            &monitoring,
            vec![seen("127.0.0.5", 443, "a.test"), seen("127.0.0.5", 443, "")],
        );
        assert_eq!((kept.len(), out), (1, 1));
    }
}

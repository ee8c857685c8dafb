//! Keeping what an SSL scan part's job saw: the host's own record of its probes (the
//! `tls` import's [`ProbeRecord`]), not the plugin's report, becomes the network's
//! endpoints and their history. A job that is not a scan part keeps nothing here (its
//! details still hold the plugin's report).

use chrono::Utc;
use keywarden_db::{
    Database, Job, ObservedCertificate, ProbeStatus, ScanStats, SslEndpointFilter, SslObservation,
    truncate_micros,
};

use crate::certificates::parse;
use crate::runtime::bindings::tls::{Peer, ProbeError};
use crate::runtime::capabilities::tls::ProbeRecord;

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

/// The record as observations, and its counts.
pub fn observations(record: &ProbeRecord) -> (Vec<SslObservation>, ScanStats) {
    let mut stats = ScanStats::default();
    let mut out = Vec::with_capacity(record.probes.len());
    for p in &record.probes {
        let cert = p.outcome.as_ref().ok().and_then(certificate);
        let status = match (&p.outcome, &cert) {
            (Ok(_), None) => ProbeStatus::Handshake,
            (outcome, _) => status(outcome),
        };
        stats.count(status);
        out.push(SslObservation {
            host: p.host.clone(),
            port: i64::from(p.port),
            sni_name: p.server_name.clone().unwrap_or_default(),
            address: p.outcome.as_ref().ok().map(|peer| peer.address.clone()),
            status,
            certificate: cert,
        });
    }
    stats.total += i64::try_from(record.dropped).unwrap_or(i64::MAX);
    (out, stats)
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
    let (observations, stats) = observations(record);
    let now = truncate_micros(Utc::now());
    // Alerts first, from the endpoints as they were: raising is idempotent (one per
    // endpoint and certificate), so a retry after a failed keep raises nothing twice.
    let filter = SslEndpointFilter {
        account_id: Some(part.account_id.clone()),
        network_id: Some(part.network_id),
        ..Default::default()
    };
    let (_, endpoints) = db
        .list_ssl_endpoints(&filter, 0, i64::MAX)
        .await
        .map_err(failed)?;
    let known = endpoints
        .into_iter()
        .map(|e| ((e.host.clone(), e.port, e.sni_name.clone()), e))
        .collect();
    let raised = crate::alerts::ssl::alerts(&network, job.id, &observations, &known, now);
    db.raise_alerts(&raised).await.map_err(failed)?;
    db.keep_ssl_results(&part, &observations, &stats, network.auto_monitor, now)
        .await
        .map(|_| ())
        .map_err(failed)
}

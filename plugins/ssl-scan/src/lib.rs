//! `ssl-scan`: SSL discovery and monitoring. A job probes the endpoints it is given
//! through the host's `tls` import (the host holds it to the networks, ports and rate the
//! operator granted) and reports each TLS endpoint with the certificate it serves, and
//! the others counted by how they failed.
//!
//! - `ssl_discovery` expands `ranges` (Keyfactor's notation: `127.0.0.0/30:443`,
//!   `10.0.0.5-10.0.0.9:443,8443`, `web.example:443`) and probes every endpoint.
//! - `ssl_monitoring` re-probes known `endpoints` (`{host, port, server_name}`).
//!
//! Details: `{probed, found: [...], failures: {kind: count}, failed: [...]}`; every
//! found endpoint carries its SHA-1 thumbprint (as `openssl x509 -fingerprint -sha1`
//! prints it, without colons), subject, issuer, validity, the chain in DER (hex) and
//! the host's verdicts (trusted, name match, expired).

use std::collections::BTreeMap;
use std::time::Duration;

use der::Decode;
use keywarden_ranges::NetworkRange;
use keywarden_sdk::prelude::*;
use keywarden_sdk::{progress, tls};
use serde::Deserialize;
use sha1::Digest as _;

struct SslScan;

/// The most endpoints one job probes; larger scans are split into parts by the host.
const MAX_ENDPOINTS: u64 = 65_536;

/// Failed endpoints listed one by one (the rest are only counted).
const MAX_LISTED_FAILURES: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscoveryParams {
    ranges: Vec<String>,
    #[serde(default)]
    server_name: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Known {
    host: String,
    port: u16,
    #[serde(default)]
    server_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitoringParams {
    endpoints: Vec<Known>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn timeout_schema() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 30000,
           "description": "Per-probe time limit in milliseconds (default 5000)"})
}

impl Plugin for SslScan {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe("SSL discovery and monitoring through the host's TLS probe.")
            .operations(vec![
                Operation::network_discovery("ssl_discovery")
                    .describe("Probe every endpoint of network ranges; report the TLS ones with their certificates")
                    .params_schema(json!({
                        "type": "object",
                        "properties": {
                            "ranges": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                            "server_name": {"type": "string", "description": "SNI to send (default none)"},
                            "timeout_ms": timeout_schema()
                        },
                        "required": ["ranges"],
                        "additionalProperties": false
                    })),
                Operation::network_discovery("ssl_monitoring")
                    .describe("Probe known endpoints again; report what they serve now")
                    .params_schema(json!({
                        "type": "object",
                        "properties": {
                            "endpoints": {"type": "array", "items": {
                                "type": "object",
                                "properties": {
                                    "host": {"type": "string", "minLength": 1},
                                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                    "server_name": {"type": "string"}
                                },
                                "required": ["host", "port"],
                                "additionalProperties": false
                            }},
                            "timeout_ms": timeout_schema()
                        },
                        "required": ["endpoints"],
                        "additionalProperties": false
                    })),
            ])
            .capabilities(Capabilities::new().tls_probe())
    }

    fn scan(ctx: JobContext) -> Result<Outcome, JobError> {
        let (targets, timeout) = match ctx.operation.as_str() {
            "ssl_discovery" => discovery_targets(&ctx)?,
            "ssl_monitoring" => {
                let p: MonitoringParams = ctx.params()?;
                (p.endpoints, p.timeout_ms)
            }
            _ => return Err(ctx.unsupported()),
        };
        let timeout = timeout.map(Duration::from_millis);
        let mut report = Report::default();
        let total = targets.len() as u64;
        for (i, t) in targets.iter().enumerate() {
            match tls::probe(&t.host, t.port, t.server_name.as_deref(), timeout) {
                Ok(peer) => report.found.push(found(t, &peer)),
                Err(e) => report.failed(t, &e),
            }
            progress::report(i as u64 + 1, total);
        }
        let message = format!(
            "probed {total} endpoints: {} served TLS, {} did not",
            report.found.len(),
            total - report.found.len() as u64
        );
        Ok(Outcome::success(message).with_details(json!({
            "probed": total,
            "found": report.found,
            "failures": report.failures,
            "failed": report.listed,
        })))
    }
}

/// The endpoints of the job's ranges, each range checked and the total capped.
fn discovery_targets(ctx: &JobContext) -> Result<(Vec<Known>, Option<u64>), JobError> {
    let p: DiscoveryParams = ctx.params()?;
    let mut ranges = Vec::with_capacity(p.ranges.len());
    let mut count: u64 = 0;
    for (i, text) in p.ranges.iter().enumerate() {
        let range = NetworkRange::parse(text)
            .map_err(|e| JobError::invalid_param(format!("ranges/{i}"), e.to_string()))?;
        count = count.saturating_add(u64::try_from(range.endpoints()).unwrap_or(u64::MAX));
        ranges.push(range);
    }
    if count > MAX_ENDPOINTS {
        return Err(JobError::invalid_param(
            "ranges",
            format!("{count} endpoints; one job probes at most {MAX_ENDPOINTS}"),
        ));
    }
    let targets = ranges
        .iter()
        .flat_map(|r| r.endpoints_iter())
        .map(|e| Known {
            host: e.host,
            port: e.port,
            server_name: p.server_name.clone(),
        })
        .collect();
    Ok((targets, p.timeout_ms))
}

#[derive(Default)]
struct Report {
    found: Vec<Value>,
    failures: BTreeMap<&'static str, u64>,
    listed: Vec<Value>,
}

impl Report {
    fn failed(&mut self, t: &Known, e: &tls::ProbeError) {
        *self.failures.entry(e.kind()).or_default() += 1;
        // Closed ports are most of any scan: counted, not listed.
        if !matches!(e, tls::ProbeError::Refused(_)) && self.listed.len() < MAX_LISTED_FAILURES {
            self.listed.push(json!({
                "host": t.host, "port": t.port, "kind": e.kind(), "message": e.to_string(),
            }));
        }
    }
}

fn found(t: &Known, peer: &tls::Peer) -> Value {
    let leaf = peer.chain.first().map(Vec::as_slice).unwrap_or_default();
    let mut v = json!({
        "host": t.host,
        "port": t.port,
        "server_name": t.server_name,
        "address": peer.address,
        "protocol": peer.protocol,
        "cipher_suite": peer.cipher_suite,
        "trusted": peer.trusted,
        "trust_error": peer.trust_error,
        "name_matches": peer.name_matches,
        "expired": peer.expired,
        "thumbprint": hex::encode(sha1::Sha1::digest(leaf)),
        "chain": peer.chain.iter().map(hex::encode).collect::<Vec<_>>(),
    });
    if let Ok(cert) = x509_cert::Certificate::from_der(leaf) {
        let tbs = &cert.tbs_certificate;
        let unix = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs();
        v["subject"] = json!(tbs.subject.to_string());
        v["issuer"] = json!(tbs.issuer.to_string());
        v["serial_number"] = json!(hex::encode(tbs.serial_number.as_bytes()));
        v["not_before"] = json!(unix(&tbs.validity.not_before));
        v["not_after"] = json!(unix(&tbs.validity.not_after));
        v["signature_algorithm"] = json!(cert.signature_algorithm.oid.to_string());
    }
    v
}

keywarden_sdk::export_plugin!(SslScan);

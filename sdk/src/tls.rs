//! TLS probing for discovery and monitoring jobs, limited to the networks and ports the
//! operator granted the plugin (and at the rate it allows).
//!
//! The host does the handshake (plugins get no sockets) and returns what the server
//! presented, with what a client would have judged of it; the plugin decides what to
//! report.

use std::fmt;
use std::time::Duration;

use crate::wit::keywarden::plugin::tls as wit;

/// What a TLS server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The address probed (`127.0.0.2:443`), after the host resolved a name.
    pub address: String,
    /// DER certificates as the server sent them, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Negotiated protocol version, e.g. `TLSv1.3`.
    pub protocol: String,
    /// Negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The chain leads to a root the host trusts (expiry aside).
    pub trusted: bool,
    /// Why it is not trusted.
    pub trust_error: Option<String>,
    /// The leaf is valid for the name asked (or the address).
    pub name_matches: bool,
    /// The leaf's validity has ended (or not begun).
    pub expired: bool,
}

/// Why a probe failed, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// Probing, or this address or port, is not granted to the plugin.
    NotGranted(String),
    /// No connection or no handshake within the time limit.
    TimedOut(String),
    /// The port is closed.
    Refused(String),
    /// Something answered, but not with TLS.
    NotTls(String),
    /// TLS, but the handshake failed.
    Handshake(String),
    /// The address cannot be reached.
    Unreachable(String),
}

impl ProbeError {
    /// One word for the kind (`timed-out`, `refused`, ...), for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::NotGranted(_) => "not-granted",
            ProbeError::TimedOut(_) => "timed-out",
            ProbeError::Refused(_) => "refused",
            ProbeError::NotTls(_) => "not-tls",
            ProbeError::Handshake(_) => "handshake",
            ProbeError::Unreachable(_) => "unreachable",
        }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NotGranted(d) => write!(f, "TLS probe not granted: {d}"),
            ProbeError::TimedOut(d) => write!(f, "timed out: {d}"),
            ProbeError::Refused(d) => write!(f, "refused: {d}"),
            ProbeError::NotTls(d) => write!(f, "not TLS: {d}"),
            ProbeError::Handshake(d) => write!(f, "TLS handshake failed: {d}"),
            ProbeError::Unreachable(d) => write!(f, "unreachable: {d}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Connects to `host:port` (an address, or a name the host resolves), handshakes (with
/// SNI `server_name` when given) and returns the presented chain with the host's
/// verdicts. `timeout` defaults to 5 s; the host caps it at 30 s.
pub fn probe(
    host: &str,
    port: u16,
    server_name: Option<&str>,
    timeout: Option<Duration>,
) -> Result<Peer, ProbeError> {
    let ms = timeout.map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX));
    wit::probe(host, port, server_name, ms)
        .map(|p| Peer {
            address: p.address,
            chain: p.chain,
            protocol: p.protocol,
            cipher_suite: p.cipher_suite,
            trusted: p.trusted,
            trust_error: p.trust_error,
            name_matches: p.name_matches,
            expired: p.expired,
        })
        .map_err(|err| match err {
            wit::ProbeError::NotGranted(d) => ProbeError::NotGranted(d),
            wit::ProbeError::TimedOut(d) => ProbeError::TimedOut(d),
            wit::ProbeError::Refused(d) => ProbeError::Refused(d),
            wit::ProbeError::NotTls(d) => ProbeError::NotTls(d),
            wit::ProbeError::Handshake(d) => ProbeError::Handshake(d),
            wit::ProbeError::Unreachable(d) => ProbeError::Unreachable(d),
        })
}

//! TLS probing for discovery jobs, limited to the plugin's granted hosts.
//!
//! The host does the handshake (plugins get no sockets) and returns what the server
//! presented; the plugin parses and judges the certificates.

use std::fmt;

use crate::wit::keywarden::plugin::tls as wit;

/// What a TLS server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// DER certificates as the server sent them, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Negotiated protocol version, e.g. `TLSv1.3`.
    pub protocol: String,
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// The host is not among the plugin's granted hosts.
    NotGranted(String),
    /// No TCP connection could be made.
    Unreachable(String),
    /// Connected, but the TLS handshake failed.
    Handshake(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NotGranted(detail) => write!(f, "TLS probe not granted: {detail}"),
            ProbeError::Unreachable(detail) => write!(f, "endpoint unreachable: {detail}"),
            ProbeError::Handshake(detail) => write!(f, "TLS handshake failed: {detail}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Connect to `host:port`, handshake (with SNI `server_name`, default `host`) and
/// return the presented chain. The certificate is not validated: discovery wants to
/// see expired and self-signed certificates too.
pub fn probe(host: &str, port: u16, server_name: Option<&str>) -> Result<Peer, ProbeError> {
    wit::probe(host, port, server_name)
        .map(|peer| Peer {
            chain: peer.chain,
            protocol: peer.protocol,
        })
        .map_err(|err| match err {
            wit::ProbeError::NotGranted(d) => ProbeError::NotGranted(d),
            wit::ProbeError::Unreachable(d) => ProbeError::Unreachable(d),
            wit::ProbeError::Handshake(d) => ProbeError::Handshake(d),
        })
}

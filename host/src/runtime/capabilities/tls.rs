//! `keywarden:plugin/tls`: TLS probing for discovery and monitoring jobs.
//!
//! The grants are checked here, before any packet leaves: probing at all, then the
//! address (a name is resolved first and only its granted addresses are tried) and the
//! port against the plugin's (or the account's) `tls_networks` and `tls_ports`; then the
//! plugin's rate and concurrency gate. The probe itself is [`crate::discovery::prober`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use crate::discovery::limits::{ProbeGates, ProbeLimits};
use crate::discovery::prober::{Target, TlsProber};
use crate::discovery::scope::ProbeScope;
use crate::runtime::bindings::tls::{self, Peer, ProbeError};
use crate::runtime::sandbox::Sandbox;

/// A probe's time limit when the plugin names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a plugin may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// The host's probing: the prober and every plugin's gate, shared by all jobs.
pub struct Probing {
    pub prober: Arc<dyn TlsProber>,
    pub gates: ProbeGates,
}

impl Probing {
    pub fn new(prober: Arc<dyn TlsProber>) -> Self {
        Self {
            prober,
            gates: ProbeGates::default(),
        }
    }
}

pub struct TlsCtx {
    plugin: String,
    granted: bool,
    scope: Arc<ProbeScope>,
    limits: ProbeLimits,
    probing: Option<Arc<Probing>>,
    /// What every probe of this job saw, as the host saw it: an SSL scan keeps this,
    /// not the plugin's own report.
    pub record: ProbeRecord,
}

/// The probes of one job, in the order made.
#[derive(Debug, Clone, Default)]
pub struct ProbeRecord {
    pub probes: Vec<Probed>,
    /// Probes past [`MAX_RECORDED`] or [`MAX_RECORDED_BYTES`], counted only.
    pub dropped: u64,
    /// Certificate bytes held.
    bytes: usize,
}

/// The most probes one job's record holds (a scan part probes at most 65,536 endpoints).
pub const MAX_RECORDED: usize = 70_000;
/// The most certificate bytes one job's record holds; probes past it are counted only.
/// (A server may present a large chain; the record lives outside the plugin's memory.)
pub const MAX_RECORDED_BYTES: usize = 64 << 20;

/// One probe: the endpoint as asked (an address in canonical text, or a lower-case name)
/// and what came of it.
#[derive(Debug, Clone)]
pub struct Probed {
    pub host: String,
    pub port: u16,
    pub server_name: Option<String>,
    pub outcome: Result<Peer, ProbeError>,
}

impl ProbeRecord {
    fn push(&mut self, probed: Probed) {
        let bytes = probed
            .outcome
            .as_ref()
            .map_or(0, |peer| peer.chain.iter().map(Vec::len).sum());
        if self.probes.len() < MAX_RECORDED
            && self.bytes.saturating_add(bytes) <= MAX_RECORDED_BYTES
        {
            self.bytes += bytes;
            self.probes.push(probed);
        } else {
            self.dropped += 1;
        }
    }
}

impl TlsCtx {
    pub fn new(
        plugin: &str,
        granted: bool,
        scope: Arc<ProbeScope>,
        limits: ProbeLimits,
        probing: Option<Arc<Probing>>,
    ) -> Self {
        Self {
            plugin: plugin.to_owned(),
            granted,
            scope,
            limits,
            probing,
            record: ProbeRecord::default(),
        }
    }

    /// The first address of `host` (`bare`: without white space and brackets; `literal`:
    /// it read as an address) the grants allow on `port`.
    async fn granted_address(
        &self,
        host: &str,
        (bare, literal): (&str, Option<IpAddr>),
        port: u16,
    ) -> Result<SocketAddr, ProbeError> {
        if !self.scope.allows_port(port) {
            return Err(not_granted(host, port, &self.scope));
        }
        let addresses: Vec<IpAddr> = match literal {
            Some(ip) => vec![ip],
            None => {
                let lookup = tokio::time::timeout(
                    DEFAULT_TIMEOUT,
                    tokio::net::lookup_host((bare.to_owned(), port)),
                )
                .await;
                match lookup {
                    Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                    Ok(Err(e)) => {
                        return Err(ProbeError::Unreachable(format!("{bare}: {e}")));
                    }
                    Err(_) => {
                        return Err(ProbeError::TimedOut(format!(
                            "{bare}: the name did not resolve in time"
                        )));
                    }
                }
            }
        };
        addresses
            .into_iter()
            .find(|ip| self.scope.allows(*ip, port))
            .map(|ip| SocketAddr::new(ip, port))
            .ok_or_else(|| not_granted(host, port, &self.scope))
    }
}

fn not_granted(host: &str, port: u16, scope: &ProbeScope) -> ProbeError {
    ProbeError::NotGranted(format!(
        "{host} port {port} is outside what this plugin may probe ({})",
        scope.describe()
    ))
}

impl tls::Host for TlsCtx {
    async fn probe(
        &mut self,
        host: String,
        port: u16,
        server_name: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<Peer, ProbeError> {
        let asked = {
            let bare = host.trim().trim_matches(['[', ']']);
            match bare.parse::<IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => bare.to_ascii_lowercase(),
            }
        };
        let sent = server_name.clone().filter(|n| !n.trim().is_empty());
        let outcome = self
            .probe_granted(host, port, server_name, timeout_ms)
            .await;
        self.record.push(Probed {
            host: asked,
            port,
            server_name: sent,
            outcome: outcome.clone(),
        });
        outcome
    }
}

impl TlsCtx {
    async fn probe_granted(
        &mut self,
        host: String,
        port: u16,
        server_name: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<Peer, ProbeError> {
        if !self.granted {
            return Err(ProbeError::NotGranted(
                "TLS probing is not granted to this plugin".into(),
            ));
        }
        let bare = host.trim().trim_matches(['[', ']']);
        let literal = bare.parse::<IpAddr>().ok();
        let addr = self.granted_address(&host, (bare, literal), port).await?;
        let probing = self.probing.clone().ok_or_else(|| {
            ProbeError::Unreachable("TLS probing is not available on this host".into())
        })?;
        let timeout = timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(DEFAULT_TIMEOUT)
            .clamp(Duration::from_millis(1), MAX_TIMEOUT);
        let _permit = probing.gates.enter(&self.plugin, self.limits).await;
        // SNI: the name asked for, else the host when it is a name.
        let server_name = server_name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| literal.is_none().then(|| bare.to_owned()));
        let target = Target {
            addr,
            server_name,
            timeout,
        };
        probing.prober.probe(&target).await
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    tls::add_to_linker::<Sandbox, HasSelf<TlsCtx>>(linker, |s| &mut s.tls)
}

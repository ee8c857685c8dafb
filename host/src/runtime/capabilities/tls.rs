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

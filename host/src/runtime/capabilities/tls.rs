//! `keywarden:plugin/tls`: TLS probing for discovery jobs.
//!
//! The grant check is here; the probe itself is provided by the host's discovery
//! support through [`TlsProber`], which the server installs.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::http::HostAllowlist;
use crate::runtime::bindings::tls::{self, Peer, ProbeError};
use crate::runtime::sandbox::Sandbox;

/// Connects to an endpoint and returns the chain it serves.
#[async_trait::async_trait]
pub trait TlsProber: Send + Sync {
    async fn probe(
        &self,
        host: &str,
        port: u16,
        server_name: Option<&str>,
    ) -> Result<Peer, ProbeError>;
}

pub struct TlsCtx {
    granted: bool,
    hosts: Arc<HostAllowlist>,
    prober: Option<Arc<dyn TlsProber>>,
}

impl TlsCtx {
    pub fn new(
        granted: bool,
        hosts: Arc<HostAllowlist>,
        prober: Option<Arc<dyn TlsProber>>,
    ) -> Self {
        Self {
            granted,
            hosts,
            prober,
        }
    }
}

impl tls::Host for TlsCtx {
    async fn probe(
        &mut self,
        host: String,
        port: u16,
        server_name: Option<String>,
    ) -> Result<Peer, ProbeError> {
        if !self.granted {
            return Err(ProbeError::NotGranted(
                "TLS probing is not granted to this plugin".into(),
            ));
        }
        if !self.hosts.allows(&host, port, false) {
            return Err(ProbeError::NotGranted(format!(
                "{host}:{port} is not in this plugin's outbound allowlist"
            )));
        }
        let prober = self.prober.as_ref().ok_or_else(|| {
            ProbeError::Unreachable("TLS probing is not available on this host".into())
        })?;
        prober.probe(&host, port, server_name.as_deref()).await
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    tls::add_to_linker::<Sandbox, HasSelf<TlsCtx>>(linker, |s| &mut s.tls)
}

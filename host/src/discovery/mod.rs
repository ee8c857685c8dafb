//! SSL discovery and monitoring: where plugins may probe ([`scope`]), how fast
//! ([`limits`]), and the probe itself ([`prober`]), behind the `tls` host import.

pub mod limits;
pub mod prober;
pub mod results;
pub use keywarden_ranges as ranges;
pub mod scope;

use std::sync::Arc;

use crate::operator_config::OperatorConfig;
use crate::runtime::capabilities::tls::Probing;

/// The host's TLS probing as `[tls_probing]` configures it (its roots loaded now, so a
/// missing roots file stops the start).
pub fn probing(config: &OperatorConfig) -> anyhow::Result<Arc<Probing>> {
    let roots =
        prober::ProbeRoots::load(&config.tls_probing.roots, config.tls_probing.system_roots)?;
    Ok(Arc::new(Probing::new(Arc::new(prober::RustlsProber::new(
        roots,
    )))))
}

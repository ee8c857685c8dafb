//! Certificate authorities the host signs CSRs with, for plugins' `enrollment` import
//! (reenrollment of certificate stores): a local lab CA and ACME servers, configured in the
//! operator's `[authorities.NAME]` tables and picked by name.

pub mod acme;
pub mod agent_ca;
pub mod config;
pub mod csr;
pub(crate) mod files;
pub mod http01;
pub mod local;
pub mod registry;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use self::config::AuthorityConfig;
use self::registry::{Authority, AuthorityRegistry};
use crate::operator_config::OperatorConfig;

/// Opens every configured authority, keeping their state under
/// `<data_dir>/authorities/NAME/`. `None` when none is configured. Must be called inside a
/// Tokio runtime (an ACME authority may start an http-01 listener).
pub fn from_config(
    config: &OperatorConfig,
    data_dir: &Path,
) -> anyhow::Result<Option<AuthorityRegistry>> {
    if config.authorities.is_empty() {
        if let Some(name) = &config.default_authority {
            anyhow::bail!("default_authority {name:?} is set but no [authorities.*] is configured");
        }
        return Ok(None);
    }
    let mut authorities = BTreeMap::new();
    for (name, authority) in &config.authorities {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            anyhow::bail!("authority name {name:?} cannot be used as a folder name");
        }
        let state_dir = data_dir.join("authorities").join(name);
        let opened = match authority {
            AuthorityConfig::Local(local) => {
                Authority::Local(Box::new(local::LocalCa::open(name, local, &state_dir)?))
            }
            AuthorityConfig::Acme(acme) => {
                Authority::Acme(Box::new(acme::AcmeCa::open(name, acme, &state_dir)?))
            }
        };
        authorities.insert(name.clone(), opened);
    }
    AuthorityRegistry::new(authorities, config.default_authority.clone())
        .context("invalid authorities configuration")
        .map(Some)
}

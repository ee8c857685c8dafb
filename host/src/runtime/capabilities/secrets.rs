//! `keywarden:plugin/secrets`: named credentials, only those granted to the plugin.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::Redactions;
use crate::operator_config::SecretSource;
use crate::runtime::bindings::secrets::{self, SecretError};
use crate::runtime::sandbox::Sandbox;

/// Looks up a secret's value by name (a PAM-style provider). Implementations must not
/// log values.
pub trait SecretResolver: Send + Sync {
    fn resolve(&self, name: &str) -> Option<String>;
}

/// Resolves secrets from the operator config's `[secrets]` table.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredSecrets {
    sources: BTreeMap<String, SecretSource>,
}

impl ConfiguredSecrets {
    pub fn new(sources: BTreeMap<String, SecretSource>) -> Self {
        Self { sources }
    }
}

impl SecretResolver for ConfiguredSecrets {
    fn resolve(&self, name: &str) -> Option<String> {
        match self.sources.get(name)? {
            SecretSource::Env(var) => std::env::var(var).ok(),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .ok()
                .map(|v| v.trim_end_matches(['\n', '\r']).to_owned()),
            SecretSource::Value(v) => Some(v.clone()),
        }
    }
}

pub struct SecretsCtx {
    granted: Arc<BTreeSet<String>>,
    resolver: Arc<dyn SecretResolver>,
    redactions: Redactions,
}

impl SecretsCtx {
    pub fn new(
        granted: Arc<BTreeSet<String>>,
        resolver: Arc<dyn SecretResolver>,
        redactions: Redactions,
    ) -> Self {
        Self {
            granted,
            resolver,
            redactions,
        }
    }
}

impl secrets::Host for SecretsCtx {
    async fn reveal(&mut self, name: String) -> Result<String, SecretError> {
        if !self.granted.contains(&name) {
            return Err(SecretError::NotGranted(format!(
                "secret `{name}` is not granted to this plugin"
            )));
        }
        let value = self.resolver.resolve(&name).ok_or_else(|| {
            SecretError::NotFound(format!("secret `{name}` has no value on this host"))
        })?;
        self.redactions.remember(&value);
        Ok(value)
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    secrets::add_to_linker::<Sandbox, HasSelf<SecretsCtx>>(linker, |s| &mut s.secrets)
}

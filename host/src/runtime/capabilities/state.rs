//! `keywarden:plugin/state`: a small durable key/value space per plugin and job config.
//!
//! A full quota is the guest's to handle (the WIT error of `set`); the database failing is
//! the host's: it traps with a [`HostFault`] rather than answering "no value", which the
//! plugin would take for a first run (and, say, rotate every key again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::HostFault;
use crate::runtime::bindings::state;
use crate::runtime::sandbox::Sandbox;

/// Most bytes (keys plus values) one plugin may keep for one scope.
pub const STATE_QUOTA_BYTES: usize = 1 << 20;

/// Where plugin state lives. The server backs it with its database; the runtime on its
/// own (CLI, tests) keeps it in memory.
#[async_trait::async_trait]
pub trait StateBackend: Send + Sync {
    async fn get(&self, plugin: &str, scope: &str, key: &str) -> anyhow::Result<Option<String>>;
    async fn set(
        &self,
        plugin: &str,
        scope: &str,
        key: &str,
        value: Option<&str>,
    ) -> anyhow::Result<()>;
    /// Bytes in use by `plugin` in `scope`.
    async fn size(&self, plugin: &str, scope: &str) -> anyhow::Result<usize>;
}

/// Process-local state, lost at exit.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<HashMap<(String, String, String), String>>);

#[async_trait::async_trait]
impl StateBackend for MemoryState {
    async fn get(&self, plugin: &str, scope: &str, key: &str) -> anyhow::Result<Option<String>> {
        let map = self.0.lock().expect("state lock");
        Ok(map.get(&(plugin.into(), scope.into(), key.into())).cloned())
    }

    async fn set(
        &self,
        plugin: &str,
        scope: &str,
        key: &str,
        value: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut map = self.0.lock().expect("state lock");
        let k = (plugin.to_owned(), scope.to_owned(), key.to_owned());
        match value {
            Some(v) => map.insert(k, v.to_owned()),
            None => map.remove(&k),
        };
        Ok(())
    }

    async fn size(&self, plugin: &str, scope: &str) -> anyhow::Result<usize> {
        let map = self.0.lock().expect("state lock");
        Ok(map
            .iter()
            .filter(|((p, s, _), _)| p == plugin && s == scope)
            .map(|((_, _, k), v)| k.len() + v.len())
            .sum())
    }
}

pub struct StateCtx {
    backend: Arc<dyn StateBackend>,
    plugin: String,
    scope: String,
    /// A dry run reads state but may not change it: `set` answers the WIT error (the
    /// plugin asked for something it may handle, not a fault of the host).
    dry_run: bool,
}

impl StateCtx {
    pub fn new(
        backend: Arc<dyn StateBackend>,
        plugin: String,
        scope: String,
        dry_run: bool,
    ) -> Self {
        Self {
            backend,
            plugin,
            scope,
            dry_run,
        }
    }
}

/// What `set` answers in a dry run.
pub const DRY_RUN_REFUSAL: &str = "this is a dry run: the plugin state is read-only";

impl StateCtx {
    fn fault(&self, what: &str, err: &anyhow::Error) -> wasmtime::Error {
        tracing::error!(plugin = %self.plugin, "plugin state {what} failed: {err:#}");
        HostFault::new("state", format!("the plugin state could not be {what}")).into()
    }
}

impl state::Host for StateCtx {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.backend
            .get(&self.plugin, &self.scope, &key)
            .await
            .map_err(|e| self.fault("read", &e))
    }

    async fn set(
        &mut self,
        key: String,
        value: Option<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        if self.dry_run {
            return Ok(Err(DRY_RUN_REFUSAL.to_owned()));
        }
        if let Some(v) = &value {
            let used = self
                .backend
                .size(&self.plugin, &self.scope)
                .await
                .map_err(|e| self.fault("read", &e))?;
            if used + key.len() + v.len() > STATE_QUOTA_BYTES {
                return Ok(Err(format!(
                    "state quota of {STATE_QUOTA_BYTES} bytes exceeded ({used} in use)"
                )));
            }
        }
        self.backend
            .set(&self.plugin, &self.scope, &key, value.as_deref())
            .await
            .map_err(|e| self.fault("written", &e))?;
        Ok(Ok(()))
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    state::add_to_linker::<Sandbox, HasSelf<StateCtx>>(linker, |s| &mut s.state)
}

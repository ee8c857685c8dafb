//! `keywarden:plugin/config`: the plugin settings the operator gives each plugin
//! (`[plugins.<name>] settings = {...}` in the operator config). Named `plugin_config`
//! on the host so it is not mistaken for the operator config or a job config.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::config;
use crate::runtime::sandbox::Sandbox;

pub struct PluginSettingsCtx {
    values: Arc<BTreeMap<String, String>>,
}

impl PluginSettingsCtx {
    pub fn new(values: Arc<BTreeMap<String, String>>) -> Self {
        Self { values }
    }
}

impl config::Host for PluginSettingsCtx {
    async fn get(&mut self, key: String) -> Option<String> {
        self.values.get(&key).cloned()
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    config::add_to_linker::<Sandbox, HasSelf<PluginSettingsCtx>>(linker, |s| &mut s.settings)
}

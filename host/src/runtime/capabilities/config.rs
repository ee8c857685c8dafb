//! `keywarden:plugin/config`: the operator's per-plugin settings.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::config;
use crate::runtime::sandbox::Sandbox;

pub struct ConfigCtx {
    values: Arc<BTreeMap<String, String>>,
}

impl ConfigCtx {
    pub fn new(values: Arc<BTreeMap<String, String>>) -> Self {
        Self { values }
    }
}

impl config::Host for ConfigCtx {
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
    config::add_to_linker::<Sandbox, HasSelf<ConfigCtx>>(linker, |s| &mut s.config)
}

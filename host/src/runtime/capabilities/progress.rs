//! `keywarden:plugin/progress`: the latest `done of total`, passed on to the observer.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::progress;
use crate::runtime::observer::JobObserver;
use crate::runtime::sandbox::Sandbox;

pub struct ProgressCtx {
    pub latest: Option<(u64, u64)>,
    observer: Arc<dyn JobObserver>,
}

impl ProgressCtx {
    pub fn new(observer: Arc<dyn JobObserver>) -> Self {
        Self {
            latest: None,
            observer,
        }
    }
}

impl progress::Host for ProgressCtx {
    async fn report(&mut self, done: u64, total: u64) {
        self.latest = Some((done, total));
        self.observer.progress(done, total);
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    progress::add_to_linker::<Sandbox, HasSelf<ProgressCtx>>(linker, |s| &mut s.progress)
}

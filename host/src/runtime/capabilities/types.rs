//! `keywarden:plugin/types` has no functions; it only needs linking.

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::types;
use crate::runtime::sandbox::Sandbox;

/// Marker context for the `types` interface.
#[derive(Debug, Default)]
pub struct TypesCtx;

impl types::Host for TypesCtx {}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    types::add_to_linker::<Sandbox, HasSelf<TypesCtx>>(linker, |s| &mut s.types)
}

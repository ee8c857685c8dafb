//! Compiled components cached on disk, keyed by the component's content hash and the
//! engine's compatibility hash, so a restart (or a re-dropped identical file) skips
//! Cranelift.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from: compiled now, or loaded from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Compiled,
    Cache,
}

/// The sha256 of a component's bytes, hex-encoded.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An on-disk cache of precompiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl ComponentCache {
    /// A cache in `dir`; `None` disables caching (every load compiles).
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn entry_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{}.cwasm", self.engine_key)))
    }

    /// The component for `bytes`, from the cache when a matching entry exists, else
    /// compiled and stored. Blocking: call from `spawn_blocking`.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> anyhow::Result<(Component, CompileSource)> {
        if let Some(path) = self.entry_path(sha256)
            && path.is_file()
        {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, CompileSource::Cache)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e}")
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Some(path) = self.entry_path(sha256)
            && let Err(e) = store(&component, &path)
        {
            tracing::warn!(path = %path.display(), "cannot write the component cache: {e}");
        }
        Ok((component, CompileSource::Compiled))
    }
}

/// Compiles a component, turning wasmtime's parse errors into a reason an operator
/// understands (a core module, or not wasm at all).
pub fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    if !bytes.starts_with(b"\0asm") {
        anyhow::bail!("not a WebAssembly file (missing the \\0asm header)");
    }
    // Byte 4..8 is the version/layer: core modules are 0x01 0x00 0x00 0x00.
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        anyhow::bail!(
            "a core WebAssembly module, not a component: build it for wasm32-wasip2 \
             (or wrap it with `wasm-tools component new`)"
        );
    }
    Component::new(engine, bytes).map_err(|e| anyhow::anyhow!("invalid component: {e:#}"))
}

fn store(component: &Component, path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize()?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), serialized)?;
    tmp.persist(path)?;
    Ok(())
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires that deserialized artifacts come from a trusted
    // `serialize` of a compatible engine. Entries are written only by `store` above,
    // into the server's own data directory, under a name that includes the engine's
    // compatibility hash; wasmtime additionally checks the header and version.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}

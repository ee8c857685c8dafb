//! Compiled components cached on disk, keyed by the component's content hash and the
//! engine's compatibility hash, so a restart (or a re-dropped identical file) skips
//! Cranelift.
//!
//! A compiled entry is native code the host maps and runs: whoever can swap a `.cwasm`
//! file could run anything as the server. So each entry carries an HMAC-SHA256 tag under
//! a key kept in the data dir (`cache.key`, owner-only, made at first use); an entry
//! whose tag does not verify is compiled again from the `.wasm`, never run.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
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
#[derive(Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
    /// The key entries are authenticated with.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for ComponentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// File name of the cache's authentication key.
pub const CACHE_KEY_FILE: &str = "cache.key";

impl ComponentCache {
    /// A cache in `dir` whose entries are authenticated with the key in `key_file`
    /// (created when missing); `None` disables caching (every load compiles).
    pub fn new(
        engine: &Engine,
        dir: Option<PathBuf>,
        key_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let mac_key = match (&dir, key_file) {
            (Some(_), Some(file)) => load_or_create_key(file)?,
            // Without a cache nothing is stored or read.
            _ => [0; 32],
        };
        Ok(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            mac_key,
        })
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
            match self.deserialize(engine, &path) {
                Ok(component) => return Ok((component, CompileSource::Cache)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e}")
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Some(path) = self.entry_path(sha256)
            && let Err(e) = self.store(&component, &path)
        {
            tracing::warn!(path = %path.display(), "cannot write the component cache: {e}");
        }
        Ok((component, CompileSource::Compiled))
    }

    fn tag(&self, bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.mac_key).expect("any key length");
        mac.update(bytes);
        mac
    }

    /// Writes the entry and its tag (`<entry>.mac`), each replaced atomically.
    fn store(&self, component: &Component, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().expect("cache entries live in a directory");
        std::fs::create_dir_all(dir)?;
        let serialized = component.serialize()?;
        let tag = hex::encode(self.tag(&serialized).finalize().into_bytes());
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), &serialized)?;
        tmp.persist(path)?;
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), tag)?;
        tmp.persist(mac_path(path))?;
        Ok(())
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, engine: &Engine, path: &Path) -> anyhow::Result<Component> {
        let bytes = std::fs::read(path)?;
        let tag = std::fs::read_to_string(mac_path(path))
            .map_err(|e| anyhow::anyhow!("no authentication tag ({e}); compiling again"))?;
        let tag = hex::decode(tag.trim())
            .map_err(|_| anyhow::anyhow!("its authentication tag is malformed; compiling again"))?;
        self.tag(&bytes).verify_slice(&tag).map_err(|_| {
            anyhow::anyhow!(
                "it fails authentication (changed or not written by this server); compiling again"
            )
        })?;
        // SAFETY: wasmtime requires that deserialized artifacts come from a trusted
        // `serialize` of a compatible engine. These bytes carry a tag under the server's
        // own key, made by `store` above when it serialized them; the name includes the
        // engine's compatibility hash and wasmtime checks the header and version too.
        Ok(unsafe { Component::deserialize(engine, &bytes) }?)
    }
}

fn mac_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".mac");
    PathBuf::from(name)
}

/// The key in `file`, or a new random one written there (owner-only) when it is missing.
/// A new key is written to a temporary file and linked into place without replacing one
/// another process made first, so no process ever reads a half-written key.
fn load_or_create_key(file: &Path) -> anyhow::Result<[u8; 32]> {
    let read = |bytes: Vec<u8>| -> anyhow::Result<[u8; 32]> {
        bytes.try_into().map_err(|_| {
            anyhow::anyhow!(
                "{} is not a 32-byte cache key; remove it to make a new one (the cache is then compiled again)",
                file.display()
            )
        })
    };
    match std::fs::read(file) {
        Ok(bytes) => read(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            let dir = file.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            // tempfile creates it owner-only (0600).
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, &key)?;
            tmp.as_file().sync_all()?;
            match tmp.persist_noclobber(file) {
                Ok(_) => Ok(key),
                // Another process made it first: use theirs.
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    read(std::fs::read(file)?)
                }
                Err(e) => Err(anyhow::anyhow!(
                    "cannot write the cache key {}: {}",
                    file.display(),
                    e.error
                )),
            }
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot read the cache key {}: {e}",
            file.display()
        )),
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

//! What is live in the plugins folder. Lookups are a read lock and an `Arc` clone; a
//! rescan swaps entries one at a time, so a replaced plugin changes atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::Serialize;

use super::loader::{self, LoadedPlugin};
use super::manifest::{ManifestView, OperationView};
use crate::runtime::Runtime;

/// A file's identity without reading it: size and modification time.
type Fingerprint = (u64, Option<SystemTime>);

enum Entry {
    Ready(Arc<LoadedPlugin>),
    Failed {
        path: PathBuf,
        sha256: Option<String>,
        error: String,
    },
}

struct Slot {
    fingerprint: Fingerprint,
    entry: Entry,
}

/// One row of `plugins list` and `GET /api/v1/plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginListing {
    pub name: String,
    pub file: PathBuf,
    /// `ready` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestView>,
}

/// What a rescan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    pub loaded: Vec<String>,
    pub failed: Vec<String>,
    pub removed: Vec<String>,
}

/// No plugin provides the operation asked for; lists what is available instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub available: Vec<String>,
}

/// The live plugins of one folder.
pub struct PluginRegistry {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    slots: RwLock<BTreeMap<String, Slot>>,
    scanning: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRegistry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl PluginRegistry {
    /// An empty registry for `dir`; call [`scan`](Self::scan) to load it.
    pub fn new(runtime: Arc<Runtime>, dir: impl Into<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            runtime,
            dir: dir.into(),
            slots: RwLock::new(BTreeMap::new()),
            scanning: tokio::sync::Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Brings the registry in step with the folder: loads new and changed files,
    /// records failures, and drops plugins whose file is gone. Unchanged files (same
    /// size and mtime, or same content) are not reloaded.
    pub async fn scan(&self) -> ScanSummary {
        let _one_at_a_time = self.scanning.lock().await;
        let mut summary = ScanSummary::default();
        let files = wasm_files(&self.dir);
        let present: Vec<String> = files.iter().map(|(name, _, _)| name.clone()).collect();
        for (name, path, fingerprint) in files {
            if self.fingerprint(&name) == Some(fingerprint) {
                continue;
            }
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "cannot read plugin file: {e}");
                    continue;
                }
            };
            let sha = crate::runtime::cache::content_hash(&bytes);
            if self.sha256(&name).as_deref() == Some(sha.as_str()) {
                self.set_fingerprint(&name, fingerprint);
                continue;
            }
            let entry = match loader::load_hashed(&self.runtime, &path, bytes, sha).await {
                Ok(plugin) => {
                    tracing::info!(plugin = %name, version = %plugin.manifest.version, sha256 = %plugin.sha256, "plugin loaded");
                    summary.loaded.push(name.clone());
                    Entry::Ready(Arc::new(plugin))
                }
                Err(failure) => {
                    tracing::warn!(plugin = %name, "plugin failed to load: {}", failure.reason);
                    summary.failed.push(name.clone());
                    Entry::Failed {
                        path,
                        sha256: failure.sha256,
                        error: failure.reason,
                    }
                }
            };
            let mut slots = self.slots.write().expect("registry lock");
            slots.insert(name, Slot { fingerprint, entry });
        }
        let mut slots = self.slots.write().expect("registry lock");
        let gone: Vec<String> = slots
            .keys()
            .filter(|n| !present.contains(n))
            .cloned()
            .collect();
        for name in gone {
            slots.remove(&name);
            tracing::info!(plugin = %name, "plugin unloaded: its file was removed");
            summary.removed.push(name);
        }
        summary
    }

    fn fingerprint(&self, name: &str) -> Option<Fingerprint> {
        self.slots
            .read()
            .expect("registry lock")
            .get(name)
            .map(|s| s.fingerprint)
    }

    fn set_fingerprint(&self, name: &str, fingerprint: Fingerprint) {
        if let Some(slot) = self.slots.write().expect("registry lock").get_mut(name) {
            slot.fingerprint = fingerprint;
        }
    }

    fn sha256(&self, name: &str) -> Option<String> {
        let slots = self.slots.read().expect("registry lock");
        match &slots.get(name)?.entry {
            Entry::Ready(p) => Some(p.sha256.clone()),
            Entry::Failed { sha256, .. } => sha256.clone(),
        }
    }

    /// The live plugin loaded from `<name>.wasm`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        match &self.slots.read().expect("registry lock").get(name)?.entry {
            Entry::Ready(p) => Some(p.clone()),
            Entry::Failed { .. } => None,
        }
    }

    /// Every live plugin, by name.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        let slots = self.slots.read().expect("registry lock");
        slots
            .values()
            .filter_map(|s| match &s.entry {
                Entry::Ready(p) => Some(p.clone()),
                Entry::Failed { .. } => None,
            })
            .collect()
    }

    /// The plugin that provides `operation` for `target`.
    pub fn resolve(
        &self,
        operation: &str,
        target: Option<&str>,
    ) -> Result<(Arc<LoadedPlugin>, OperationView), Unresolved> {
        let plugins = self.plugins();
        for plugin in &plugins {
            if let Some(op) = plugin.operation(operation, target) {
                return Ok((plugin.clone(), op.clone()));
            }
        }
        let mut available: Vec<String> = plugins
            .iter()
            .flat_map(|p| p.manifest.operations.iter())
            .map(|o| match &o.target {
                Some(t) => format!("{} ({t})", o.name),
                None => o.name.clone(),
            })
            .collect();
        available.sort();
        available.dedup();
        Err(Unresolved { available })
    }

    /// Every file, loaded or not, for listings.
    pub fn list(&self) -> Vec<PluginListing> {
        let slots = self.slots.read().expect("registry lock");
        slots
            .iter()
            .map(|(name, slot)| match &slot.entry {
                Entry::Ready(p) => PluginListing {
                    name: name.clone(),
                    file: p.path.clone(),
                    status: "ready",
                    error: None,
                    sha256: Some(p.sha256.clone()),
                    manifest: Some(p.manifest.clone()),
                },
                Entry::Failed {
                    path,
                    sha256,
                    error,
                } => PluginListing {
                    name: name.clone(),
                    file: path.clone(),
                    status: "failed",
                    error: Some(error.clone()),
                    sha256: sha256.clone(),
                    manifest: None,
                },
            })
            .collect()
    }
}

/// `*.wasm` files directly in `dir` (hidden files, e.g. editors' temporaries, skipped).
fn wasm_files(dir: &Path) -> Vec<(String, PathBuf, Fingerprint)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "cannot read the plugins folder");
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .filter_map(|path| {
            let name = loader::plugin_name(&path)?;
            if name.starts_with('.') {
                return None;
            }
            let meta = std::fs::metadata(&path).ok()?;
            Some((name, path, (meta.len(), meta.modified().ok())))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

//! Turning a `.wasm` file into a live plugin: compile (or hit the cache), link once,
//! and ask it to describe itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::manifest::{ManifestView, OperationView};
use crate::runtime::Runtime;
use crate::runtime::cache::{CompileSource, content_hash};
use crate::runtime::invoke::{JobCall, JobInput, JobReport};
use crate::runtime::observer::JobObserver;
use crate::runtime::sandbox::PreparedGrants;
use crate::runtime::world::{PluginPre, WitVersion};

/// A plugin ready to run jobs. Jobs hold an `Arc` to it, so replacing the file does
/// not disturb jobs already running on this version.
pub struct LoadedPlugin {
    /// The file name without `.wasm`; grants are keyed by it.
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: ManifestView,
    pub source: CompileSource,
    pub grants: PreparedGrants,
    pub loaded_at: DateTime<Utc>,
    pre: PluginPre,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// The operation `name` for `target` (an operation without a target matches any).
    pub fn operation(&self, name: &str, target: Option<&str>) -> Option<&OperationView> {
        let mut named = self.manifest.operations.iter().filter(|o| o.name == name);
        match target {
            Some(want) => named
                .clone()
                .find(|o| {
                    o.target
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(want))
                })
                .or_else(|| named.find(|o| o.target.is_none())),
            None => named.next(),
        }
    }

    /// The version of the `keywarden:plugin` contract the component targets.
    pub fn wit_version(&self) -> WitVersion {
        self.pre.version()
    }

    /// Runs one job on this version of the plugin.
    pub async fn run(
        &self,
        runtime: &Runtime,
        input: JobInput,
        call: JobCall,
        observer: Option<Arc<dyn JobObserver>>,
    ) -> JobReport {
        self.run_with(runtime, &self.grants, input, call, observer)
            .await
    }

    /// Runs one job with `grants` (a job account's part of the plugin's grants).
    pub async fn run_with(
        &self,
        runtime: &Runtime,
        grants: &PreparedGrants,
        input: JobInput,
        call: JobCall,
        observer: Option<Arc<dyn JobObserver>>,
    ) -> JobReport {
        runtime
            .run(&self.name, &self.pre, grants, input, call, observer)
            .await
    }
}

/// The plugin name for a file: its stem.
pub fn plugin_name(path: &Path) -> Option<String> {
    path.file_stem()?.to_str().map(str::to_owned)
}

/// Loads the component at `path`. Errors are reasons for an operator.
pub async fn load_file(runtime: &Arc<Runtime>, path: &Path) -> Result<LoadedPlugin, LoadFailure> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| LoadFailure::new(None, format!("cannot read the file: {e}")))?;
    load_bytes(runtime, path, bytes).await
}

/// Loads a component from bytes already read from `path`.
pub async fn load_bytes(
    runtime: &Arc<Runtime>,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<LoadedPlugin, LoadFailure> {
    let sha256 = content_hash(&bytes);
    load_hashed(runtime, path, bytes, sha256).await
}

/// Loads a component whose content hash the caller already computed (the registry
/// hashes a changed file first, to skip reloading identical content).
pub async fn load_hashed(
    runtime: &Arc<Runtime>,
    path: &Path,
    bytes: Vec<u8>,
    sha256: String,
) -> Result<LoadedPlugin, LoadFailure> {
    let name = plugin_name(path)
        .ok_or_else(|| LoadFailure::new(None, "the file name is not UTF-8".into()))?;
    let fail = |reason: String| LoadFailure::new(Some(sha256.clone()), reason);
    let rt = runtime.clone();
    let sha = sha256.clone();
    let (component, source) = tokio::task::spawn_blocking(move || rt.compile(&bytes, &sha))
        .await
        .map_err(|e| fail(format!("compilation task failed: {e}")))?
        .map_err(|e| fail(format!("{e:#}")))?;
    let pre = runtime
        .prepare(&component)
        .map_err(|e| fail(format!("{e:#}")))?;
    let manifest = runtime
        .describe(&pre)
        .await
        .map_err(|e| fail(format!("{e:#}")))?;
    let manifest = ManifestView::from_wit(manifest).map_err(&fail)?;
    Ok(LoadedPlugin {
        grants: runtime.grants(&name),
        name,
        path: path.to_owned(),
        sha256,
        manifest,
        source,
        loaded_at: Utc::now(),
        pre,
    })
}

/// Why a file did not load, with its hash when it could be read.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub sha256: Option<String>,
    pub reason: String,
}

impl LoadFailure {
    fn new(sha256: Option<String>, reason: String) -> Self {
        Self { sha256, reason }
    }
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

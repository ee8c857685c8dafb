//! The plugin runtime: one engine, compiled components cached on disk, a fresh
//! sandboxed store for every job.

pub mod bindings;
pub mod bindings_v1;
pub mod cache;
pub mod capabilities;
pub mod engine;
pub mod invoke;
pub mod limits;
pub mod observer;
pub mod sandbox;
pub mod wit_v1;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use self::bindings::types::Manifest;
use self::cache::{CompileSource, ComponentCache};
use self::engine::EpochTicker;
use self::invoke::{JobCall, JobInput, JobReport};
use self::observer::{JobObserver, NoObserver};
use self::sandbox::{HostServices, PreparedGrants, Sandbox};
use self::world::{PluginPre, WitVersion};
use crate::operator_config::{OperatorConfig, PluginGrants};

/// How long `describe` may take when a plugin is loaded.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to compile, prepare and run plugins. Shared by the registry and
/// the executor.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    cache: ComponentCache,
    config: OperatorConfig,
    services: HostServices,
    /// One permit per pooling-allocator slot (`[runtime] max_instances`), held for the
    /// life of a sandbox: a job past the pool's size waits for a slot instead of failing
    /// to instantiate (a node's job slots, `describe` calls and SSL scans all draw on it).
    instances: Arc<tokio::sync::Semaphore>,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime for `config`, caching compiled components in `cache_dir` (or not at all).
    pub fn new(
        config: OperatorConfig,
        cache_dir: Option<PathBuf>,
        services: HostServices,
    ) -> anyhow::Result<Arc<Self>> {
        let meter_fuel =
            config.runtime.fuel.is_some() || config.plugins.values().any(|g| g.fuel.is_some());
        let engine = engine::build_engine(&config.runtime, meter_fuel)?;
        let linker = sandbox::build_linker(&engine)?;
        // The key lives in the data dir (beside the default cache `<data-dir>/cache`)
        // unless the operator names a file; a runtime without a data dir (`plugins run`)
        // keeps it in its cache folder.
        let key_file = config
            .runtime
            .cache_key_file
            .clone()
            .or_else(|| {
                cache_dir
                    .as_deref()
                    .and_then(Path::parent)
                    .map(|dir| dir.join(cache::CACHE_KEY_FILE))
            })
            .or_else(|| {
                config
                    .runtime
                    .cache_dir
                    .as_ref()
                    .map(|dir| dir.join(cache::CACHE_KEY_FILE))
            });
        let cache_dir = config.runtime.cache_dir.clone().or(cache_dir);
        let cache = ComponentCache::new(&engine, cache_dir, key_file.as_deref())?;
        let _ticker = EpochTicker::start(&engine);
        let slots = usize::try_from(config.runtime.max_instances.max(1)).unwrap_or(usize::MAX);
        Ok(Arc::new(Self {
            engine,
            linker,
            cache,
            config,
            services,
            instances: Arc::new(tokio::sync::Semaphore::new(slots)),
            _ticker,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &OperatorConfig {
        &self.config
    }

    /// The host services jobs reach (the executor resolves management private keys
    /// through its secret resolver).
    pub fn services(&self) -> &HostServices {
        &self.services
    }

    /// Compiles (or loads from the cache) a component. Blocking.
    pub fn compile(
        &self,
        bytes: &[u8],
        sha256: &str,
    ) -> anyhow::Result<(Component, CompileSource)> {
        self.cache.load(&self.engine, bytes, sha256)
    }

    /// Links a component against the host once, so each job only instantiates, with
    /// the bindings of the contract version it targets.
    pub fn prepare(&self, component: &Component) -> anyhow::Result<PluginPre> {
        let version = WitVersion::of(&self.engine, component)?;
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| anyhow::anyhow!("the component's imports cannot be satisfied: {e:#}"))?;
        PluginPre::new(version, pre).map_err(|e| {
            anyhow::anyhow!(
                "the component does not implement the {} plugin world: {e:#}",
                version.package()
            )
        })
    }

    /// The grants the operator gave the plugin file `name`.
    pub fn grants(&self, name: &str) -> PreparedGrants {
        PreparedGrants::new(&self.config.runtime, &self.config.grants_for(name))
    }

    /// Calls `describe` in a sandbox with no grants.
    pub async fn describe(&self, pre: &PluginPre) -> anyhow::Result<Manifest> {
        let mut grants = PreparedGrants::new(&self.config.runtime, &PluginGrants::default());
        grants.limits.timeout = grants.limits.timeout.min(DESCRIBE_TIMEOUT);
        let _slot = self.instance_slot().await;
        let sandbox = Sandbox::new(
            "describe",
            "describe",
            &grants,
            &self.services,
            Arc::new(NoObserver),
            false,
        )?;
        let mut store = wasmtime::Store::new(&self.engine, sandbox);
        invoke::arm_limits(&mut store, None);
        let run = async {
            let plugin = pre.instantiate_async(&mut store).await?;
            plugin.describe(&mut store).await
        };
        match tokio::time::timeout(grants.limits.timeout, run).await {
            Ok(Ok(manifest)) => Ok(manifest),
            Ok(Err(e)) => Err(anyhow::anyhow!("describe() failed: {e:#}")),
            Err(_) => Err(anyhow::anyhow!(
                "describe() did not return within {:?}",
                grants.limits.timeout
            )),
        }
    }

    /// Runs one job in a fresh sandbox with the plugin's grants.
    pub async fn run(
        &self,
        plugin: &str,
        pre: &PluginPre,
        grants: &PreparedGrants,
        input: JobInput,
        call: JobCall,
        observer: Option<Arc<dyn JobObserver>>,
    ) -> JobReport {
        let observer = observer.unwrap_or_else(|| Arc::new(NoObserver));
        let _slot = self.instance_slot().await;
        invoke::run_job(pre, plugin, grants, &self.services, input, call, observer).await
    }

    /// Waits for a free pooling-allocator slot; the sandbox must be dropped before the
    /// permit is.
    async fn instance_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed; `None` would only mean no wait.
        self.instances.acquire().await.ok()
    }
}

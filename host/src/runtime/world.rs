//! Which version of the `keywarden:plugin` contract a component targets, and one type
//! for a prepared or instantiated plugin of either version. Callers use the current
//! (0.2.0) types only; a 0.1.0 plugin's calls are converted in [`super::wit_v1`].

use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};

use super::bindings::certificate_store::{
    CertificateEntry, DiscoveryRequest, NewEntry, ReenrollmentRequest, Store as CertStore,
};
use super::bindings::key_management::Synchronized;
use super::bindings::types::{JobContext, JobError, JobOutcome, Manifest};
use super::sandbox::Sandbox;
use super::{bindings, bindings_v1, wit_v1};

/// A version of the `keywarden:plugin` WIT package the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum WitVersion {
    #[serde(rename = "0.1.0")]
    V0_1,
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl WitVersion {
    /// The version a component targets, read from its exported interface names
    /// (`keywarden:plugin/custom-job@0.1.0`).
    pub fn of(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        let ty = component.component_type();
        for (name, _) in ty.exports(engine) {
            let Some(interface) = name.strip_prefix("keywarden:plugin/") else {
                continue;
            };
            match interface.rsplit_once('@').map(|(_, v)| v) {
                Some("0.1.0") => return Ok(Self::V0_1),
                Some("0.2.0") => return Ok(Self::V0_2),
                _ => {}
            }
        }
        anyhow::bail!(
            "the component exports no keywarden:plugin interface of a version this host runs (0.1.0 or 0.2.0)"
        )
    }

    /// `keywarden:plugin@0.2.0`, for messages.
    pub fn package(self) -> &'static str {
        match self {
            Self::V0_1 => "keywarden:plugin@0.1.0",
            Self::V0_2 => "keywarden:plugin@0.2.0",
        }
    }

    /// Whether the contract tells a plugin about dry runs (0.2.0 on).
    pub fn has_dry_run(self) -> bool {
        self != Self::V0_1
    }
}

/// A component linked against the host once, for the version it targets.
#[derive(Clone)]
pub enum PluginPre {
    V0_1(bindings_v1::PluginPre<Sandbox>),
    V0_2(bindings::PluginPre<Sandbox>),
}

impl PluginPre {
    /// Checks that `pre` implements the `plugin` world of `version`.
    pub fn new(version: WitVersion, pre: InstancePre<Sandbox>) -> wasmtime::Result<Self> {
        Ok(match version {
            WitVersion::V0_1 => Self::V0_1(bindings_v1::PluginPre::new(pre)?),
            WitVersion::V0_2 => Self::V0_2(bindings::PluginPre::new(pre)?),
        })
    }

    pub fn version(&self) -> WitVersion {
        match self {
            Self::V0_1(_) => WitVersion::V0_1,
            Self::V0_2(_) => WitVersion::V0_2,
        }
    }

    pub fn engine(&self) -> &Engine {
        match self {
            Self::V0_1(pre) => pre.engine(),
            Self::V0_2(pre) => pre.engine(),
        }
    }

    pub async fn instantiate_async(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Plugin> {
        Ok(match self {
            Self::V0_1(pre) => Plugin::V0_1(pre.instantiate_async(store).await?),
            Self::V0_2(pre) => Plugin::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

/// An instantiated plugin; each export is called with the current types.
pub enum Plugin {
    V0_1(bindings_v1::Plugin),
    V0_2(bindings::Plugin),
}

/// What an export answers: a trap (`Err`), or the plugin's result.
type Answer<T> = wasmtime::Result<Result<T, JobError>>;

impl Plugin {
    pub async fn describe(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Manifest> {
        match self {
            Self::V0_1(p) => Ok(wit_v1::manifest(p.call_describe(store).await?)),
            Self::V0_2(p) => p.call_describe(store).await,
        }
    }

    pub async fn run_custom(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
    ) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_custom_job()
                    .call_run(store, &wit_v1::context(ctx))
                    .await?,
            ),
            Self::V0_2(p) => p.keywarden_plugin_custom_job().call_run(store, ctx).await,
        }
    }

    pub async fn scan(&self, store: &mut Store<Sandbox>, ctx: &JobContext) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_network_discovery()
                    .call_scan(store, &wit_v1::context(ctx))
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_network_discovery()
                    .call_scan(store, ctx)
                    .await
            }
        }
    }

    pub async fn rotate(&self, store: &mut Store<Sandbox>, ctx: &JobContext) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_key_management()
                    .call_rotate(store, &wit_v1::context(ctx))
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_key_management()
                    .call_rotate(store, ctx)
                    .await
            }
        }
    }

    pub async fn synchronize(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
    ) -> Answer<Synchronized> {
        match self {
            Self::V0_1(p) => wit_v1::synchronized(
                p.keywarden_plugin_key_management()
                    .call_synchronize(store, &wit_v1::context(ctx))
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_key_management()
                    .call_synchronize(store, ctx)
                    .await
            }
        }
    }

    pub async fn inventory(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        cert_store: &CertStore,
    ) -> Answer<Vec<CertificateEntry>> {
        match self {
            Self::V0_1(p) => wit_v1::entries(
                p.keywarden_plugin_certificate_store()
                    .call_inventory(store, &wit_v1::context(ctx), &wit_v1::store(cert_store))
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_inventory(store, ctx, cert_store)
                    .await
            }
        }
    }

    pub async fn add(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        cert_store: &CertStore,
        entry: &NewEntry,
    ) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_certificate_store()
                    .call_add(
                        store,
                        &wit_v1::context(ctx),
                        &wit_v1::store(cert_store),
                        &wit_v1::new_entry(entry),
                    )
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_add(store, ctx, cert_store, entry)
                    .await
            }
        }
    }

    pub async fn remove(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        cert_store: &CertStore,
        alias: &str,
    ) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_certificate_store()
                    .call_remove(
                        store,
                        &wit_v1::context(ctx),
                        &wit_v1::store(cert_store),
                        alias,
                    )
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_remove(store, ctx, cert_store, alias)
                    .await
            }
        }
    }

    pub async fn create(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        cert_store: &CertStore,
    ) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_certificate_store()
                    .call_create(store, &wit_v1::context(ctx), &wit_v1::store(cert_store))
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_create(store, ctx, cert_store)
                    .await
            }
        }
    }

    pub async fn discover(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        request: &DiscoveryRequest,
    ) -> Answer<Vec<String>> {
        match self {
            Self::V0_1(p) => wit_v1::answer(
                p.keywarden_plugin_certificate_store()
                    .call_discover(store, &wit_v1::context(ctx), &wit_v1::discovery(request))
                    .await?,
                |paths| paths,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_discover(store, ctx, request)
                    .await
            }
        }
    }

    pub async fn reenroll(
        &self,
        store: &mut Store<Sandbox>,
        ctx: &JobContext,
        cert_store: &CertStore,
        request: &ReenrollmentRequest,
    ) -> Answer<JobOutcome> {
        match self {
            Self::V0_1(p) => wit_v1::outcome(
                p.keywarden_plugin_certificate_store()
                    .call_reenroll(
                        store,
                        &wit_v1::context(ctx),
                        &wit_v1::store(cert_store),
                        &wit_v1::reenrollment(request),
                    )
                    .await?,
            ),
            Self::V0_2(p) => {
                p.keywarden_plugin_certificate_store()
                    .call_reenroll(store, ctx, cert_store, request)
                    .await
            }
        }
    }
}

//! The data of one job's `Store`: WASI with only the granted preopens, wasi:http with
//! the outbound allowlist, the Keywarden capabilities, and the limiter.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::capabilities::enrollment::{CertificateAuthority, EnrollmentCtx};
use super::capabilities::http::{HostAllowlist, OutboundHttp};
use super::capabilities::log::LogCtx;
use super::capabilities::plugin_config::PluginSettingsCtx;
use super::capabilities::progress::ProgressCtx;
use super::capabilities::secrets::{SecretResolver, SecretsCtx};
use super::capabilities::state::{StateBackend, StateCtx};
use super::capabilities::tls::{Probing, TlsCtx};
use super::capabilities::types::TypesCtx;
use super::capabilities::{self, Redactions};
use super::engine::GuestRunning;
use super::limits::JobLimiter;
use super::observer::JobObserver;
use crate::discovery::limits::ProbeLimits;
use crate::discovery::scope::ProbeScope;
use crate::operator_config::{DirGrant, JobLimits, PluginGrants, RuntimeConfig};
use crate::tenancy::issuance::AccountIssuance;

/// Services of the host that jobs reach through capabilities.
#[derive(Clone)]
pub struct HostServices {
    pub secrets: Arc<dyn SecretResolver>,
    pub state: Arc<dyn StateBackend>,
    pub authority: Option<Arc<dyn CertificateAuthority>>,
    /// TLS probing for the `tls` import (`None`: probes answer "not available").
    pub tls_prober: Option<Arc<Probing>>,
}

/// A plugin's grants, digested once at load so each job's sandbox is cheap to build.
#[derive(Debug, Clone)]
pub struct PreparedGrants {
    pub outbound: Arc<HostAllowlist>,
    pub dirs: Vec<DirGrant>,
    pub secrets: Arc<BTreeSet<String>>,
    pub settings: Arc<BTreeMap<String, String>>,
    pub tls_probe: bool,
    /// Where the `tls` import may connect.
    pub probe_scope: Arc<ProbeScope>,
    /// How fast it may.
    pub probe_limits: ProbeLimits,
    pub csr_enrollment: bool,
    pub limits: JobLimits,
    /// The account's authorities and issuance policies; `None`: every configured
    /// authority, no policy (the admin account, a `keywarden agent`).
    pub issuance: Option<Arc<AccountIssuance>>,
    /// `outbound_hosts` as the operator wrote them (account grants name entries of it).
    pub outbound_entries: Arc<Vec<String>>,
}

impl PreparedGrants {
    pub fn new(runtime: &RuntimeConfig, grants: &PluginGrants) -> Self {
        Self {
            outbound: Arc::new(HostAllowlist::new(&grants.outbound_hosts)),
            dirs: grants.dirs.clone(),
            secrets: Arc::new(grants.secrets.iter().cloned().collect()),
            settings: Arc::new(grants.settings.clone()),
            tls_probe: grants.tls_probe,
            // A grant that does not parse grants nothing (the server refuses to start
            // with one: `OperatorConfig::check_probe_grants`).
            probe_scope: Arc::new(grants.probe_scope().unwrap_or_default()),
            probe_limits: grants.probe_limits(),
            csr_enrollment: grants.csr_enrollment,
            limits: JobLimits::resolve(runtime, grants),
            issuance: None,
            outbound_entries: Arc::new(grants.outbound_hosts.clone()),
        }
    }
}

/// The `T` of every job's `Store<T>`.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    outbound: OutboundHttp,
    pub(crate) limiter: JobLimiter,
    pub(crate) deadline: Instant,
    pub(crate) timed_out: bool,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) redactions: Redactions,
    pub(crate) types: TypesCtx,
    pub(crate) log: LogCtx,
    pub(crate) progress: ProgressCtx,
    pub(crate) secrets: SecretsCtx,
    pub(crate) settings: PluginSettingsCtx,
    pub(crate) state: StateCtx,
    pub(crate) tls: TlsCtx,
    pub(crate) enrollment: EnrollmentCtx,
    /// Keeps the epoch ticking while this sandbox's guest may run (see `arm_limits`).
    pub(crate) guest_running: Option<GuestRunning>,
}

impl Sandbox {
    /// A sandbox for one job of `plugin`, holding exactly what `grants` allow; for a
    /// `dry_run`, less: the granted directories read-only, no state writes, no CSRs
    /// (what the host can enforce of "write nothing"; outbound HTTP it cannot judge).
    pub fn new(
        plugin: &str,
        scope: &str,
        grants: &PreparedGrants,
        services: &HostServices,
        observer: Arc<dyn JobObserver>,
        dry_run: bool,
    ) -> anyhow::Result<Self> {
        let limits = grants.limits;
        let stdout = MemoryOutputPipe::new(limits.max_log_bytes);
        let stderr = MemoryOutputPipe::new(limits.max_log_bytes);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        for dir in &grants.dirs {
            let perms = if dir.writable && !dry_run {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| {
                    anyhow::anyhow!("cannot open granted directory {}: {e}", dir.host.display())
                })?;
        }
        let redactions = Redactions::default();
        Ok(Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            outbound: OutboundHttp::new(grants.outbound.clone()),
            limiter: JobLimiter::new(limits.memory_bytes),
            deadline: Instant::now() + limits.timeout,
            timed_out: false,
            stdout,
            stderr,
            types: TypesCtx,
            log: LogCtx::new(limits.max_log_bytes, redactions.clone(), observer.clone()),
            progress: ProgressCtx::new(observer),
            secrets: SecretsCtx::new(
                grants.secrets.clone(),
                services.secrets.clone(),
                redactions.clone(),
            ),
            settings: PluginSettingsCtx::new(grants.settings.clone()),
            state: StateCtx::new(
                services.state.clone(),
                plugin.to_owned(),
                scope.to_owned(),
                dry_run,
            ),
            tls: TlsCtx::new(
                plugin,
                grants.tls_probe,
                grants.probe_scope.clone(),
                grants.probe_limits,
                services.tls_prober.clone(),
            ),
            enrollment: EnrollmentCtx::new(
                grants.csr_enrollment,
                services.authority.clone(),
                grants.issuance.clone(),
                dry_run,
            ),
            redactions,
            guest_running: None,
        })
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The linker every plugin is instantiated with: WASI 0.2, wasi:http, and Keywarden's
/// capabilities under both contract versions (`@0.2.0` and the frozen `@0.1.0`).
pub fn build_linker(engine: &Engine) -> anyhow::Result<Linker<Sandbox>> {
    let mut linker = Linker::new(engine);
    let wire = |linker: &mut Linker<Sandbox>| -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
        capabilities::types::add_to_linker(linker)?;
        capabilities::log::add_to_linker(linker)?;
        capabilities::progress::add_to_linker(linker)?;
        capabilities::secrets::add_to_linker(linker)?;
        capabilities::plugin_config::add_to_linker(linker)?;
        capabilities::state::add_to_linker(linker)?;
        capabilities::tls::add_to_linker(linker)?;
        capabilities::enrollment::add_to_linker(linker)?;
        super::wit_v1::add_to_linker(linker)?;
        Ok(())
    };
    wire(&mut linker).map_err(|e| anyhow::anyhow!("cannot build the plugin linker: {e}"))?;
    Ok(linker)
}

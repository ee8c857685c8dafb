//! The `serve` command as a library: wires store, plugins, scheduler, executor and the
//! HTTP API together, and shuts them down in order. Tests call [`serve`] in-process on
//! port 0; the CLI calls it after resolving flags, environment and config file.

pub(crate) mod background;
pub mod bootstrap;
pub mod node_id;
pub mod node_watch;
pub mod retention;
pub mod ssl_schedules;
pub mod tls;

pub use tls::{PeerCertificate, TlsConfig, TlsOptions, serve_router};

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::domain::Service;
use crate::executor::ExecutorConfig;
use crate::operator_config::{MAX_FIRE_AHEAD_MS, OperatorConfig};
use crate::plugins::{PluginRegistry, watcher};
use crate::runtime::Runtime;
use crate::runtime::capabilities::enrollment::CertificateAuthority;
use crate::runtime::capabilities::secrets::ConfiguredSecrets;
use crate::runtime::sandbox::HostServices;

/// Everything `serve` needs, already resolved from flags, environment and config file.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Database file, admin-token file and compile cache live here.
    pub data_dir: PathBuf,
    pub plugins_dir: PathBuf,
    pub config: OperatorConfig,
    /// Default `sqlite://<data_dir>/keywarden.db`.
    pub database_url: Option<String>,
    /// Default: `[server] node_id`, else the host name.
    pub node_id: Option<String>,
    /// Jobs run at once on this node; default `[server] concurrency`, else 16.
    pub concurrency: Option<usize>,
    /// How often the scheduler looks for due configs.
    pub tick: Duration,
    /// How long running jobs may take to finish after a shutdown request.
    pub drain_timeout: Duration,
    /// Serve HTTPS with this certificate; `None` serves plain HTTP.
    pub tls: Option<TlsOptions>,
}

impl ServeOptions {
    /// Options with defaults for everything but the two folders.
    pub fn new(data_dir: impl Into<PathBuf>, plugins_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            plugins_dir: plugins_dir.into(),
            config: OperatorConfig::default(),
            database_url: None,
            node_id: None,
            concurrency: None,
            tick: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(30),
            tls: None,
        }
    }

    fn node_id(&self) -> String {
        self.node_id
            .clone()
            .or_else(|| self.config.server.node_id.clone())
            .or_else(host_name)
            .unwrap_or_else(|| "local-node".to_owned())
    }
}

/// This machine's host name, if it has one.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Runs a Keywarden node on `listener` until `shutdown` resolves: stops accepting
/// requests, lets running jobs finish (up to `drain_timeout`), then returns.
///
/// Prints `listening on http://ADDR` (or `https://`) on stdout once the API is ready;
/// with the internal CA, the line before names the CA certificate clients must trust.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("cannot create data dir {}", options.data_dir.display()))?;
    options
        .config
        .check_own_folders(&[&options.data_dir, &options.plugins_dir])?;
    options
        .config
        .check_probe_grants()
        .context("invalid TLS probe grants in the operator config")?;
    if options.config.server.fire_ahead_ms > Some(MAX_FIRE_AHEAD_MS) {
        anyhow::bail!("[server] fire_ahead_ms must be at most {MAX_FIRE_AHEAD_MS} (a minute)");
    }
    crate::tenancy::access::check_accounts(&options.config)
        .context("invalid [accounts] in the operator config")?;
    options
        .config
        .backup
        .check(&|s| options.config.secrets.contains_key(s))
        .context("invalid [backup] in the operator config")?;
    let webhook = crate::alerts::webhook::Webhook::from_config(&options.config)
        .context("invalid [alerts] in the operator config")?;
    // Before anything else: a certificate that cannot be served should stop the start
    // before the database is migrated or plugins compile.
    let tls = options
        .tls
        .as_ref()
        .map(|tls| TlsConfig::load(tls, &options.data_dir))
        .transpose()
        .context("cannot set up TLS")?;
    let database_url = options.database_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            options.data_dir.join("keywarden.db").display()
        )
    });
    let db = keywarden_db::connect(&database_url)
        .await
        .context("cannot open the database")?;
    let node_id = options.node_id();

    if let Some(path) = bootstrap::ensure_admin_token(db.as_ref(), &options.data_dir).await? {
        tracing::info!(
            target: crate::executor::LIFECYCLE_LOG_TARGET,
            file = %path.display(),
            "created the bootstrap admin token"
        );
    }

    let authority = crate::authority::from_config(&options.config, &options.data_dir)?
        .map(|registry| Arc::new(registry) as Arc<dyn CertificateAuthority>);
    let services = HostServices {
        secrets: Arc::new(ConfiguredSecrets::new(options.config.secrets.clone())),
        state: background::state_backend(db.clone()),
        authority: authority.clone(),
        tls_prober: Some(crate::discovery::probing(&options.config)?),
    };
    // Backups go to the data dir unless the operator chose a directory.
    let mut config = options.config.clone();
    config
        .backup
        .dir
        .get_or_insert_with(|| options.data_dir.join("backups"));
    let concurrency = options
        .concurrency
        .or(options.config.server.concurrency)
        .unwrap_or(16)
        .max(1);
    // Every job slot gets an instance slot (and one more for loading a plugin), so a
    // claimed job never waits for one after its window check and target lock.
    let wanted = u32::try_from(concurrency.saturating_add(1)).unwrap_or(u32::MAX);
    if config.runtime.max_instances < wanted {
        tracing::info!(
            max_instances = config.runtime.max_instances,
            concurrency,
            "raising [runtime] max_instances to the node's job slots plus one"
        );
        config.runtime.max_instances = wanted;
    }
    let runtime = Runtime::new(config, Some(options.data_dir.join("cache")), services)?;
    let registry = PluginRegistry::new(runtime, options.plugins_dir.clone());
    let summary = registry.scan().await;
    tracing::info!(loaded = ?summary.loaded, failed = ?summary.failed, "plugins loaded");
    let events = crate::events::JobEvents::new();
    let metrics = crate::metrics::Metrics::new();
    let _watch = match watcher::watch_measured(registry.clone(), metrics.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the plugins folder; restart to pick up changes");
            None
        }
    };

    let stop = CancellationToken::new();
    let mut executor = ExecutorConfig::new(&node_id);
    executor.concurrency = concurrency;
    // A node given many slots fills them in few claims (a claim's cost is mostly per
    // statement, not per row).
    executor.batch = executor.batch.max(concurrency.min(1024));
    executor.drain_timeout = options.drain_timeout;
    if let Some(share) = options.config.server.account_share {
        executor.account_share = share;
    }
    if let Some(secs) = options.config.server.lease_secs {
        executor.lease = Duration::from_secs(secs.max(1));
    }
    if let Some(secs) = options.config.server.heartbeat_secs {
        executor.heartbeat_interval = Duration::from_secs(secs.max(1));
    }
    executor.events = events.clone();
    executor.metrics = metrics.clone();
    let service = Service::new(db.clone(), registry.clone(), node_id)
        .with_agents(agents_context(&options, authority.clone())?)
        .with_observability(events.clone(), metrics);
    let recorded = service
        .record_legacy_config_facts()
        .await
        .map_err(|e| anyhow::anyhow!("cannot record the facts of older job configs: {e}"))?;
    if recorded > 0 {
        tracing::info!(
            configs = recorded,
            "recorded target and schedule kind of older job configs"
        );
    }
    // Bound before anything starts, so a taken address stops the start cleanly.
    let metrics_socket = match &options.config.server.metrics_listen {
        Some(addr) => Some(bind_metrics(addr).await?),
        None => None,
    };
    // Before this process recovers "its" running jobs: they may be another's.
    node_id::refuse_duplicate(&*db, &executor.node_id, executor.heartbeat_interval).await?;
    node_id::announce(&*db, &executor.node_id, executor.heartbeat_interval).await?;
    let executor_heartbeat = executor.heartbeat_interval;
    let (db_for_stop, node_for_stop) = (db.clone(), executor.node_id.clone());
    let timing = crate::scheduler::tick::Timing {
        tick: options.tick,
        fire_ahead: options.config.server.fire_ahead(),
    };
    let mut tasks = background::start(&db, &registry, timing, executor, &stop);
    tasks.extend(retention::spawn(
        db.clone(),
        options.config.retention.clone(),
        stop.clone(),
    ));
    tasks.push(ssl_schedules::spawn(
        service.clone(),
        options.tick,
        stop.clone(),
    ));
    tasks.push(node_watch::spawn(
        service.clone(),
        executor_heartbeat,
        stop.clone(),
    ));
    tasks.extend(crate::alerts::delivery::spawn(
        db.clone(),
        webhook,
        options.config.alerts.clone(),
        stop.clone(),
    ));

    let state = AppState { service };
    if let Some(listener) = metrics_socket {
        tasks.push(metrics_listener(listener, state.clone(), stop.clone()));
    }
    let addr = listener.local_addr()?;
    match &tls {
        Some(tls) => {
            if let Some(ca) = tls.ca_cert() {
                println!(
                    "internal CA certificate (clients trust it): {}",
                    ca.display()
                );
            }
            println!("listening on https://{addr}");
        }
        None => {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "serving plain HTTP on a non-loopback address: tokens travel unencrypted; use --tls-cert/--tls-key or --tls-internal-ca"
                );
            }
            println!("listening on http://{addr}");
        }
    }
    let request_timeout = Duration::from_secs(
        options
            .config
            .server
            .request_timeout_secs
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS)
            .max(1),
    );
    let app = api::app(state).layer(axum::middleware::from_fn(move |request, next| {
        time_limited(request, next, request_timeout)
    }));
    // On shutdown the scheduler and executor stop at once (no new claims), while open
    // requests get until the drain deadline to finish.
    let http_stop = stop.clone();
    let signalled = CancellationToken::new();
    let on_signal = signalled.clone();
    let server = serve_router(listener, app, tls, async move {
        tokio::select! {
            () = shutdown => {}
            () = http_stop.cancelled() => {}
        }
        http_stop.cancel();
        on_signal.cancel();
        // Live streams never end on their own: end them so the server can stop.
        events.close();
    });
    tokio::select! {
        served = server => served?,
        () = async {
            signalled.cancelled().await;
            tokio::time::sleep(options.drain_timeout).await;
        } => {
            tracing::warn!(timeout = ?options.drain_timeout, "requests still open at the drain deadline are dropped");
        }
    }

    tracing::info!("shutting down: waiting for running jobs");
    stop.cancel();
    let drain = futures_join(tasks);
    if tokio::time::timeout(options.drain_timeout + Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?options.drain_timeout,
            "running jobs did not finish in time; their leases will expire and another node (or the next start) retries them"
        );
    } else if let Err(e) = db_for_stop
        .stop_node(&node_for_stop, chrono::Utc::now())
        .await
    {
        // The next start then waits a heartbeat, as after a crash.
        tracing::warn!("recording this node's stop failed: {e}");
    }
    Ok(())
}

/// Binds `[server] metrics_listen`.
async fn bind_metrics(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on [server] metrics_listen = {addr:?}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(
            %bound,
            "[server] metrics_listen is not a loopback address: anyone who reaches it reads every account's job counts without a token"
        );
    }
    println!("metrics on http://{bound}/metrics");
    Ok(listener)
}

/// Serves `/metrics` without tokens on the operator's `[server] metrics_listen`.
fn metrics_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let app = api::metrics_app(state);
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::error!("the metrics listener failed: {e}");
        }
    })
}

/// How long a request may take unless `[server] request_timeout_secs` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;

/// Answers 503 when the request (reading its body included) takes longer than `limit`.
async fn time_limited(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    limit: Duration,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = api::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request took longer than {} s and was stopped",
                    limit.as_secs()
                ),
            )
            .into_response();
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        if let Err(e) = task.await
            && e.is_panic()
        {
            tracing::error!(error = %e, "a background task panicked");
        }
    }
}

/// The agent CA and settings the service serves agents with.
fn agents_context(
    options: &ServeOptions,
    authority: Option<Arc<dyn CertificateAuthority>>,
) -> anyhow::Result<crate::domain::agents::AgentsContext> {
    let settings = &options.config.agents;
    let mut ca_config: crate::authority::config::LocalCaConfig =
        toml::from_str("").expect("every local CA field has a default");
    ca_config.cert_file = settings.ca_cert_file.clone();
    ca_config.key_file = settings.ca_key_file.clone();
    ca_config.validity_days = settings.certificate_validity_days;
    Ok(crate::domain::agents::AgentsContext {
        ca: crate::authority::agent_ca::AgentCa::open(&ca_config, &options.data_dir)?,
        config: settings.clone(),
        authority,
    })
}

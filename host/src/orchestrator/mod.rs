//! `keywarden agent`: Keywarden's own orchestrator. It registers with a Keywarden server
//! over the agent protocol, enrolls a client certificate once approved, and then, every
//! heartbeat, opens a session over mTLS, runs the jobs handed to it on its own
//! WebAssembly plugins under its own operator grants (the same TOML as the server's), and
//! reports back. A lost server or network only delays it: every failure is retried with
//! a growing pause, and nothing it has is lost across restarts (identity in its data dir).

pub mod authority;
pub mod client;
pub mod hooks;
pub mod identity;
pub(crate) mod runner;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use self::authority::ServerAuthority;
use self::client::{ProtocolClient, Registration};
use self::identity::{IdentityFiles, new_key_and_csr};
use crate::operator_config::OperatorConfig;
use crate::plugins::{Family, PluginRegistry};
use crate::runtime::Runtime;
use crate::runtime::capabilities::secrets::ConfiguredSecrets;
use crate::runtime::sandbox::HostServices;

/// The capability that tells the server this agent takes jobs whole.
pub const KEYWARDEN_JOBS: &str = "Keywarden.Jobs";

/// Everything `keywarden agent` needs, resolved from flags, environment and config.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The server's base URL, `https://host:port`.
    pub server: String,
    pub data_dir: PathBuf,
    pub plugins_dir: PathBuf,
    pub config: OperatorConfig,
    /// The CA the server's certificate chains to (else the system's roots).
    pub server_ca: Option<PathBuf>,
    /// The name this machine registers as.
    pub client_machine: String,
    /// The registration credential, for the first registration.
    pub registration: Option<(String, String)>,
    /// Time between sessions; default: what the server says (minutes).
    pub heartbeat: Option<Duration>,
}

/// The running agent's parts.
pub(crate) struct Agent {
    options: AgentOptions,
    config: OperatorConfig,
    files: IdentityFiles,
    registry: Arc<PluginRegistry>,
    authority: ServerAuthority,
}

/// Runs the agent until `shutdown`: registers, enrolls, and runs its jobs every
/// heartbeat. Prints `agent <id> enrolled` once it holds a certificate.
pub async fn run(options: AgentOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    let files = IdentityFiles::new(&options.data_dir)?;
    options
        .config
        .check_own_folders(&[&options.data_dir, &options.plugins_dir])?;
    let state_db = keywarden_db::connect(&format!(
        "sqlite://{}",
        options.data_dir.join("agent-state.db").display()
    ))
    .await
    .context("cannot open the agent's state database")?;
    let authority = ServerAuthority::default();
    let services = HostServices {
        secrets: Arc::new(ConfiguredSecrets::new(options.config.secrets.clone())),
        state: crate::server::background::state_backend(state_db),
        authority: Some(Arc::new(authority.clone())),
        tls_prober: None,
    };
    let runtime = Runtime::new(
        options.config.clone(),
        Some(options.data_dir.join("cache")),
        services,
    )?;
    let registry = PluginRegistry::new(runtime, options.plugins_dir.clone());
    let summary = registry.scan().await;
    tracing::info!(loaded = ?summary.loaded, failed = ?summary.failed, "agent plugins loaded");
    let agent = Agent {
        config: options.config.clone(),
        options,
        files,
        registry,
        authority,
    };
    let mut failures = 0u32;
    loop {
        let pause = match agent.cycle().await {
            Ok(next) => {
                failures = 0;
                next
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let backoff =
                    Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60));
                tracing::warn!(error = %format!("{e:#}"), retry_in = ?backoff, "agent session failed");
                backoff
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
    }
}

impl Agent {
    /// What it announces: `CertStores.<TYPE>.<Operation>` for each store operation its
    /// plugins provide, and that it takes jobs whole.
    fn capabilities(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .registry
            .plugins()
            .iter()
            .flat_map(|p| p.manifest.operations.clone())
            .filter(|o| o.family == Family::CertificateStore)
            .filter_map(|o| {
                let t = crate::certificates::canonical_store_type(o.target.as_deref()?);
                Some(format!("CertStores.{t}.{}", o.name))
            })
            .collect();
        out.sort();
        out.dedup();
        out.push(KEYWARDEN_JOBS.to_owned());
        out
    }

    fn heartbeat(&self, told: Duration) -> Duration {
        self.options.heartbeat.unwrap_or(told)
    }

    /// One registration (enrolling or renewing when needed) and the jobs it hands out.
    /// Returns how long to wait before the next.
    async fn cycle(&self) -> anyhow::Result<Duration> {
        let ca = self.options.server_ca.as_deref();
        let machine = &self.options.client_machine;
        let capabilities = self.capabilities();
        if self.files.client_pem().is_some() && self.files.certificate_expired(chrono::Utc::now()) {
            tracing::warn!(
                "the agent's client certificate expired; enrolling again as a new agent"
            );
            self.files.forget();
        }
        let Some(identity) = self.files.client_pem() else {
            return self.enroll(&capabilities).await;
        };
        let agent_id = self.files.load().agent_id;
        let client = ProtocolClient::new(&self.options.server, ca, Some(&identity), None)?;
        let mut answer = client
            .register(machine, agent_id.as_deref(), &capabilities, None)
            .await?;
        if let Registration::Renew = answer {
            let fresh = new_key_and_csr(machine)?;
            answer = client
                .register(
                    machine,
                    agent_id.as_deref(),
                    &capabilities,
                    Some(&fresh.csr_der),
                )
                .await?;
            if let Registration::Session(s) = &answer {
                let cert = s
                    .certificate
                    .as_deref()
                    .context("the renewal answer carries no certificate")?;
                self.files.save(&fresh.key_pem, cert, &s.agent_id)?;
                tracing::info!(agent = %s.agent_id, "renewed the agent's client certificate");
            }
        }
        let session = match answer {
            Registration::Session(s) => s,
            Registration::Pending(why) => {
                tracing::info!("the server opened no session: {why}");
                return Ok(self.heartbeat(Duration::from_secs(60)));
            }
            Registration::Renew => anyhow::bail!("the server asked for a renewal twice"),
        };
        // After a renewal the old connection's certificate is still accepted (as
        // legacy); jobs use a client with the current one.
        let identity = self.files.client_pem().context("the agent's identity")?;
        let client = ProtocolClient::new(&self.options.server, ca, Some(&identity), None)?;
        for job in &session.jobs {
            if let Err(e) = runner::run(self, &client, &session.token, &session.agent_id, job).await
            {
                tracing::warn!(job = %job.0, error = %format!("{e:#}"), "a job could not be reported");
            }
        }
        Ok(self.heartbeat(session.heartbeat))
    }

    /// The first registration with the registration credential and a CSR.
    async fn enroll(&self, capabilities: &[String]) -> anyhow::Result<Duration> {
        let credential = self.options.registration.clone().context(
            "the agent has no certificate yet: give it a registration credential \
             (--registration-user, KEYWARDEN_AGENT_PASSWORD)",
        )?;
        let client = ProtocolClient::new(
            &self.options.server,
            self.options.server_ca.as_deref(),
            None,
            Some(credential),
        )?;
        let fresh = new_key_and_csr(&self.options.client_machine)?;
        match client
            .register(
                &self.options.client_machine,
                None,
                capabilities,
                Some(&fresh.csr_der),
            )
            .await?
        {
            Registration::Session(s) => {
                let cert = s
                    .certificate
                    .as_deref()
                    .context("the enrollment answer carries no certificate")?;
                self.files.save(&fresh.key_pem, cert, &s.agent_id)?;
                println!("agent {} enrolled", s.agent_id);
                Ok(Duration::ZERO)
            }
            Registration::Pending(why) => {
                tracing::info!("waiting for approval: {why}");
                Ok(self.heartbeat(Duration::from_secs(60)))
            }
            Registration::Renew => anyhow::bail!("the server asked an unenrolled agent to renew"),
        }
    }
}

//! The operator's TOML configuration: default job limits, what each plugin is granted,
//! and where named secrets come from.
//!
//! Grants are keyed by the plugin's *file name* (without `.wasm`), not by the name the
//! plugin gives itself, so a dropped-in file cannot claim another plugin's grants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Grants per plugin file stem.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginGrants>,
    /// Where each named secret's value comes from.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Server settings (the `serve` command).
    #[serde(default)]
    pub server: ServerConfig,
    /// Certificate authorities for the `enrollment` import, by name.
    #[serde(default)]
    pub authorities: BTreeMap<String, crate::authority::config::AuthorityConfig>,
    /// The authority CSRs go to when a plugin names none (optional with a single one).
    pub default_authority: Option<String>,
    /// Remote agents (orchestrators): approval, sessions, their client certificates.
    #[serde(default)]
    pub agents: AgentsConfig,
    /// Commands `keywarden agent` runs before and after the jobs of a store type
    /// (`[agent_hooks.PEM]`), like Keyfactor orchestrators' pre- and post-scripts.
    #[serde(default)]
    pub agent_hooks: BTreeMap<String, AgentHooks>,
    /// What each account (team) may use: plugins and their part of the plugins' grants,
    /// authorities with issuance policies, quotas. An account without a table can run
    /// nothing; the `admin` account has the plugins' own grants.
    #[serde(default)]
    pub accounts: BTreeMap<String, crate::tenancy::config::AccountConfig>,
    /// How long finished jobs are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// What TLS probes judge certificates against.
    #[serde(default)]
    pub tls_probing: TlsProbingConfig,
    /// Where alerts go.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Where `database_backup` writes backups and the SFTP servers it may upload to.
    #[serde(default)]
    pub backup: crate::backup::config::BackupConfig,
}

/// Alert delivery (`[alerts]`): a webhook that receives each alert once as JSON, signed
/// with HMAC-SHA256 under a secret named in `[secrets]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// `http://` or `https://` URL; none: alerts are kept (and listed) but not sent.
    pub webhook_url: Option<String>,
    /// The `[secrets]` entry whose value signs the requests (required with a URL).
    pub webhook_secret: Option<String>,
    /// Attempts before an alert is given up (default 8).
    pub max_attempts: u32,
    /// The first retry's delay in seconds, doubled each time up to `max_backoff_secs`
    /// (defaults 5 and 3600).
    pub backoff_secs: u64,
    pub max_backoff_secs: u64,
    /// How often a node looks for alerts to send, in milliseconds (default 1000).
    pub interval_ms: u64,
    /// Time limit of one delivery request, in seconds (default 10).
    pub timeout_secs: u64,
    /// An alert held back by quiet hours is looked at again after this many seconds at
    /// most, so a change of the network's quiet hours applies soon (default 60).
    pub quiet_recheck_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret: None,
            max_attempts: 8,
            backoff_secs: 5,
            max_backoff_secs: 3600,
            interval_ms: 1000,
            timeout_secs: 10,
            quiet_recheck_secs: 60,
        }
    }
}

/// The roots a TLS probe's "trusted" verdict is judged against (`[tls_probing]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsProbingConfig {
    /// PEM files whose certificates are trusted roots (an internal CA).
    pub roots: Vec<PathBuf>,
    /// Also trust the operating system's roots (default true).
    pub system_roots: bool,
    /// The most addresses an SSL network's ranges may name together (default 65536).
    pub max_network_addresses: u64,
    /// The most endpoints (addresses × ports) a network's ranges may name together
    /// (default 262144).
    pub max_network_endpoints: u64,
    /// The most endpoints (addresses × ports) one part of a scan probes; a larger scan
    /// is split into parts, each its own job (default 4096; 1 to 65536).
    pub part_endpoints: u64,
    /// The plugin operations a discovery and a monitoring scan run (default the bundled
    /// `ssl-scan` plugin's).
    pub discovery_operation: String,
    pub monitoring_operation: String,
}

impl Default for TlsProbingConfig {
    fn default() -> Self {
        Self {
            roots: Vec::new(),
            system_roots: true,
            max_network_addresses: 65_536,
            max_network_endpoints: 262_144,
            part_endpoints: 4096,
            discovery_operation: "ssl_discovery".into(),
            monitoring_operation: "ssl_monitoring".into(),
        }
    }
}

/// How long finished jobs are kept (`[retention]`). Every node purges; the database makes
/// sure each job is deleted and counted once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Finished jobs (completed, failed, cancelled) are deleted this many days after they
    /// ended, their outcomes kept as counts (`GET /api/v1/scheduler/jobs/counts`); 0
    /// keeps them for good. Default 30.
    pub finished_jobs_days: u32,
    /// How often a node looks for jobs to purge, in seconds. Default 600.
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            finished_jobs_days: 30,
            interval_secs: 600,
        }
    }
}

/// Commands around the jobs of one store type on `keywarden agent`. Each is an argv list
/// run without a shell, with a time limit; the job's id, operation, store path and (after)
/// its result are in `KEYWARDEN_JOB_ID`, `KEYWARDEN_OPERATION`, `KEYWARDEN_STORE_PATH` and
/// `KEYWARDEN_JOB_RESULT`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentHooks {
    /// Run before the job; a failure (non-zero exit, time-out) fails the job unrun.
    #[serde(default)]
    pub pre: Vec<String>,
    /// Run after the job; a failure turns a success into a warning.
    #[serde(default)]
    pub post: Vec<String>,
    /// Only after jobs of these operations (`Management`, ...); all when empty.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Time limit of each command.
    #[serde(default = "default_hook_secs")]
    pub timeout_secs: u64,
}

fn default_hook_secs() -> u64 {
    30
}

/// The `[agents]` section: how the server treats orchestrators.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// New agents are approved at their first registration (no operator step).
    #[serde(default)]
    pub auto_approve: bool,
    /// How long a session token stays usable after its registration.
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u32,
    /// How long an agent has to complete a job it was handed before the job fails.
    #[serde(default = "default_agent_job_lease_secs")]
    pub job_lease_secs: u64,
    /// Validity of the client certificates the agent CA issues.
    #[serde(default = "default_agent_certificate_days")]
    pub certificate_validity_days: u32,
    /// The heartbeat interval told to agents, in minutes.
    #[serde(default = "default_heartbeat_minutes")]
    pub heartbeat_minutes: u32,
    /// The agent CA's own certificate and key (PEM), instead of a generated root in
    /// `<data-dir>/agent-ca/`.
    pub ca_cert_file: Option<PathBuf>,
    pub ca_key_file: Option<PathBuf>,
}

fn default_session_minutes() -> u32 {
    30
}

fn default_agent_job_lease_secs() -> u64 {
    600
}

fn default_agent_certificate_days() -> u32 {
    365
}

fn default_heartbeat_minutes() -> u32 {
    5
}

impl Default for AgentsConfig {
    fn default() -> Self {
        toml::from_str("").expect("every [agents] field has a default")
    }
}

impl OperatorConfig {
    /// Refuses a plugin's TLS probe grant that does not parse (a network that is not a
    /// CIDR, a port range that ends before it starts, a zero rate).
    pub fn check_probe_grants(&self) -> anyhow::Result<()> {
        if !(1..=65_536).contains(&self.tls_probing.part_endpoints) {
            anyhow::bail!("[tls_probing] part_endpoints must be 1 to 65536");
        }
        for (plugin, grants) in &self.plugins {
            grants
                .probe_scope()
                .map_err(|e| anyhow::anyhow!("[plugins.{plugin}] tls_networks / tls_ports: {e}"))?;
            if grants.tls_rate_per_sec == Some(0) || grants.tls_concurrency == Some(0) {
                anyhow::bail!(
                    "[plugins.{plugin}]: tls_rate_per_sec and tls_concurrency must be at least 1"
                );
            }
        }
        Ok(())
    }

    /// Refuses a writable directory grant that overlaps one of Keywarden's own folders
    /// (its data dir with the database, keys and compile cache; the plugins folder): a
    /// plugin could otherwise rewrite a key, the cache it is run from, or another plugin.
    pub fn check_own_folders(&self, own: &[&Path]) -> anyhow::Result<()> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        for (plugin, grants) in &self.plugins {
            for dir in grants.dirs.iter().filter(|d| d.writable) {
                let granted = canonical(&dir.host);
                for folder in own {
                    let folder = canonical(folder);
                    if granted.starts_with(&folder) || folder.starts_with(&granted) {
                        anyhow::bail!(
                            "plugin {plugin}: the writable grant {} overlaps Keywarden's own folder {}",
                            dir.host.display(),
                            folder.display()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads and parses a config file, naming the file in errors.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))
    }

    /// The grants for a plugin file stem; a plugin the operator did not mention gets none.
    pub fn grants_for(&self, plugin: &str) -> PluginGrants {
        self.plugins.get(plugin).cloned().unwrap_or_default()
    }
}

/// Engine-wide settings and the default limits every job runs under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Wall-clock limit per job.
    pub timeout_secs: u64,
    /// Linear-memory cap per job.
    pub memory_mb: u64,
    /// Optional instruction budget per job (enables fuel metering engine-wide).
    pub fuel: Option<u64>,
    /// Cap on the bytes of log lines (and captured stdout/stderr) kept per job.
    pub max_log_kb: u64,
    /// Cap on the size of a job's message plus details.
    pub max_output_kb: u64,
    /// How many plugin instances may be alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Largest memory cap any plugin may be given; sizes the pooling allocator.
    pub max_memory_mb: u64,
    /// Where compiled components are cached; defaults to `<data-dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    /// The key cache entries are authenticated with; defaults to `<data-dir>/cache.key`
    /// (made at first use). Keep it where only the server's user can read it.
    pub cache_key_file: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 300,
            memory_mb: 256,
            fuel: None,
            max_log_kb: 256,
            max_output_kb: 256,
            max_instances: 100,
            max_memory_mb: 1024,
            cache_dir: None,
            cache_key_file: None,
        }
    }
}

/// What the operator allows one plugin.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginGrants {
    /// Hosts the plugin may reach over wasi:http: `name` (HTTPS on 443), `name:port`
    /// (HTTPS on that port) or `http://name[:port]` (plain HTTP allowed).
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
    /// Directories preopened for the plugin.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// Secret names the plugin may reveal.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// May the plugin use the `tls` probe import (still limited to `outbound_hosts`)?
    #[serde(default)]
    pub tls_probe: bool,
    /// Networks the plugin may probe (`127.0.0.0/8`, `10.1.0.0/16`, an address); none
    /// means nothing may be probed.
    #[serde(default)]
    pub tls_networks: Vec<String>,
    /// Ports it may probe (`443`, `8000-8100`); none means 443 only.
    #[serde(default)]
    pub tls_ports: Vec<String>,
    /// New probes a second, across all its jobs on a node (default 50).
    pub tls_rate_per_sec: Option<u32>,
    /// Probes at once, across all its jobs on a node (default 16).
    pub tls_concurrency: Option<u32>,
    /// May the plugin submit CSRs through the `enrollment` import?
    #[serde(default)]
    pub csr_enrollment: bool,
    /// Overrides of the runtime's default limits for this plugin.
    pub timeout_secs: Option<u64>,
    pub memory_mb: Option<u64>,
    pub fuel: Option<u64>,
    /// Plugin settings: values the plugin reads through the WIT `config` import
    /// (`settings = { region = "eu-west-1" }`; the older key `config` is accepted).
    #[serde(default, alias = "config")]
    pub settings: BTreeMap<String, String>,
}

impl PluginGrants {
    /// Where the plugin may probe for TLS.
    pub fn probe_scope(&self) -> Result<crate::discovery::scope::ProbeScope, String> {
        crate::discovery::scope::ProbeScope::parse(&self.tls_networks, &self.tls_ports)
    }

    /// How fast it may probe.
    pub fn probe_limits(&self) -> crate::discovery::limits::ProbeLimits {
        let d = crate::discovery::limits::ProbeLimits::default();
        crate::discovery::limits::ProbeLimits {
            rate_per_sec: self.tls_rate_per_sec.unwrap_or(d.rate_per_sec).max(1),
            concurrency: self.tls_concurrency.unwrap_or(d.concurrency).max(1),
        }
    }
}

/// One preopened directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path the plugin sees.
    pub guest: String,
    #[serde(default)]
    pub writable: bool,
}

/// Where a secret's value is read from at run time. Values are never copied into job
/// params, logs or the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable of the server process.
    Env(String),
    /// A file whose contents (trailing newline trimmed) are the value.
    File(PathBuf),
    /// The value itself, for labs and tests.
    Value(String),
}

/// Settings of the `serve` command that may also come from the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub node_id: Option<String>,
    pub concurrency: Option<usize>,
    /// How long a job claim holds without renewal (renewed every third of it); a job
    /// of a node that died is picked up again after this. Default 30.
    pub lease_secs: Option<u64>,
    /// How often this node records that it is alive (default 10). Other nodes count it
    /// dead after three missed heartbeats (`GET /api/v1/nodes`), and a restart on the
    /// same node id waits about one heartbeat to tell a crash from a running process.
    pub heartbeat_secs: Option<u64>,
    /// Serve HTTPS with this PEM certificate (leaf, then its chain) and `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from Keywarden's own CA in `<data-dir>/tls/`.
    #[serde(default)]
    pub tls_internal_ca: bool,
    /// Names (DNS or IP) the internal CA's server certificate carries besides
    /// `localhost`, `127.0.0.1` and `::1`.
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// The longest a request may take, body read included (default 60): a client that
    /// sends slowly or never finishes gets 503 and the connection back.
    pub request_timeout_secs: Option<u64>,
    /// The share of this node's job slots one account may hold while other accounts'
    /// jobs wait (default 0.5; 1 turns fair claiming off).
    pub account_share: Option<f64>,
    /// How long before its time a fire is queued (default 2000, at most 60000; 0 queues
    /// fires when due). The firing's database work is then done before the fire's
    /// second, so many configs on one schedule start on time; see docs/scheduling.md.
    pub fire_ahead_ms: Option<u64>,
    /// Also serve `GET /metrics` here, without a token, for a Prometheus that cannot
    /// send one (e.g. `127.0.0.1:9464`). On the main address `/metrics` always needs a
    /// token of the admin account.
    pub metrics_listen: Option<String>,
}

/// Longest `[server] fire_ahead_ms`: a fire is queued at most a minute before its time.
pub const MAX_FIRE_AHEAD_MS: u64 = 60_000;

impl ServerConfig {
    /// How long before its time a fire is queued (`fire_ahead_ms`, default 2 s, at most
    /// [`MAX_FIRE_AHEAD_MS`]).
    pub fn fire_ahead(&self) -> std::time::Duration {
        self.fire_ahead_ms
            .map_or(crate::scheduler::tick::DEFAULT_FIRE_AHEAD, |ms| {
                std::time::Duration::from_millis(ms.min(MAX_FIRE_AHEAD_MS))
            })
    }
}

/// The limits one job runs under, after applying a plugin's overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    pub timeout: Duration,
    pub memory_bytes: usize,
    pub fuel: Option<u64>,
    pub max_log_bytes: usize,
    pub max_output_bytes: usize,
}

impl JobLimits {
    /// Limits for `grants` on top of the runtime defaults.
    pub fn resolve(runtime: &RuntimeConfig, grants: &PluginGrants) -> Self {
        let mb = |m: u64| usize::try_from(m.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let memory_mb = grants
            .memory_mb
            .unwrap_or(runtime.memory_mb)
            .min(runtime.max_memory_mb);
        Self {
            timeout: Duration::from_secs(grants.timeout_secs.unwrap_or(runtime.timeout_secs)),
            memory_bytes: mb(memory_mb),
            fuel: grants.fuel.or(runtime.fuel),
            max_log_bytes: usize::try_from(runtime.max_log_kb * 1024).unwrap_or(usize::MAX),
            max_output_bytes: usize::try_from(runtime.max_output_kb * 1024).unwrap_or(usize::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_grants_that_do_not_parse_stop_the_start() {
        let ok: OperatorConfig = toml::from_str(
            "[plugins.scan]\ntls_probe = true\ntls_networks = [\"127.0.0.0/8\"]\ntls_ports = [\"443\", \"8000-8100\"]\n",
        )
        .unwrap();
        ok.check_probe_grants().unwrap();
        assert_eq!(ok.grants_for("scan").probe_limits().rate_per_sec, 50);
        for (bad, says) in [
            ("tls_networks = [\"127.0.0.0/40\"]", "tls_networks"),
            ("tls_ports = [\"9000-8000\"]", "ends before it starts"),
            ("tls_rate_per_sec = 0", "at least 1"),
            ("tls_concurrency = 0", "at least 1"),
        ] {
            let cfg: OperatorConfig = toml::from_str(&format!("[plugins.scan]\n{bad}\n")).unwrap();
            let err = cfg.check_probe_grants().unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("[plugins.scan]"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn parses_a_full_config_and_applies_overrides() {
        let cfg: OperatorConfig = toml::from_str(
            r#"
            [runtime]
            timeout_secs = 30
            memory_mb = 64
            [secrets]
            aws_key = { env = "AWS_SECRET_ACCESS_KEY" }
            lab = { value = "s3cret" }
            [plugins.hello]
            outbound_hosts = ["http://127.0.0.1:4566"]
            secrets = ["lab"]
            memory_mb = 4096
            config = { greeting = "Hi" }
            [[plugins.hello.dirs]]
            host = "/tmp"
            guest = "/data"
            writable = true
            [server]
            concurrency = 4
            lease_secs = 10
            heartbeat_secs = 2
            "#,
        )
        .unwrap();
        let grants = cfg.grants_for("hello");
        assert_eq!(grants.outbound_hosts, ["http://127.0.0.1:4566"]);
        assert!(grants.dirs[0].writable);
        // `config` is the older name of a plugin's settings.
        assert_eq!(grants.settings["greeting"], "Hi");
        let limits = JobLimits::resolve(&cfg.runtime, &grants);
        assert_eq!(limits.timeout, Duration::from_secs(30));
        // A plugin cannot be granted more than the pool's largest slot.
        assert_eq!(limits.memory_bytes, 1024 << 20);
        assert!(cfg.grants_for("unknown").secrets.is_empty());
        assert_eq!(
            (
                cfg.server.concurrency,
                cfg.server.lease_secs,
                cfg.server.heartbeat_secs
            ),
            (Some(4), Some(10), Some(2))
        );
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = toml::from_str::<OperatorConfig>("[plugins.x]\nhosts = []").unwrap_err();
        assert!(err.to_string().contains("unknown field `hosts`"), "{err}");
    }
}

#[cfg(test)]
mod own_folder_tests {
    use super::*;

    #[test]
    fn a_writable_grant_may_not_overlap_keywardens_own_folders() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let plugins = root.path().join("plugins");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&plugins).unwrap();
        let config = |host: &Path, writable: bool| -> OperatorConfig {
            toml::from_str(&format!(
                "[plugins.p]\ndirs = [{{ host = {:?}, guest = \"/d\", writable = {writable} }}]\n",
                host.display().to_string()
            ))
            .unwrap()
        };
        let own = [data.as_path(), plugins.as_path()];
        for bad in [
            data.join("cache"),
            plugins.clone(),
            root.path().to_path_buf(),
        ] {
            assert!(
                config(&bad, true).check_own_folders(&own).is_err(),
                "{}",
                bad.display()
            );
        }
        assert!(
            config(&data, false).check_own_folders(&own).is_ok(),
            "read-only is fine"
        );
        let elsewhere = root.path().join("stores");
        assert!(config(&elsewhere, true).check_own_folders(&own).is_ok());
    }
}

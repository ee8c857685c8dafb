//! The `keywarden` command line.

pub mod agent;
pub mod client;
pub mod plugins;
pub mod restore;
pub mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps keys and certificates fresh: schedules lifecycle jobs and runs each operation
/// as a sandboxed WebAssembly component.
#[derive(Debug, Parser)]
#[command(name = "keywarden", version, about)]
pub struct Cli {
    /// How log lines on stderr look: `text` for people, `json` (one object per line,
    /// fields at the top level) for a log pipeline.
    #[arg(long, global = true, env = "KEYWARDEN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// Installs the process's log subscriber: levels from `KEYWARDEN_LOG` (default:
    /// warnings, and the line per job start and end), lines on stderr. They are written
    /// by a thread of their own, dropping lines rather than waiting when the reader of
    /// stderr stalls: a stuck log pipeline must not stop jobs from being recorded.
    /// Keep the guard until the end of `main`; dropping it flushes what is queued.
    pub fn install(self) -> tracing_appender::non_blocking::WorkerGuard {
        let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
        let filter =
            tracing_subscriber::EnvFilter::try_from_env("KEYWARDEN_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(format!(
                    "warn,{}=info,{}=info",
                    crate::executor::JOB_LOG_TARGET,
                    crate::executor::LIFECYCLE_LOG_TARGET
                ))
            });
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer);
        match self {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .init(),
        }
        guard
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Keywarden's orchestrator: register with a server and run the jobs of the
    /// certificate stores on this machine with the local plugins.
    Agent(AgentArgs),
    /// Orchestrators (Keyfactor agents) and their registration credentials.
    Agents(client::Remote<client::agents::AgentsCommand>),
    /// Alerts and their webhook delivery.
    Alerts(client::Remote<client::alerts::AlertsCommand>),
    /// Any request by hand, the server's health and its OpenAPI document.
    Api(client::Remote<client::api::ApiCommand>),
    /// The audit log (admins only).
    Audit(client::Remote<client::audit::AuditCommand>),
    /// Print a shell's completion script (`bash`, `zsh`, `fish`, `elvish`, `powershell`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Job configs: what runs, when and with which params.
    Configs(client::Remote<client::configs::ConfigsCommand>),
    /// Keyfactor custom jobs.
    Custom(client::Remote<client::custom::CustomCommand>),
    /// Keyfactor job history: query, reschedule, acknowledge.
    History(client::Remote<client::history::HistoryCommand>),
    /// Jobs: list, follow, logs, retry; run a config and wait for its result.
    Jobs(client::Remote<client::jobs::JobsCommand>),
    /// Synchronized cloud keys.
    Keys(client::Remote<client::keys::KeysCommand>),
    /// The nodes (processes) that run jobs: version, last heartbeat, running jobs, alive.
    Nodes(client::Remote<client::nodes::NodesCommand>),
    /// The server's plugins; `--plugins-dir`, `inspect` and `run` work on local files.
    Plugins(client::Remote<PluginsCommand>),
    /// Restore a backup (from `database_backup`) into an empty database.
    Restore(RestoreArgs),
    /// Run a Keywarden node: HTTP API, scheduler and executor.
    Serve(ServeArgs),
    /// TLS discovery: networks, ranges, scans and the endpoints found.
    Ssl(client::Remote<client::ssl::SslCommand>),
    /// Certificate stores (Keyfactor): CRUD, inventory, schedules, certificates, discovery.
    Stores(client::Remote<client::stores::StoresCommand>),
    /// API tokens; `tokens create --data-dir` works on the database, for recovery.
    Tokens(client::Remote<TokensCommand>),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: `[server] listen`, else 127.0.0.1:8080].
    #[arg(long, env = "KEYWARDEN_LISTEN")]
    pub listen: Option<String>,
    /// Holds the SQLite database, the bootstrap admin token and the compile cache.
    #[arg(long, env = "KEYWARDEN_DATA_DIR")]
    pub data_dir: PathBuf,
    #[arg(long, env = "KEYWARDEN_PLUGINS_DIR")]
    pub plugins_dir: PathBuf,
    /// Operator config (grants, limits, secrets, `[server]` defaults).
    #[arg(long, env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// `postgres://...` or `sqlite://...` [default: `sqlite://<data-dir>/keywarden.db`].
    #[arg(long, env = "KEYWARDEN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// This node's id (`run_on`, `processing_node`) [default: `[server] node_id`, else host name].
    #[arg(long, env = "KEYWARDEN_NODE_ID")]
    pub node_id: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How `serve` does HTTPS. Without any of these (here or in `[server]`), it serves plain
/// HTTP. When a flag or its variable chooses the certificate, the config file's choice is
/// ignored.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate (leaf, then its chain) [default: `[server] tls_cert`].
    #[arg(long, env = "KEYWARDEN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert: PKCS#8, PKCS#1 or SEC1 [default: `[server] tls_key`].
    #[arg(long, env = "KEYWARDEN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from Keywarden's own CA, kept in <data-dir>/tls/
    /// (clients trust its ca-cert.pem) [default: `[server] tls_internal_ca`].
    #[arg(
        long,
        env = "KEYWARDEN_TLS_INTERNAL_CA",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub tls_internal_ca: bool,
    /// A name (DNS or IP) the internal CA's certificate carries besides localhost,
    /// 127.0.0.1 and ::1; repeatable [default: `[server] tls_names`].
    #[arg(long = "tls-name", env = "KEYWARDEN_TLS_NAMES", value_delimiter = ',')]
    pub tls_names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file (`keywarden-backup-*.age`).
    pub backup: PathBuf,
    /// The backup key (an age identity or the passphrase). Other users see it in process
    /// lists: prefer --backup-key-file or the KEYWARDEN_BACKUP_KEY variable.
    #[arg(long, conflicts_with = "backup_key_file")]
    pub backup_key: Option<String>,
    /// A file holding the backup key (e.g. from `age-keygen -o`).
    #[arg(long)]
    pub backup_key_file: Option<PathBuf>,
    /// The backup key from the environment, when neither flag gives it.
    #[arg(skip = std::env::var("KEYWARDEN_BACKUP_KEY").ok())]
    pub backup_key_env: Option<String>,
    /// The new node's data dir (its SQLite database by default).
    #[arg(long, env = "KEYWARDEN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Operator config (for `[server] database_url`).
    #[arg(long, env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// The empty database to restore into: `postgres://...` or `sqlite://...`
    /// [default: `sqlite://<data-dir>/keywarden.db`].
    #[arg(long, env = "KEYWARDEN_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The server's base URL (`https://host:port`).
    #[arg(long, env = "KEYWARDEN_SERVER")]
    pub server: String,
    /// Holds the agent's key, client certificate and id (owner-only), and its caches.
    #[arg(long, env = "KEYWARDEN_AGENT_DATA_DIR")]
    pub data_dir: PathBuf,
    #[arg(long, env = "KEYWARDEN_PLUGINS_DIR")]
    pub plugins_dir: PathBuf,
    /// Operator config of this machine (grants, secrets, `[agent_hooks.TYPE]`).
    #[arg(long, env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// The CA the server's certificate chains to [default: the system's roots].
    #[arg(long, env = "KEYWARDEN_SERVER_CA")]
    pub server_ca: Option<PathBuf>,
    /// The name this machine registers as [default: the host name].
    #[arg(long, env = "KEYWARDEN_CLIENT_MACHINE")]
    pub client_machine: Option<String>,
    /// The registration credential's username (first registration only).
    #[arg(long, env = "KEYWARDEN_AGENT_USER")]
    pub registration_user: Option<String>,
    /// Its password; only from the environment, so it does not show in process lists.
    #[arg(skip = std::env::var("KEYWARDEN_AGENT_PASSWORD").ok())]
    pub registration_password: Option<String>,
    /// Seconds between sessions [default: the server's heartbeat interval].
    #[arg(long, env = "KEYWARDEN_HEARTBEAT_SECS")]
    pub heartbeat_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token and print it once (the server keeps only its hash). With
    /// `--data-dir` it is written directly into that node's database (for when every
    /// admin token is lost); else the server issues it (admins only).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "")]
        label: String,
        /// The token may act on every account and issue tokens (`--role admin`).
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        /// read-only, operator or admin.
        #[arg(long, default_value = "operator", value_parser = parse_role)]
        role: keywarden_db::TokenRole,
        /// The token stops working after this many days (default: never).
        #[arg(long, conflicts_with = "expires_at")]
        expires_in_days: Option<u32>,
        /// The token stops working at this RFC 3339 instant (server only).
        #[arg(long, conflicts_with = "data_dir")]
        expires_at: Option<String>,
        /// Write the token into this node's database instead of asking the server.
        #[arg(long, env = "KEYWARDEN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[arg(long, env = "KEYWARDEN_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, env = "KEYWARDEN_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// List tokens, without their secrets.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// The server's plugins (those the caller's account may use, and files that failed
    /// to load); with `--plugins-dir`, load every plugin of a local folder instead.
    List {
        #[arg(long, env = "KEYWARDEN_PLUGINS_DIR")]
        plugins_dir: Option<PathBuf>,
        /// Operator config (grants, limits); optional for listing.
        #[arg(long, env = "KEYWARDEN_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Load one component and print its manifest and requested capabilities.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run one custom operation of a plugin file once, with the config's grants, and
    /// print the outcome. Meant for plugin authors.
    Run {
        file: PathBuf,
        #[arg(long)]
        operation: String,
        /// Params as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
        #[arg(long, env = "KEYWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// Files Keywarden makes (its database, and the stores plugins write through their
/// grants) start readable by its user only: a plugin writing a private key cannot set
/// permissions (WASI has no chmod), so the key is never world-readable, not even between
/// its write and the executor restoring the store's previous mode.
pub fn owner_only_new_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn parse_role(word: &str) -> Result<keywarden_db::TokenRole, String> {
    word.parse()
        .map_err(|e: keywarden_db::UnknownWord| e.to_string())
}

//! `keywarden serve` and `keywarden tokens`: resolving flags, environment and the config
//! file's `[server]` section (in that order of precedence) into server options.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::tokens::{generate_token, hash_token};
use crate::operator_config::OperatorConfig;
use crate::server::{ServeOptions, serve};

/// Listen address when neither flag, environment nor config file names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

fn load_config(config: Option<&Path>) -> anyhow::Result<OperatorConfig> {
    match config {
        Some(path) => OperatorConfig::load(path),
        None => Ok(OperatorConfig::default()),
    }
}

fn database_url(flag: Option<String>, config: &OperatorConfig, data_dir: &Path) -> String {
    flag.or_else(|| config.server.database_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("keywarden.db").display()))
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    eprintln!("shutdown requested; finishing running jobs");
}

/// `keywarden serve`: runs until SIGINT/SIGTERM, then drains and returns.
pub async fn run(
    listen: Option<String>,
    data_dir: PathBuf,
    plugins_dir: PathBuf,
    config: Option<PathBuf>,
    database_url_flag: Option<String>,
    node_id: Option<String>,
) -> anyhow::Result<bool> {
    let operator = load_config(config.as_deref())?;
    if !plugins_dir.is_dir() {
        anyhow::bail!("plugins folder {} does not exist", plugins_dir.display());
    }
    let listen = listen
        .or_else(|| operator.server.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut options = ServeOptions::new(&data_dir, plugins_dir);
    options.database_url = Some(database_url(database_url_flag, &operator, &data_dir));
    options.node_id = node_id;
    options.config = operator;
    // Listen for signals from now on, so one arriving during start-up (plugin compilation
    // can take a while) still ends in an orderly shutdown instead of the default kill.
    let requested = tokio_util::sync::CancellationToken::new();
    let trigger = requested.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.cancel();
    });
    serve(listener, options, requested.cancelled_owned()).await?;
    Ok(true)
}

/// `keywarden tokens create`: issues a token straight into the database, for operators
/// who have lost the admin token or script their setup. Prints the token once.
pub async fn create_token(
    data_dir: PathBuf,
    config: Option<PathBuf>,
    database_url_flag: Option<String>,
    account: &str,
    label: &str,
    admin: bool,
) -> anyhow::Result<bool> {
    let operator = load_config(config.as_deref())?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let url = database_url(database_url_flag, &operator, &data_dir);
    let store = keywarden_db::connect(&url)
        .await
        .context("cannot open the database")?;
    let token = generate_token();
    store
        .create_token(account, &hash_token(&token), admin, label)
        .await?;
    println!("{token}");
    Ok(true)
}

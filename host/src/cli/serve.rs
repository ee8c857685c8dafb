//! `keywarden serve` and `keywarden tokens`: resolving flags, environment and the config
//! file's `[server]` section (in that order of precedence) into server options.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::TlsArgs;
use crate::domain::tokens::{generate_token, hash_token};
use crate::operator_config::{OperatorConfig, ServerConfig};
use crate::server::{ServeOptions, TlsOptions, serve};

/// Listen address when neither flag, environment nor config file names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub(crate) fn load_config(config: Option<&Path>) -> anyhow::Result<OperatorConfig> {
    match config {
        Some(path) => OperatorConfig::load(path),
        None => Ok(OperatorConfig::default()),
    }
}

pub(crate) fn database_url(
    flag: Option<String>,
    config: &OperatorConfig,
    data_dir: &Path,
) -> String {
    flag.or_else(|| config.server.database_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("keywarden.db").display()))
}

/// The server certificate flags and environment choose, else the one `[server]` names,
/// else none (plain HTTP). Names for the internal CA come from the flags when given.
pub fn resolve_tls(args: &TlsArgs, server: &ServerConfig) -> anyhow::Result<Option<TlsOptions>> {
    let from_flags = args.tls_cert.is_some() || args.tls_key.is_some() || args.tls_internal_ca;
    let (cert, key, internal_ca) = if from_flags {
        (
            args.tls_cert.clone(),
            args.tls_key.clone(),
            args.tls_internal_ca,
        )
    } else {
        (
            server.tls_cert.clone(),
            server.tls_key.clone(),
            server.tls_internal_ca,
        )
    };
    let names = if args.tls_names.is_empty() {
        server.tls_names.clone()
    } else {
        args.tls_names.clone()
    };
    match (cert, key, internal_ca) {
        (Some(_), Some(_), true) => {
            anyhow::bail!(
                "choose either a certificate (tls_cert, tls_key) or the internal CA, not both"
            )
        }
        (Some(cert), Some(key), false) if names.is_empty() => {
            Ok(Some(TlsOptions::Files { cert, key }))
        }
        (None, None, true) => Ok(Some(TlsOptions::InternalCa { names })),
        (None, None, false) if names.is_empty() => Ok(None),
        (Some(_), None, _) | (None, Some(_), _) => {
            anyhow::bail!("tls_cert and tls_key go together")
        }
        _ => anyhow::bail!(
            "TLS names ({}) are for the internal CA's certificate (--tls-internal-ca); a certificate of your own names itself",
            names.join(", ")
        ),
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub(crate) async fn shutdown_signal() {
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
    tracing::info!(
        target: crate::executor::LIFECYCLE_LOG_TARGET,
        "shutdown requested; finishing running jobs"
    );
}

/// `keywarden serve`: runs until SIGINT/SIGTERM, then drains and returns.
pub async fn run(
    listen: Option<String>,
    data_dir: PathBuf,
    plugins_dir: PathBuf,
    config: Option<PathBuf>,
    database_url_flag: Option<String>,
    node_id: Option<String>,
    tls: TlsArgs,
) -> anyhow::Result<bool> {
    let operator = load_config(config.as_deref())?;
    let tls = resolve_tls(&tls, &operator.server)?;
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
    options.tls = tls;
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
/// who have lost the admin token (or removed the bootstrap token file) or script their
/// setup. Prints the token once; the audit log records that a command on the host issued
/// it.
pub async fn create_token(
    data_dir: PathBuf,
    config: Option<PathBuf>,
    database_url_flag: Option<String>,
    token: TokenRequest<'_>,
) -> anyhow::Result<bool> {
    let operator = load_config(config.as_deref())?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let url = database_url(database_url_flag, &operator, &data_dir);
    let store = keywarden_db::connect(&url)
        .await
        .context("cannot open the database")?;
    if !crate::domain::tokens::valid_account(token.account) {
        anyhow::bail!("--account: expected 1-64 characters from A-Z, a-z, 0-9, '-', '_' and '.'");
    }
    let expires_at = token
        .expires_in_days
        .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
    let secret = generate_token();
    let stored = store
        .create_token(&keywarden_db::NewToken {
            account_id: token.account,
            token_hash: &hash_token(&secret),
            role: token.role,
            label: token.label,
            expires_at,
        })
        .await?;
    store
        .append_audit(&[keywarden_db::NewAuditEntry {
            at: chrono::Utc::now(),
            account_id: token.account.to_owned(),
            token_id: None,
            action: "token issued".to_owned(),
            target: stored.id.clone(),
            result: "issued".to_owned(),
            detail: serde_json::json!({"by": "keywarden tokens create", "role": stored.role,
                "label": stored.label, "expires_at": stored.expires_at}),
        }])
        .await?;
    println!("{secret}");
    Ok(true)
}

/// What `keywarden tokens create` issues.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    pub account: &'a str,
    pub label: &'a str,
    pub role: keywarden_db::TokenRole,
    pub expires_in_days: Option<u32>,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn files(cert: &str, key: &str) -> TlsOptions {
        TlsOptions::Files {
            cert: cert.into(),
            key: key.into(),
        }
    }

    #[test]
    fn flags_choose_the_certificate_before_the_config_file() {
        let none = ServerConfig::default();
        assert_eq!(resolve_tls(&TlsArgs::default(), &none).unwrap(), None);

        let file_ca = ServerConfig {
            tls_internal_ca: true,
            tls_names: vec!["from-file".into()],
            ..ServerConfig::default()
        };
        assert_eq!(
            resolve_tls(&TlsArgs::default(), &file_ca).unwrap(),
            Some(TlsOptions::InternalCa {
                names: vec!["from-file".into()]
            })
        );
        let own = TlsArgs {
            tls_cert: Some(PathBuf::from("c.pem")),
            tls_key: Some(PathBuf::from("k.pem")),
            ..TlsArgs::default()
        };
        let file_ca_no_names = ServerConfig {
            tls_internal_ca: true,
            ..ServerConfig::default()
        };
        assert_eq!(
            resolve_tls(&own, &file_ca_no_names).unwrap(),
            Some(files("c.pem", "k.pem"))
        );
        let named = TlsArgs {
            tls_internal_ca: true,
            tls_names: vec!["flag".into()],
            ..TlsArgs::default()
        };
        let file_files = ServerConfig {
            tls_cert: Some("fc.pem".into()),
            tls_key: Some("fk.pem".into()),
            tls_names: vec!["from-file".into()],
            ..ServerConfig::default()
        };
        assert_eq!(
            resolve_tls(&named, &file_files).unwrap(),
            Some(TlsOptions::InternalCa {
                names: vec!["flag".into()]
            })
        );
    }

    #[test]
    fn contradictions_are_refused_with_a_reason() {
        let half = ServerConfig {
            tls_cert: Some("c.pem".into()),
            ..ServerConfig::default()
        };
        let err = resolve_tls(&TlsArgs::default(), &half).unwrap_err();
        assert!(err.to_string().contains("go together"), "{err}");
        let both = ServerConfig {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            tls_internal_ca: true,
            ..ServerConfig::default()
        };
        let err = resolve_tls(&TlsArgs::default(), &both).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let names_only = TlsArgs {
            tls_names: vec!["x.example".into()],
            ..TlsArgs::default()
        };
        let err = resolve_tls(&names_only, &ServerConfig::default()).unwrap_err();
        assert!(err.to_string().contains("internal CA"), "{err}");
    }

    #[test]
    fn the_config_file_names_tls_settings_in_server() {
        let config: OperatorConfig = toml::from_str(
            "[server]\ntls_internal_ca = true\ntls_names = [\"keywarden.example\"]\n",
        )
        .unwrap();
        assert_eq!(
            resolve_tls(&TlsArgs::default(), &config.server).unwrap(),
            Some(TlsOptions::InternalCa {
                names: vec!["keywarden.example".into()]
            })
        );
    }
}

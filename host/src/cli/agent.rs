//! `keywarden agent`: resolving flags, environment and the config file into agent
//! options, and running until SIGINT/SIGTERM.

use std::time::Duration;

use super::AgentArgs;
use crate::operator_config::OperatorConfig;
use crate::orchestrator::{AgentOptions, run};

/// The registration password and the agent's jobs travel to the server: over HTTPS, or
/// plain HTTP to a loopback address only (tests, a server on the same machine).
fn check_server_url(server: &str) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(server)
        .map_err(|e| anyhow::anyhow!("--server {server:?} is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => {
            anyhow::bail!("--server {server}: plain HTTP only to a loopback address; use https://")
        }
        other => anyhow::bail!("--server {server}: unsupported scheme {other}"),
    }
}

/// Runs the agent until a signal asks it to stop.
pub async fn agent(args: AgentArgs) -> anyhow::Result<bool> {
    let config = match &args.config {
        Some(path) => OperatorConfig::load(path)?,
        None => OperatorConfig::default(),
    };
    if !args.plugins_dir.is_dir() {
        anyhow::bail!(
            "plugins folder {} does not exist",
            args.plugins_dir.display()
        );
    }
    let registration = match (args.registration_user, args.registration_password) {
        (Some(user), Some(password)) => Some((user, password)),
        (Some(_), None) => {
            anyhow::bail!("--registration-user needs the password in KEYWARDEN_AGENT_PASSWORD")
        }
        _ => None,
    };
    check_server_url(&args.server)?;
    let options = AgentOptions {
        server: args.server,
        data_dir: args.data_dir,
        plugins_dir: args.plugins_dir,
        config,
        server_ca: args.server_ca,
        client_machine: args
            .client_machine
            .or_else(crate::server::host_name)
            .unwrap_or_else(|| "keywarden-agent".to_owned()),
        registration,
        heartbeat: args.heartbeat_secs.map(|s| Duration::from_secs(s.max(1))),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        trigger.cancel();
    });
    run(options, stop).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_server_is_reached_over_https_or_on_loopback() {
        for ok in [
            "https://kw.example:8443",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(super::check_server_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://kw.example:8080",
            "ftp://kw.example",
            "not a url",
            "http://10.0.0.1",
        ] {
            assert!(super::check_server_url(refused).is_err(), "{refused}");
        }
    }
}

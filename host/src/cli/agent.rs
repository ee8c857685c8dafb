//! `keywarden agent`: resolving flags, environment and the config file into agent
//! options, and running until SIGINT/SIGTERM.

use std::time::Duration;

use super::AgentArgs;
use crate::operator_config::OperatorConfig;
use crate::orchestrator::{AgentOptions, run};

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "keywarden-agent".to_owned())
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
    let options = AgentOptions {
        server: args.server,
        data_dir: args.data_dir,
        plugins_dir: args.plugins_dir,
        config,
        server_ca: args.server_ca,
        client_machine: args.client_machine.unwrap_or_else(host_name),
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

//! Runs a client command: builds the [`Client`] from the shared flags, runs the
//! resource's command and turns the outcome into the exit code scripts rely on.

use super::args::ClientArgs;
use super::error::ClientResult;
use super::http::Client;
use super::{
    agents, alerts, api, audit, configs, custom, history, jobs, keys, nodes, plugins, ssl, stores,
    tokens,
};

/// A command that talks to a server.
#[derive(Debug)]
pub enum Resource {
    Configs(configs::ConfigsCommand),
    Jobs(jobs::JobsCommand),
    Stores(stores::StoresCommand),
    History(history::HistoryCommand),
    Keys(keys::KeysCommand),
    Nodes(nodes::NodesCommand),
    Plugins,
    Tokens(crate::cli::TokensCommand),
    Audit(audit::AuditCommand),
    Alerts(alerts::AlertsCommand),
    Ssl(ssl::SslCommand),
    Agents(agents::AgentsCommand),
    Custom(custom::CustomCommand),
    Api(api::ApiCommand),
}

/// Runs the command; errors go to stderr as `error: <message> (field: <field>)`.
pub async fn execute(args: &ClientArgs, resource: Resource) -> u8 {
    let result = match Client::new(args) {
        Ok(client) => run(&client, resource).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn run(client: &Client, resource: Resource) -> ClientResult {
    match resource {
        Resource::Configs(c) => configs::run(client, c).await,
        Resource::Jobs(c) => jobs::run(client, c).await,
        Resource::Stores(c) => stores::run(client, c).await,
        Resource::History(c) => history::run(client, c).await,
        Resource::Keys(c) => keys::run(client, c).await,
        Resource::Nodes(c) => nodes::run(client, c).await,
        Resource::Plugins => plugins::list(client).await,
        Resource::Tokens(c) => tokens::run(client, c).await,
        Resource::Audit(c) => audit::run(client, c).await,
        Resource::Alerts(c) => alerts::run(client, c).await,
        Resource::Ssl(c) => ssl::run(client, c).await,
        Resource::Agents(c) => agents::run(client, c).await,
        Resource::Custom(c) => custom::run(client, c).await,
        Resource::Api(c) => api::run(client, c).await,
    }
}

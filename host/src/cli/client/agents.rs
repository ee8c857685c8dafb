//! `keywarden agents ...`: orchestrators (`/KeyfactorAPI/Agents`) and their registration
//! credentials (`/api/v1/agents/registration-credentials`).

use clap::Subcommand;
use serde_json::{Value, json};

use super::args::KeyfactorPaging;
use super::body::Fields;
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const PATH: &str = "/KeyfactorAPI/Agents";

const COLUMNS: &[Column] = &[
    ("AGENT ID", "/AgentId"),
    ("CLIENT MACHINE", "/ClientMachine"),
    ("STATUS", "/Status"),
    ("VERSION", "/Version"),
    ("LAST SEEN", "/LastSeen"),
    ("THUMBPRINT", "/Thumbprint"),
];

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List agents (`--query 'ClientMachine -eq "web01"'`).
    List(KeyfactorPaging),
    Get {
        id: String,
    },
    /// Approve agents: they enroll their client certificate at their next registration.
    Approve {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Disapprove agents: they get no more jobs.
    Disapprove {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reset agents: their queued jobs are deleted and their certificate forgotten.
    Reset {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Queue a job whose result holds the agent's log.
    FetchLogs {
        id: String,
    },
    /// Ask agents for a new client certificate at their next registration.
    Reenroll {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Require it: no jobs until they have one.
        #[arg(long)]
        require: bool,
    },
    /// Registration credentials (admins only).
    #[command(subcommand)]
    Credentials(CredentialsCommand),
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Create one; its password is shown once.
    Create {
        #[arg(long)]
        username: String,
        /// The account agents registering with it join [default: the caller's].
        #[arg(long)]
        account: Option<String>,
        /// Only an agent on this machine may register with it.
        #[arg(long)]
        client_machine: Option<String>,
    },
    /// Revoke one: no agent registers with it any more.
    Delete { username: String },
}

pub async fn run(client: &Client, command: AgentsCommand) -> ClientResult {
    match command {
        AgentsCommand::List(paging) => {
            show(client, paging.apply(Call::get(PATH)), View::List(COLUMNS)).await
        }
        AgentsCommand::Get { id } => {
            show(client, Call::get(format!("{PATH}/{id}")), View::Object).await
        }
        AgentsCommand::Approve { ids } => {
            show(
                client,
                Call::post(format!("{PATH}/Approve"), json!(ids)),
                View::Done("approved"),
            )
            .await
        }
        AgentsCommand::Disapprove { ids } => {
            let call = Call::post(format!("{PATH}/Disapprove"), json!(ids));
            show(client, call, View::Done("disapproved")).await
        }
        // One agent has its own route; several go in one request.
        AgentsCommand::Reset { ids } => {
            let call = match ids.as_slice() {
                [one] => Call::new(reqwest::Method::POST, format!("{PATH}/{one}/Reset")),
                _ => Call::post(format!("{PATH}/Reset"), json!(ids)),
            };
            show(client, call, View::Done("reset")).await
        }
        AgentsCommand::FetchLogs { id } => {
            let call = Call::new(reqwest::Method::POST, format!("{PATH}/{id}/FetchLogs"));
            show(client, call, View::Object).await
        }
        AgentsCommand::Reenroll { ids, require } => {
            let body = json!({"OrchestratorIds": ids, "Status": if require { 2 } else { 1 }});
            let call = Call::post(format!("{PATH}/SetAuthCertificateReenrollment"), body);
            show(client, call, View::Object).await
        }
        AgentsCommand::Credentials(CredentialsCommand::Create {
            username,
            account,
            client_machine,
        }) => {
            let body = Fields::default()
                .set("username", Some(username))
                .set("account", account)
                .set("client_machine", client_machine);
            let call = Call::post(
                "/api/v1/agents/registration-credentials",
                Value::Object(body.done()),
            );
            show(client, call, View::Object).await
        }
        AgentsCommand::Credentials(CredentialsCommand::Delete { username }) => {
            let call = Call::delete(format!(
                "/api/v1/agents/registration-credentials/{username}"
            ));
            show(client, call, View::Done("deleted")).await
        }
    }
}

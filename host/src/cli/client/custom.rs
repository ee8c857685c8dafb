//! `keywarden custom ...`: Keyfactor custom jobs (`POST /KeyfactorAPI/OrchestratorJobs/Custom`).

use clap::Subcommand;

use super::body::{Fields, FileArg, parse_json};
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{View, show};

#[derive(Debug, Subcommand)]
pub enum CustomCommand {
    /// Schedule a custom job: at once (`--schedule '{"Immediate":true}'`) or on a schedule.
    Create {
        /// The operation (`JobTypeName`).
        #[arg(long = "type")]
        job_type: Option<String>,
        /// The schedule as JSON (`{"Weekly":{"Days":["Monday"],"Time":"..."}}`).
        #[arg(long, value_name = "JSON")]
        schedule: Option<String>,
        /// The operation's params as a JSON object (`JobFields`).
        #[arg(long, value_name = "JSON")]
        fields: Option<String>,
        #[arg(long)]
        agent_id: Option<String>,
        #[command(flatten)]
        file: FileArg,
    },
}

pub async fn run(client: &Client, command: CustomCommand) -> ClientResult {
    let CustomCommand::Create {
        job_type,
        schedule,
        fields,
        agent_id,
        file,
    } = command;
    let schedule = schedule
        .as_deref()
        .map(|s| parse_json("--schedule", s))
        .transpose()?;
    let fields = fields
        .as_deref()
        .map(|s| parse_json("--fields", s))
        .transpose()?;
    let body = Fields::default()
        .set("JobTypeName", job_type)
        .set("Schedule", schedule)
        .set("JobFields", fields)
        .set("AgentId", agent_id);
    let call = Call::post(
        "/KeyfactorAPI/OrchestratorJobs/Custom",
        file.merged(body.done())?,
    );
    show(client, call, View::Object).await
}

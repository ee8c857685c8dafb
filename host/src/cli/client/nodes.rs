//! `keywarden nodes list`: the processes that run jobs (`/api/v1/nodes`), with version,
//! start, last heartbeat, running jobs and whether they are alive.

use clap::Subcommand;

use super::args::Paging;
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("VERSION", "/version"),
    ("ALIVE", "/alive"),
    ("RUNNING", "/running_jobs"),
    ("LAST SEEN", "/last_seen_at"),
    ("STARTED", "/started_at"),
];

#[derive(Debug, Subcommand)]
pub enum NodesCommand {
    /// List the nodes, by id.
    List {
        #[command(flatten)]
        paging: Paging,
    },
}

pub async fn run(client: &Client, command: NodesCommand) -> ClientResult {
    let NodesCommand::List { paging } = command;
    show(
        client,
        paging.apply(Call::get("/api/v1/nodes")),
        View::List(COLUMNS),
    )
    .await
}

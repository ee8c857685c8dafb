//! `keywarden keys ...`: synchronized cloud keys (`/api/v1/cckm/keys`).

use clap::Subcommand;

use super::args::Paging;
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const COLUMNS: &[Column] = &[
    ("KEY ID", "/key_id"),
    ("CLOUD", "/cloud_name"),
    ("ALIASES", "/aliases"),
    ("STATE", "/state"),
    ("ROTATED", "/rotated_at"),
    ("CONFIG", "/job_config_id"),
    ("SYNCED", "/synced_at"),
];

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List synchronized cloud keys.
    List {
        #[arg(long)]
        cloud: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        alias: Option<String>,
        /// Keys synchronized by this job config.
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
}

pub async fn run(client: &Client, command: KeysCommand) -> ClientResult {
    let KeysCommand::List {
        cloud,
        state,
        alias,
        config,
        paging,
    } = command;
    let call = Call::get("/api/v1/cckm/keys")
        .query("cloud_name", cloud)
        .query("state", state)
        .query("alias", alias)
        .query("job_config_id", config);
    show(client, paging.apply(call), View::List(COLUMNS)).await
}

//! `keywarden alerts ...`: alerts and their webhook delivery (`/api/v1/alerts`).

use clap::Subcommand;

use super::args::Paging;
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("KIND", "/kind"),
    ("SUBJECT", "/subject"),
    ("MESSAGE", "/message"),
    ("STATE", "/state"),
    ("CREATED", "/createdAt"),
];

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List {
        #[arg(long)]
        kind: Option<String>,
        /// Delivery state (pending, delivered, failed...).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
}

pub async fn run(client: &Client, command: AlertsCommand) -> ClientResult {
    let AlertsCommand::List {
        kind,
        state,
        network,
        paging,
    } = command;
    let call = Call::get("/api/v1/alerts")
        .query("kind", kind)
        .query("state", state)
        .query("network_id", network);
    show(client, paging.apply(call), View::List(COLUMNS)).await
}

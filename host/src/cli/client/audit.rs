//! `keywarden audit ...`: the audit log (`/api/v1/audit`, admins only).

use clap::Subcommand;

use super::error::{ClientResult, exit};
use super::http::{Call, Client};
use super::render::{Column, Output, View, cell, print};

const COLUMNS: &[Column] = &[
    ("SEQ", "/seq"),
    ("AT", "/at"),
    ("ACCOUNT", "/account"),
    ("ACTION", "/action"),
    ("TARGET", "/target"),
    ("RESULT", "/result"),
];

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit entries in chain order (the table says whether the page's chain holds).
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        token_id: Option<String>,
        /// The HTTP method or job action (`POST`, `job`...).
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Entries after this sequence number (the next page).
        #[arg(long)]
        after_seq: Option<i64>,
        #[arg(long)]
        limit: Option<u64>,
    },
}

pub async fn run(client: &Client, command: AuditCommand) -> ClientResult {
    let AuditCommand::List {
        account,
        token_id,
        action,
        since,
        until,
        after_seq,
        limit,
    } = command;
    let call = Call::get("/api/v1/audit")
        .query("account", account)
        .query("token_id", token_id)
        .query("action", action)
        .query("since", since)
        .query("until", until)
        .query("after_seq", after_seq)
        .query("limit", limit);
    let value = client.json(&call).await?;
    print(&value, client.output, View::List(COLUMNS));
    if client.output == Output::Table {
        println!("chain intact: {}", cell(value.get("chain_intact")));
    }
    Ok(exit::OK)
}

//! `keywarden api ...`: any request by hand (like `gh api` or `vault read`), the open
//! `/healthz` and the `/openapi.json` contract.

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::args::Paging;
use super::body::FileArg;
use super::error::{ClientError, ClientResult, exit};
use super::http::{Call, Client};
use super::render::{View, pretty, print, show};

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// GET a path (`/api/v1/plugins`); query parameters with `--filter KEY=VALUE`.
    Get(RawArgs),
    /// POST `--file` (or no body) to a path.
    Post(RawArgs),
    Put(RawArgs),
    Patch(RawArgs),
    Delete(RawArgs),
    /// The server's health (`/healthz`, no token needed).
    Health,
    /// The server's OpenAPI document as this token sees it.
    Openapi,
}

#[derive(Debug, clap::Args)]
pub struct RawArgs {
    /// The path below the server's URL, with its leading `/`.
    pub path: String,
    #[command(flatten)]
    pub file: FileArg,
    #[command(flatten)]
    pub paging: Paging,
}

pub async fn run(client: &Client, command: ApiCommand) -> ClientResult {
    let (method, args) = match command {
        ApiCommand::Get(a) => (Method::GET, a),
        ApiCommand::Post(a) => (Method::POST, a),
        ApiCommand::Put(a) => (Method::PUT, a),
        ApiCommand::Patch(a) => (Method::PATCH, a),
        ApiCommand::Delete(a) => (Method::DELETE, a),
        ApiCommand::Health => return show(client, Call::get("/healthz"), View::Object).await,
        ApiCommand::Openapi => {
            // A document too big for a table: always JSON.
            let value = client.json(&Call::get("/openapi.json")).await?;
            println!("{}", pretty(&value));
            return Ok(exit::OK);
        }
    };
    let mut call = args.paging.apply(Call::new(method, args.path));
    call.body = args.file.read()?;
    // Not every path answers JSON (`/metrics` is text): such answers print as they are.
    let response = client.send(&call).await?;
    let text = response
        .text()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => print(&value, client.output, View::Done("done")),
        Err(_) if text.is_empty() => print(&Value::Null, client.output, View::Done("done")),
        Err(_) => print!("{text}"),
    }
    Ok(exit::OK)
}

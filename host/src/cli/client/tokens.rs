//! `keywarden tokens ...` against the server (`/api/v1/tokens`, admins only). `tokens
//! create --data-dir` works on the database instead (`cli::serve::create_token`), for
//! when every admin token is lost.

use serde_json::Value;

use super::body::Fields;
use super::error::{ClientError, ClientResult, exit};
use super::http::{Call, Client};
use super::render::{Column, Output, View, cell, pretty, show};
use crate::cli::TokensCommand;

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("ACCOUNT", "/account"),
    ("ROLE", "/role"),
    ("LABEL", "/label"),
    ("CREATED", "/createdAt"),
    ("EXPIRES", "/expires_at"),
    ("ACTIVE", "/active"),
];

pub async fn run(client: &Client, command: TokensCommand) -> ClientResult {
    match command {
        TokensCommand::Create {
            account,
            label,
            admin,
            role,
            expires_in_days,
            expires_at,
            ..
        } => {
            let expires_at = match (expires_at, expires_in_days) {
                (Some(at), _) => Some(at),
                (None, Some(days)) => Some(
                    (chrono::Utc::now() + chrono::Duration::days(i64::from(days)))
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                (None, None) => None,
            };
            let role = if admin {
                keywarden_db::TokenRole::Admin
            } else {
                role
            };
            let body = Fields::default()
                .set("account", Some(account))
                .set("label", Some(label))
                .set("role", Some(role.to_string()))
                .set("expires_at", expires_at)
                .done();
            let call = Call::post("/api/v1/tokens", Value::Object(body));
            let created = client.json(&call).await?;
            match client.output {
                Output::Json => println!("{}", pretty(&created)),
                // The secret alone on stdout, like the local `tokens create`, so
                // `T=$(keywarden tokens create ...)` works; the rest on stderr.
                Output::Table => {
                    let token = created["token"]
                        .as_str()
                        .ok_or_else(|| ClientError::Protocol("the answer holds no token".into()))?;
                    eprintln!(
                        "token {} for account {} ({}); shown once",
                        cell(created.get("id")),
                        cell(created.get("account")),
                        cell(created.get("role"))
                    );
                    println!("{token}");
                }
            }
            Ok(exit::OK)
        }
        TokensCommand::List { account } => {
            let call = Call::get("/api/v1/tokens").query("account", account);
            show(client, call, View::List(COLUMNS)).await
        }
        TokensCommand::Revoke { id } => {
            show(
                client,
                Call::delete(format!("/api/v1/tokens/{id}")),
                View::Done("revoked"),
            )
            .await
        }
    }
}

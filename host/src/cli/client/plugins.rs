//! `keywarden plugins list` against the server (`/api/v1/plugins`): the plugins the
//! caller's account may use, and every file that failed to load with the reason.

use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const COLUMNS: &[Column] = &[
    ("NAME", "/name"),
    ("STATUS", "/status"),
    ("VERSION", "/manifest/version"),
    ("DESCRIPTION", "/manifest/description"),
    ("ERROR", "/error"),
];

pub async fn list(client: &Client) -> ClientResult {
    show(client, Call::get("/api/v1/plugins"), View::List(COLUMNS)).await
}

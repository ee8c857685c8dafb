//! The CLI client: `keywarden configs|jobs|stores|history|keys|nodes|plugins|tokens|
//! audit|alerts|ssl|agents|custom|api ...` against a running server (`--server`, the token from
//! `--token-file` or `KEYWARDEN_TOKEN`), tables for people and `--output json` for
//! scripts, exit codes in [`error::exit`]. `docs/cli.md` is the user's guide.
//!
//! Each resource is one file (its subcommands and the calls they make); [`http`] is the
//! one HTTP client, [`render`] the one printer, [`follow`] follows a job to its end.

pub mod agents;
pub mod alerts;
pub mod api;
pub mod args;
pub mod audit;
pub mod body;
pub mod completions;
pub mod configs;
pub mod custom;
pub mod dispatch;
pub mod error;
pub mod follow;
pub mod history;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod nodes;
pub mod plugins;
pub mod render;
pub mod ssl;
pub mod stores;
pub mod tokens;

pub use args::{ClientArgs, Remote};
pub use dispatch::{Resource, execute};

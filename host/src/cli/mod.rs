//! The `keywarden` command line.

pub mod plugins;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps keys and certificates fresh: schedules lifecycle jobs and runs each operation
/// as a sandboxed WebAssembly component.
#[derive(Debug, Parser)]
#[command(name = "keywarden", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and try plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Load every plugin in a folder and print its manifest, or why it failed.
    List {
        #[arg(long, env = "KEYWARDEN_PLUGINS_DIR")]
        plugins_dir: PathBuf,
        /// Operator config (grants, limits); optional for listing.
        #[arg(long, env = "KEYWARDEN_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Load one component and print its manifest and requested capabilities.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run one custom operation of a plugin file once, with the config's grants, and
    /// print the outcome. Meant for plugin authors.
    Run {
        file: PathBuf,
        #[arg(long)]
        operation: String,
        /// Params as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
        #[arg(long, env = "KEYWARDEN_CONFIG")]
        config: Option<PathBuf>,
    },
}

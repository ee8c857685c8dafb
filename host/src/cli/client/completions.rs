//! `keywarden completions SHELL`: the completion script of every command, for the shell.

use clap::CommandFactory;

/// Prints the script; e.g. `keywarden completions bash > /etc/bash_completion.d/keywarden`.
pub fn print(shell: clap_complete::Shell) {
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut command, "keywarden", &mut std::io::stdout());
}

use std::process::ExitCode;

use clap::Parser;
use keywarden::cli::client::{self, Remote, Resource, render::Output};
use keywarden::cli::{
    Cli, Command, PluginsCommand, RestoreArgs, ServeArgs, TokensCommand, agent, plugins, restore,
    serve,
};

#[tokio::main]
async fn main() -> ExitCode {
    keywarden::cli::owner_only_new_files();
    let cli = Cli::parse();
    let _log = cli.log_format.install();
    let (args, resource) = match cli.command {
        Command::Agents(r) => remote(r, Resource::Agents),
        Command::Alerts(r) => remote(r, Resource::Alerts),
        Command::Api(r) => remote(r, Resource::Api),
        Command::Audit(r) => remote(r, Resource::Audit),
        Command::Configs(r) => remote(r, Resource::Configs),
        Command::Custom(r) => remote(r, Resource::Custom),
        Command::History(r) => remote(r, Resource::History),
        Command::Jobs(r) => remote(r, Resource::Jobs),
        Command::Keys(r) => remote(r, Resource::Keys),
        Command::Nodes(r) => remote(r, Resource::Nodes),
        Command::Ssl(r) => remote(r, Resource::Ssl),
        Command::Stores(r) => remote(r, Resource::Stores),
        Command::Plugins(Remote {
            client,
            command: PluginsCommand::List {
                plugins_dir: None, ..
            },
        }) => (client, Resource::Plugins),
        Command::Tokens(Remote {
            client,
            command: command @ (TokensCommand::List { .. } | TokensCommand::Revoke { .. }),
        })
        | Command::Tokens(Remote {
            client,
            command: command @ TokensCommand::Create { data_dir: None, .. },
        }) => (client, Resource::Tokens(command)),
        local => return exit_local(run_local(local).await),
    };
    ExitCode::from(client::execute(&args, resource).await)
}

/// A client command's flags and what it asks of the server.
fn remote<C: clap::Subcommand>(
    r: Remote<C>,
    wrap: fn(C) -> Resource,
) -> (client::ClientArgs, Resource) {
    (r.client, wrap(r.command))
}

/// The commands that work on local files and databases; they keep their exit codes
/// (1 for a negative answer, 2 for an error).
async fn run_local(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::Agent(args) => agent::agent(args).await,
        Command::Completions { shell } => {
            client::completions::print(shell);
            Ok(true)
        }
        Command::Plugins(Remote { client, command }) => {
            let json_output = client.output == Output::Json;
            match command {
                PluginsCommand::List {
                    plugins_dir,
                    config,
                    json,
                } => {
                    let dir = plugins_dir.expect("remote listing is dispatched before");
                    plugins::list(&dir, config.as_deref(), json || json_output).await
                }
                PluginsCommand::Inspect { file, json } => {
                    plugins::inspect(&file, json || json_output)
                        .await
                        .map(|()| true)
                }
                PluginsCommand::Run {
                    file,
                    operation,
                    params,
                    config,
                } => plugins::run(&file, &operation, &params, config.as_deref()).await,
            }
        }
        Command::Restore(RestoreArgs {
            backup,
            backup_key,
            backup_key_file,
            backup_key_env,
            data_dir,
            config,
            database_url,
        }) => {
            let key = restore::KeySources {
                value: backup_key,
                file: backup_key_file,
                env: backup_key_env,
            };
            restore::restore(backup, key, data_dir, config, database_url).await
        }
        Command::Serve(ServeArgs {
            listen,
            data_dir,
            plugins_dir,
            config,
            database_url,
            node_id,
            tls,
        }) => {
            serve::run(
                listen,
                data_dir,
                plugins_dir,
                config,
                database_url,
                node_id,
                tls,
            )
            .await
        }
        Command::Tokens(Remote {
            command:
                TokensCommand::Create {
                    account,
                    label,
                    admin,
                    role,
                    expires_in_days,
                    data_dir: Some(data_dir),
                    config,
                    database_url,
                    ..
                },
            ..
        }) => {
            let role = if admin {
                keywarden_db::TokenRole::Admin
            } else {
                role
            };
            let request = serve::TokenRequest {
                account: &account,
                label: &label,
                role,
                expires_in_days,
            };
            serve::create_token(data_dir, config, database_url, request).await
        }
        other => unreachable!("{other:?} talks to a server"),
    }
}

fn exit_local(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

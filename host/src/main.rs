use std::process::ExitCode;

use clap::Parser;
use keywarden::cli::{
    Cli, Command, PluginsCommand, RestoreArgs, ServeArgs, TokensCommand, agent, plugins, restore,
    serve,
};

#[tokio::main]
async fn main() -> ExitCode {
    keywarden::cli::owner_only_new_files();
    let cli = Cli::parse();
    cli.log_format.install();
    let result = match cli.command {
        Command::Agent(args) => agent::agent(args).await,
        Command::Plugins(PluginsCommand::List {
            plugins_dir,
            config,
            json,
        }) => plugins::list(&plugins_dir, config.as_deref(), json).await,
        Command::Plugins(PluginsCommand::Inspect { file, json }) => {
            plugins::inspect(&file, json).await.map(|()| true)
        }
        Command::Plugins(PluginsCommand::Run {
            file,
            operation,
            params,
            config,
        }) => plugins::run(&file, &operation, &params, config.as_deref()).await,
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
        Command::Tokens(TokensCommand::Create {
            account,
            label,
            admin,
            role,
            expires_in_days,
            data_dir,
            config,
            database_url,
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
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! `keywarden jobs ...`: jobs (`/api/v1/scheduler/jobs`), and running a config with
//! `--wait`.

use std::io::IsTerminal;

use clap::Subcommand;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::args::Paging;
use super::configs;
use super::error::{ClientError, ClientResult, exit};
use super::follow::{JobEvent, follow, is_final, job_exit, log_line};
use super::http::{Call, Client};
use super::render::{Column, Output, View, cell, pretty, print, show};

const PATH: &str = "/api/v1/scheduler/jobs";

const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("OPERATION", "/operation"),
    ("STATUS", "/status"),
    ("RESULT", "/result"),
    ("MESSAGE", "/message"),
    ("CREATED", "/createdAt"),
];

const COUNT_COLUMNS: &[Column] = &[
    ("DAY", "/day"),
    ("CONFIG", "/job_config_id"),
    ("OPERATION", "/operation"),
    ("STATUS", "/status"),
    ("RESULT", "/result"),
    ("COUNT", "/count"),
];

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first by default.
    List {
        #[arg(long)]
        status: Option<String>,
        /// Jobs of this job config.
        #[arg(long)]
        config: Option<String>,
        #[arg(long)]
        operation: Option<String>,
        /// `params`, `logs` or both (comma-separated).
        #[arg(long)]
        include: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one job; `--wait` follows it to its end (exit 0, 7 warning, 8 failed).
    Get {
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Delete a finished or queued job.
    Delete { id: String },
    /// Run a job config now; `--wait` shows its progress and ends with its result.
    Run(RunArgs),
    /// Print a job's log; `--follow` prints lines as the plugin writes them.
    Logs {
        id: String,
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Run a finished job again as a new job.
    Retry {
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Finished jobs counted per day, config, operation, status and result.
    Counts {
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        config: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Print every job event of the account as it happens (until interrupted).
    Watch {
        /// Only the jobs of this job config.
        #[arg(long)]
        config: Option<String>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The job config's id.
    pub config: String,
    /// Follow the job to its end (exit 0 success, 7 warning, 8 failed or cancelled).
    #[arg(long)]
    pub wait: bool,
    /// Only report what the job would change (rotation, Management, Reenrollment).
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(client: &Client, command: JobsCommand) -> ClientResult {
    match command {
        JobsCommand::List {
            status,
            config,
            operation,
            include,
            paging,
        } => {
            let call = Call::get(PATH)
                .query("status", status)
                .query("job_config_id", config)
                .query("operation", operation)
                .query("include", include);
            show(client, paging.apply(call), View::List(COLUMNS)).await
        }
        JobsCommand::Get { id, wait: false } => {
            show(client, Call::get(format!("{PATH}/{id}")), View::Object).await
        }
        JobsCommand::Get { id, wait: true } => wait_for(client, &id).await,
        JobsCommand::Delete { id } => {
            show(
                client,
                Call::delete(format!("{PATH}/{id}")),
                View::Done("deleted"),
            )
            .await
        }
        JobsCommand::Run(args) => run_config(client, args).await,
        JobsCommand::Logs { id, follow: false } => {
            let job = client.json(&Call::get(format!("{PATH}/{id}"))).await?;
            for line in job["logs"].as_array().into_iter().flatten() {
                print_log(client.output, line);
            }
            Ok(exit::OK)
        }
        JobsCommand::Logs { id, follow: true } => {
            let output = client.output;
            let job = follow(client, &id, |event| {
                if let JobEvent::Log(line) = event {
                    print_log(output, &line);
                }
            })
            .await?;
            Ok(job_exit(&job))
        }
        JobsCommand::Retry { id, wait } => {
            let job = client
                .json(&Call::new(
                    reqwest::Method::POST,
                    format!("{PATH}/{id}/retry"),
                ))
                .await?;
            match (wait, job["id"].as_str()) {
                (true, Some(new)) => wait_for(client, new).await,
                _ => {
                    print(&job, client.output, View::Object);
                    Ok(exit::OK)
                }
            }
        }
        JobsCommand::Counts {
            from,
            to,
            config,
            paging,
        } => {
            let call = Call::get(format!("{PATH}/counts"))
                .query("from", from)
                .query("to", to)
                .query("job_config_id", config);
            show(client, paging.apply(call), View::List(COUNT_COLUMNS)).await
        }
        JobsCommand::Watch { config } => watch(client, config).await,
    }
}

/// `jobs run` and `configs run-now`.
pub async fn run_config(client: &Client, args: RunArgs) -> ClientResult {
    let started = configs::run_now(client, &args.config, args.dry_run).await?;
    if !args.wait {
        print(&started, client.output, View::Object);
        return Ok(exit::OK);
    }
    let job_id = started["job_id"]
        .as_str()
        .ok_or_else(|| ClientError::Protocol(format!("run-now answered no job_id: {started}")))?;
    wait_for(client, job_id).await
}

/// Follows a job to its end with a progress bar (on a terminal, for people), then prints
/// the result: a line, or the final job JSON.
async fn wait_for(client: &Client, job_id: &str) -> ClientResult {
    let bar = (client.output == Output::Table && std::io::stdout().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:12} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let job = follow(client, job_id, |event| {
        let Some(bar) = &bar else { return };
        match event {
            JobEvent::Job(job) => bar.set_message(cell(job.get("status"))),
            JobEvent::Progress { done, total } => {
                bar.set_length(total);
                bar.set_position(done);
            }
            JobEvent::Log(line) => bar.println(log_line(&line)),
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match client.output {
        Output::Json => println!("{}", pretty(&job)),
        Output::Table => println!("{}", summary(&job)),
    }
    Ok(job_exit(&job))
}

/// `job ID completed (success): message`.
fn summary(job: &Value) -> String {
    format!(
        "job {} {} ({}): {}",
        cell(job.get("id")),
        cell(job.get("status")),
        cell(job.get("result")),
        cell(job.get("message"))
    )
}

fn print_log(output: Output, line: &Value) {
    match output {
        Output::Json => println!("{line}"),
        Output::Table => println!("{}", log_line(line)),
    }
}

/// `jobs watch`: the account's job events, one line each (JSON lines with `-o json`).
async fn watch(client: &Client, config: Option<String>) -> ClientResult {
    let call = Call::get("/api/v1/scheduler/events").query("job_config_id", config);
    let response = client.send(&call).await?;
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| ClientError::Protocol(e.to_string()))?;
        if event.event != "job" {
            continue;
        }
        let job: Value = serde_json::from_str(&event.data)
            .map_err(|e| ClientError::Protocol(format!("event job: {e}")))?;
        match client.output {
            Output::Json => println!("{job}"),
            Output::Table => println!(
                "{}  {}  {}  {}/{}{}",
                cell(job.get("id")),
                cell(job.get("name")),
                cell(job.get("status")),
                cell(job.pointer("/progress/done")),
                cell(job.pointer("/progress/total")),
                if is_final(&job) {
                    format!("  {}", cell(job.get("result")))
                } else {
                    String::new()
                }
            ),
        }
    }
    Ok(exit::OK)
}

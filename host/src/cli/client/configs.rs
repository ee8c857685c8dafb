//! `keywarden configs ...`: job configs (`/api/v1/scheduler/job-configs`).

use clap::Subcommand;
use serde_json::Value;

use super::args::Paging;
use super::body::{Fields, FileArg, parse_json};
use super::error::{ClientError, ClientResult};
use super::http::{Call, Client};
use super::jobs;
use super::render::{Column, View, show};

const PATH: &str = "/api/v1/scheduler/job-configs";

pub const COLUMNS: &[Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("OPERATION", "/operation"),
    ("RUN AT", "/run_at"),
    ("NEXT RUN", "/next_run_at"),
    ("DISABLED", "/disabled"),
    ("ACCOUNT", "/account"),
];

#[derive(Debug, Subcommand)]
pub enum ConfigsCommand {
    /// List job configs (`--filter operation=hello`, `--filter name=...`).
    List(Paging),
    /// Show one job config.
    Get {
        id: String,
    },
    /// Create a job config from flags and/or `--file`.
    Create(Box<ConfigFields>),
    /// Change a job config: the fields given replace; params merge key by key.
    Update {
        id: String,
        #[command(flatten)]
        fields: Box<ConfigFields>,
    },
    Delete {
        id: String,
    },
    /// Stop a config firing (`disabled: true`).
    Pause {
        id: String,
    },
    /// Let a paused config fire again, from now (clears an automatic pause's reason).
    Resume {
        id: String,
    },
    /// Start a job of the config now; `--wait` follows it (see `jobs run`).
    RunNow(jobs::RunArgs),
}

/// The fields of a job config as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigFields {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub operation: Option<String>,
    /// A cron (5 or 6 fields) or a macro like `@hourly`.
    #[arg(long)]
    pub run_at: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// The operation's params as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// IANA time zone of `run_at`.
    #[arg(long)]
    pub timezone: Option<String>,
    #[arg(long)]
    pub start_date: Option<String>,
    #[arg(long)]
    pub end_date: Option<String>,
    #[arg(long)]
    pub disabled: Option<bool>,
    /// The node that runs the jobs.
    #[arg(long)]
    pub run_on: Option<String>,
    /// skip, one or all.
    #[arg(long)]
    pub catch_up: Option<String>,
    /// skip or allow.
    #[arg(long)]
    pub overlap: Option<String>,
    #[arg(long)]
    pub max_retries: Option<i64>,
    #[arg(long)]
    pub retry_backoff_secs: Option<i64>,
    /// Windows jobs may start in, as a JSON list of
    /// `{"start": CRON, "timezone": ZONE, "duration_secs": N}` (`null` clears them).
    #[arg(long, value_name = "JSON")]
    pub maintenance_windows: Option<String>,
    /// Windows no job starts in, in the same form.
    #[arg(long, value_name = "JSON")]
    pub blackout_windows: Option<String>,
    /// Start each fire up to this many seconds late (an offset fixed per config).
    #[arg(long)]
    pub jitter_secs: Option<i64>,
    /// Pause the config after this many failed runs in a row (0: never).
    #[arg(long)]
    pub pause_after_failures: Option<i64>,
    /// wait or skip, when another job works on the same target.
    #[arg(long)]
    pub when_target_busy: Option<String>,
    #[command(flatten)]
    pub file: FileArg,
}

impl ConfigFields {
    fn body(&self) -> Result<Value, ClientError> {
        let params = self
            .params
            .as_deref()
            .map(|p| parse_json("--params", p))
            .transpose()?;
        let json = |flag: &str, value: &Option<String>| {
            value.as_deref().map(|v| parse_json(flag, v)).transpose()
        };
        let fields = Fields::default()
            .set("name", self.name.clone())
            .set("operation", self.operation.clone())
            .set("run_at", self.run_at.clone())
            .set("description", self.description.clone())
            .set("params", params)
            .set("timezone", self.timezone.clone())
            .set("start_date", self.start_date.clone())
            .set("end_date", self.end_date.clone())
            .set("disabled", self.disabled)
            .set("run_on", self.run_on.clone())
            .set("catch_up", self.catch_up.clone())
            .set("overlap", self.overlap.clone())
            .set("max_retries", self.max_retries)
            .set("retry_backoff_secs", self.retry_backoff_secs)
            .set(
                "maintenance_windows",
                json("--maintenance-windows", &self.maintenance_windows)?,
            )
            .set(
                "blackout_windows",
                json("--blackout-windows", &self.blackout_windows)?,
            )
            .set("jitter_secs", self.jitter_secs)
            .set("pause_after_failures", self.pause_after_failures)
            .set("when_target_busy", self.when_target_busy.clone());
        self.file.merged(fields.done())
    }
}

pub async fn run(client: &Client, command: ConfigsCommand) -> ClientResult {
    match command {
        ConfigsCommand::List(paging) => {
            show(client, paging.apply(Call::get(PATH)), View::List(COLUMNS)).await
        }
        ConfigsCommand::Get { id } => {
            show(client, Call::get(format!("{PATH}/{id}")), View::Object).await
        }
        ConfigsCommand::Create(fields) => {
            show(client, Call::post(PATH, fields.body()?), View::Object).await
        }
        ConfigsCommand::Update { id, fields } => {
            let call =
                Call::new(reqwest::Method::PATCH, format!("{PATH}/{id}")).body(fields.body()?);
            show(client, call, View::Object).await
        }
        ConfigsCommand::Delete { id } => {
            show(
                client,
                Call::delete(format!("{PATH}/{id}")),
                View::Done("deleted"),
            )
            .await
        }
        ConfigsCommand::Pause { id } => set_disabled(client, &id, true).await,
        ConfigsCommand::Resume { id } => set_disabled(client, &id, false).await,
        ConfigsCommand::RunNow(args) => jobs::run_config(client, args).await,
    }
}

/// `POST .../{id}/run-now` (`?dry_run=true` for a dry run): the started job's id.
pub async fn run_now(client: &Client, config: &str, dry_run: bool) -> Result<Value, ClientError> {
    let call = Call::new(reqwest::Method::POST, format!("{PATH}/{config}/run-now"))
        .query("dry_run", dry_run.then_some("true"));
    client.json(&call).await
}

/// Pause and resume are a PATCH of `disabled`, as in the API.
async fn set_disabled(client: &Client, id: &str, disabled: bool) -> ClientResult {
    let call = Call::new(reqwest::Method::PATCH, format!("{PATH}/{id}"))
        .body(serde_json::json!({ "disabled": disabled }));
    show(client, call, View::Object).await
}

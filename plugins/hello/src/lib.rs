//! `hello`: the smallest useful plugin. Shows params, config, logging, progress, secrets
//! (it reveals one on request and reports only its length) and durable state (it counts
//! its runs on request). On request it also leaves a file per run in a granted directory
//! (`record_dir`), which the cluster tests read to count executions.

use keywarden_sdk::prelude::*;
use keywarden_sdk::{config, log, progress, secrets, state};
use serde::Deserialize;

struct Hello;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HelloParams {
    name: String,
    #[serde(default = "one")]
    repeat: u32,
    /// Name of a secret to reveal; only its length is reported.
    #[serde(default)]
    secret: Option<String>,
    /// Milliseconds to wait before answering (to exercise long-running jobs).
    #[serde(default)]
    delay_ms: u64,
    /// Count this run in the plugin's state and report the count.
    #[serde(default)]
    count: bool,
    /// A granted, writable directory to leave a record of this run in.
    #[serde(default)]
    record_dir: Option<String>,
}

fn one() -> u32 {
    1
}

impl Plugin for Hello {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe("Greets someone; an example of params, config, logging, progress and secrets.")
            .operation(
                Operation::custom("hello")
                    .describe("Say hello (the greeting comes from config key `greeting`, default \"Hello\")")
                    .params_schema(json!({
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "description": "Who to greet"},
                            "repeat": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1,
                                       "description": "How many times to greet"},
                            "secret": {"type": "string", "minLength": 1,
                                       "description": "Name of a secret to reveal; only its length is reported"},
                            "delay_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                                         "description": "Wait this long before answering, spread over the greetings"},
                            "count": {"type": "boolean",
                                      "description": "Count this run in the plugin's state and report the count"},
                            "record_dir": {"type": "string", "minLength": 1,
                                           "description": "A granted writable directory: each run leaves a file `<job id>.<start ns>.<label>` there, `<start ns> <label>` while it runs and `<start ns> <end ns> <label>` once its work is done (the label is config key `record_label`)"}
                        },
                        "required": ["name"],
                        "additionalProperties": false
                    })),
            )
    }

    fn run_custom(ctx: JobContext) -> Result<Outcome, JobError> {
        match ctx.operation.as_str() {
            "hello" => hello(&ctx),
            _ => Err(ctx.unsupported()),
        }
    }
}

fn hello(ctx: &JobContext) -> Result<Outcome, JobError> {
    let params: HelloParams = ctx.params()?;
    if !(1..=10).contains(&params.repeat) {
        return Err(JobError::invalid_param(
            "repeat",
            "must be between 1 and 10",
        ));
    }
    let record = params
        .record_dir
        .as_deref()
        .map(|dir| Record::begin(dir, &ctx.job_id))
        .transpose()?;
    let greeting = config::get_or("greeting", "Hello");
    let line = format!("{greeting}, {}!", params.name);

    log::info_with(
        "saying hello",
        &[("name", &params.name), ("repeat", &params.repeat)],
    );
    // The wait is spread over the greetings, so a long job shows its progress.
    let total = u64::from(params.repeat);
    let pause = std::time::Duration::from_millis(params.delay_ms / total);
    for done in 1..=total {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        if total > 1 {
            log::info_with("greeted", &[("greeting", &done), ("of", &total)]);
        }
        progress::report(done, total);
    }

    let mut outcome = Outcome::success(line.clone()).with_details(json!({
        "greeting": line,
        "repeat": params.repeat,
    }));
    if params.count {
        // Kept per job config: the count survives restarts and other nodes see it.
        let runs = state::get("runs")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        state::set("runs", &runs.to_string())
            .map_err(|e| JobError::failed(format!("cannot count the run: {e}")))?;
        outcome = outcome.with_detail("runs", runs);
    }
    if let Some(name) = &params.secret {
        // Reveal, measure, drop: the value itself never reaches logs or details.
        let value = secrets::reveal(name)?;
        outcome = outcome.with_detail("secret_length", value.len());
    }
    if let Some(record) = record {
        record.end()?;
    }
    Ok(outcome)
}

/// One run's file in the record directory: written when the run starts and again, with
/// the end time, when its work is done. A run whose file has no end was cut short.
struct Record {
    path: String,
    start: u128,
    label: String,
}

impl Record {
    fn begin(dir: &str, job_id: &str) -> Result<Record, JobError> {
        let start = now_ns();
        // The name alone says whose run it is: a process killed while writing the
        // file leaves it empty.
        let label = config::get_or("record_label", "");
        let record = Record {
            path: format!("{}/{job_id}.{start}.{label}", dir.trim_end_matches('/')),
            start,
            label,
        };
        record.write(&format!("{start} {}\n", record.label))?;
        Ok(record)
    }

    fn end(&self) -> Result<(), JobError> {
        self.write(&format!("{} {} {}\n", self.start, now_ns(), self.label))
    }

    fn write(&self, line: &str) -> Result<(), JobError> {
        std::fs::write(&self.path, line)
            .map_err(|e| JobError::failed(format!("cannot write {}: {e}", self.path)))
    }
}

/// Wall-clock nanoseconds since the Unix epoch (comparable across processes).
fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

keywarden_sdk::export_plugin!(Hello);

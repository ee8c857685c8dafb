//! Running one job: a fresh `Store` from the plugin's `InstancePre`, the limits armed,
//! the right export called, and every way it can end turned into a [`JobReport`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::bindings::certificate_store::{
    CertificateEntry, DiscoveryRequest, NewEntry, ReenrollmentRequest, Store as CertStore,
};
use super::bindings::key_management::CloudKey;
use super::bindings::types::{JobContext, JobError, JobOutcome, JobResult};
use super::capabilities::HostFault;
use super::capabilities::log::LogLine;
use super::engine::GuestRunning;
use super::observer::JobObserver;
use super::sandbox::{HostServices, PreparedGrants, Sandbox};
use super::world::{Plugin, PluginPre};
use crate::operator_config::JobLimits;

/// Which export a job calls, with the family-specific inputs.
#[derive(Debug, Clone)]
pub enum JobCall {
    Custom,
    Rotate,
    Synchronize,
    Scan,
    Inventory(CertStore),
    Add(CertStore, NewEntry),
    Remove(CertStore, String),
    Create(CertStore),
    Discover(DiscoveryRequest),
    Reenroll(CertStore, ReenrollmentRequest),
}

/// The job as the plugin sees it.
#[derive(Debug, Clone)]
pub struct JobInput {
    pub job_id: String,
    pub operation: String,
    pub target: Option<String>,
    pub params: serde_json::Value,
    /// Scope of the plugin's durable state: the job config's id, or the job's own.
    pub scope: String,
    /// Report what it would do without writing (the sandbox is narrowed to match).
    pub dry_run: bool,
}

/// How a job that ran to the end turned out.
#[derive(Debug, Clone)]
pub struct Finished {
    pub result: JobResult,
    pub message: String,
    pub details: serde_json::Value,
    /// Family-specific data the host keeps (synchronized keys, inventory, paths).
    pub data: FamilyData,
}

/// Data beyond the outcome that some families return.
#[derive(Debug, Clone, Default)]
pub enum FamilyData {
    #[default]
    None,
    Keys(Vec<CloudKey>),
    Inventory(Vec<CertificateEntry>),
    Paths(Vec<String>),
    /// What the host's `tls` import saw (network discovery).
    Probes(super::capabilities::tls::ProbeRecord),
}

/// The model's result for the plugin's (converted here, once).
pub fn job_result(result: JobResult) -> keywarden_db::JobResult {
    match result {
        JobResult::Success => keywarden_db::JobResult::Success,
        JobResult::Warning => keywarden_db::JobResult::Warning,
        JobResult::Failure => keywarden_db::JobResult::Failure,
    }
}

/// Why a job produced no outcome. The `Display` text is what users see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    #[error("the job exceeded its time limit of {0:?} and was stopped")]
    TimedOut(Duration),
    #[error("the job exceeded its memory limit of {} MiB and was stopped", .0 >> 20)]
    MemoryExceeded(usize),
    #[error("the job used up its fuel budget of {0} and was stopped")]
    FuelExhausted(u64),
    #[error("the plugin crashed: {0}")]
    Crashed(String),
    #[error("invalid params: {field}: {reason}")]
    InvalidParams { field: String, reason: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Failed(String),
    #[error("the plugin could not be started: {0}")]
    Instantiate(String),
    /// The host failed while serving the plugin (see `capabilities::HostFault`).
    #[error("the host failed while running the job: {0}")]
    HostFault(String),
    #[error("the job's output is {0} bytes, over the limit of {1} bytes")]
    OutputTooLarge(usize, usize),
}

/// Everything a job left behind.
#[derive(Debug, Clone)]
pub struct JobReport {
    pub outcome: Result<Finished, JobFailure>,
    pub logs: Vec<LogLine>,
    pub progress: Option<(u64, u64)>,
    pub elapsed: Duration,
    pub peak_memory: usize,
}

/// What a single export call returned, before it is judged against the limits.
enum Returned {
    Outcome(JobOutcome, FamilyData),
    Data(FamilyData, String),
}

/// Runs one job of the plugin behind `pre`.
pub async fn run_job(
    pre: &PluginPre,
    plugin: &str,
    grants: &PreparedGrants,
    services: &HostServices,
    input: JobInput,
    call: JobCall,
    observer: Arc<dyn JobObserver>,
) -> JobReport {
    let started = Instant::now();
    let limits = grants.limits;
    let watcher = observer.clone();
    let sandbox = match Sandbox::new(
        plugin,
        &input.scope,
        grants,
        services,
        observer,
        input.dry_run,
    ) {
        Ok(s) => s,
        Err(e) => {
            let failure = JobFailure::Instantiate(e.to_string());
            watcher.failed(plugin, &failure);
            return early_failure(failure, started);
        }
    };
    let mut store = Store::new(pre.engine(), sandbox);
    arm_limits(&mut store, limits.fuel);

    let ctx = JobContext {
        job_id: input.job_id,
        operation: input.operation,
        target: input.target,
        params: input.params.to_string(),
        dry_run: input.dry_run,
    };
    // Host-side waits (HTTP, state) are not covered by epochs; bound them here too.
    let call_result = tokio::time::timeout(
        limits.timeout + Duration::from_millis(250),
        instantiate_and_call(pre, &mut store, &ctx, call, |took| {
            watcher.instantiated(plugin, took)
        }),
    )
    .await;

    let data = store.data();
    let outcome = match call_result {
        Err(_elapsed) => Err(JobFailure::TimedOut(limits.timeout)),
        Ok(Err(Stage::Instantiate(e))) => Err(limit_hit(data, &limits, &store)
            .unwrap_or_else(|| JobFailure::Instantiate(first_line(&reason(&e))))),
        Ok(Err(Stage::Call(trap))) => Err(classify_trap(&trap, data, &limits, &store)),
        Ok(Ok(Err(plugin_error))) => Err(scrub_failure(
            plugin_error_to_failure(plugin_error),
            &data.redactions,
            limits.max_output_bytes,
        )),
        Ok(Ok(Ok(returned))) => finish(returned, &data.redactions, limits.max_output_bytes),
    };
    if let Err(failure) = &outcome {
        watcher.failed(plugin, failure);
    }
    let data = store.into_data();
    let peak_memory = data.limiter.peak_memory;
    let progress = data.progress.latest;
    let mut log = data.log;
    for (stream, pipe) in [("stdout", &data.stdout), ("stderr", &data.stderr)] {
        let text = String::from_utf8_lossy(&pipe.contents()).into_owned();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields = BTreeMap::from([("stream".to_owned(), stream.to_owned())]);
            log.push(
                if stream == "stderr" { "warn" } else { "info" },
                line,
                fields,
            );
        }
    }
    JobReport {
        outcome,
        logs: log.finish(),
        progress,
        elapsed: started.elapsed(),
        peak_memory,
    }
}

/// Installs the memory limiter, the fuel budget and the wall-clock deadline on a store.
/// The epoch callback yields to tokio every tick, so a spinning plugin never holds a
/// worker thread for longer than one tick, and interrupts it once the deadline passed.
pub(crate) fn arm_limits(store: &mut Store<Sandbox>, fuel: Option<u64>) {
    store.limiter(|s| &mut s.limiter);
    // Fails only when the engine does not meter fuel, in which case there is no budget.
    let _ = store.set_fuel(fuel.unwrap_or(u64::MAX));
    // The deadline is counted in epoch ticks, which advance only while a guest holds this.
    store.data_mut().guest_running = Some(GuestRunning::enter());
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        if Instant::now() >= ctx.data().deadline {
            ctx.data_mut().timed_out = true;
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
}

/// Where a job's run failed: while the component was instantiated, or inside the call.
enum Stage {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

async fn instantiate_and_call(
    pre: &PluginPre,
    store: &mut Store<Sandbox>,
    ctx: &JobContext,
    call: JobCall,
    instantiated: impl FnOnce(Duration),
) -> Result<Result<Returned, JobError>, Stage> {
    let started = Instant::now();
    let plugin: Plugin = pre
        .instantiate_async(&mut *store)
        .await
        .map_err(Stage::Instantiate)?;
    instantiated(started.elapsed());
    call_plugin(&plugin, store, ctx, call)
        .await
        .map_err(Stage::Call)
}

async fn call_plugin(
    plugin: &Plugin,
    store: &mut Store<Sandbox>,
    ctx: &JobContext,
    call: JobCall,
) -> wasmtime::Result<Result<Returned, JobError>> {
    let outcome =
        |r: Result<JobOutcome, JobError>| r.map(|o| Returned::Outcome(o, FamilyData::None));
    Ok(match call {
        JobCall::Custom => outcome(plugin.run_custom(&mut *store, ctx).await?),
        JobCall::Scan => {
            let returned = plugin.scan(&mut *store, ctx).await?;
            let record = std::mem::take(&mut store.data_mut().tls.record);
            returned.map(|o| Returned::Outcome(o, FamilyData::Probes(record)))
        }
        JobCall::Rotate => outcome(plugin.rotate(&mut *store, ctx).await?),
        JobCall::Synchronize => plugin
            .synchronize(&mut *store, ctx)
            .await?
            .map(|s| Returned::Outcome(s.outcome, FamilyData::Keys(s.keys))),
        JobCall::Inventory(cert_store) => plugin
            .inventory(&mut *store, ctx, &cert_store)
            .await?
            .map(|entries| {
                let message = format!("{} certificates found", entries.len());
                Returned::Data(FamilyData::Inventory(entries), message)
            }),
        JobCall::Add(cert_store, entry) => {
            outcome(plugin.add(&mut *store, ctx, &cert_store, &entry).await?)
        }
        JobCall::Remove(cert_store, alias) => {
            outcome(plugin.remove(&mut *store, ctx, &cert_store, &alias).await?)
        }
        JobCall::Create(cert_store) => outcome(plugin.create(&mut *store, ctx, &cert_store).await?),
        JobCall::Discover(request) => {
            plugin
                .discover(&mut *store, ctx, &request)
                .await?
                .map(|paths| {
                    let message = format!("{} stores found", paths.len());
                    Returned::Data(FamilyData::Paths(paths), message)
                })
        }
        JobCall::Reenroll(cert_store, request) => outcome(
            plugin
                .reenroll(&mut *store, ctx, &cert_store, &request)
                .await?,
        ),
    })
}

/// The limit a job ran into, if it did (the flags the limiter and the epoch callback set).
fn limit_hit(data: &Sandbox, limits: &JobLimits, store: &Store<Sandbox>) -> Option<JobFailure> {
    if data.timed_out {
        return Some(JobFailure::TimedOut(limits.timeout));
    }
    if data.limiter.memory_exceeded {
        return Some(JobFailure::MemoryExceeded(limits.memory_bytes));
    }
    if let Some(budget) = limits.fuel
        && store.get_fuel().is_ok_and(|left| left == 0)
    {
        return Some(JobFailure::FuelExhausted(budget));
    }
    None
}

/// What ended a call: a limit, a fault of the host (a [`HostFault`] an import trapped
/// with), or a crash of the plugin with wasmtime's reason.
fn classify_trap(
    trap: &wasmtime::Error,
    data: &Sandbox,
    limits: &JobLimits,
    store: &Store<Sandbox>,
) -> JobFailure {
    if let Some(limit) = limit_hit(data, limits, store) {
        return limit;
    }
    if let Some(fault) = trap.downcast_ref::<HostFault>() {
        return JobFailure::HostFault(fault.to_string());
    }
    JobFailure::Crashed(first_line(&reason(trap)))
}

/// The most telling text of an error: the trap code, else the root cause.
fn reason(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => e.root_cause().to_string(),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn plugin_error_to_failure(error: JobError) -> JobFailure {
    match error {
        JobError::InvalidParams(p) => JobFailure::InvalidParams {
            field: p.field,
            reason: p.reason,
        },
        JobError::Unsupported(s) => JobFailure::Unsupported(s),
        JobError::Failed(s) => JobFailure::Failed(s),
    }
}

/// Checks the size cap, parses details, and scrubs revealed secrets from the output.
fn finish(
    returned: Returned,
    redactions: &super::capabilities::Redactions,
    max_output: usize,
) -> Result<Finished, JobFailure> {
    let (result, message, details, data) = match returned {
        Returned::Outcome(o, data) => (o.result, o.message, o.details, data),
        Returned::Data(data, message) => (JobResult::Success, message, String::new(), data),
    };
    let size = message.len() + details.len();
    if size > max_output {
        return Err(JobFailure::OutputTooLarge(size, max_output));
    }
    let details = if details.trim().is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_str(&redactions.scrub(&details)) {
            Ok(v) => v,
            Err(e) => {
                return Err(JobFailure::Failed(format!(
                    "the plugin returned details that are not JSON: {e}"
                )));
            }
        }
    };
    Ok(Finished {
        result,
        message: redactions.scrub(&message),
        details,
        data: scrub_family(data, redactions)?,
    })
}

/// A plugin's error text with revealed secrets scrubbed and cut to the output cap (like
/// a message with its details).
fn scrub_failure(
    failure: JobFailure,
    redactions: &super::capabilities::Redactions,
    max_output: usize,
) -> JobFailure {
    let clean = |text: String| capped(redactions.scrub(&text), max_output);
    match failure {
        JobFailure::InvalidParams { field, reason } => JobFailure::InvalidParams {
            field: clean(field),
            reason: clean(reason),
        },
        JobFailure::Unsupported(s) => JobFailure::Unsupported(clean(s)),
        JobFailure::Failed(s) => JobFailure::Failed(clean(s)),
        other => other,
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), saying so.
fn capped(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut at {max} bytes of {})", &text[..end], text.len())
}

/// What a job returned for the host to keep, with revealed secrets scrubbed from every
/// text a plugin chose (key ids and aliases, attributes, store entry aliases, discovered
/// paths). A certificate whose subject or names carry a revealed secret is refused: the
/// host would show them in inventories.
fn scrub_family(
    data: FamilyData,
    redactions: &super::capabilities::Redactions,
) -> Result<FamilyData, JobFailure> {
    let scrub = |s: &str| redactions.scrub(s);
    Ok(match data {
        FamilyData::None => FamilyData::None,
        FamilyData::Keys(keys) => FamilyData::Keys(
            keys.into_iter()
                .map(|mut k| {
                    k.id = scrub(&k.id);
                    k.resource_name = k.resource_name.as_deref().map(scrub);
                    k.aliases = k.aliases.iter().map(|a| scrub(a)).collect();
                    k.state = scrub(&k.state);
                    k.attributes = scrub(&k.attributes);
                    k
                })
                .collect(),
        ),
        FamilyData::Inventory(entries) => {
            let mut kept = Vec::with_capacity(entries.len());
            for (i, mut entry) in entries.into_iter().enumerate() {
                entry.alias = scrub(&entry.alias);
                if let Some(leaf) = entry.chain.first()
                    && let Ok(summary) = crate::certificates::parse::summarize(leaf)
                {
                    let named = std::iter::once(&summary.subject).chain(summary.sans.iter());
                    if named.into_iter().any(|n| scrub(n) != *n) {
                        return Err(JobFailure::Failed(format!(
                            "inventory entry {i} ({}) has a certificate whose subject or names carry a secret the job revealed; the inventory is not kept",
                            entry.alias
                        )));
                    }
                }
                kept.push(entry);
            }
            FamilyData::Inventory(kept)
        }
        FamilyData::Paths(paths) => FamilyData::Paths(paths.iter().map(|p| scrub(p)).collect()),
        FamilyData::Probes(mut record) => {
            for p in &mut record.probes {
                p.host = scrub(&p.host);
                p.server_name = p.server_name.as_deref().map(scrub);
            }
            FamilyData::Probes(record)
        }
    })
}

fn early_failure(failure: JobFailure, started: Instant) -> JobReport {
    JobReport {
        outcome: Err(failure),
        logs: Vec::new(),
        progress: None,
        elapsed: started.elapsed(),
        peak_memory: 0,
    }
}

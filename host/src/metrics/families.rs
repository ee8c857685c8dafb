//! The metric families and the calls that update them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::runtime::invoke::JobFailure;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub operation: String,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    /// `success`, `warning`, `failure`, or empty when the job has none.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DurationLabels {
    pub operation: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PluginLabels {
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct FailureLabels {
    pub plugin: String,
    /// See [`failure_reason`].
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReloadLabels {
    /// `loaded`, `failed` or `removed`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    /// The route's pattern (`/api/v1/scheduler/jobs/{id}`), never the raw path: ids
    /// would make a series per job.
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RouteLabels {
    pub route: String,
    pub method: String,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 5 ms to about 3 hours: jobs and plugin starts alike.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 22))
}

/// Seconds from 1 ms to about 30 s: HTTP requests and scheduler lag.
fn short_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub(super) struct Families {
    pub registry: Registry,
    pub jobs_finished: Family<JobLabels, Counter>,
    pub job_duration: Timings<DurationLabels>,
    pub job_retries: Family<OperationLabels, Counter>,
    pub jobs_queued: Gauge,
    pub jobs_due: Gauge,
    pub jobs_running: Gauge,
    pub oldest_due_age: Gauge<f64, AtomicU64>,
    pub scheduler_lag: Histogram,
    pub instantiation: Timings<PluginLabels>,
    pub plugin_failures: Family<FailureLabels, Counter>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Timings<RouteLabels>,
}

/// A node's metrics. Cheap to clone; updating never blocks on anything but an atomic.
#[derive(Clone)]
pub struct Metrics {
    pub(super) families: Arc<Families>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("keywarden");
        let jobs_finished = Family::<JobLabels, Counter>::default();
        registry.register(
            "jobs_finished",
            "Jobs that ended, by operation, status and result",
            jobs_finished.clone(),
        );
        let job_duration: Timings<DurationLabels> = Family::new_with_constructor(seconds);
        registry.register(
            "job_duration_seconds",
            "Time from a job's start on a node to its end",
            job_duration.clone(),
        );
        let job_retries = Family::<OperationLabels, Counter>::default();
        registry.register(
            "job_retries",
            "Failed attempts that were queued to run again",
            job_retries.clone(),
        );
        let jobs_queued = Gauge::default();
        registry.register(
            "jobs_queued",
            "Jobs waiting in the queue, due or not (read when scraped)",
            jobs_queued.clone(),
        );
        let jobs_due = Gauge::default();
        registry.register(
            "jobs_due",
            "Queued jobs whose time has come (read when scraped)",
            jobs_due.clone(),
        );
        let jobs_running = Gauge::default();
        registry.register(
            "jobs_running",
            "Jobs running on any node (read when scraped)",
            jobs_running.clone(),
        );
        let oldest_due_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_due_job_age_seconds",
            "How long the longest-waiting due job has waited (0 when none waits)",
            oldest_due_age.clone(),
        );
        let scheduler_lag = short_seconds();
        registry.register(
            "scheduler_lag_seconds",
            "From a config's fire time to its job being enqueued",
            scheduler_lag.clone(),
        );
        let instantiation: Timings<PluginLabels> = Family::new_with_constructor(seconds);
        registry.register(
            "plugin_instantiation_seconds",
            "Time to instantiate a plugin's component for one job",
            instantiation.clone(),
        );
        let plugin_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "plugin_failures",
            "Plugin runs that ended without an outcome, by reason",
            plugin_failures.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "plugin_reloads",
            "Changes to the plugins folder picked up while running",
            reloads.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let request_duration: Timings<RouteLabels> = Family::new_with_constructor(short_seconds);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its response head)",
            request_duration.clone(),
        );
        Self {
            families: Arc::new(Families {
                registry,
                jobs_finished,
                job_duration,
                job_retries,
                jobs_queued,
                jobs_due,
                jobs_running,
                oldest_due_age,
                scheduler_lag,
                instantiation,
                plugin_failures,
                reloads,
                requests,
                request_duration,
            }),
        }
    }

    /// A job ended after running `ran` on this node.
    pub fn job_finished(&self, labels: JobLabels, ran: Duration) {
        let f = &self.families;
        f.job_duration
            .get_or_create(&DurationLabels {
                operation: labels.operation.clone(),
                status: labels.status.clone(),
            })
            .observe(ran.as_secs_f64());
        f.jobs_finished.get_or_create(&labels).inc();
    }

    /// A failed attempt of a job was queued to run again.
    pub fn job_retried(&self, operation: &str) {
        self.families
            .job_retries
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// A config fired `lag` after its fire time.
    pub fn fired(&self, lag: Duration) {
        self.families.scheduler_lag.observe(lag.as_secs_f64());
    }

    /// A plugin's component was instantiated for a job in `took`.
    pub fn instantiated(&self, plugin: &str, took: Duration) {
        self.families
            .instantiation
            .get_or_create(&PluginLabels {
                plugin: plugin.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A plugin run ended without an outcome.
    pub fn plugin_failed(&self, plugin: &str, failure: &JobFailure) {
        self.families
            .plugin_failures
            .get_or_create(&FailureLabels {
                plugin: plugin.to_owned(),
                reason: failure_reason(failure).to_owned(),
            })
            .inc();
    }

    /// The plugins folder changed: `outcome` is `loaded`, `failed` or `removed`.
    pub fn reloaded(&self, outcome: &str) {
        self.families
            .reloads
            .get_or_create(&ReloadLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// The `reason` label of a plugin failure: a fixed word per kind, so the series stay few.
pub fn failure_reason(failure: &JobFailure) -> &'static str {
    match failure {
        JobFailure::TimedOut(_) => "timeout",
        JobFailure::MemoryExceeded(_) => "memory",
        JobFailure::FuelExhausted(_) => "fuel",
        JobFailure::Crashed(_) => "trap",
        JobFailure::InvalidParams { .. } => "invalid_params",
        JobFailure::Unsupported(_) => "unsupported",
        JobFailure::Failed(_) => "plugin_error",
        JobFailure::Instantiate(_) => "instantiate",
        JobFailure::HostFault(_) => "host_fault",
        JobFailure::OutputTooLarge(..) => "output_too_large",
    }
}

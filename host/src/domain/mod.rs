//! The domain service: the one way into Keywarden's model (River's `Client` is the model).
//!
//! Both API dialects parse a request into the types here, call one [`Service`] method and
//! render what it returns. Every job config and every job is built in this module, every
//! rule (what a job targets, which plugin serves it, which grants and secrets a request may
//! use, which jobs may be rescheduled) is checked here once, and every read and write is
//! restricted to the caller's account here, so no handler can forget it.
//!
//! Handlers never hold the database; the scheduler and executor do, for their own loops.

pub mod access;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod caller;
pub mod catalog;
pub mod certificate_stores;
pub mod configs;
pub mod dry_run;
pub mod error;
pub mod history;
pub mod host_operations;
pub mod job_events;
pub mod jobs;
pub mod kind;
pub mod legacy;
pub mod metrics;
pub mod nodes;
pub mod quotas;
pub mod schedule;
pub mod ssl_networks;
pub mod ssl_scans;
pub mod target;
pub mod tokens;

use std::sync::Arc;

use keywarden_db::Database;

pub use caller::Caller;
pub use error::{DomainError, DomainResult, Field, Refusal};

/// Listings of jobs, job history, job configs and inventories count their matches up to
/// this many: past it the total says "more than 10,000" (`Total::exact` false) instead of
/// costing a count of every match (a million jobs take PostgreSQL ~80 ms, the page itself
/// well under one). GitLab and Elasticsearch stop counting at the same number.
pub const LIST_COUNT_BOUND: i64 = 10_000;

use crate::plugins::PluginRegistry;

/// The domain service. Cheap to clone; one per server.
#[derive(Clone)]
pub struct Service {
    db: Arc<dyn Database>,
    registry: Arc<PluginRegistry>,
    /// This node's id: jobs may always be pinned to it.
    node_id: String,
    /// Serving remote agents (their CA, settings); `None` in tools that do not.
    agents: Option<Arc<agents::AgentsContext>>,
    /// What running jobs report live (the executor of this node publishes into it).
    events: crate::events::JobEvents,
    /// This node's metrics, for `GET /metrics`.
    metrics: crate::metrics::Metrics,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("db", &self.db.backend())
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(db: Arc<dyn Database>, registry: Arc<PluginRegistry>, node_id: String) -> Self {
        Self {
            db,
            registry,
            node_id,
            agents: None,
            events: crate::events::JobEvents::default(),
            metrics: crate::metrics::Metrics::default(),
        }
    }

    /// The service following this node's executor's live events and serving its metrics.
    pub fn with_observability(
        mut self,
        events: crate::events::JobEvents,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        self.events = events;
        self.metrics = metrics;
        self
    }

    /// The service serving remote agents too.
    pub fn with_agents(mut self, agents: agents::AgentsContext) -> Self {
        self.agents = Some(Arc::new(agents));
        self
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The plugins folder's registry (what is loaded, for listings and the API contract).
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// This node's metrics (the HTTP layer counts requests into them).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Which database backend is underneath (`sqlite` or `postgres`).
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }
}

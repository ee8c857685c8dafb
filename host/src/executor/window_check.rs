//! A second look at maintenance windows when a gated job starts late.
//!
//! The scheduler dates a job inside its windows, but a job may be claimed after its
//! window closed: a backlog, a node that was down, a retry whose backoff ran past the
//! close. Such a job reads its config's windows again (they may have changed too): inside
//! one it runs; outside, it goes back to the queue until the next opening without
//! spending an attempt. A job claimed before `start_by` skips the read.

use chrono::{DateTime, Utc};
use keywarden_db::{Database, Job};

use crate::plugins::PluginRegistry;
use crate::scheduler::gate::Gate;
use crate::scheduler::windows::HORIZON_DAYS;
use crate::tenancy::access;

/// What the windows say about starting `job` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Run,
    /// Back to the queue until then, saying why.
    Wait(DateTime<Utc>, String),
    /// It can never start: fail it, saying why.
    Never(String),
}

/// Whether `job` may start at `now`.
pub(crate) async fn check(
    db: &dyn Database,
    registry: &PluginRegistry,
    job: &Job,
    now: DateTime<Utc>,
) -> Verdict {
    let (Some(by), Some(config_id)) = (job.start_by, job.job_config_id) else {
        return Verdict::Run;
    };
    if now < by {
        return Verdict::Run;
    }
    let config = match db.get_config(None, config_id).await {
        Ok(Some(config)) => config,
        // The config is gone, and its windows with it.
        Ok(None) => return Verdict::Run,
        // Running outside a change window is worse than starting a little later.
        Err(e) => {
            return Verdict::Wait(
                now + chrono::Duration::seconds(30),
                format!("could not read the config's maintenance windows ({e}); trying again"),
            );
        }
    };
    let account = access::account(registry.runtime().config(), &job.account_id)
        .map(|a| a.scheduling_policy());
    let gate = match Gate::of(&config, account.as_ref()) {
        Ok(gate) => gate,
        Err(e) => {
            return Verdict::Never(format!(
                "the config's windows are no longer valid ({}: {})",
                e.path(),
                e.reason
            ));
        }
    };
    let windows = gate.windows();
    if windows.allows(now) {
        return Verdict::Run;
    }
    match windows.next_allowed(now) {
        Some(at) => Verdict::Wait(
            at,
            format!(
                "outside the maintenance windows (or inside a blackout): waiting for the next opening at {}",
                at.to_rfc3339()
            ),
        ),
        None => Verdict::Never(format!(
            "no maintenance window of the config (or of its account) opens within {HORIZON_DAYS} days"
        )),
    }
}

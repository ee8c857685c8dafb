//! `POST /KeyfactorAPI/OrchestratorJobs/Reschedule`: re-runs failed jobs of the eligible
//! types. Each rescheduled job gets a new run (a new job, with its own audit id, copying
//! the operation, params, target and config link); the failed entry stays in the history,
//! marked with the run that replaced it, and cannot be rescheduled twice.
//!
//! Eligible (per the reference): Result Failure with Status Completed or Acknowledged, and
//! a certificate-store Management or Reenrollment job, a JKS, PEM or F5 store Discovery
//! job, or a custom job from a weekly or monthly schedule. Batches are all or nothing
//! (`batch.rs`).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use keywarden_db::{JobHistoryEntry, NewJob};
use serde_json::Value;
use uuid::Uuid;

use super::batch::{self, JobBatchRequest};
use super::codes::{self, JobKind};
use super::schedule;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::extract::ApiJson;
use crate::api::keyfactor::error::{KeyfactorErrorBody, KeyfactorResult, Refusal};
use crate::plugins::PluginRegistry;

/// Store types whose Discovery jobs may be rescheduled.
const RESCHEDULABLE_DISCOVERY: &[&str] = &["JKS", "PEM", "F5"];

/// Why `e` cannot be rescheduled, or `Ok` if it can. `schedule_type` is the ScheduleType
/// of its config (`None`: immediate, no config or the config is gone).
pub fn eligibility(
    e: &JobHistoryEntry,
    kind: JobKind,
    schedule_type: Option<&str>,
) -> Result<(), String> {
    let (result, status) = (codes::result_code(e), codes::status_code(e));
    if result != 4 || !(status == 3 || status == 4) {
        return Err(format!(
            "only failed jobs (Result 4) with Status 3 (Completed) or 4 (Acknowledged) can be rescheduled; this one has Result {result} and Status {status}"
        ));
    }
    if let Some(run) = e.rescheduled_as {
        return Err(format!("already rescheduled as job {run}"));
    }
    match kind {
        JobKind::StoreManagement | JobKind::StoreReenrollment => Ok(()),
        JobKind::StoreDiscovery => {
            let store_type = e.job.target.as_deref().unwrap_or("");
            if RESCHEDULABLE_DISCOVERY.iter().any(|t| t.eq_ignore_ascii_case(store_type)) {
                Ok(())
            } else {
                Err(format!(
                    "only JKS, PEM and F5 certificate store discovery can be rescheduled, not {store_type:?} store discovery"
                ))
            }
        }
        JobKind::StoreInventory => Err(
            "certificate store inventory cannot be rescheduled; change the inventory schedule with POST /CertificateStores/Schedule".to_owned(),
        ),
        JobKind::Custom => match schedule_type {
            Some("W_" | "M_") => Ok(()),
            Some(kind @ ("I_" | "D_")) => Err(format!(
                "only custom jobs scheduled weekly or monthly can be rescheduled; this one is scheduled {} and runs again on its schedule",
                if kind == "D_" { "daily" } else { "at an interval" }
            )),
            _ => Err(
                "custom jobs scheduled to run immediately or exactly once cannot be rescheduled; schedule a new custom job with POST /OrchestratorJobs/Custom".to_owned(),
            ),
        },
        JobKind::SslDiscovery => Err(
            "SSL discovery and monitoring jobs cannot be rescheduled; change their schedule with PUT /SSL/Networks".to_owned(),
        ),
        JobKind::KeyManagement => Err(
            "key management jobs are not orchestrator jobs; run their job config again with POST /api/v1/scheduler/job-configs/{id}/run-now".to_owned(),
        ),
        JobKind::Unknown => Err(format!(
            "no loaded plugin provides operation {:?}, so its job type is unknown",
            e.job.operation
        )),
    }
}

/// The kind of job `e` is, per the loaded plugins.
pub fn kind_of(registry: &PluginRegistry, e: &JobHistoryEntry) -> JobKind {
    let family = codes::family_of(registry, &e.job.operation, e.job.target.as_deref());
    codes::job_type(&e.job.operation, family).kind
}

/// The new run of a failed job.
fn rerun(e: &JobHistoryEntry) -> NewJob {
    let j = &e.job;
    let now = Utc::now();
    NewJob {
        id: Uuid::now_v7(),
        account_id: j.account_id.clone(),
        job_config_id: j.job_config_id,
        name: j.name.clone(),
        description: j.description.clone(),
        operation: j.operation.clone(),
        target: j.target.clone(),
        params: j.params.clone(),
        run_on: j.run_on.clone(),
        max_attempts: j.max_attempts.max(1),
        retry_backoff_secs: j.retry_backoff_secs,
        scheduled_for: now,
        enqueued_at: now,
    }
}

#[utoipa::path(post, path = "/KeyfactorAPI/OrchestratorJobs/Reschedule", tag = "keyfactor",
    request_body = JobBatchRequest,
    responses(
        (status = 204, description = "Every selected job was rescheduled"),
        (status = 400, body = KeyfactorErrorBody, description = "Bad body or query, or some selected jobs are not eligible (listed in refused; nothing was done)"),
        (status = 404, body = KeyfactorErrorBody, description = "Some JobAuditIds do not exist (listed in refused; nothing was done)"),
        (status = 409, body = KeyfactorErrorBody, description = "A selected job changed meanwhile (e.g. rescheduled by another request)")),
    security(("bearer" = [])))]
pub async fn reschedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let selection = batch::select(&state, &caller, body).await?;
    let kinds: Vec<JobKind> = selection
        .entries
        .iter()
        .map(|e| kind_of(&state.registry, e))
        .collect();
    let schedules = if kinds.contains(&JobKind::Custom) {
        schedule::config_schedule_types(&*state.db, caller.scope()).await?
    } else {
        HashMap::new()
    };
    let mut refused = Vec::new();
    let mut reruns = Vec::new();
    for (e, kind) in selection.entries.iter().zip(kinds) {
        let schedule_type = e
            .job
            .job_config_id
            .and_then(|id| schedules.get(&id))
            .copied();
        match eligibility(e, kind, schedule_type) {
            Ok(()) => reruns.push((e.job.id, rerun(e))),
            Err(reason) => refused.push(Refusal {
                job_audit_id: e.audit_id,
                reason,
            }),
        }
    }
    batch::refuse_if_any(selection.field, "rescheduled", refused)?;
    state.db.reschedule_jobs(caller.scope(), &reruns).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::keyfactor::jobs::codes::tests_support::entry;

    fn failed(target: Option<&str>) -> JobHistoryEntry {
        let mut e = entry("failed", Some("failure"), 1, false);
        e.job.target = target.map(str::to_owned);
        e
    }

    #[test]
    fn certificate_store_jobs() {
        let ok = |kind, target| eligibility(&failed(target), kind, None);
        assert_eq!(ok(JobKind::StoreManagement, Some("PEM")), Ok(()));
        assert_eq!(ok(JobKind::StoreReenrollment, Some("PKCS12")), Ok(()));
        assert_eq!(ok(JobKind::StoreDiscovery, Some("JKS")), Ok(()));
        assert_eq!(ok(JobKind::StoreDiscovery, Some("pem")), Ok(()));
        let e = ok(JobKind::StoreDiscovery, Some("PKCS12")).unwrap_err();
        assert!(e.contains("only JKS, PEM and F5"), "{e}");
        let e = ok(JobKind::StoreInventory, Some("PEM")).unwrap_err();
        assert!(e.contains("POST /CertificateStores/Schedule"), "{e}");
    }

    #[test]
    fn custom_jobs_by_schedule() {
        let e = failed(None);
        assert_eq!(eligibility(&e, JobKind::Custom, Some("W_")), Ok(()));
        assert_eq!(eligibility(&e, JobKind::Custom, Some("M_")), Ok(()));
        for immediate in [None, Some("O_")] {
            let why = eligibility(&e, JobKind::Custom, immediate).unwrap_err();
            assert!(why.contains("POST /OrchestratorJobs/Custom"), "{why}");
        }
        let why = eligibility(&e, JobKind::Custom, Some("D_")).unwrap_err();
        assert!(why.contains("daily"), "{why}");
    }

    #[test]
    fn other_kinds_and_states() {
        let e = failed(None);
        assert!(
            eligibility(&e, JobKind::SslDiscovery, None)
                .unwrap_err()
                .contains("PUT /SSL/Networks")
        );
        assert!(
            eligibility(&e, JobKind::KeyManagement, None)
                .unwrap_err()
                .contains("run-now")
        );
        assert!(
            eligibility(&e, JobKind::Unknown, None)
                .unwrap_err()
                .contains("no loaded plugin")
        );
        // Acknowledged failures are eligible; successes, warnings, pending retries are not.
        let acked = entry("failed", Some("failure"), 1, true);
        assert_eq!(eligibility(&acked, JobKind::StoreManagement, None), Ok(()));
        for (st, res, attempt) in [
            ("completed", Some("success"), 1),
            ("completed", Some("warning"), 1),
            ("queued", None, 1),
            ("running", None, 1),
        ] {
            let why = eligibility(
                &entry(st, res, attempt, false),
                JobKind::StoreManagement,
                None,
            )
            .unwrap_err();
            assert!(why.contains("only failed jobs"), "{st}: {why}");
        }
        let mut done = failed(None);
        done.rescheduled_as = Some(Uuid::nil());
        assert!(
            eligibility(&done, JobKind::StoreManagement, None)
                .unwrap_err()
                .contains("already rescheduled")
        );
    }
}

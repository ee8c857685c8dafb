//! Job history: where each job stands for a user (its [`Phase`] and [`Outcome`]), queries
//! over it, and the two batch actions, acknowledge and reschedule, with their eligibility
//! rules.
//!
//! A job's phase and outcome derive from its status, attempt and acknowledgement, and are
//! defined twice, in step: as a function of a stored job (to show it) and as a database
//! condition (to filter and sort in SQL). Keyfactor's numeric Status and Result codes are
//! a rendering of these.
//!
//! | job | phase | outcome |
//! |---|---|---|
//! | queued, never attempted | waiting | unknown |
//! | running | in process | unknown |
//! | queued again after a failed attempt | will retry | failure |
//! | completed / failed / cancelled | completed | its result (unknown when none) |
//! | either of the last two, its latest attempt acknowledged | acknowledged | as above |
//!
//! Batches are all or nothing: when any selected job is missing or not eligible, nothing is
//! done and the refusal lists each such job with the reason.

use std::collections::BTreeMap;

use chrono::Utc;
use keywarden_db::{
    Compare, JobCondition, JobField, JobHistoryEntry, JobOrder, JobQuery, JobResult, JobStatus,
    JobValue, ScheduleKind, Total,
};
use uuid::Uuid;

use super::jobs::JobSpec;
use super::kind::{JobKind, family_of, kind_of};
use super::{Caller, DomainError, DomainResult, Field, Refusal, Service};

/// Most jobs one batch request acts on.
pub const MAX_BATCH: i64 = 1000;

/// Store types whose Discovery jobs may be rescheduled (per Keyfactor's rules).
const RESCHEDULABLE_DISCOVERY: &[&str] = &["JKS", "PEM", "F5"];

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Unknown,
    Waiting,
    InProcess,
    Completed,
    Acknowledged,
    WillRetry,
}

/// How it went, as far as is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unknown,
    Success,
    Warning,
    Failure,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Unknown,
        Phase::Waiting,
        Phase::InProcess,
        Phase::Completed,
        Phase::Acknowledged,
        Phase::WillRetry,
    ];

    fn words(self) -> &'static str {
        match self {
            Phase::Unknown => "in an unknown state",
            Phase::Waiting => "waiting",
            Phase::InProcess => "running",
            Phase::Completed => "completed",
            Phase::Acknowledged => "acknowledged",
            Phase::WillRetry => "waiting to be retried",
        }
    }

    /// The jobs in this phase, as a database condition.
    pub fn condition(self) -> JobCondition {
        match self {
            Phase::Waiting => JobCondition::All(vec![
                JobCondition::is(JobField::Status, JobStatus::Queued.as_str()),
                JobCondition::eq(JobField::Attempt, JobValue::Int(0)),
            ]),
            Phase::InProcess => JobCondition::is(JobField::Status, JobStatus::Running.as_str()),
            Phase::Completed => {
                JobCondition::All(vec![finished(), JobCondition::Acknowledged.negate()])
            }
            Phase::Acknowledged => JobCondition::All(vec![
                JobCondition::Any(vec![finished(), retry_pending()]),
                JobCondition::Acknowledged,
            ]),
            Phase::WillRetry => {
                JobCondition::All(vec![retry_pending(), JobCondition::Acknowledged.negate()])
            }
            Phase::Unknown => JobCondition::False,
        }
    }
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Unknown,
        Outcome::Success,
        Outcome::Warning,
        Outcome::Failure,
    ];

    fn words(self) -> &'static str {
        match self {
            Outcome::Unknown => "no result",
            Outcome::Success => "a success",
            Outcome::Warning => "a warning",
            Outcome::Failure => "a failure",
        }
    }

    /// The jobs with this outcome, as a database condition.
    pub fn condition(self) -> JobCondition {
        let result = |r: JobResult| JobCondition::is(JobField::Result, r.as_str());
        match self {
            Outcome::Success => result(JobResult::Success),
            Outcome::Warning => result(JobResult::Warning),
            Outcome::Failure => {
                JobCondition::Any(vec![result(JobResult::Failure), retry_pending()])
            }
            Outcome::Unknown => JobCondition::Any(vec![
                Outcome::Success.condition(),
                Outcome::Warning.condition(),
                Outcome::Failure.condition(),
            ])
            .negate(),
        }
    }
}

fn finished() -> JobCondition {
    JobCondition::In {
        field: JobField::Status,
        values: JobStatus::FINAL
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    }
}

fn retry_pending() -> JobCondition {
    JobCondition::All(vec![
        JobCondition::is(JobField::Status, JobStatus::Queued.as_str()),
        JobCondition::Compare {
            field: JobField::Attempt,
            op: Compare::Gt,
            value: JobValue::Int(0),
        },
    ])
}

fn is_retry_pending(e: &JobHistoryEntry) -> bool {
    e.job.status == JobStatus::Queued && e.job.attempt > 0
}

/// The phase of a job (see the module docs).
pub fn phase(e: &JobHistoryEntry) -> Phase {
    let done = e.job.status.is_final();
    match () {
        _ if (done || is_retry_pending(e)) && e.acknowledged => Phase::Acknowledged,
        _ if done => Phase::Completed,
        _ if is_retry_pending(e) => Phase::WillRetry,
        _ if e.job.status == JobStatus::Running => Phase::InProcess,
        _ if e.job.status == JobStatus::Queued => Phase::Waiting,
        _ => Phase::Unknown,
    }
}

/// The outcome of a job (see the module docs).
pub fn outcome(e: &JobHistoryEntry) -> Outcome {
    match e.job.result {
        Some(JobResult::Success) => Outcome::Success,
        Some(JobResult::Warning) => Outcome::Warning,
        Some(JobResult::Failure) => Outcome::Failure,
        None if is_retry_pending(e) => Outcome::Failure,
        None => Outcome::Unknown,
    }
}

/// Which jobs a batch acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// These audit ids (without repeats); each must exist.
    AuditIds(Vec<i64>),
    /// Whatever matches (a query the dialect translated).
    Matching(JobCondition),
}

/// The jobs a selection found, in audit-id order, and the condition that found them.
struct Selected {
    entries: Vec<JobHistoryEntry>,
    condition: JobCondition,
}

impl Service {
    /// A page of the caller's jobs matching `condition`, in `order`, with their history
    /// bookkeeping.
    pub async fn history(
        &self,
        caller: &Caller,
        condition: JobCondition,
        order: Vec<(JobOrder, bool)>,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(Total, Vec<JobHistoryEntry>)> {
        let query = JobQuery {
            account_id: caller.scope().map(str::to_owned),
            condition,
            order,
            count_bound: Some(super::LIST_COUNT_BOUND),
        };
        let (counted, entries) = self.db.query_job_history(&query, skip, limit).await?;
        Ok((Total::of(counted, query.count_bound), entries))
    }

    /// The kind of job `e` is, per the loaded plugins.
    pub fn kind_of_entry(&self, e: &JobHistoryEntry) -> JobKind {
        let family = family_of(&self.registry, &e.job.operation, e.job.target.as_deref());
        kind_of(&e.job.operation, family)
    }

    async fn select(&self, caller: &Caller, selection: Selection) -> DomainResult<Selected> {
        let (condition, named) = match selection {
            Selection::AuditIds(ids) => {
                if ids.is_empty() {
                    return Err(DomainError::invalid(
                        Field::Selection,
                        "must name at least one job",
                    ));
                }
                if ids.len() as i64 > MAX_BATCH {
                    return Err(DomainError::invalid(
                        Field::Selection,
                        format!("names more than {MAX_BATCH} jobs"),
                    ));
                }
                let condition = JobCondition::Any(
                    ids.iter()
                        .map(|id| JobCondition::eq(JobField::AuditId, JobValue::Int(*id)))
                        .collect(),
                );
                (condition, Some(ids))
            }
            Selection::Matching(condition) => (condition, None),
        };
        let order = vec![(JobOrder::Field(JobField::AuditId), false)];
        let (total, entries) = self
            .history(caller, condition.clone(), order, 0, MAX_BATCH)
            .await?;
        if total.count > MAX_BATCH {
            // What the query matches depends on the jobs there are: a conflict.
            return Err(DomainError::conflict(
                Field::Selection,
                format!("selects {total} jobs; at most {MAX_BATCH} per request, narrow it"),
            ));
        }
        if let Some(ids) = named {
            let missing: Vec<Refusal> = ids
                .iter()
                .filter(|id| !entries.iter().any(|e| e.audit_id == **id))
                .map(|id| Refusal {
                    audit_id: *id,
                    reason: "no job with this audit id".to_owned(),
                })
                .collect();
            if !missing.is_empty() {
                return Err(DomainError::Refused {
                    missing: true,
                    message: format!(
                        "{} of the jobs do not exist; nothing was done",
                        missing.len()
                    ),
                    refused: missing,
                });
            }
        }
        Ok(Selected { entries, condition })
    }

    /// Marks the latest attempt of every selected job acknowledged (removing it from the
    /// failures that need attention). All or nothing.
    pub async fn acknowledge(&self, caller: &Caller, selection: Selection) -> DomainResult<()> {
        let selected = self.select(caller, selection).await?;
        let refused = selected
            .entries
            .iter()
            .filter_map(|e| {
                acknowledgeable(e).err().map(|reason| Refusal {
                    audit_id: e.audit_id,
                    reason,
                })
            })
            .collect();
        refuse_if_any("acknowledged", refused)?;
        if !selected.entries.is_empty() {
            // Eligibility is applied again in the UPDATE, so a job that changed since it
            // was read is left alone.
            let condition =
                JobCondition::All(vec![selected.condition, acknowledgeable_condition()]);
            self.db.acknowledge_jobs(caller.scope(), &condition).await?;
        }
        Ok(())
    }

    /// Runs every selected failed job again: each gets a new job (its own audit id, the
    /// same operation, params, target and config) and is marked as rescheduled as it. All
    /// or nothing.
    pub async fn reschedule(&self, caller: &Caller, selection: Selection) -> DomainResult<()> {
        let selected = self.select(caller, selection).await?;
        let now = Utc::now();
        let mut refused = Vec::new();
        // Per account (an admin may select several accounts' jobs): the reruns pass what
        // every queued job passes, grants and queue quota, before any is written.
        let mut by_account: BTreeMap<&str, Vec<(Uuid, JobSpec)>> = BTreeMap::new();
        for e in &selected.entries {
            self.check_host_caller(caller, &e.job.operation)?;
            match reschedulable(e, self.kind_of_entry(e)) {
                Ok(()) => by_account
                    .entry(&e.job.account_id)
                    .or_default()
                    .push((e.job.id, JobSpec::rerun(&e.job, now))),
                Err(reason) => refused.push(Refusal {
                    audit_id: e.audit_id,
                    reason,
                }),
            }
        }
        refuse_if_any("rescheduled", refused)?;
        let mut reruns = Vec::new();
        for (account, runs) in by_account {
            let (ids, mut specs): (Vec<Uuid>, Vec<JobSpec>) = runs.into_iter().unzip();
            // Grouped by account, the jobs are not the selection's order: no positions.
            self.admit(account, &mut specs, false).await?;
            reruns.extend(
                ids.into_iter()
                    .zip(specs.into_iter().map(|s| s.build(account, now))),
            );
        }
        self.db.reschedule_jobs(caller.scope(), &reruns).await?;
        self.events
            .queued_for(reruns.iter().map(|(_, job)| job.scheduled_for));
        Ok(())
    }
}

/// The audit id of job `id` (just inserted by the caller).
pub(crate) async fn audit_id_of(
    service: &Service,
    caller: &Caller,
    id: Uuid,
) -> DomainResult<Option<i64>> {
    let condition = JobCondition::is(JobField::Id, &id.to_string());
    let (_, found) = service.history(caller, condition, Vec::new(), 0, 1).await?;
    Ok(found.first().map(|e| e.audit_id))
}

fn refuse_if_any(action: &str, refused: Vec<Refusal>) -> DomainResult<()> {
    if refused.is_empty() {
        return Ok(());
    }
    Err(DomainError::Refused {
        missing: false,
        message: format!(
            "{} of the selected jobs cannot be {action}; nothing was done (see refused)",
            refused.len()
        ),
        refused,
    })
}

/// Why `e` cannot be acknowledged, or `Ok`: only failed or warning jobs that completed or
/// will be retried can be.
pub fn acknowledgeable(e: &JobHistoryEntry) -> Result<(), String> {
    let (phase, outcome) = (phase(e), outcome(e));
    if matches!(outcome, Outcome::Warning | Outcome::Failure)
        && matches!(phase, Phase::Completed | Phase::WillRetry)
    {
        Ok(())
    } else {
        Err(format!(
            "only failed or warning jobs that completed or wait to be retried can be acknowledged; this one is {} with {}",
            phase.words(),
            outcome.words()
        ))
    }
}

/// The acknowledgeable jobs as a condition (Keyfactor's `(Result -eq "4" OR Result -eq "3")
/// AND (Status -eq "3" OR Status -eq "5")`).
fn acknowledgeable_condition() -> JobCondition {
    JobCondition::All(vec![
        JobCondition::Any(vec![
            Outcome::Warning.condition(),
            Outcome::Failure.condition(),
        ]),
        JobCondition::Any(vec![
            Phase::Completed.condition(),
            Phase::WillRetry.condition(),
        ]),
    ])
}

/// Why `e` (a job of `kind`) cannot be rescheduled, or `Ok`. Eligible: failed jobs that
/// completed or were acknowledged, never rescheduled before, and either a certificate-store
/// Management or Reenrollment job, a JKS, PEM or F5 store Discovery job, or a custom job a
/// weekly or monthly schedule fired.
pub fn reschedulable(e: &JobHistoryEntry, kind: JobKind) -> Result<(), String> {
    let (phase, outcome) = (phase(e), outcome(e));
    if outcome != Outcome::Failure
        || !matches!(phase, Phase::Completed | Phase::Acknowledged)
        || !e.job.status.is_final()
    {
        return Err(format!(
            "only failed jobs that completed (or were acknowledged) can be rescheduled; this one is {} with {}",
            phase.words(),
            outcome.words()
        ));
    }
    if let Some(run) = e.rescheduled_as {
        return Err(format!("already rescheduled as job {run}"));
    }
    match kind {
        JobKind::StoreManagement | JobKind::StoreReenrollment => Ok(()),
        JobKind::StoreDiscovery => {
            let store_type = e.job.target.as_deref().unwrap_or("");
            if RESCHEDULABLE_DISCOVERY
                .iter()
                .any(|t| t.eq_ignore_ascii_case(store_type))
            {
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
        JobKind::Custom => match e.job.schedule_kind {
            Some(ScheduleKind::Weekly | ScheduleKind::Monthly) => Ok(()),
            Some(kind @ (ScheduleKind::Interval | ScheduleKind::Daily)) => Err(format!(
                "only custom jobs scheduled weekly or monthly can be rescheduled; this one is scheduled {} and runs again on its schedule",
                if kind == ScheduleKind::Daily {
                    "daily"
                } else {
                    "at an interval"
                }
            )),
            Some(ScheduleKind::Once) | None => Err(
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

/// Jobs in any state, for unit tests of the rules.
#[cfg(test)]
pub(crate) mod tests_support {
    use keywarden_db::{JobHistoryEntry, JobResult, JobStatus};

    pub fn entry(
        status: JobStatus,
        result: Option<JobResult>,
        attempt: i32,
        acknowledged: bool,
    ) -> JobHistoryEntry {
        let now = chrono::Utc::now();
        let config = keywarden_db::JobConfig::new("a", "n", "hello", "@daily", now);
        let new = keywarden_db::NewJob::from_config(&config, now, now);
        JobHistoryEntry {
            job: keywarden_db::Job {
                id: new.id,
                account_id: new.account_id,
                job_config_id: new.job_config_id,
                name: new.name,
                description: new.description,
                operation: new.operation,
                target: None,
                params: new.params,
                run_on: new.run_on,
                schedule_kind: None,
                status,
                result,
                message: None,
                details: None,
                logs: vec![],
                progress_done: 0,
                progress_total: 0,
                attempt,
                max_attempts: 3,
                retry_backoff_secs: 1,
                scheduled_for: now,
                enqueued_at: now,
                started_at: None,
                finished_at: None,
                processing_node: None,
                lease_expires_at: None,
                start_by: None,
                dry_run: false,
                created_at: now,
                updated_at: now,
            },
            audit_id: 1,
            acknowledged,
            rescheduled_as: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::entry;
    use super::*;

    const FAILURE: Option<JobResult> = Some(JobResult::Failure);

    #[test]
    fn phases_and_outcomes_of_the_job_model() {
        use JobStatus::*;
        for (st, res, attempt, ack, want_phase, want_outcome) in [
            (Queued, None, 0, false, Phase::Waiting, Outcome::Unknown),
            (Running, None, 1, false, Phase::InProcess, Outcome::Unknown),
            (Queued, None, 1, false, Phase::WillRetry, Outcome::Failure),
            (Queued, None, 1, true, Phase::Acknowledged, Outcome::Failure),
            (
                Completed,
                Some(JobResult::Success),
                1,
                false,
                Phase::Completed,
                Outcome::Success,
            ),
            (
                Completed,
                Some(JobResult::Warning),
                1,
                false,
                Phase::Completed,
                Outcome::Warning,
            ),
            (
                Completed,
                Some(JobResult::Warning),
                1,
                true,
                Phase::Acknowledged,
                Outcome::Warning,
            ),
            (
                Completed,
                FAILURE,
                1,
                false,
                Phase::Completed,
                Outcome::Failure,
            ),
            (
                Failed,
                FAILURE,
                2,
                false,
                Phase::Completed,
                Outcome::Failure,
            ),
            (
                Failed,
                FAILURE,
                2,
                true,
                Phase::Acknowledged,
                Outcome::Failure,
            ),
            (
                Cancelled,
                None,
                0,
                false,
                Phase::Completed,
                Outcome::Unknown,
            ),
        ] {
            let e = entry(st, res, attempt, ack);
            assert_eq!(
                (phase(&e), outcome(&e)),
                (want_phase, want_outcome),
                "{st} {res:?} attempt {attempt} acknowledged {ack}"
            );
        }
    }

    fn failed(target: Option<&str>) -> JobHistoryEntry {
        let mut e = entry(JobStatus::Failed, FAILURE, 1, false);
        e.job.target = target.map(str::to_owned);
        e
    }

    #[test]
    fn certificate_store_jobs() {
        let ok = |kind, target| reschedulable(&failed(target), kind);
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
    fn custom_jobs_by_the_schedule_that_fired_them() {
        let with = |kind| {
            let mut e = failed(None);
            e.job.schedule_kind = kind;
            reschedulable(&e, JobKind::Custom)
        };
        assert_eq!(with(Some(ScheduleKind::Weekly)), Ok(()));
        assert_eq!(with(Some(ScheduleKind::Monthly)), Ok(()));
        for immediate in [None, Some(ScheduleKind::Once)] {
            let why = with(immediate).unwrap_err();
            assert!(why.contains("POST /OrchestratorJobs/Custom"), "{why}");
        }
        assert!(
            with(Some(ScheduleKind::Daily))
                .unwrap_err()
                .contains("daily")
        );
    }

    #[test]
    fn other_kinds_and_states() {
        let e = failed(None);
        assert!(
            reschedulable(&e, JobKind::SslDiscovery)
                .unwrap_err()
                .contains("PUT /SSL/Networks")
        );
        assert!(
            reschedulable(&e, JobKind::KeyManagement)
                .unwrap_err()
                .contains("run-now")
        );
        assert!(
            reschedulable(&e, JobKind::Unknown)
                .unwrap_err()
                .contains("no loaded plugin")
        );
        // Acknowledged failures are eligible; successes, warnings, pending retries are not.
        let acked = entry(JobStatus::Failed, FAILURE, 1, true);
        assert_eq!(reschedulable(&acked, JobKind::StoreManagement), Ok(()));
        for (st, res, attempt, ack) in [
            (JobStatus::Completed, Some(JobResult::Success), 1, false),
            (JobStatus::Completed, Some(JobResult::Warning), 1, false),
            (JobStatus::Queued, None, 1, false),
            (JobStatus::Queued, None, 1, true),
            (JobStatus::Running, None, 1, false),
        ] {
            let why =
                reschedulable(&entry(st, res, attempt, ack), JobKind::StoreManagement).unwrap_err();
            assert!(why.contains("only failed jobs"), "{st}: {why}");
        }
        let mut done = failed(None);
        done.rescheduled_as = Some(Uuid::nil());
        assert!(
            reschedulable(&done, JobKind::StoreManagement)
                .unwrap_err()
                .contains("already rescheduled")
        );
    }

    #[test]
    fn acknowledgement_rules() {
        assert_eq!(acknowledgeable(&failed(None)), Ok(()));
        assert_eq!(
            acknowledgeable(&entry(JobStatus::Queued, None, 1, false)),
            Ok(())
        );
        for e in [
            entry(JobStatus::Completed, Some(JobResult::Success), 1, false),
            entry(JobStatus::Failed, FAILURE, 1, true),
            entry(JobStatus::Running, None, 1, false),
        ] {
            assert!(
                acknowledgeable(&e)
                    .unwrap_err()
                    .contains("only failed or warning")
            );
        }
    }
}

//! Jobs: one run of an operation. Every job the APIs enqueue is built from a [`JobSpec`]
//! here (the scheduler fires configs through `NewJob::from_config`, which copies what was
//! computed when the config was written).

use chrono::{DateTime, Utc};
use keywarden_db::{
    Job, JobConfig, JobCount, JobCountFilter, JobFilter, JobStatus, NewJob, Recurrence, RunOn,
    ScheduleKind, Sort, Total,
};
use serde_json::Value;
use uuid::Uuid;

use super::configs::{ConfigSpec, ScheduleSpec, check_schema};
use super::history::audit_id_of;
use super::schedule::recurrence_fires;
use super::target::target_of;
use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::plugins::Family;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub operation: String,
    pub params: Value,
    /// What it acts on; see `target.rs` for the rule.
    pub target: Option<String>,
    pub run_on: RunOn,
    pub name: String,
    pub description: String,
    /// The config it belongs to, if any.
    pub config_id: Option<Uuid>,
    /// The kind of schedule that asked for it, if one did.
    pub schedule_kind: Option<ScheduleKind>,
    /// Not before this instant.
    pub due: DateTime<Utc>,
    /// The last instant its windows let it start (`None`: no window gates it).
    pub start_by: Option<DateTime<Utc>>,
    /// Only report what it would change (see `keywarden_db::Job::dry_run`).
    pub dry_run: bool,
    pub max_attempts: i32,
    pub retry_backoff_secs: i64,
}

impl JobSpec {
    /// A job of `operation`, due at `due`, one attempt.
    pub fn new(operation: &str, params: Value, target: Option<String>, due: DateTime<Utc>) -> Self {
        Self {
            operation: operation.to_owned(),
            params,
            target,
            run_on: RunOn::Any,
            name: operation.to_owned(),
            description: String::new(),
            config_id: None,
            schedule_kind: None,
            due,
            start_by: None,
            dry_run: false,
            max_attempts: 1,
            retry_backoff_secs: 60,
        }
    }

    /// The job `config` makes when asked to run now: a job of that config, so it shows
    /// the config's kind of schedule, as the ones its schedule fires do.
    pub fn from_config(config: &JobConfig, now: DateTime<Utc>) -> Self {
        Self {
            operation: config.operation.clone(),
            params: config.params.clone(),
            target: config.target.clone(),
            run_on: config.run_on.clone(),
            name: config.name.clone(),
            description: config.description.clone(),
            config_id: Some(config.id),
            schedule_kind: config.schedule_kind,
            due: now,
            start_by: None,
            dry_run: false,
            max_attempts: config.max_retries.saturating_add(1).max(1),
            retry_backoff_secs: config.retry_backoff_secs,
        }
    }

    /// A new run of `job`, due now: same operation, params, target, node, config and
    /// kind of schedule.
    pub fn rerun(job: &Job, now: DateTime<Utc>) -> Self {
        Self {
            operation: job.operation.clone(),
            params: job.params.clone(),
            target: job.target.clone(),
            run_on: job.run_on.clone(),
            name: job.name.clone(),
            description: job.description.clone(),
            config_id: job.job_config_id,
            schedule_kind: job.schedule_kind,
            due: now,
            start_by: None,
            // A rerun of a dry run is a dry run: retrying must never turn it into writes.
            dry_run: job.dry_run,
            max_attempts: job.max_attempts.max(1),
            retry_backoff_secs: job.retry_backoff_secs,
        }
    }

    /// The row to insert for `account`, enqueued at `now`.
    pub(crate) fn build(self, account: &str, now: DateTime<Utc>) -> NewJob {
        NewJob {
            id: Uuid::now_v7(),
            account_id: account.to_owned(),
            job_config_id: self.config_id,
            name: self.name,
            description: self.description,
            operation: self.operation,
            target: self.target,
            params: self.params,
            run_on: self.run_on,
            schedule_kind: self.schedule_kind,
            max_attempts: self.max_attempts.max(1),
            retry_backoff_secs: self.retry_backoff_secs,
            scheduled_for: self.due.max(now),
            start_by: self.start_by,
            dry_run: self.dry_run,
            enqueued_at: now,
        }
    }
}

/// A custom job (a `custom` family operation) to run now or on a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomJob {
    /// The custom operation.
    pub job_type: String,
    pub run_on: RunOn,
    pub schedule: Recurrence,
    /// The operation's params.
    pub params: Value,
}

/// What scheduling a custom job made: one job, or a config that fires them.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomScheduled {
    Job { id: Uuid, audit_id: Option<i64> },
    Config(Box<JobConfig>),
}

impl Service {
    /// A job of the caller's account (any account for admins).
    pub async fn job(&self, caller: &Caller, id: Uuid) -> DomainResult<Job> {
        self.db
            .get_job(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no job with id {id}")))
    }

    /// A page of jobs matching `filter`. A non-admin sees only their account: asking for
    /// another account's jobs finds none.
    pub async fn jobs(
        &self,
        caller: &Caller,
        mut filter: JobFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(Total, Vec<Job>)> {
        if !caller.narrow(&mut filter.account_id) {
            return Ok((Total::exact(0), Vec::new()));
        }
        filter.count_bound = Some(super::LIST_COUNT_BOUND);
        let (counted, jobs) = self.db.list_jobs(&filter, sort, skip, limit).await?;
        Ok((Total::of(counted, filter.count_bound), jobs))
    }

    /// Finished jobs counted per day (stored and purged alike), for the caller's account
    /// (any for admins; a non-admin asking for another account's gets none).
    pub async fn job_counts(
        &self,
        caller: &Caller,
        mut filter: JobCountFilter,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<JobCount>)> {
        if !caller.narrow(&mut filter.account_id) {
            return Ok((0, Vec::new()));
        }
        Ok(self.db.job_counts(&filter, skip, limit).await?)
    }

    /// Deletes a finished or queued job; a running one is refused (its node would lose
    /// track of it).
    pub async fn delete_job(&self, caller: &Caller, id: Uuid) -> DomainResult<()> {
        if self.db.delete_job(caller.scope(), id).await? {
            Ok(())
        } else {
            Err(DomainError::not_found(format!("no job with id {id}")))
        }
    }

    /// Runs a failed job again as a new job (same operation, params, target, node and
    /// config) in the job's account, after the checks every queued job passes, and marks
    /// the failed job as rescheduled as the new one (as the JobHistory's Reschedule
    /// does), so each failure is retried once. A job that succeeded or still runs is
    /// refused: running a store change that worked again is not a retry (run its config
    /// instead).
    pub async fn retry_job(&self, caller: &Caller, id: Uuid) -> DomainResult<Job> {
        let job = self.job(caller, id).await?;
        self.check_host_caller(caller, &job.operation)?;
        if job.status != JobStatus::Failed {
            return Err(DomainError::conflict(
                Field::Job,
                format!(
                    "job {id} is {}: only a failed job can be retried",
                    job.status
                ),
            ));
        }
        let now = Utc::now();
        let mut specs = vec![JobSpec::rerun(&job, now)];
        self.admit(&job.account_id, &mut specs, false).await?;
        let Some(spec) = specs.pop() else {
            return Err(DomainError::internal("retrying a job", "no job was built"));
        };
        let new = spec.build(&job.account_id, now);
        let (new_id, due) = (new.id, new.scheduled_for);
        self.db
            .reschedule_jobs(caller.scope(), &[(id, new)])
            .await
            .map_err(|e| match e {
                keywarden_db::DbError::Conflict(_) => DomainError::conflict(
                    Field::Job,
                    format!("job {id} was already retried (or rescheduled)"),
                ),
                other => other.into(),
            })?;
        self.events.queued_for([due]);
        self.job(caller, new_id).await
    }

    /// Enqueues `jobs` in the caller's account, all or none; returns their ids.
    pub(crate) async fn enqueue(
        &self,
        account: &str,
        mut jobs: Vec<JobSpec>,
    ) -> DomainResult<Vec<Uuid>> {
        self.admit(account, &mut jobs, true).await?;
        let now = Utc::now();
        let rows: Vec<NewJob> = jobs.into_iter().map(|j| j.build(account, now)).collect();
        self.db.insert_jobs(&rows).await?;
        self.events.queued_for(rows.iter().map(|j| j.scheduled_for));
        Ok(rows.iter().map(|j| j.id).collect())
    }

    /// What every job passes before it is queued, whoever built it (a run now, a custom
    /// job, a store request, a rerun, an agent's log request): the account's grants, with
    /// pinned params set in the params a plugin reads, and the account's queue quota. A
    /// job no plugin serves fails when it runs, naming what is loaded. `itemised`: the
    /// jobs are the request's list, in order, so a refusal names the item's position.
    pub(crate) async fn admit(
        &self,
        account: &str,
        jobs: &mut [JobSpec],
        itemised: bool,
    ) -> DomainResult<()> {
        let many = itemised && jobs.len() > 1;
        for (i, job) in jobs.iter_mut().enumerate() {
            if super::host_operations::is_host_operation(&job.operation) {
                self.check_host_account(account, &job.operation)
                    .map_err(|e| if many { e.in_item(i) } else { e })?;
                continue;
            }
            let Ok((plugin, _)) = self.registry.resolve(&job.operation, job.target.as_deref())
            else {
                continue;
            };
            let store_request =
                crate::certificates::job_params::is_store_request(&job.operation, &job.params);
            let params = (!store_request).then_some(&mut job.params);
            self.account_job_grants(account, &plugin, &job.operation, params)
                .map_err(|e| if many { e.in_item(i) } else { e })?;
        }
        self.check_queue_quota(account, jobs.len()).await
    }

    /// Runs a custom job type once now (immediately, or once at an instant already past)
    /// or makes a config that fires it on its schedule.
    pub async fn custom_job(
        &self,
        caller: &Caller,
        request: CustomJob,
    ) -> DomainResult<CustomScheduled> {
        let schema = self.custom_operation(&request.job_type)?;
        check_schema(&schema, &request.params, Field::Params)?;
        self.check_run_on(&request.run_on, &caller.account).await?;
        let now = Utc::now();
        let fires = recurrence_fires(&request.schedule, now);
        if fires.runs_now {
            let mut job = JobSpec::new(
                &request.job_type,
                request.params,
                target_of(&Value::Null, None),
                now,
            );
            job.run_on = request.run_on;
            job.description = "Keyfactor custom job".to_owned();
            job.schedule_kind = request.schedule.kind();
            let ids = self.enqueue(&caller.account, vec![job]).await?;
            let id = ids[0];
            return Ok(CustomScheduled::Job {
                id,
                audit_id: audit_id_of(self, caller, id).await?,
            });
        }
        let name = format!(
            "keyfactor-custom-{}-{}",
            request.job_type,
            Uuid::now_v7().simple()
        );
        let mut spec = ConfigSpec::new(
            &name,
            &request.job_type,
            ScheduleSpec::Recurrence(request.schedule),
        );
        spec.description = "Keyfactor custom job".to_owned();
        spec.run_on = request.run_on;
        spec.params = request.params;
        let config = self.create_config(caller, spec).await?;
        Ok(CustomScheduled::Config(Box::new(config)))
    }

    /// The params schema of the custom operation called `name`, or 422 naming it.
    fn custom_operation(&self, name: &str) -> DomainResult<Value> {
        let plugins = self.registry.plugins();
        let ops: Vec<_> = plugins
            .iter()
            .flat_map(|p| p.manifest.operations.iter())
            .collect();
        if let Some(op) = ops
            .iter()
            .find(|o| o.name == name && o.family == Family::Custom)
        {
            return Ok(op.params_schema.clone());
        }
        if let Some(op) = ops.iter().find(|o| o.name == name) {
            return Err(DomainError::unprocessable(
                Field::Operation,
                format!(
                    "{name:?} is a {} operation, not a custom job type",
                    op.family
                ),
            ));
        }
        let mut custom: Vec<&str> = ops
            .iter()
            .filter(|o| o.family == Family::Custom)
            .map(|o| o.name.as_str())
            .collect();
        custom.sort_unstable();
        custom.dedup();
        Err(DomainError::unprocessable(
            Field::Operation,
            format!(
                "no loaded plugin declares the custom job type {name:?}; custom job types: {}",
                if custom.is_empty() {
                    "none".to_owned()
                } else {
                    custom.join(", ")
                }
            ),
        ))
    }
}

//! Jobs handed to an agent: what each one asks (its store, what the server believes the
//! store holds), what the agent reports back, and how it ends. A job call is accepted
//! only from the agent the job was handed to, while the job is running on it.

use chrono::Utc;
use keywarden_db::{
    CertificateStore, InventoryEntry, Job, JobCondition, JobField, JobFinish, JobQuery, JobResult,
    JobStatus, RunOn,
};
use serde_json::json;
use uuid::Uuid;

use super::super::{DomainError, DomainResult, Field, Service};
use super::FETCH_LOGS;
use super::session::AgentCaller;
use crate::certificates::job_params::{Management, StoreJobParams, operation};
use crate::certificates::parse;

/// The capability an agent announces for a job kind of a store type.
pub fn store_capability(store_type: &str, operation: &str) -> String {
    format!("CertStores.{store_type}.{operation}")
}

/// The capability that runs the fetch-logs job.
pub const FETCH_LOGS_CAPABILITY: &str = "Custom.FetchLogs";

/// What a handed job asks of the agent.
#[derive(Debug, Clone)]
pub enum AgentWork {
    /// Report what the store holds, against what the server last saw.
    Inventory {
        store: Box<CertificateStore>,
        known: Vec<InventoryEntry>,
    },
    /// Add a certificate to the store, or remove one.
    Management {
        store: Box<CertificateStore>,
        change: StoreChange,
    },
    /// Make a key and CSR in the store, send the CSR, store what comes back.
    Reenrollment {
        store: Box<CertificateStore>,
        subject: String,
        /// `RSA` or `ECC`.
        key_type: &'static str,
        key_size: u32,
    },
    /// Send the tail of its log.
    FetchLogs { max_characters: i64 },
}

/// What a Management job changes in a store.
#[derive(Debug, Clone)]
pub enum StoreChange {
    /// Append this certificate (DER).
    Add { certificate: Vec<u8> },
    /// Remove the certificate with this SHA-1 thumbprint (upper-case hex).
    Remove { thumbprint: String },
}

/// Keywarden's key type names in the agent protocol's words.
fn protocol_key(key_type: &str) -> Option<(&'static str, u32)> {
    Some(match key_type.to_ascii_lowercase().as_str() {
        "ec-p256" => ("ECC", 256),
        "ec-p384" => ("ECC", 384),
        "ec-p521" => ("ECC", 521),
        "rsa-2048" => ("RSA", 2048),
        "rsa-3072" => ("RSA", 3072),
        "rsa-4096" => ("RSA", 4096),
        _ => return None,
    })
}

/// A handed job and what it asks.
#[derive(Debug, Clone)]
pub struct AgentJob {
    pub job: Job,
    /// Keyfactor's integer job id (JobHistoryId / AuditId).
    pub audit_id: i64,
    pub work: AgentWork,
}

/// One entry of an agent's inventory report.
#[derive(Debug, Clone)]
pub struct ReportedEntry {
    pub status: ReportedStatus,
    pub alias: String,
    pub private_key: bool,
    /// DER certificates, leaf first (for added entries).
    pub certificates: Vec<Vec<u8>>,
}

/// How a reported entry compares with what the server sent (Keyfactor's ItemStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedStatus {
    Added,
    Modified,
    Removed,
    Unchanged,
}

/// How an agent says a job ended.
#[derive(Debug, Clone)]
pub struct AgentOutcome {
    pub result: JobResult,
    pub message: String,
    /// The log a fetch-logs job returns.
    pub log: Option<String>,
}

impl Service {
    /// What the capability of `job` is, when an agent may run it.
    pub(crate) async fn capability_of(&self, job: &Job) -> DomainResult<Option<String>> {
        if job.operation == FETCH_LOGS {
            return Ok(Some(FETCH_LOGS_CAPABILITY.to_owned()));
        }
        if job.operation == operation::DISCOVERY
            && let Ok(params) = serde_json::from_value::<StoreJobParams>(job.params.clone())
            && let Some(discovery) = params.discovery
        {
            return Ok(Some(store_capability(
                &crate::certificates::canonical_store_type(&discovery.store_type),
                &job.operation,
            )));
        }
        if [
            operation::INVENTORY,
            operation::MANAGEMENT,
            operation::REENROLLMENT,
        ]
        .contains(&job.operation.as_str())
            && let Some(store) = self.store_of(job).await?
        {
            return Ok(Some(store_capability(&store.store_type, &job.operation)));
        }
        Ok(None)
    }

    /// Fails the jobs an agent was handed but cannot run, saying why; returns the others.
    pub(crate) async fn keep_runnable(
        &self,
        agent_id: &str,
        capabilities: &[String],
        jobs: Vec<Job>,
    ) -> DomainResult<Vec<Job>> {
        let mut keep = Vec::with_capacity(jobs.len());
        let mut refused = Vec::new();
        for job in jobs {
            let reason = match self.capability_of(&job).await? {
                Some(c)
                    if capabilities
                        .iter()
                        .any(|have| have.eq_ignore_ascii_case(&c)) =>
                {
                    None
                }
                Some(c) => Some(format!("the agent does not announce the capability {c}")),
                None => Some(format!(
                    "agents do not run {} jobs in this version of Keywarden",
                    job.operation
                )),
            };
            match reason {
                None => keep.push(job),
                Some(message) => refused.push(failed(job.id, agent_id, message)),
            }
        }
        if !refused.is_empty() {
            self.db.finish_jobs(&refused).await?;
        }
        Ok(keep)
    }

    async fn store_of(&self, job: &Job) -> DomainResult<Option<CertificateStore>> {
        let Ok(params) = serde_json::from_value::<StoreJobParams>(job.params.clone()) else {
            return Ok(None);
        };
        let Some(id) = params
            .certificate_store_id
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            return Ok(None);
        };
        Ok(self
            .db
            .get_certificate_store(Some(&job.account_id), id)
            .await?)
    }

    /// A job's lease runs from when the agent starts it (asks its configuration), not
    /// from when it was handed out with the session's others, which run one after another.
    async fn restart_lease(&self, caller: &AgentCaller, job: &Job) -> DomainResult<()> {
        let lease = chrono::Duration::seconds(
            i64::try_from(self.agents()?.config.job_lease_secs.max(1)).unwrap_or(600),
        );
        self.db
            .renew_leases(
                &caller.agent.id.to_string(),
                &[(job.id, job.attempt)],
                Utc::now() + lease,
            )
            .await?;
        Ok(())
    }

    /// Keyfactor's integer id of a job (its JobHistoryId, the protocol's AuditId).
    async fn audit_id_of(&self, job: &Job) -> DomainResult<i64> {
        let query = JobQuery {
            account_id: Some(job.account_id.clone()),
            condition: JobCondition::is(JobField::Id, &job.id.to_string()),
            order: Vec::new(),
            count_bound: None,
        };
        let (_, entries) = self.db.query_job_history(&query, 0, 1).await?;
        Ok(entries.first().map_or(0, |e| e.audit_id))
    }

    /// The running job `id` of the calling agent.
    pub(super) async fn handed_job(&self, caller: &AgentCaller, id: Uuid) -> DomainResult<Job> {
        let job = self
            .db
            .get_job(Some(&caller.agent.account_id), id)
            .await?
            .filter(|j| {
                j.status == JobStatus::Running
                    && j.processing_node.as_deref() == Some(caller.agent.id.to_string().as_str())
                    && j.run_on == RunOn::Node(caller.agent.id.to_string())
            })
            .ok_or_else(|| {
                DomainError::not_found_at(
                    Field::Job,
                    format!("job {id} is not a running job of this agent"),
                )
            })?;
        Ok(job)
    }

    /// What the handed job `id` asks. A job that cannot proceed whatever the agent does
    /// (its store gone, a request agents cannot run) fails now, with the reason, instead of
    /// waiting out its lease.
    pub async fn agent_job(&self, caller: &AgentCaller, id: Uuid) -> DomainResult<AgentJob> {
        let job = self.handed_job(caller, id).await?;
        self.restart_lease(caller, &job).await?;
        match self.describe_job(job.clone()).await {
            Err(DomainError::Conflict { field, reason }) => {
                let agent_id = caller.agent.id.to_string();
                self.db
                    .finish_jobs(&[failed(job.id, &agent_id, reason.clone())])
                    .await?;
                Err(DomainError::Conflict { field, reason })
            }
            other => other,
        }
    }

    async fn describe_job(&self, job: Job) -> DomainResult<AgentJob> {
        let audit_id = self.audit_id_of(&job).await?;
        let work = if job.operation == FETCH_LOGS {
            let max = job
                .params
                .get("max_characters")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(4000);
            AgentWork::FetchLogs {
                max_characters: max,
            }
        } else if job.operation == operation::INVENTORY {
            let store = self.store_of(&job).await?.ok_or_else(|| {
                DomainError::not_found_at(Field::Store, "the job's certificate store is gone")
            })?;
            let (_, known) = self
                .db
                .list_inventory(
                    &keywarden_db::InventoryFilter {
                        account_id: Some(store.account_id.clone()),
                        store_id: Some(store.id),
                        ..Default::default()
                    },
                    &keywarden_db::Sort::default(),
                    0,
                    100_000,
                )
                .await?;
            AgentWork::Inventory {
                store: Box::new(store),
                known,
            }
        } else if job.operation == operation::MANAGEMENT {
            let (store, params) = self.store_and_params(&job).await?;
            let change = self.store_change(&store, params.management).await?;
            AgentWork::Management {
                store: Box::new(store),
                change,
            }
        } else if job.operation == operation::REENROLLMENT {
            let (store, params) = self.store_and_params(&job).await?;
            let Some(r) = params.reenrollment else {
                return Err(job_fault("the reenrollment job carries no request"));
            };
            let (key_type, key_size) = protocol_key(&r.key_type)
                .ok_or_else(|| job_fault(format!("agents cannot make {} keys", r.key_type)))?;
            AgentWork::Reenrollment {
                store: Box::new(store),
                subject: r.subject,
                key_type,
                key_size,
            }
        } else {
            return Err(job_fault(format!(
                "agents do not run {} jobs",
                job.operation
            )));
        };
        Ok(AgentJob {
            job,
            audit_id,
            work,
        })
    }

    pub(super) async fn store_and_params(
        &self,
        job: &Job,
    ) -> DomainResult<(CertificateStore, StoreJobParams)> {
        let mut params: StoreJobParams = serde_json::from_value(job.params.clone())
            .map_err(|e| job_fault(format!("the job's params do not read: {e}")))?;
        crate::certificates::job_params::load_payloads(&*self.db, &job.account_id, &mut params)
            .await
            .map_err(job_fault)?;
        let store = self
            .store_of(job)
            .await?
            .ok_or_else(|| job_fault("the job's certificate store is gone"))?;
        Ok((store, params))
    }

    /// A Management request as the agent protocol says it: the certificate (DER) to add,
    /// or the thumbprint to remove (an alias the last inventory knows is looked up).
    async fn store_change(
        &self,
        store: &CertificateStore,
        management: Option<Management>,
    ) -> DomainResult<StoreChange> {
        match management {
            Some(Management::Add {
                certificate: Some(certificate),
                private_key_secret: None,
                ..
            }) => {
                let chain = parse::certificate_chain(&certificate).map_err(job_fault)?;
                let leaf = chain
                    .into_iter()
                    .next()
                    .ok_or_else(|| job_fault("the job carries no certificate"))?;
                Ok(StoreChange::Add { certificate: leaf })
            }
            Some(Management::Add { .. }) => Err(job_fault(
                "agents add certificates without private keys only",
            )),
            Some(Management::Remove { alias }) => {
                let (_, known) = self
                    .db
                    .list_inventory(
                        &keywarden_db::InventoryFilter {
                            account_id: Some(store.account_id.clone()),
                            store_id: Some(store.id),
                            alias: Some(alias.clone()),
                            ..Default::default()
                        },
                        &keywarden_db::Sort::default(),
                        0,
                        1,
                    )
                    .await?;
                let thumbprint = match known.first() {
                    Some(entry) => entry.thumbprint.clone(),
                    None if alias.len() == 40 && alias.chars().all(|c| c.is_ascii_hexdigit()) => {
                        alias.to_ascii_uppercase()
                    }
                    None => {
                        return Err(job_fault(format!(
                            "no entry {alias:?} in the store's last inventory, and it is not a SHA-1 thumbprint"
                        )));
                    }
                };
                Ok(StoreChange::Remove { thumbprint })
            }
            Some(Management::Create) | None => Err(job_fault("agents do not create stores")),
        }
    }

    /// Applies an agent's inventory report to the store's inventory: unchanged entries
    /// keep what the server knew, added ones are read from their certificates, removed
    /// ones go. Returns how many entries the store now has.
    pub async fn agent_inventory(
        &self,
        caller: &AgentCaller,
        id: Uuid,
        report: Vec<ReportedEntry>,
    ) -> DomainResult<u64> {
        let handed = self.agent_job(caller, id).await?;
        let AgentWork::Inventory { store, known } = handed.work else {
            return Err(DomainError::conflict(
                Field::Agent,
                format!("job {id} is not an inventory job"),
            ));
        };
        let now = Utc::now();
        // What the server knew, by alias and by thumbprint (an agent may echo either).
        let mut by_name: std::collections::HashMap<String, &InventoryEntry> =
            std::collections::HashMap::with_capacity(known.len() * 2);
        for k in &known {
            by_name.insert(k.thumbprint.to_ascii_lowercase(), k);
            by_name.insert(k.alias.to_ascii_lowercase(), k);
        }
        let mut rows: Vec<InventoryEntry> = Vec::new();
        for (i, entry) in report.iter().enumerate() {
            match entry.status {
                ReportedStatus::Removed => {}
                ReportedStatus::Unchanged if entry.certificates.is_empty() => {
                    if let Some(k) = by_name.get(&entry.alias.to_ascii_lowercase()) {
                        let mut k = (*k).clone();
                        k.job_id = Some(handed.job.id);
                        k.inventoried_at = now;
                        rows.push(k);
                    }
                }
                _ => {
                    let Some(leaf) = entry.certificates.first() else {
                        return Err(DomainError::invalid(
                            Field::Certificate.in_item(i),
                            "an added entry carries its certificate",
                        ));
                    };
                    let summary = parse::summarize(leaf)
                        .map_err(|e| DomainError::invalid(Field::Certificate.in_item(i), e))?;
                    rows.push(InventoryEntry {
                        store_id: store.id,
                        source: keywarden_db::CertificateSource::Store,
                        account_id: store.account_id.clone(),
                        alias: if entry.alias.trim().is_empty() {
                            summary.thumbprint.clone()
                        } else {
                            entry.alias.clone()
                        },
                        thumbprint: summary.thumbprint,
                        serial_number: summary.serial_number,
                        subject: summary.subject,
                        issuer: summary.issuer,
                        sans: summary.sans,
                        not_before: summary.not_before,
                        not_after: summary.not_after,
                        has_private_key: entry.private_key,
                        chain_length: i64::try_from(entry.certificates.len()).unwrap_or(i64::MAX),
                        certificate: parse::base64_der(leaf),
                        job_id: Some(handed.job.id),
                        inventoried_at: now,
                    });
                }
            }
        }
        // One row per alias: a store listing a certificate twice keeps the first.
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| seen.insert(r.alias.to_ascii_lowercase()));
        let kept = self
            .db
            .replace_inventory(&store.account_id, store.id, &rows)
            .await?;
        self.audit_agent(
            caller,
            "agent inventory",
            id,
            "ok",
            json!({"store": store.id, "entries": kept}),
        )
        .await;
        Ok(kept)
    }

    /// Ends a handed job as the agent reports it.
    pub async fn agent_complete(
        &self,
        caller: &AgentCaller,
        id: Uuid,
        outcome: AgentOutcome,
    ) -> DomainResult<()> {
        let job = self.handed_job(caller, id).await?;
        let status = match outcome.result {
            JobResult::Failure => JobStatus::Failed,
            _ => JobStatus::Completed,
        };
        let details = outcome.log.map(|log| json!({ "log": log }));
        let message = Some(outcome.message.trim().to_owned()).filter(|m| !m.is_empty());
        let finish = JobFinish {
            id: job.id,
            node_id: caller.agent.id.to_string(),
            attempt: Some(job.attempt),
            status,
            result: Some(outcome.result),
            message,
            details,
            logs: Vec::new(),
            progress: None,
        };
        self.record_agent_outcome(caller, &job, finish).await
    }
}

/// The record ending a handed job as failed, with why.
fn failed(id: Uuid, agent_id: &str, message: String) -> JobFinish {
    JobFinish {
        id,
        node_id: agent_id.to_owned(),
        attempt: None,
        status: JobStatus::Failed,
        result: Some(JobResult::Failure),
        message: Some(message),
        details: None,
        logs: Vec::new(),
        progress: None,
    }
}

/// What is wrong with a handed job itself (its store gone, a request agents cannot run):
/// the job cannot proceed whatever the agent does.
pub(super) fn job_fault(reason: impl std::fmt::Display) -> DomainError {
    DomainError::conflict(Field::Agent, reason)
}

/// How a job ran on a `keywarden agent`: the record its own executor made, and the data
/// the plugin returned for the server to keep.
#[derive(Debug, Clone)]
pub struct RemoteFinish {
    pub status: JobStatus,
    pub result: Option<JobResult>,
    pub message: Option<String>,
    pub details: Option<serde_json::Value>,
    pub logs: Vec<serde_json::Value>,
    pub data: crate::runtime::invoke::FamilyData,
}

/// A handed job as a `keywarden agent` needs it: the job itself and, for a store job,
/// the store (its password only ever a secret name the agent resolves itself).
#[derive(Debug, Clone)]
pub struct HandedRecord {
    pub job: Job,
    pub audit_id: i64,
    pub store: Option<CertificateStore>,
}

impl Service {
    /// The handed job `id` whole, for an agent that runs plugins itself.
    pub async fn agent_job_record(
        &self,
        caller: &AgentCaller,
        id: Uuid,
    ) -> DomainResult<HandedRecord> {
        let mut job = self.handed_job(caller, id).await?;
        self.restart_lease(caller, &job).await?;
        let store = self.store_of(&job).await?;
        // The agent runs the plugin itself: it gets the certificate, not a reference.
        if job.params.get("management").is_some() {
            let (_, params) = self.store_and_params(&job).await?;
            job.params = params.to_value();
        }
        Ok(HandedRecord {
            audit_id: self.audit_id_of(&job).await?,
            store,
            job,
        })
    }

    /// Records how a handed job ran on a `keywarden agent`: keeps the data it returned
    /// (inventory, discovered paths) as a node's executor would, then ends the job.
    pub async fn agent_finish(
        &self,
        caller: &AgentCaller,
        id: Uuid,
        finish: RemoteFinish,
    ) -> DomainResult<()> {
        let job = self.handed_job(caller, id).await?;
        if !finish.status.is_final() {
            return Err(DomainError::invalid(
                Field::Agent,
                "a job ends completed, failed or cancelled",
            ));
        }
        let fits = match &finish.data {
            crate::runtime::invoke::FamilyData::None => true,
            crate::runtime::invoke::FamilyData::Inventory(_) => {
                job.operation == operation::INVENTORY
            }
            crate::runtime::invoke::FamilyData::Paths(_) => job.operation == operation::DISCOVERY,
            crate::runtime::invoke::FamilyData::Keys(_)
            | crate::runtime::invoke::FamilyData::Probes(_) => false,
        };
        if !fits {
            return Err(DomainError::invalid(
                Field::Job,
                format!("a {} job reports no such data", job.operation),
            ));
        }
        let mut status = finish.status;
        let mut result = finish.result;
        let mut message = finish.message;
        if status == JobStatus::Completed
            && let Err(why) =
                crate::executor::family_data::persist(self.db.as_ref(), &job, &finish.data).await
        {
            status = JobStatus::Failed;
            result = Some(JobResult::Failure);
            message = Some(format!(
                "the job ran, but its results could not be stored: {why}"
            ));
        }
        let finish = JobFinish {
            id: job.id,
            node_id: caller.agent.id.to_string(),
            attempt: Some(job.attempt),
            status,
            result,
            message,
            details: finish.details,
            logs: finish.logs,
            progress: None,
        };
        self.record_agent_outcome(caller, &job, finish).await
    }
}

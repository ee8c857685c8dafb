//! What agents do goes to the audit log like what nodes and tokens do: certificates
//! issued to their CSRs, their inventory reports and how their jobs ended, each naming the
//! agent and its machine.

use chrono::Utc;
use keywarden_db::{Job, JobFinish, NewAuditEntry};
use serde_json::json;
use uuid::Uuid;

use super::super::{DomainResult, Service};
use super::session::AgentCaller;

impl Service {
    /// Ends a handed job and, when the record applied (the job was still the agent's),
    /// audits its outcome in the form the executor uses for a node's, in one transaction:
    /// if the audit entry cannot be written, neither is the outcome, and the agent's
    /// report fails (it reports again).
    pub(super) async fn record_agent_outcome(
        &self,
        caller: &AgentCaller,
        job: &Job,
        finish: JobFinish,
    ) -> DomainResult<()> {
        let entry = agent_entry(
            caller,
            NewAuditEntry::job_outcome(&job.account_id, &job.operation, &finish),
        );
        self.db.finish_jobs_audited(&[(finish, entry)]).await?;
        Ok(())
    }

    /// Appends `action` on job `job`, ended with `result`, to the agent's account's audit
    /// log, `detail` naming the agent and its machine.
    pub(super) async fn audit_agent(
        &self,
        caller: &AgentCaller,
        action: &str,
        job: Uuid,
        result: &str,
        detail: serde_json::Value,
    ) {
        let entry = NewAuditEntry {
            at: Utc::now(),
            account_id: caller.agent.account_id.clone(),
            token_id: None,
            action: action.to_owned(),
            target: job.to_string(),
            result: result.to_owned(),
            detail,
        };
        self.append_agent_entry(caller, entry).await;
    }

    /// Appends `entry` with the agent and its machine in its detail. A failed append is
    /// logged, not returned: the agent's work is done either way.
    async fn append_agent_entry(&self, caller: &AgentCaller, entry: NewAuditEntry) {
        if let Err(e) = self.db.append_audit(&[agent_entry(caller, entry)]).await {
            tracing::error!(agent = %caller.agent.id, "appending to the audit log failed: {e}");
        }
    }
}

/// `entry` with the agent and its machine named in its detail.
fn agent_entry(caller: &AgentCaller, mut entry: NewAuditEntry) -> NewAuditEntry {
    if let Some(fields) = entry.detail.as_object_mut() {
        fields.insert("node".into(), json!(caller.agent.id.to_string()));
        fields.insert("agent_machine".into(), json!(caller.agent.client_machine));
    }
    entry
}

//! Orchestrators (agents): what operators do with them (approve, disapprove, reset, ask
//! for a new client certificate, fetch their logs) and the agent protocol's side of the
//! model (registration and sessions in `session.rs`).
//!
//! Every rule about agents lives here: who may see an agent (its account, or an admin),
//! which credential lets a machine register, when a certificate is issued, and which
//! jobs an agent gets. The `/KeyfactorAPI/Agents` and `/KeyfactorAgents` dialects only
//! parse and render.

mod audit;
pub mod credentials;
mod enroll;
pub mod jobs;
pub mod session;

use std::sync::Arc;

use chrono::Utc;
use keywarden_db::{Agent, AgentCondition, AgentFilter, AgentStatus, CertificateRenewal, Sort};
use uuid::Uuid;

use super::jobs::JobSpec;
use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::authority::agent_ca::AgentCa;
use crate::operator_config::AgentsConfig;
use crate::runtime::capabilities::enrollment::CertificateAuthority;

/// The operation name of a job that fetches an agent's log.
pub const FETCH_LOGS: &str = "FetchLogs";

/// What the service needs to serve agents.
pub struct AgentsContext {
    /// Issues and recognises agents' client certificates.
    pub ca: AgentCa,
    pub config: AgentsConfig,
    /// Signs the CSRs of store reenrollments agents run (the `[authorities.*]`).
    pub authority: Option<Arc<dyn CertificateAuthority>>,
}

impl std::fmt::Debug for AgentsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentsContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A listing request.
#[derive(Debug, Clone, Default)]
pub struct AgentListing {
    pub condition: Option<AgentCondition>,
    pub sort: Sort,
    pub skip: i64,
    pub limit: i64,
}

/// What an operator sets on several agents at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentDecision {
    Approve,
    Disapprove,
}

impl Service {
    pub(crate) fn agents(&self) -> DomainResult<&AgentsContext> {
        self.agents.as_deref().ok_or_else(|| {
            DomainError::internal("serving agents", "the agent CA is not configured")
        })
    }

    /// A page of the caller's agents (every account's for admins) and the total.
    pub async fn list_agents(
        &self,
        caller: &Caller,
        listing: AgentListing,
    ) -> DomainResult<(i64, Vec<Agent>)> {
        let filter = AgentFilter {
            account_id: caller.scope().map(str::to_owned),
            condition: listing.condition,
        };
        Ok(self
            .db
            .list_agents(&filter, &listing.sort, listing.skip, listing.limit)
            .await?)
    }

    /// One of the caller's agents.
    pub async fn agent(&self, caller: &Caller, id: Uuid) -> DomainResult<Agent> {
        self.db
            .get_agent(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found_at(Field::Agent, format!("no agent {id}")))
    }

    /// Approves or disapproves each agent; all or nothing: an id that is not the caller's
    /// refuses the whole request.
    pub async fn decide_agents(
        &self,
        caller: &Caller,
        ids: &[Uuid],
        decision: AgentDecision,
    ) -> DomainResult<Vec<Agent>> {
        let agents = self.agents_of(caller, ids).await?;
        let status = match decision {
            AgentDecision::Approve => AgentStatus::Approved,
            AgentDecision::Disapprove => AgentStatus::Disapproved,
        };
        let mut out = Vec::with_capacity(agents.len());
        for mut agent in agents {
            if agent.status != status {
                agent.status = status;
                agent = self.db.update_agent(&agent).await?;
                tracing::info!(agent = %agent.id, machine = %agent.client_machine, ?status, "agent status set");
            }
            out.push(agent);
        }
        Ok(out)
    }

    /// Resets each agent: back to New, no certificate, its queued jobs removed. All or
    /// nothing on unknown ids.
    pub async fn reset_agents(&self, caller: &Caller, ids: &[Uuid]) -> DomainResult<u64> {
        self.agents_of(caller, ids).await?;
        let mut removed = 0;
        for id in ids {
            if let Some((agent, jobs)) = self.db.reset_agent(caller.scope(), *id).await? {
                tracing::info!(agent = %agent.id, removed_jobs = jobs, "agent reset");
                removed += jobs;
            }
        }
        Ok(removed)
    }

    /// Asks (`Requested`), requires (`Required`) or stops asking (`None`) that each agent
    /// enrolls for a new client certificate at its next registration. Returns the ids it
    /// could not set: not the caller's, or without a certificate to renew.
    pub async fn set_certificate_renewal(
        &self,
        caller: &Caller,
        ids: &[Uuid],
        renewal: CertificateRenewal,
    ) -> DomainResult<Vec<Uuid>> {
        let mut failed = Vec::new();
        for id in ids {
            match self.db.get_agent(caller.scope(), *id).await? {
                Some(mut agent)
                    if agent.thumbprint.is_some() || renewal == CertificateRenewal::None =>
                {
                    agent.certificate_renewal = renewal;
                    self.db.update_agent(&agent).await?;
                }
                _ => failed.push(*id),
            }
        }
        Ok(failed)
    }

    /// Queues a job on the agent that returns its log (Keyfactor's FetchLogs).
    pub async fn fetch_agent_logs(&self, caller: &Caller, id: Uuid) -> DomainResult<Uuid> {
        let agent = self.agent(caller, id).await?;
        if agent.status != AgentStatus::Approved {
            return Err(DomainError::conflict(
                Field::Agent,
                format!("agent {id} is not approved; it gets no jobs"),
            ));
        }
        let now = Utc::now();
        let mut spec = JobSpec::new(
            FETCH_LOGS,
            serde_json::json!({"max_characters": 4000}),
            Some(agent.client_machine.clone()),
            now,
        );
        spec.name = format!("{FETCH_LOGS} {}", agent.client_machine);
        spec.run_on = keywarden_db::RunOn::Node(agent.id.to_string());
        let ids = self.enqueue(&agent.account_id, vec![spec]).await?;
        Ok(ids[0])
    }

    /// The caller's agents with these ids, or a 404 naming the first unknown one.
    async fn agents_of(&self, caller: &Caller, ids: &[Uuid]) -> DomainResult<Vec<Agent>> {
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match self.db.get_agent(caller.scope(), *id).await? {
                Some(a) => out.push(a),
                None => {
                    return Err(DomainError::not_found_at(
                        Field::Agent.in_item(i),
                        format!("no agent {id}"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

//! The agent protocol's side of the model: registration (`/Session/Register`) and the
//! session every later call names.
//!
//! Who an agent is:
//! - with a client certificate from the agent CA: the agent holding that thumbprint
//!   (current, or the one before its last renewal);
//! - with a registration credential (HTTP basic auth): only the account it registers
//!   into. That is enough to enroll (send a CSR, become New, and once approved get a
//!   certificate) but never enough to receive jobs: a credential is shared by a fleet,
//!   so anyone holding it could name any machine. Jobs go only to sessions opened with
//!   the agent's own certificate.

use chrono::{DateTime, Duration, Utc};
use keywarden_db::{Agent, AgentSession, AgentStatus, CertificateRenewal, Job};
use uuid::Uuid;

use super::super::tokens::hash_token;
use super::super::{DomainError, DomainResult, Field, Service};
use crate::authority::agent_ca::IssuedAgentCertificate;

/// Jobs handed out per registration at most; the rest wait for the next one.
const JOBS_PER_SESSION: i64 = 100;

/// How a registering agent authenticates, besides a client certificate.
#[derive(Debug, Clone)]
pub enum AgentCredentials {
    /// HTTP basic auth with a registration credential.
    Basic {
        username: String,
        password: String,
    },
    None,
}

/// What an agent says about itself when it registers.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub client_machine: String,
    /// The id it was given at enrollment; `None` while it enrolls.
    pub agent_id: Option<Uuid>,
    pub platform: i64,
    pub version: String,
    pub capabilities: Vec<String>,
    /// DER PKCS#10, when it enrolls or renews its client certificate.
    pub csr: Option<Vec<u8>>,
}

/// The answer to a registration.
#[derive(Debug)]
pub enum Registered {
    /// Known but not approved (or disapproved): no session, no certificate.
    Pending { agent_id: Uuid, reason: String },
    /// It must send a CSR for a new client certificate before anything else.
    RenewCertificate { agent_id: Uuid },
    /// A session: its token (shown once), the agent, a certificate when one was issued,
    /// and the jobs handed to it.
    Session(Box<OpenedSession>),
}

/// A session just opened.
#[derive(Debug)]
pub struct OpenedSession {
    pub token: String,
    pub agent: Agent,
    pub certificate: Option<IssuedAgentCertificate>,
    pub heartbeat_minutes: u32,
    pub jobs: Vec<Job>,
}

/// The caller of a job call: the agent and the session it named.
#[derive(Debug, Clone)]
pub struct AgentCaller {
    pub agent: Agent,
    pub session: AgentSession,
}

fn unauthenticated(reason: impl Into<String>) -> DomainError {
    DomainError::Unauthenticated(reason.into())
}

/// Agent-chosen text kept within reason: printable, bounded.
fn check_text(field: Field, value: &str, max: usize) -> DomainResult<()> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("expected at most {max} printable characters"),
        ));
    }
    Ok(())
}

impl Service {
    /// Handles `/Session/Register`: authenticates the agent, records what it announced,
    /// enrolls or renews its certificate when it sends a CSR, and opens a session with the
    /// jobs due for it. `peer` is the client certificate of the connection (DER).
    pub async fn register_agent(
        &self,
        peer: Option<&[u8]>,
        credentials: AgentCredentials,
        registration: Registration,
    ) -> DomainResult<Registered> {
        check_text(Field::ClientMachine, &registration.client_machine, 255)?;
        if registration.capabilities.len() > 256
            || registration.capabilities.iter().any(|c| c.len() > 256)
        {
            return Err(DomainError::invalid(
                Field::Capabilities,
                "at most 256 capabilities of at most 256 characters",
            ));
        }
        // A CSR that does not verify is refused before anything is recorded.
        if let Some(csr) = &registration.csr {
            crate::authority::csr::verify(csr).map_err(|e| DomainError::invalid(Field::Csr, e))?;
        }
        let now = Utc::now();
        match peer {
            Some(der) => self.register_with_certificate(der, registration, now).await,
            None => match credentials {
                AgentCredentials::Basic { username, password } => {
                    self.register_with_credential(&username, &password, registration, now)
                        .await
                }
                AgentCredentials::None => Err(unauthenticated(
                    "register with a registration credential (HTTP basic auth) or the agent's client certificate",
                )),
            },
        }
    }

    async fn register_with_certificate(
        &self,
        der: &[u8],
        registration: Registration,
        now: DateTime<Utc>,
    ) -> DomainResult<Registered> {
        let ctx = self.agents()?;
        let thumbprint = ctx
            .ca
            .check_presented(der, now)
            .map_err(|e| unauthenticated(e.to_string()))?;
        let Some(mut agent) = self.db.find_agent_by_thumbprint(&thumbprint).await? else {
            return Err(unauthenticated(
                "no agent holds this client certificate (reset agents enroll again)",
            ));
        };
        // A certificate replaced by a renewal opens no session and renews nothing: a
        // renewal must evict a stolen certificate. (It is still accepted on the job calls
        // of a session its successor opened, for connections made before the renewal.)
        if agent.thumbprint.as_deref() != Some(thumbprint.as_str()) {
            return Err(unauthenticated(
                "this client certificate was replaced by a renewal; use the current one",
            ));
        }
        if registration.agent_id.is_some_and(|id| id != agent.id) {
            return Err(unauthenticated(
                "the AgentId is not the one of the client certificate",
            ));
        }
        announce(&mut agent, &registration, now);
        agent.last_thumbprint_used = Some(thumbprint.clone());
        if agent.status != AgentStatus::Approved {
            let agent = self.db.update_agent(&agent).await?;
            return Ok(pending(&agent));
        }
        let mut certificate = None;
        if let Some(csr) = &registration.csr {
            let issued = ctx
                .ca
                .issue(csr, &agent.id.to_string())
                .map_err(|e| DomainError::invalid(Field::Csr, e))?;
            agent.legacy_thumbprint = agent.thumbprint.take();
            agent.thumbprint = Some(issued.thumbprint.clone());
            agent.certificate_not_after = Some(issued.not_after);
            agent.certificate_renewal = CertificateRenewal::None;
            tracing::info!(agent = %agent.id, "renewed the agent's client certificate");
            certificate = Some(issued);
        } else if agent.certificate_renewal != CertificateRenewal::None {
            let agent = self.db.update_agent(&agent).await?;
            return Ok(Registered::RenewCertificate { agent_id: agent.id });
        }
        let agent = self.db.update_agent(&agent).await?;
        let session_thumbprint = agent.thumbprint.clone().unwrap_or(thumbprint);
        let token = self
            .open_session(&agent, Some(session_thumbprint), now)
            .await?;
        let jobs = self.hand_jobs(&agent, now).await?;
        Ok(Registered::Session(Box::new(OpenedSession {
            token,
            heartbeat_minutes: ctx.config.heartbeat_minutes,
            agent,
            certificate,
            jobs,
        })))
    }

    async fn register_with_credential(
        &self,
        username: &str,
        password: &str,
        registration: Registration,
        now: DateTime<Utc>,
    ) -> DomainResult<Registered> {
        let ctx = self.agents()?;
        let Some(credential) = self
            .check_registration_credential(username, password)
            .await?
        else {
            return Err(unauthenticated(
                "the registration credential is not recognised",
            ));
        };
        if credential
            .client_machine
            .as_deref()
            .is_some_and(|m| m != registration.client_machine)
        {
            return Err(unauthenticated(
                "this registration credential is for another machine",
            ));
        }
        // The agent this machine enrolls as: its record that holds no certificate yet.
        let candidates = self
            .db
            .find_agents_by_machine(&credential.account_id, &registration.client_machine)
            .await?;
        // Only a record this same credential made: a holder of another credential never
        // completes (or takes over) an enrollment it did not start.
        let existing = candidates
            .into_iter()
            .find(|a| a.thumbprint.is_none() && a.username == credential.username);
        let mut agent = match existing {
            Some(a) => a,
            None => {
                let mut a = Agent::new(
                    &credential.account_id,
                    &registration.client_machine,
                    &credential.username,
                    now,
                );
                if ctx.config.auto_approve {
                    a.status = AgentStatus::Approved;
                }
                announce(&mut a, &registration, now);
                let a = self.db.insert_agent(&a).await?;
                tracing::info!(agent = %a.id, machine = %a.client_machine, status = ?a.status, "a new agent registered");
                a
            }
        };
        announce(&mut agent, &registration, now);
        let Some(csr) = registration.csr.as_deref() else {
            // No certificate, no jobs: tell it where it stands.
            let agent = self.db.update_agent(&agent).await?;
            return Ok(match agent.status {
                AgentStatus::Approved => Registered::Pending {
                    agent_id: agent.id,
                    reason: "approved: enroll a client certificate (send a CSR) to receive jobs"
                        .to_owned(),
                },
                _ => pending(&agent),
            });
        };
        if agent.status != AgentStatus::Approved {
            let agent = self.db.update_agent(&agent).await?;
            return Ok(pending(&agent));
        }
        let issued = ctx
            .ca
            .issue(csr, &agent.id.to_string())
            .map_err(|e| DomainError::invalid(Field::Csr, e))?;
        agent.thumbprint = Some(issued.thumbprint.clone());
        agent.legacy_thumbprint = None;
        agent.certificate_not_after = Some(issued.not_after);
        agent.certificate_renewal = CertificateRenewal::None;
        let agent = self.db.update_agent(&agent).await?;
        tracing::info!(agent = %agent.id, machine = %agent.client_machine, "issued the agent's client certificate");
        // The enrollment session carries no jobs: the next one, over mTLS, does.
        let token = self.open_session(&agent, None, now).await?;
        Ok(Registered::Session(Box::new(OpenedSession {
            token,
            heartbeat_minutes: ctx.config.heartbeat_minutes,
            agent,
            certificate: Some(issued),
            jobs: Vec::new(),
        })))
    }

    async fn open_session(
        &self,
        agent: &Agent,
        thumbprint: Option<String>,
        now: DateTime<Utc>,
    ) -> DomainResult<String> {
        let ctx = self.agents()?;
        // A GUID: the C agent keeps tokens in 36-character buffers.
        let token = Uuid::new_v4().to_string();
        self.db
            .insert_agent_session(&AgentSession {
                token_hash: hash_token(&token),
                agent_id: agent.id,
                account_id: agent.account_id.clone(),
                thumbprint,
                created_at: now,
                expires_at: now + Duration::minutes(i64::from(ctx.config.session_minutes.max(1))),
            })
            .await?;
        Ok(token)
    }

    /// Claims the jobs due for the agent, unless it must renew its certificate first.
    async fn hand_jobs(&self, agent: &Agent, now: DateTime<Utc>) -> DomainResult<Vec<Job>> {
        if agent.status != AgentStatus::Approved
            || agent.certificate_renewal == CertificateRenewal::Required
        {
            return Ok(Vec::new());
        }
        let lease = std::time::Duration::from_secs(self.agents()?.config.job_lease_secs.max(1));
        let agent_id = agent.id.to_string();
        let claimed = self
            .db
            .claim_agent_jobs(&agent_id, &agent.account_id, now, JOBS_PER_SESSION, lease)
            .await?;
        self.keep_runnable(&agent_id, &agent.capabilities, claimed)
            .await
    }

    /// The agent and session a job call names: the token must be an unexpired session's
    /// and, for a session opened with a certificate, the connection must present that
    /// agent's certificate (current or previous) too, so a token alone is not enough.
    pub async fn agent_caller(
        &self,
        token: &str,
        peer: Option<&[u8]>,
    ) -> DomainResult<AgentCaller> {
        let now = Utc::now();
        let ctx = self.agents()?;
        let Some(session) = self.db.find_agent_session(&hash_token(token), now).await? else {
            return Err(unauthenticated("the session token is unknown or expired"));
        };
        let Some(agent) = self
            .db
            .get_agent(Some(&session.account_id), session.agent_id)
            .await?
        else {
            return Err(unauthenticated("the session's agent is gone"));
        };
        // An enrollment session (opened with the fleet's registration credential) proves
        // nothing about the machine: it names no job.
        if session.thumbprint.is_none() {
            return Err(unauthenticated(
                "this session was opened with a registration credential; job calls need a \
                 session opened with the agent's client certificate",
            ));
        }
        {
            let Some(der) = peer else {
                return Err(unauthenticated(
                    "this session was opened with a client certificate; present it",
                ));
            };
            let presented = ctx
                .ca
                .check_presented(der, now)
                .map_err(|e| unauthenticated(e.to_string()))?;
            let holds = [&agent.thumbprint, &agent.legacy_thumbprint]
                .iter()
                .any(|t| t.as_deref() == Some(presented.as_str()));
            if !holds {
                return Err(unauthenticated(
                    "the client certificate is not the session's agent's",
                ));
            }
        }
        if agent.status != AgentStatus::Approved {
            return Err(unauthenticated("the agent is not approved"));
        }
        Ok(AgentCaller { agent, session })
    }
}

/// Records what the agent announced about itself.
fn announce(agent: &mut Agent, registration: &Registration, now: DateTime<Utc>) {
    agent.platform = registration.platform;
    agent.version = registration.version.clone();
    agent.capabilities = registration.capabilities.clone();
    agent.last_seen = Some(now);
}

fn pending(agent: &Agent) -> Registered {
    let reason = match agent.status {
        AgentStatus::Disapproved => "the agent was disapproved by an operator",
        _ => "the agent awaits approval by an operator",
    };
    Registered::Pending {
        agent_id: agent.id,
        reason: reason.to_owned(),
    }
}

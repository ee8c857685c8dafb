//! Orchestrators (Keyfactor's agents) as the database keeps them: the agent records an
//! operator approves, the credentials for a first registration, and the sessions agents
//! open. Secrets (credential passwords, session tokens) are only ever stored as hashes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::history::{ColumnKind, Condition, Field, NoFlag};
use crate::model::truncate_micros;

/// Where an agent is in its approval (Keyfactor's agent `Status` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AgentStatus {
    /// Registered, not yet approved: it gets no certificate and no jobs.
    New,
    /// May enroll its client certificate and receive jobs.
    Approved,
    /// Refused by an operator: no certificate, no jobs.
    Disapproved,
}

impl AgentStatus {
    /// Keyfactor's code: 1 New, 2 Approved, 3 Disapproved.
    pub fn code(self) -> i64 {
        match self {
            AgentStatus::New => 1,
            AgentStatus::Approved => 2,
            AgentStatus::Disapproved => 3,
        }
    }

    /// The status of a code, if it is one.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(AgentStatus::New),
            2 => Some(AgentStatus::Approved),
            3 => Some(AgentStatus::Disapproved),
            _ => None,
        }
    }
}

/// Whether the agent must enroll for a new client-authentication certificate at its next
/// registration (Keyfactor's `AuthCertificateReenrollment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CertificateRenewal {
    /// Nothing asked.
    None,
    /// Renew at the next registration; jobs keep flowing meanwhile.
    Requested,
    /// Renew at the next registration; no jobs until it has.
    Required,
}

impl CertificateRenewal {
    /// Keyfactor's code: 0 none, 1 requested, 2 required.
    pub fn code(self) -> i64 {
        match self {
            CertificateRenewal::None => 0,
            CertificateRenewal::Requested => 1,
            CertificateRenewal::Required => 2,
        }
    }

    /// The value of a code, if it is one.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(CertificateRenewal::None),
            1 => Some(CertificateRenewal::Requested),
            2 => Some(CertificateRenewal::Required),
            _ => None,
        }
    }
}

/// A registered orchestrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The AgentId: jobs bound to the agent carry it as `run_on` / `processing_node`.
    pub id: Uuid,
    /// Owning account (the registration credential's).
    pub account_id: String,
    /// The machine it runs on, as it names itself.
    pub client_machine: String,
    /// The registration credential it first registered with.
    pub username: String,
    /// Keyfactor's AgentPlatform code (5 = native).
    pub platform: i64,
    pub version: String,
    pub status: AgentStatus,
    /// What it announced it can do (`CertStores.PEM.Inventory`, `Custom.FetchLogs`...).
    pub capabilities: Vec<String>,
    /// Upper-case hex SHA-1 of its current client certificate.
    pub thumbprint: Option<String>,
    /// The thumbprint before its last certificate renewal.
    pub legacy_thumbprint: Option<String>,
    /// The thumbprint it last authenticated with.
    pub last_thumbprint_used: Option<String>,
    /// When its current certificate expires.
    pub certificate_not_after: Option<DateTime<Utc>>,
    pub certificate_renewal: CertificateRenewal,
    /// The last error it reported or caused (0 = none).
    pub last_error_code: i64,
    pub last_error_message: Option<String>,
    /// Its last registration.
    pub last_seen: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// A New agent with a fresh random id, first seen at `now`.
    pub fn new(account_id: &str, client_machine: &str, username: &str, now: DateTime<Utc>) -> Self {
        let now = truncate_micros(now);
        Agent {
            id: Uuid::new_v4(),
            account_id: account_id.to_owned(),
            client_machine: client_machine.to_owned(),
            username: username.to_owned(),
            platform: 0,
            version: String::new(),
            status: AgentStatus::New,
            capabilities: Vec::new(),
            thumbprint: None,
            legacy_thumbprint: None,
            last_thumbprint_used: None,
            certificate_not_after: None,
            certificate_renewal: CertificateRenewal::None,
            last_error_code: 0,
            last_error_message: None,
            last_seen: Some(now),
            created_at: now,
            updated_at: now,
        }
    }
}

/// Filters of [`crate::Database::list_agents`]; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFilter {
    /// Only this account's agents (`None` = every account).
    pub account_id: Option<String>,
    /// Which agents, as a condition over [`AgentField`]s.
    pub condition: Option<AgentCondition>,
}

/// A credential an agent presents (HTTP basic auth) at its first registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationCredential {
    /// Unique across accounts: it names the account the agent joins.
    pub username: String,
    pub account_id: String,
    /// SHA-256 hex of the secret; the secret itself is shown once and never stored.
    pub secret_hash: String,
    /// When set, only an agent on this machine may register with it (a credential per
    /// machine: no holder of it can claim another machine's name).
    pub client_machine: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A session an agent opened with `/Session/Register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSession {
    /// SHA-256 hex of the session token.
    pub token_hash: String,
    pub agent_id: Uuid,
    pub account_id: String,
    /// The client certificate the session was opened with (`None`: basic auth).
    pub thumbprint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A column of the agents table that a listing may filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentField {
    /// The AgentId (text).
    Id,
    ClientMachine,
    /// The registration credential's user name (Keyfactor's `Identity`, `Username`).
    Username,
    /// AgentPlatform code (BIGINT).
    Platform,
    Version,
    /// Status code (BIGINT).
    Status,
    Thumbprint,
    /// AuthCertificateReenrollment code (BIGINT).
    CertificateRenewal,
    LastSeen,
    CreatedAt,
}

impl Field for AgentField {
    type Flag = NoFlag;

    fn column(self) -> &'static str {
        match self {
            AgentField::Id => "id",
            AgentField::ClientMachine => "client_machine",
            AgentField::Username => "username",
            AgentField::Platform => "platform",
            AgentField::Version => "version",
            AgentField::Status => "status",
            AgentField::Thumbprint => "thumbprint",
            AgentField::CertificateRenewal => "auth_cert_reenrollment",
            AgentField::LastSeen => "last_seen",
            AgentField::CreatedAt => "created_at",
        }
    }

    fn kind(self) -> ColumnKind {
        match self {
            AgentField::Platform | AgentField::Status | AgentField::CertificateRenewal => {
                ColumnKind::Int
            }
            AgentField::LastSeen | AgentField::CreatedAt => ColumnKind::Time,
            _ => ColumnKind::Text,
        }
    }

    fn flag_sql(flag: NoFlag) -> &'static str {
        match flag {}
    }
}

/// A filter over agents.
pub type AgentCondition = Condition<AgentField>;

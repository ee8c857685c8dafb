//! SSL networks (Keyfactor's `/SSL/Networks`): what an account scans for TLS endpoints,
//! when, and how it is told about what it finds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::recurrence::Recurrence;

/// A network: its ranges, scan schedules and alert settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SslNetwork {
    pub id: Uuid,
    pub account_id: String,
    /// Unique in the account (Keyfactor addresses networks by name too).
    pub name: String,
    pub description: String,
    /// Keyfactor's agent pool; kept as given.
    pub agent_pool_name: String,
    /// A disabled network gets no new scans (a running one finishes).
    pub enabled: bool,
    pub discover_schedule: Option<Recurrence>,
    pub monitor_schedule: Option<Recurrence>,
    pub discover_timeout_ms: i64,
    pub monitor_timeout_ms: i64,
    /// Alert when a certificate expires within this many days.
    pub expiration_alert_days: i64,
    /// When no alert is sent.
    pub quiet_hours: Vec<QuietHour>,
    pub alert_recipients: Vec<String>,
    /// Endpoints found by discovery are monitored at once.
    pub auto_monitor: bool,
    pub get_robots: bool,
    /// Ranges in their normal form (`127.0.0.0/30:443`), in the order given.
    pub ranges: Vec<String>,
    /// When the discovery and monitoring schedules fire next (`None`: never).
    pub next_discover_at: Option<DateTime<Utc>>,
    pub next_monitor_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A weekly quiet period: from `start_day` at `start_minute` to `end_day` at `end_minute`
/// (days 0-6, Sunday first; minutes after midnight, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHour {
    pub start_day: u8,
    pub start_minute: u16,
    pub end_day: u8,
    pub end_minute: u16,
}

/// Filters of [`crate::Database::list_ssl_networks`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SslNetworkFilter {
    /// Only this account's (`None` = every account, for admins).
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub agent_pool_name: Option<String>,
    /// A query's condition.
    pub condition: Option<SslNetworkCondition>,
}

/// One part of a scan: the ranges or endpoints one job probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SslScanPart {
    pub id: Uuid,
    /// The scan it belongs to (UUIDv7, so the newest scan sorts last).
    pub scan_id: Uuid,
    pub account_id: String,
    pub network_id: Uuid,
    pub kind: crate::ScanKind,
    /// Its place in the scan, from 0.
    pub seq: i64,
    pub job_id: Uuid,
    /// The ranges (discovery) or endpoints (monitoring) it probes, as its job's params
    /// name them.
    pub definitions: serde_json::Value,
    pub estimated_endpoints: i64,
    pub created_at: DateTime<Utc>,
    /// When its results were kept.
    pub finished_at: Option<DateTime<Utc>>,
    pub stats: Option<ScanStats>,
    /// Its job as it is now (read with the part; `None` once the job is purged).
    pub job_status: Option<crate::JobStatus>,
    pub job_started_at: Option<DateTime<Utc>>,
    pub job_finished_at: Option<DateTime<Utc>>,
}

/// How a part's probes ended, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    pub total: i64,
    pub certificate_found: i64,
    pub timed_out: i64,
    pub refused: i64,
    pub not_tls: i64,
    pub handshake: i64,
    pub unreachable: i64,
    pub not_granted: i64,
}

impl ScanStats {
    /// Counts one probe.
    pub fn count(&mut self, status: crate::ProbeStatus) {
        use crate::ProbeStatus as P;
        self.total += 1;
        *match status {
            P::CertificateFound => &mut self.certificate_found,
            P::TimedOut => &mut self.timed_out,
            P::Refused => &mut self.refused,
            P::NotTls => &mut self.not_tls,
            P::Handshake => &mut self.handshake,
            P::Unreachable => &mut self.unreachable,
            P::NotGranted => &mut self.not_granted,
        } += 1;
    }
}

/// The newest scan of one kind of a network, summed over its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProgress {
    pub network_id: Uuid,
    pub kind: crate::ScanKind,
    pub scan_id: Uuid,
    pub parts: i64,
    /// Parts whose job ended (results kept, or failed for good).
    pub ended: i64,
    /// Parts whose job failed for good or is gone without results.
    pub failed: i64,
    /// Parts whose job is running now.
    pub running: i64,
    pub started_at: DateTime<Utc>,
    /// When the last part ended, once every part has.
    pub last_ended_at: Option<DateTime<Utc>>,
}

/// What one probe saw, as the host recorded it (not as the plugin reported it).
#[derive(Debug, Clone, PartialEq)]
pub struct SslObservation {
    /// An address in its canonical text, or a host name (lower case).
    pub host: String,
    pub port: i64,
    /// The SNI sent; empty for none.
    pub sni_name: String,
    /// The address connected to, when one was.
    pub address: Option<String>,
    pub status: crate::ProbeStatus,
    pub certificate: Option<ObservedCertificate>,
}

/// The certificate an endpoint served, with the host's verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedCertificate {
    pub thumbprint: String,
    pub subject: String,
    pub issuer: String,
    pub serial_number: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The leaf, base64 DER.
    pub certificate: String,
    /// The chain as presented, base64 DER, leaf first.
    pub chain: Vec<String>,
    pub protocol: String,
    pub cipher_suite: String,
    pub trusted: bool,
    pub trust_error: Option<String>,
    pub name_matches: bool,
    pub expired: bool,
}

/// An endpoint a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SslEndpoint {
    pub id: Uuid,
    pub account_id: String,
    pub network_id: Uuid,
    pub host: String,
    pub port: i64,
    pub sni_name: String,
    pub address: String,
    pub enable_monitor: bool,
    pub reviewed: bool,
    pub last_status: crate::ProbeStatus,
    pub last_history_id: Option<Uuid>,
    pub thumbprint: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub serial_number: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// The leaf last served, base64 DER.
    pub certificate: Option<String>,
    pub trusted: Option<bool>,
    pub name_matches: Option<bool>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A column of `ssl_endpoints` that queries may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SslEndpointField {
    Id,
    NetworkId,
    Host,
    Address,
    Port,
    SniName,
    Status,
    Thumbprint,
    Subject,
    Issuer,
    NotAfter,
    NotBefore,
    LastSeen,
    FirstSeen,
}

/// What can be tested of an endpoint beyond its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SslEndpointFlag {
    Monitored,
    Reviewed,
    CertificateFound,
    Trusted,
    NameMatches,
}

impl crate::history::Field for SslEndpointField {
    type Flag = SslEndpointFlag;

    fn column(self) -> &'static str {
        match self {
            SslEndpointField::Id => "id",
            SslEndpointField::NetworkId => "network_id",
            SslEndpointField::Host => "host",
            SslEndpointField::Address => "address",
            SslEndpointField::Port => "port",
            SslEndpointField::SniName => "sni_name",
            SslEndpointField::Status => "last_status",
            SslEndpointField::Thumbprint => "thumbprint",
            SslEndpointField::Subject => "subject",
            SslEndpointField::Issuer => "issuer",
            SslEndpointField::NotAfter => "not_after",
            SslEndpointField::NotBefore => "not_before",
            SslEndpointField::LastSeen => "last_seen",
            SslEndpointField::FirstSeen => "first_seen",
        }
    }

    fn kind(self) -> crate::history::ColumnKind {
        use crate::history::ColumnKind;
        match self {
            SslEndpointField::Port => ColumnKind::Int,
            SslEndpointField::NotAfter
            | SslEndpointField::NotBefore
            | SslEndpointField::LastSeen
            | SslEndpointField::FirstSeen => ColumnKind::Time,
            _ => ColumnKind::Text,
        }
    }

    fn flag_sql(flag: SslEndpointFlag) -> &'static str {
        match flag {
            SslEndpointFlag::Monitored => "(enable_monitor = TRUE)",
            SslEndpointFlag::Reviewed => "(reviewed = TRUE)",
            SslEndpointFlag::CertificateFound => "(thumbprint IS NOT NULL)",
            SslEndpointFlag::Trusted => "(trusted = TRUE)",
            SslEndpointFlag::NameMatches => "(name_matches = TRUE)",
        }
    }
}

pub type SslEndpointCondition = crate::history::Condition<SslEndpointField>;

/// A column of `ssl_networks` that queries may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SslNetworkField {
    Name,
    AgentPoolName,
    Description,
}

impl crate::history::Field for SslNetworkField {
    type Flag = crate::history::NoFlag;

    fn column(self) -> &'static str {
        match self {
            SslNetworkField::Name => "name",
            SslNetworkField::AgentPoolName => "agent_pool_name",
            SslNetworkField::Description => "description",
        }
    }

    fn kind(self) -> crate::history::ColumnKind {
        crate::history::ColumnKind::Text
    }

    fn flag_sql(flag: crate::history::NoFlag) -> &'static str {
        match flag {}
    }
}

pub type SslNetworkCondition = crate::history::Condition<SslNetworkField>;

/// Filters of [`crate::Database::list_ssl_endpoints`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SslEndpointFilter {
    pub account_id: Option<String>,
    pub network_id: Option<Uuid>,
    pub monitored: Option<bool>,
    pub reviewed: Option<bool>,
    /// Only endpoints serving a certificate that ends before this instant.
    pub expiring_before: Option<DateTime<Utc>>,
    /// A query's condition.
    pub condition: Option<SslEndpointCondition>,
}

/// One probe of an endpoint, kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SslHistoryEntry {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub job_id: Uuid,
    pub kind: crate::ScanKind,
    pub observed_at: DateTime<Utc>,
    pub status: crate::ProbeStatus,
    pub changed: bool,
    pub address: Option<String>,
    pub thumbprint: Option<String>,
    pub chain: Vec<String>,
    pub protocol: Option<String>,
    pub cipher_suite: Option<String>,
    pub trusted: Option<bool>,
    pub trust_error: Option<String>,
    pub name_matches: Option<bool>,
    pub expired: Option<bool>,
}

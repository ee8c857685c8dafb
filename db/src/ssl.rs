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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslNetworkFilter {
    /// Only this account's (`None` = every account, for admins).
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub agent_pool_name: Option<String>,
}

//! Alerts and their delivery state (migration 20250112).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AlertKind, AlertState};

/// An alert to raise. Raising one whose `dedupe_key` was raised before does nothing, so a
/// condition is reported once however often it is seen.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: Uuid,
    pub account_id: String,
    pub kind: AlertKind,
    pub dedupe_key: String,
    /// What it is about, in words (`127.0.0.5:443`, a config's name).
    pub subject: String,
    pub message: String,
    pub details: serde_json::Value,
    pub network_id: Option<Uuid>,
    pub job_config_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: Uuid,
    pub account_id: String,
    pub kind: AlertKind,
    pub subject: String,
    pub message: String,
    pub details: serde_json::Value,
    pub network_id: Option<Uuid>,
    pub job_config_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub state: AlertState,
    /// Delivery attempts made.
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Filters of [`crate::Database::list_alerts`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub account_id: Option<String>,
    pub kind: Option<AlertKind>,
    pub state: Option<AlertState>,
    pub network_id: Option<Uuid>,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    Delivered {
        at: DateTime<Utc>,
    },
    /// Try again at `retry_at`, or give up (`None`).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
    /// Not attempted (quiet hours): try at `until`, no attempt counted.
    Deferred {
        until: DateTime<Utc>,
    },
}

//! Keyfactor's numeric Status and Result codes, its job types and ScheduleType codes: a
//! rendering of the model's phases, outcomes, job kinds and schedule kinds
//! (`domain/history.rs`), never a second model.
//!
//! | Status | phase | | Result | outcome |
//! |---|---|---|---|---|
//! | 0 Unknown | unknown | | 0 Unknown | unknown |
//! | 1 Waiting | waiting | | 2 Success | success |
//! | 2 InProcess | in process | | 3 Warning | warning |
//! | 3 Completed | completed | | 4 Failure | failure |
//! | 4 Acknowledged | acknowledged | | | |
//! | 5 CompletedWillRetry | will retry | | | |

use keywarden_db::{JobCondition, ScheduleKind};

use crate::domain::history::{Outcome, Phase};
use crate::domain::kind::JobKind;

/// Keyfactor Status codes, with their names.
pub const STATUS_CODES: &[(i64, &str)] = &[
    (0, "Unknown"),
    (1, "Waiting"),
    (2, "InProcess"),
    (3, "Completed"),
    (4, "Acknowledged"),
    (5, "CompletedWillRetry"),
];

/// Keyfactor Result codes, with their names.
pub const RESULT_CODES: &[(i64, &str)] = &[
    (0, "Unknown"),
    (2, "Success"),
    (3, "Warning"),
    (4, "Failure"),
];

/// Keyfactor's ScheduleType codes, with the names accepted for them in queries.
pub const SCHEDULE_TYPES: &[(&str, &str, ScheduleKind)] = &[
    ("I_", "Interval", ScheduleKind::Interval),
    ("D_", "Daily", ScheduleKind::Daily),
    ("W_", "Weekly", ScheduleKind::Weekly),
    ("M_", "Monthly", ScheduleKind::Monthly),
    ("O_", "ExactlyOnce", ScheduleKind::Once),
];

/// The Status code of a phase.
pub fn status_code(phase: Phase) -> i64 {
    match phase {
        Phase::Unknown => 0,
        Phase::Waiting => 1,
        Phase::InProcess => 2,
        Phase::Completed => 3,
        Phase::Acknowledged => 4,
        Phase::WillRetry => 5,
    }
}

/// The Result code of an outcome.
pub fn result_code(outcome: Outcome) -> i64 {
    match outcome {
        Outcome::Unknown => 0,
        Outcome::Success => 2,
        Outcome::Warning => 3,
        Outcome::Failure => 4,
    }
}

/// The jobs whose Status is `code`.
pub fn status_condition(code: i64) -> JobCondition {
    Phase::ALL
        .iter()
        .find(|p| status_code(**p) == code)
        .map_or(JobCondition::False, |p| p.condition())
}

/// The jobs whose Result is `code`.
pub fn result_condition(code: i64) -> JobCondition {
    Outcome::ALL
        .iter()
        .find(|o| result_code(**o) == code)
        .map_or(JobCondition::False, |o| o.condition())
}

/// The ScheduleType code of a schedule kind (`None`: immediately, shown as `null`).
pub fn schedule_type(kind: Option<ScheduleKind>) -> Option<&'static str> {
    let kind = kind?;
    SCHEDULE_TYPES
        .iter()
        .find(|(_, _, k)| *k == kind)
        .map(|(code, _, _)| *code)
}

/// Keyfactor's JobType of an operation of `kind`: the certificate-store job names,
/// `SslDiscovery`, or the operation's own name (custom and key-management operations,
/// and operations no loaded plugin provides).
pub fn job_type(operation: &str, kind: JobKind) -> String {
    match kind {
        JobKind::StoreInventory => "Inventory",
        JobKind::StoreManagement => "Management",
        JobKind::StoreDiscovery => "Discovery",
        JobKind::StoreReenrollment => "Reenrollment",
        JobKind::SslDiscovery => "SslDiscovery",
        JobKind::KeyManagement | JobKind::Custom | JobKind::Unknown => operation,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (code, _) in STATUS_CODES {
            let phase = Phase::ALL.iter().find(|p| status_code(**p) == *code);
            assert!(phase.is_some(), "status {code}");
        }
        for (code, _) in RESULT_CODES {
            let outcome = Outcome::ALL.iter().find(|o| result_code(**o) == *code);
            assert!(outcome.is_some(), "result {code}");
        }
        assert_eq!(status_condition(9), JobCondition::False);
        assert_eq!(schedule_type(Some(ScheduleKind::Weekly)), Some("W_"));
        assert_eq!(schedule_type(None), None);
    }

    #[test]
    fn job_types_of_kinds() {
        assert_eq!(
            job_type("reenroll", JobKind::StoreReenrollment),
            "Reenrollment"
        );
        assert_eq!(job_type("tls_scan", JobKind::SslDiscovery), "SslDiscovery");
        assert_eq!(job_type("hello", JobKind::Custom), "hello");
        assert_eq!(job_type("gone", JobKind::Unknown), "gone");
    }
}

//! Keyfactor's numeric Status and Result codes and its job types, as a mapping over
//! Keywarden's one job model (`DOMAIN.md`). Each code is defined twice, in step: as a
//! function of a stored job (to render it) and as a store condition (to filter and sort by
//! it in SQL); the HTTP tests check that both agree.
//!
//! | Keywarden job | Status | Result |
//! |---|---|---|
//! | queued, never attempted | 1 Waiting | 0 Unknown |
//! | running | 2 InProcess | 0 Unknown |
//! | queued again after a failed attempt (retry pending) | 5 CompletedWillRetry | 4 Failure |
//! | completed / failed / cancelled | 3 Completed | success 2, warning 3, failure 4, none 0 |
//! | any of the last two, latest attempt acknowledged | 4 Acknowledged | as above |

use keywarden_db::{Compare, JobCondition, JobField, JobHistoryEntry, JobValue, status};

use crate::plugins::PluginRegistry;

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

fn finished(e: &JobHistoryEntry) -> bool {
    status::FINAL.contains(&e.job.status.as_str())
}

fn retry_pending(e: &JobHistoryEntry) -> bool {
    e.job.status == status::QUEUED && e.job.attempt > 0
}

/// The Status code of a job.
pub fn status_code(e: &JobHistoryEntry) -> i64 {
    match () {
        _ if (finished(e) || retry_pending(e)) && e.acknowledged => 4,
        _ if finished(e) => 3,
        _ if retry_pending(e) => 5,
        _ if e.job.status == status::RUNNING => 2,
        _ if e.job.status == status::QUEUED => 1,
        _ => 0,
    }
}

/// The Result code of a job.
pub fn result_code(e: &JobHistoryEntry) -> i64 {
    match e.job.result.as_deref() {
        Some("success") => 2,
        Some("warning") => 3,
        Some("failure") => 4,
        _ if retry_pending(e) => 4,
        _ => 0,
    }
}

fn final_condition() -> JobCondition {
    JobCondition::In {
        field: JobField::Status,
        values: status::FINAL.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn retry_pending_condition() -> JobCondition {
    JobCondition::All(vec![
        JobCondition::is(JobField::Status, status::QUEUED),
        JobCondition::Compare {
            field: JobField::Attempt,
            op: Compare::Gt,
            value: JobValue::Int(0),
        },
    ])
}

/// The jobs whose Status is `code` (see [`status_code`]).
pub fn status_condition(code: i64) -> JobCondition {
    match code {
        1 => JobCondition::All(vec![
            JobCondition::is(JobField::Status, status::QUEUED),
            JobCondition::eq(JobField::Attempt, JobValue::Int(0)),
        ]),
        2 => JobCondition::is(JobField::Status, status::RUNNING),
        3 => JobCondition::All(vec![final_condition(), JobCondition::Acknowledged.negate()]),
        4 => JobCondition::All(vec![
            JobCondition::Any(vec![final_condition(), retry_pending_condition()]),
            JobCondition::Acknowledged,
        ]),
        5 => JobCondition::All(vec![
            retry_pending_condition(),
            JobCondition::Acknowledged.negate(),
        ]),
        _ => JobCondition::False,
    }
}

/// The jobs whose Result is `code` (see [`result_code`]).
pub fn result_condition(code: i64) -> JobCondition {
    match code {
        2 => JobCondition::is(JobField::Result, "success"),
        3 => JobCondition::is(JobField::Result, "warning"),
        4 => JobCondition::Any(vec![
            JobCondition::is(JobField::Result, "failure"),
            retry_pending_condition(),
        ]),
        0 => JobCondition::Any(vec![
            result_condition(2),
            result_condition(3),
            result_condition(4),
        ])
        .negate(),
        _ => JobCondition::False,
    }
}

/// What kind of orchestrator job an operation is, for the reschedule rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    StoreInventory,
    StoreManagement,
    StoreDiscovery,
    StoreReenrollment,
    /// Network (TLS) discovery: Keyfactor's SSL discovery and monitoring.
    SslDiscovery,
    /// CipherTrust-style cloud key operations (`cckm_*`).
    KeyManagement,
    Custom,
    /// No loaded plugin provides the operation and its name says nothing.
    Unknown,
}

/// An operation's Keyfactor JobType and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobType {
    pub name: String,
    pub kind: JobKind,
}

/// The certificate-store job an operation name stands for, ignoring case: Keyfactor's
/// names and the `certificate-store` interface's function names.
fn store_kind(operation: &str) -> Option<(JobKind, &'static str)> {
    Some(match operation.to_ascii_lowercase().as_str() {
        "inventory" => (JobKind::StoreInventory, "Inventory"),
        "management" | "add" | "remove" | "create" => (JobKind::StoreManagement, "Management"),
        "discovery" | "discover" => (JobKind::StoreDiscovery, "Discovery"),
        "reenrollment" | "reenroll" => (JobKind::StoreReenrollment, "Reenrollment"),
        _ => return None,
    })
}

/// The JobType of `operation` given the family of the plugin operation providing it
/// (`None` when no loaded plugin does). Certificate-store operations map to Inventory,
/// Management, Discovery or Reenrollment; network discovery to SslDiscovery; custom and
/// key-management operations keep their name. Without a plugin, Keyfactor's four store
/// job names still count as certificate-store jobs (the store APIs create them by those
/// names), anything else is Unknown under its own name.
pub fn job_type(operation: &str, family: Option<&str>) -> JobType {
    let own = |kind| JobType {
        name: operation.to_owned(),
        kind,
    };
    match family {
        Some("certificate-store") => match store_kind(operation) {
            Some((kind, name)) => JobType {
                name: name.to_owned(),
                kind,
            },
            None => own(JobKind::StoreManagement),
        },
        Some("network-discovery") => JobType {
            name: "SslDiscovery".to_owned(),
            kind: JobKind::SslDiscovery,
        },
        Some("key-management") => own(JobKind::KeyManagement),
        Some("custom") => own(JobKind::Custom),
        _ => match store_kind(operation) {
            Some((kind, name)) if name.eq_ignore_ascii_case(operation) => JobType {
                name: name.to_owned(),
                kind,
            },
            _ => own(JobKind::Unknown),
        },
    }
}

/// The family of `operation` among the loaded plugins (for `target`, else any target).
pub fn family_of(
    registry: &PluginRegistry,
    operation: &str,
    target: Option<&str>,
) -> Option<&'static str> {
    let plugins = registry.plugins();
    let ops = || plugins.iter().flat_map(|p| p.manifest.operations.iter());
    ops()
        .find(|o| o.name == operation && o.target.as_deref() == target)
        .or_else(|| ops().find(|o| o.name == operation))
        .map(|o| o.family)
}

/// Every (operation name, family) the loaded plugins provide, deduplicated.
pub fn known_operations(registry: &PluginRegistry) -> Vec<(String, &'static str)> {
    let mut ops: Vec<(String, &'static str)> = registry
        .plugins()
        .iter()
        .flat_map(|p| p.manifest.operations.iter())
        .map(|o| (o.name.clone(), o.family))
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

/// Jobs in any state, for unit tests of the mappings.
#[cfg(test)]
pub(crate) mod tests_support {
    use keywarden_db::JobHistoryEntry;

    pub fn entry(
        status: &str,
        result: Option<&str>,
        attempt: i32,
        acknowledged: bool,
    ) -> JobHistoryEntry {
        let now = chrono::Utc::now();
        let config = keywarden_db::JobConfig::new("a", "n", "hello", "@daily", now);
        let new = keywarden_db::NewJob::from_config(&config, now, now);
        JobHistoryEntry {
            job: keywarden_db::Job {
                id: new.id,
                account_id: new.account_id,
                job_config_id: new.job_config_id,
                name: new.name,
                description: new.description,
                operation: new.operation,
                target: None,
                params: new.params,
                run_on: new.run_on,
                status: status.to_owned(),
                result: result.map(str::to_owned),
                message: None,
                details: None,
                logs: vec![],
                progress_done: 0,
                progress_total: 0,
                attempt,
                max_attempts: 3,
                retry_backoff_secs: 1,
                scheduled_for: now,
                enqueued_at: now,
                started_at: None,
                finished_at: None,
                processing_node: None,
                lease_expires_at: None,
                created_at: now,
                updated_at: now,
            },
            audit_id: 1,
            acknowledged,
            rescheduled_as: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::entry;
    use super::*;

    #[test]
    fn certificate_store_operations_map_to_keyfactor_job_types() {
        for (op, name, kind) in [
            ("Inventory", "Inventory", JobKind::StoreInventory),
            ("inventory", "Inventory", JobKind::StoreInventory),
            ("Management", "Management", JobKind::StoreManagement),
            ("add", "Management", JobKind::StoreManagement),
            ("remove", "Management", JobKind::StoreManagement),
            ("create", "Management", JobKind::StoreManagement),
            ("Discovery", "Discovery", JobKind::StoreDiscovery),
            ("discover", "Discovery", JobKind::StoreDiscovery),
            ("Reenrollment", "Reenrollment", JobKind::StoreReenrollment),
            ("reenroll", "Reenrollment", JobKind::StoreReenrollment),
        ] {
            let t = job_type(op, Some("certificate-store"));
            assert_eq!((t.name.as_str(), t.kind), (name, kind), "{op}");
        }
        // Without a plugin, only Keyfactor's own names are recognised.
        assert_eq!(
            job_type("Reenrollment", None).kind,
            JobKind::StoreReenrollment
        );
        assert_eq!(job_type("INVENTORY", None).name, "Inventory");
        assert_eq!(job_type("reenroll", None).kind, JobKind::Unknown);
    }

    #[test]
    fn other_families_keep_their_names() {
        let t = job_type("cckm_key_rotation", Some("key-management"));
        assert_eq!(
            (t.name.as_str(), t.kind),
            ("cckm_key_rotation", JobKind::KeyManagement)
        );
        let t = job_type("hello", Some("custom"));
        assert_eq!((t.name.as_str(), t.kind), ("hello", JobKind::Custom));
        let t = job_type("tls_scan", Some("network-discovery"));
        assert_eq!(
            (t.name.as_str(), t.kind),
            ("SslDiscovery", JobKind::SslDiscovery)
        );
        let t = job_type("gone", None);
        assert_eq!((t.name.as_str(), t.kind), ("gone", JobKind::Unknown));
    }

    #[test]
    fn status_and_result_codes_of_the_job_model() {
        for (st, res, attempt, ack, want_status, want_result) in [
            ("queued", None, 0, false, 1, 0),
            ("running", None, 1, false, 2, 0),
            ("queued", None, 1, false, 5, 4),
            ("queued", None, 1, true, 4, 4),
            ("completed", Some("success"), 1, false, 3, 2),
            ("completed", Some("warning"), 1, false, 3, 3),
            ("completed", Some("warning"), 1, true, 4, 3),
            ("completed", Some("failure"), 1, false, 3, 4),
            ("failed", Some("failure"), 2, false, 3, 4),
            ("failed", Some("failure"), 2, true, 4, 4),
            ("cancelled", None, 0, false, 3, 0),
        ] {
            let e = entry(st, res, attempt, ack);
            assert_eq!(
                (status_code(&e), result_code(&e)),
                (want_status, want_result),
                "{st} {res:?} attempt {attempt} acknowledged {ack}"
            );
        }
    }
}

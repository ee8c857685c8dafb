use super::*;
use crate::api::keyfactor::query::parse;

fn ctx() -> Context {
    Context {
        operations: vec![
            ("hello".into(), Family::Custom),
            ("Inventory".into(), Family::CertificateStore),
            ("reenroll".into(), Family::CertificateStore),
        ],
    }
}

fn translate_str(q: &str) -> Result<JobCondition, QueryError> {
    translate(&parse(q).unwrap().unwrap(), &ctx())
}

fn fault(q: &str) -> QueryError {
    translate_str(q).expect_err(q)
}

#[test]
fn unknown_field_names_the_field_and_its_position() {
    let e = fault("Status -eq 3 AND Colour -eq red");
    assert_eq!(e.position, 18);
    assert!(e.reason.contains("unknown field Colour"), "{}", e.reason);
    assert!(e.reason.contains("OperationStart"), "{}", e.reason);
}

#[test]
fn type_mismatches_point_at_the_operator() {
    for (q, pos) in [
        ("Message -gt \"a\"", 9),
        ("TargetPath -le x", 12),
        ("JobType -lt x", 9),
        ("OperationStart -contains 2024", 16),
        ("Status -contains 3", 8),
        ("Result -startswith 4", 8),
        ("JobId -contains 4", 7),
        ("ScheduleType -gt W_", 14),
        ("OperationEnd -startswith null", 14),
    ] {
        let e = fault(q);
        assert_eq!(e.position, pos, "{q}: {e}");
        assert!(
            e.reason.contains("type mismatch") || e.reason.contains("null can only"),
            "{q}: {}",
            e.reason
        );
    }
    let e = fault(&format!("JobId -gt {}", Uuid::nil()));
    assert!(e.reason.contains("GUID"), "{}", e.reason);
}

#[test]
fn bad_values_point_at_the_value() {
    for (q, pos, what) in [
        ("Status -eq 9", 12, "code"),
        ("Status -eq Done", 12, "code"),
        ("Result -eq \"1\"", 12, "code"),
        ("OperationStart -gt yesterday", 20, "date"),
        ("OperationStart -gt 2024-13-01", 20, "date"),
        ("JobId -eq abc", 11, "audit id"),
        ("ScheduleType -eq Yearly", 18, "W_"),
        ("JobType -eq null", 13, "never null"),
    ] {
        let e = fault(q);
        assert_eq!(e.position, pos, "{q}: {e}");
        assert!(e.reason.contains(what), "{q}: {}", e.reason);
    }
}

#[test]
fn accepted_values() {
    for q in [
        "Status -eq \"3\"",
        "Status -eq completed",
        "Status -gt 9",
        "Result -eq Failure",
        "OperationStart -gt 2024-05-01",
        "OperationStart -le 2024-05-01T10:00:00+02:00",
        "OperationEnd -eq \"2024-05-01 10:00:00\"",
        "OperationEnd -eq null",
        "Message -contains \"disk\"",
        "Agent -ne null",
        "JobId -ge 10",
        "JobAuditId -eq \"10\"",
        "JobHistoryId -lt 3",
        "JobType -eq \"Inventory\"",
        "ScheduleType -eq null",
        "ScheduleType -ne w_",
        "scheduletype -eq Weekly",
    ] {
        translate_str(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    let guid = Uuid::now_v7();
    assert_eq!(
        translate_str(&format!("JobId -eq {}", guid.to_string().to_uppercase())).unwrap(),
        JobCondition::is(JobField::Id, &guid.to_string())
    );
}

#[test]
fn codes_compare_as_numbers_over_the_known_codes() {
    let got = translate_str("Status -ge 4").unwrap();
    assert_eq!(
        got,
        JobCondition::Any(vec![codes::status_condition(4), codes::status_condition(5)])
    );
    let got = translate_str("Result -ne 4").unwrap();
    assert_eq!(
        got,
        JobCondition::Any(vec![
            codes::result_condition(0),
            codes::result_condition(2),
            codes::result_condition(3)
        ])
    );
}

#[test]
fn job_type_goes_through_the_plugins_mapping() {
    // Reenrollment is provided as `reenroll` by a certificate-store plugin.
    let got = translate_str("JobType -eq Reenrollment").unwrap();
    let JobCondition::Any(parts) = got else {
        panic!()
    };
    assert_eq!(
        parts[0],
        JobCondition::In {
            field: JobField::Operation,
            values: vec!["reenroll".into()]
        }
    );
}

#[test]
fn sort_fields() {
    assert_eq!(
        sort_order("jobid"),
        Some(JobOrder::Field(JobField::AuditId))
    );
    assert_eq!(
        sort_order("OperationStart"),
        Some(JobOrder::Field(JobField::StartedAt))
    );
    assert!(matches!(sort_order("Status"), Some(JobOrder::Rank(r)) if r.len() == 6));
    // The schedule kinds' words sort like Keyfactor's codes (daily < interval < ...).
    assert_eq!(
        sort_order("ScheduleType"),
        Some(JobOrder::Field(JobField::ScheduleKind))
    );
    assert!(sort_order("Colour").is_none());
}

#[test]
fn schedule_type_is_a_column() {
    assert_eq!(
        translate_str("ScheduleType -eq W_").unwrap(),
        JobCondition::is(JobField::ScheduleKind, "weekly")
    );
    assert_eq!(
        translate_str("ScheduleType -eq null").unwrap(),
        JobCondition::IsNull(JobField::ScheduleKind)
    );
}

/// A long chain of ORs (or ANDs) is one flat list: its length is not nesting.
#[test]
fn long_chains_are_flat() {
    let query = (1..=200)
        .map(|n| format!("JobId -eq {n}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let JobCondition::Any(items) = translate_str(&query).unwrap() else {
        panic!("an OR chain is Any")
    };
    assert_eq!(items.len(), 200);
    let query = "Status -eq 3 AND Result -eq 4 AND (JobId -eq 1 OR JobId -eq 2 OR JobId -eq 3)";
    let JobCondition::All(items) = translate_str(query).unwrap() else {
        panic!("an AND chain is All")
    };
    assert_eq!(items.len(), 3);
    assert!(matches!(&items[2], JobCondition::Any(or) if or.len() == 3));
}

/// Dates at the edge of what can be written are refused, not a panic.
#[test]
fn extreme_dates_are_refused_not_a_panic() {
    for q in [
        "OperationStart -eq +262142-12-31",
        "OperationStart -gt +262142-12-31",
        "OperationEnd -le +262142-12-31",
    ] {
        let e = fault(q);
        assert!(e.reason.contains("date"), "{q}: {}", e.reason);
    }
    translate_str("OperationStart -lt -262143-01-01").unwrap();
}

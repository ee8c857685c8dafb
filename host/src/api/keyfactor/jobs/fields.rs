//! The fields of the job-history query language and their translation into database
//! conditions (SQL with bound values). Derived fields (Status, Result, JobType) become
//! conditions over the columns they derive from, and ScheduleType is a column of its own,
//! so filtering happens in the database, whatever the number of jobs or configs.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use keywarden_db::{Compare, JobCondition, JobField, JobOrder, JobValue};
use uuid::Uuid;

use super::codes::{self, RESULT_CODES, SCHEDULE_TYPES, STATUS_CODES};
use crate::api::keyfactor::query::{self, Clause, Expr, Op, QueryError};
use crate::domain::kind::kind_of;
use crate::plugins::Family;

/// A queryable field and how its values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The integer audit id (JobId, JobAuditId, JobHistoryId); JobId also takes a GUID.
    JobId,
    /// Free text over a column (Agent, AgentId, Message, TargetPath).
    Text(JobField),
    /// A date-time column (OperationStart, OperationEnd).
    Date(JobField),
    Result,
    Status,
    JobType,
    ScheduleType,
}

/// Field names as documented (lookups ignore case).
pub const FIELDS: &[(&str, Field)] = &[
    ("JobId", Field::JobId),
    ("JobAuditId", Field::JobId),
    ("JobHistoryId", Field::JobId),
    ("AgentId", Field::Text(JobField::ProcessingNode)),
    ("Agent", Field::Text(JobField::ProcessingNode)),
    ("Result", Field::Result),
    ("Status", Field::Status),
    ("JobType", Field::JobType),
    ("Message", Field::Text(JobField::Message)),
    ("OperationStart", Field::Date(JobField::StartedAt)),
    ("OperationEnd", Field::Date(JobField::FinishedAt)),
    ("ScheduleType", Field::ScheduleType),
    ("TargetPath", Field::Text(JobField::Target)),
];

/// The field called `name` (any case).
pub fn field(name: &str) -> Option<Field> {
    FIELDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
}

fn field_names() -> String {
    FIELDS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What derived fields need to know beyond the jobs table.
#[derive(Debug, Default)]
pub struct Context {
    /// Every (operation, family) the loaded plugins provide.
    pub operations: Vec<(String, Family)>,
}

/// Translates a parsed query into a database condition, checking fields, operator/field
/// types and values; faults carry the position of the part at fault. A chain of ANDs
/// (or of ORs) becomes one flat list, so its length is not mistaken for nesting.
pub fn translate(expr: &Expr, ctx: &Context) -> Result<JobCondition, QueryError> {
    Ok(match expr {
        Expr::And(..) => {
            let mut items = Vec::new();
            for e in expr.chain(true) {
                items.push(translate(e, ctx)?);
            }
            JobCondition::All(items)
        }
        Expr::Or(..) => {
            let mut items = Vec::new();
            for e in expr.chain(false) {
                items.push(translate(e, ctx)?);
            }
            JobCondition::Any(items)
        }
        Expr::Not(e) => translate(e, ctx)?.negate(),
        Expr::Clause(c) => clause(c, ctx)?,
    })
}

fn mismatch(c: &Clause, kind: &str, allowed: &str) -> QueryError {
    QueryError::new(
        c.op_position,
        format!(
            "type mismatch: {} cannot compare {} ({kind}); use {allowed}",
            c.op.name(),
            c.field
        ),
    )
}

fn bad_value(c: &Clause, expected: &str) -> QueryError {
    QueryError::new(
        c.value_position,
        format!("{} takes {expected}, got {:?}", c.field, c.value.text()),
    )
}

/// `-eq null` / `-ne null` on a field that may be empty.
fn null_check(c: &Clause, column: JobField) -> Result<JobCondition, QueryError> {
    match c.op {
        Op::Eq => Ok(JobCondition::IsNull(column)),
        Op::Ne => Ok(JobCondition::IsNull(column).negate()),
        _ => Err(QueryError::new(
            c.op_position,
            format!(
                "null can only be compared with -eq or -ne, not {}",
                c.op.name()
            ),
        )),
    }
}

const TEXT_OPS: &str = "-eq, -ne, -contains or -startswith";
const ORDER_OPS: &str = "-eq, -ne, -gt, -lt, -ge or -le";

fn clause(c: &Clause, ctx: &Context) -> Result<JobCondition, QueryError> {
    let Some(f) = field(&c.field) else {
        return Err(QueryError::new(
            c.field_position,
            format!(
                "unknown field {}; the fields are {}",
                c.field,
                field_names()
            ),
        ));
    };
    match f {
        Field::Text(column) => {
            if c.value.is_null() {
                return null_check(c, column);
            }
            if c.op.is_ordering() {
                return Err(mismatch(c, "text", TEXT_OPS));
            }
            Ok(JobCondition::Compare {
                field: column,
                op: query::compare(c.op),
                value: JobValue::Text(c.value.text().to_owned()),
            })
        }
        Field::Date(column) => {
            if c.value.is_null() {
                return null_check(c, column);
            }
            if c.op.is_text_match() {
                return Err(mismatch(c, "a date", ORDER_OPS));
            }
            date_condition(c, column)
        }
        Field::JobId => job_id(c),
        Field::Result => code_condition(c, RESULT_CODES, codes::result_condition),
        Field::Status => code_condition(c, STATUS_CODES, codes::status_condition),
        Field::JobType => job_type(c, ctx),
        Field::ScheduleType => schedule_type(c),
    }
}

fn job_id(c: &Clause) -> Result<JobCondition, QueryError> {
    if c.op.is_text_match() {
        return Err(mismatch(c, "an integer id", ORDER_OPS));
    }
    let text = c.value.text().trim();
    if let Ok(n) = text.parse::<i64>() {
        return Ok(JobCondition::Compare {
            field: JobField::AuditId,
            op: query::compare(c.op),
            value: JobValue::Int(n),
        });
    }
    if let Ok(guid) = Uuid::parse_str(text) {
        let is = JobCondition::is(JobField::Id, &guid.to_string());
        return match c.op {
            Op::Eq => Ok(is),
            Op::Ne => Ok(is.negate()),
            _ => Err(QueryError::new(
                c.op_position,
                format!(
                    "type mismatch: a job GUID compares with -eq or -ne only, not {}",
                    c.op.name()
                ),
            )),
        };
    }
    Err(bad_value(c, "an integer job audit id or a job GUID"))
}

/// Parses a date: RFC 3339, `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` (UTC), or a
/// day `YYYY-MM-DD`. Returns the instant and whether it is a whole day.
fn parse_date(s: &str) -> Option<(DateTime<Utc>, bool)> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some((t.with_timezone(&Utc), false));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some((t.and_utc(), false));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| (t.and_utc(), true))
}

/// A date comparison; a whole day compares as the day: `-eq` anywhere in it, `-gt` after
/// it, `-le` up to its end.
fn date_condition(c: &Clause, column: JobField) -> Result<JobCondition, QueryError> {
    let (at, whole_day) = parse_date(c.value.text())
        .ok_or_else(|| bad_value(c, "a date such as 2024-05-01 or 2024-05-01T10:00:00Z"))?;
    let cmp = |op, t| JobCondition::Compare {
        field: column,
        op,
        value: JobValue::Time(t),
    };
    if !whole_day {
        return Ok(cmp(query::compare(c.op), at));
    }
    let Some(next) = at.checked_add_signed(Duration::days(1)) else {
        return Err(bad_value(c, "a date no later than the year 262143"));
    };
    Ok(match c.op {
        Op::Eq => JobCondition::All(vec![cmp(Compare::Ge, at), cmp(Compare::Lt, next)]),
        Op::Ne => JobCondition::All(vec![cmp(Compare::Ge, at), cmp(Compare::Lt, next)]).negate(),
        Op::Gt => cmp(Compare::Ge, next),
        Op::Ge => cmp(Compare::Ge, at),
        Op::Lt => cmp(Compare::Lt, at),
        Op::Le => cmp(Compare::Lt, next),
        Op::Contains | Op::StartsWith => unreachable!("refused above"),
    })
}

fn describe_codes(table: &[(i64, &str)]) -> String {
    table
        .iter()
        .map(|(n, name)| format!("{n} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Status and Result: a number (quoted or not) or a code's name, compared as numbers; the
/// condition is the union of the matching codes' conditions.
fn code_condition(
    c: &Clause,
    table: &[(i64, &str)],
    condition: fn(i64) -> JobCondition,
) -> Result<JobCondition, QueryError> {
    if c.op.is_text_match() {
        return Err(mismatch(c, "a numeric code", ORDER_OPS));
    }
    let text = c.value.text().trim();
    let expected = format!("a code ({}) or its name", describe_codes(table));
    let value = match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) => table
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(n, _)| *n)
            .ok_or_else(|| bad_value(c, &expected))?,
    };
    if matches!(c.op, Op::Eq | Op::Ne) && !table.iter().any(|(n, _)| *n == value) {
        return Err(bad_value(c, &expected));
    }
    let matching: Vec<JobCondition> = table
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| match c.op {
            Op::Eq => *n == value,
            Op::Ne => *n != value,
            Op::Gt => *n > value,
            Op::Lt => *n < value,
            Op::Ge => *n >= value,
            Op::Le => *n <= value,
            Op::Contains | Op::StartsWith => false,
        })
        .map(condition)
        .collect();
    Ok(JobCondition::Any(matching))
}

/// Case-insensitive text predicate of the language, evaluated in Rust.
fn text_matches(op: Op, have: &str, want: &str) -> bool {
    let (have, want) = (have.to_lowercase(), want.to_lowercase());
    match op {
        Op::Eq => have == want,
        Op::Ne => have != want,
        Op::Contains => have.contains(&want),
        Op::StartsWith => have.starts_with(&want),
        _ => false,
    }
}

/// JobType: operations the loaded plugins provide are matched through their job type;
/// other operations (plugin removed) by their own name, as [`codes::job_type`] renders them.
fn job_type(c: &Clause, ctx: &Context) -> Result<JobCondition, QueryError> {
    if c.op.is_ordering() {
        return Err(mismatch(c, "text", TEXT_OPS));
    }
    if c.value.is_null() {
        return Err(bad_value(c, "a job type name (it is never null)"));
    }
    let want = c.value.text();
    // Build the positive form; -ne is its negation, like every other field.
    let op = if c.op == Op::Ne { Op::Eq } else { c.op };
    let known: Vec<String> = ctx.operations.iter().map(|(n, _)| n.clone()).collect();
    let matching: Vec<String> = ctx
        .operations
        .iter()
        .filter(|(name, family)| {
            text_matches(
                op,
                &codes::job_type(name, kind_of(name, Some(*family))),
                want,
            )
        })
        .map(|(name, _)| name.clone())
        .collect();
    let positive = JobCondition::Any(vec![
        JobCondition::In {
            field: JobField::Operation,
            values: matching,
        },
        JobCondition::All(vec![
            JobCondition::In {
                field: JobField::Operation,
                values: known,
            }
            .negate(),
            JobCondition::Compare {
                field: JobField::Operation,
                op: query::compare(op),
                value: JobValue::Text(want.to_owned()),
            },
        ]),
    ]);
    Ok(if c.op == Op::Ne {
        positive.negate()
    } else {
        positive
    })
}

/// ScheduleType: `I_`, `D_`, `W_`, `M_`, `O_` (or Interval, Daily, Weekly, Monthly,
/// ExactlyOnce), or `null` / Immediate for jobs no schedule fired.
fn schedule_type(c: &Clause) -> Result<JobCondition, QueryError> {
    if c.op.is_ordering() || c.op.is_text_match() {
        return Err(mismatch(c, "a schedule type", "-eq or -ne"));
    }
    let text = c.value.text().trim();
    let positive = if c.value.is_null()
        || text.eq_ignore_ascii_case("immediate")
        || text.eq_ignore_ascii_case("immediately")
    {
        JobCondition::IsNull(JobField::ScheduleKind)
    } else {
        let kind = SCHEDULE_TYPES
            .iter()
            .find(|(code, name, _)| {
                code.eq_ignore_ascii_case(text)
                    || name.eq_ignore_ascii_case(text)
                    || (text.eq_ignore_ascii_case("once") && *code == "O_")
            })
            .map(|(_, _, kind)| *kind)
            .ok_or_else(|| {
                bad_value(
                    c,
                    "I_, D_, W_, M_, O_ (or Interval, Daily, Weekly, Monthly, ExactlyOnce) or null",
                )
            })?;
        JobCondition::is(JobField::ScheduleKind, kind.as_str())
    };
    Ok(if c.op == Op::Ne {
        positive.negate()
    } else {
        positive
    })
}

/// The database order for a `SortField` (any case); `None` if it cannot sort.
pub fn sort_order(name: &str) -> Option<JobOrder> {
    Some(match field(name)? {
        Field::JobId => JobOrder::Field(JobField::AuditId),
        Field::Text(column) | Field::Date(column) => JobOrder::Field(column),
        Field::Result => JobOrder::Rank(
            RESULT_CODES
                .iter()
                .map(|(n, _)| codes::result_condition(*n))
                .collect(),
        ),
        Field::Status => JobOrder::Rank(
            STATUS_CODES
                .iter()
                .map(|(n, _)| codes::status_condition(*n))
                .collect(),
        ),
        Field::JobType => JobOrder::Field(JobField::Operation),
        Field::ScheduleType => JobOrder::Field(JobField::ScheduleKind),
    })
}

/// The sortable field names.
pub fn sortable_fields() -> String {
    FIELDS
        .iter()
        .filter(|(n, _)| sort_order(n).is_some())
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

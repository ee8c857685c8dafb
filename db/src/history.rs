//! Condition trees over a table's columns, for API dialects whose clients send their own
//! filter expressions (Keyfactor's query language): job history over the jobs table,
//! agent listings over the agents table.
//!
//! The API translates its language into a [`Condition`]; the store renders it as SQL
//! with every value bound, so no client text reaches the query. Columns are a closed enum
//! per table (a [`Field`]: [`JobField`], [`crate::AgentField`]), never names taken from
//! input. Comparisons are two-valued: a NULL column matches no positive comparison, so
//! `NOT` of a condition is exactly its complement.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Job;

/// A job column a condition or an order may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobField {
    /// The integer audit id (BIGINT).
    AuditId,
    /// The job's UUID (text).
    Id,
    Name,
    Operation,
    Target,
    Message,
    ProcessingNode,
    RunOn,
    /// Status word (`queued`, ...).
    Status,
    /// Result word (`success`, ...), NULL until finished.
    Result,
    /// The config that fired it (UUID text).
    JobConfigId,
    /// The kind of schedule that fired it (`interval`, ...), NULL when none did.
    ScheduleKind,
    /// Attempts started (BIGINT).
    Attempt,
    StartedAt,
    FinishedAt,
    ScheduledFor,
    EnqueuedAt,
    CreatedAt,
}

/// How a column's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Int,
    Time,
}

/// A column of one table that conditions may name; `Flag` is what that table can test
/// beyond its columns.
pub trait Field: Copy + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// Table-specific tests (none for most tables).
    type Flag: Copy + std::fmt::Debug + PartialEq + Send + Sync + 'static;
    /// The column's name (a constant, never input).
    fn column(self) -> &'static str;
    /// How its values compare.
    fn kind(self) -> ColumnKind;
    /// A flag as a boolean SQL expression over the table's columns.
    fn flag_sql(flag: Self::Flag) -> &'static str;
}

/// What can be tested of a job beyond its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFlag {
    /// The latest attempt's outcome was acknowledged ([`crate::Database::acknowledge_jobs`]).
    Acknowledged,
    /// The job was rescheduled ([`crate::Database::reschedule_jobs`]).
    Rescheduled,
}

/// No table-specific tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFlag {}

impl Field for JobField {
    type Flag = JobFlag;

    fn column(self) -> &'static str {
        JobField::column(self)
    }

    fn kind(self) -> ColumnKind {
        JobField::kind(self)
    }

    fn flag_sql(flag: JobFlag) -> &'static str {
        match flag {
            JobFlag::Acknowledged => {
                "(acknowledged_attempt IS NOT NULL AND acknowledged_attempt = attempt)"
            }
            JobFlag::Rescheduled => "(rescheduled_as IS NOT NULL)",
        }
    }
}

impl JobField {
    pub(crate) fn column(self) -> &'static str {
        match self {
            JobField::AuditId => "audit_id",
            JobField::Id => "id",
            JobField::Name => "name",
            JobField::Operation => "operation",
            JobField::Target => "target",
            JobField::Message => "message",
            JobField::ProcessingNode => "processing_node",
            JobField::RunOn => "run_on",
            JobField::Status => "status",
            JobField::Result => "result",
            JobField::JobConfigId => "job_config_id",
            JobField::ScheduleKind => "schedule_kind",
            JobField::Attempt => "attempt",
            JobField::StartedAt => "started_at",
            JobField::FinishedAt => "finished_at",
            JobField::ScheduledFor => "scheduled_for",
            JobField::EnqueuedAt => "enqueued_at",
            JobField::CreatedAt => "created_at",
        }
    }

    pub(crate) fn kind(self) -> ColumnKind {
        match self {
            JobField::AuditId | JobField::Attempt => ColumnKind::Int,
            JobField::StartedAt
            | JobField::FinishedAt
            | JobField::ScheduledFor
            | JobField::EnqueuedAt
            | JobField::CreatedAt => ColumnKind::Time,
            _ => ColumnKind::Text,
        }
    }
}

/// A comparison operator. On text columns every operator ignores ASCII case (as
/// Keyfactor's queries do); `Contains` and `StartsWith` apply to text only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compare {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Contains,
    StartsWith,
}

/// A value compared with a column; its type must match the column's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// The value type of job conditions (kept under its first name).
pub type JobValue = FieldValue;

/// A filter over jobs.
pub type JobCondition = Condition<JobField>;

/// A filter over the rows of the table `F` names columns of.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition<F: Field> {
    /// Every row.
    True,
    /// No row.
    False,
    /// All of them (true when empty).
    All(Vec<Condition<F>>),
    /// Any of them (false when empty).
    Any(Vec<Condition<F>>),
    Not(Box<Condition<F>>),
    /// `field op value`; false when the column is NULL (`Ne` is `Not(Eq)`, so true then).
    Compare {
        field: F,
        op: Compare,
        value: FieldValue,
    },
    /// The column equals one of `values` exactly (case-sensitive); false when NULL.
    In {
        field: F,
        values: Vec<String>,
    },
    /// The column is NULL.
    IsNull(F),
    /// A table-specific test.
    Flag(F::Flag),
}

impl JobCondition {
    /// The latest attempt's outcome was acknowledged.
    #[allow(non_upper_case_globals)]
    pub const Acknowledged: JobCondition = Condition::Flag(JobFlag::Acknowledged);
    /// The job was rescheduled.
    #[allow(non_upper_case_globals)]
    pub const Rescheduled: JobCondition = Condition::Flag(JobFlag::Rescheduled);
}

impl<F: Field> Condition<F> {
    /// `field = value` on an integer or time column, or case-insensitively on text.
    pub fn eq(field: F, value: FieldValue) -> Self {
        Condition::Compare {
            field,
            op: Compare::Eq,
            value,
        }
    }

    /// `field` equals the text `value` exactly.
    pub fn is(field: F, value: &str) -> Self {
        Condition::In {
            field,
            values: vec![value.to_owned()],
        }
    }

    /// The negation.
    pub fn negate(self) -> Self {
        Condition::Not(Box::new(self))
    }
}

/// A sort key of [`JobQuery`].
#[derive(Debug, Clone, PartialEq)]
pub enum JobOrder {
    /// By a column (text bytewise, NULLs smallest).
    Field(JobField),
    /// By the index of the first condition a job matches (`len()` when none): lets an API
    /// sort by codes it derives from several columns.
    Rank(Vec<JobCondition>),
}

/// A page request for [`crate::Database::query_job_history`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobQuery {
    /// Only this account's jobs (`None` = every account).
    pub account_id: Option<String>,
    /// Which jobs.
    pub condition: JobCondition,
    /// Sort keys, most significant first, `true` = descending. The audit id is always the
    /// final key (ascending unless the first key is descending), so pages are stable.
    pub order: Vec<(JobOrder, bool)>,
    /// Stop counting matches past this many (see [`crate::Total`]); `None` counts them all.
    pub count_bound: Option<i64>,
}

/// A job with its history bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobHistoryEntry {
    /// The job, without its logs (read back empty; [`crate::Database::get_job`] has them).
    pub job: Job,
    /// Stable integer id, assigned on insert in insertion order, unique.
    pub audit_id: i64,
    /// Whether the latest attempt's outcome was acknowledged.
    pub acknowledged: bool,
    /// The job that re-runs this one, once rescheduled.
    pub rescheduled_as: Option<Uuid>,
}

//! The few things that differ between SQLite and PostgreSQL, behind one trait, so every
//! query is written once (in `sql/`) as a generic over [`Backend`].
//!
//! Why not plain `sqlx` generics: they need long higher-ranked `where` clauses on every
//! function (`for<'c> &'c mut DB::Connection: Executor<'c>`, `String: Encode<DB>`, ...).
//! Instead, values are bound through the closed [`Val`] enum and executed/decoded through
//! the methods below, which each backend implements concretely in a few lines.

use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Database, QueryBuilder};
use uuid::Uuid;

use crate::error::{DbError, Result};
use crate::filter::Column;
use crate::kinds::{CatchUp, JobResult, JobStatus, Overlap, RunOn, ScheduleKind, TokenRole};
use crate::recurrence::Recurrence;

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Sqlite {}
    impl Sealed for sqlx::Postgres {}
}

/// A value bound into a query. The schema only uses these column types (ids, JSON and
/// enums as TEXT; timestamps as BIGINT microseconds since the epoch), which is what makes
/// one portable schema and identical sort/range semantics possible.
#[derive(Debug, Clone)]
pub enum Val {
    /// TEXT or NULL.
    Text(Option<String>),
    /// BIGINT or NULL.
    Int(Option<i64>),
    /// BOOLEAN.
    Bool(bool),
    /// BOOLEAN or NULL.
    OptBool(Option<bool>),
}

/// A SQL dialect Keywarden can store into. Sealed: implemented for `sqlx::Sqlite` and
/// `sqlx::Postgres` only.
pub trait Backend: Database + sealed::Sealed {
    /// Name reported by [`crate::Database::backend`].
    const BACKEND: &'static str;
    /// Statement opening a write transaction. SQLite needs `BEGIN IMMEDIATE` so the write
    /// lock is taken up front (no lock-upgrade deadlock, `busy_timeout` applies).
    const BEGIN_WRITE: &'static str;
    /// Opens the id filter of the claim statement, closed by [`Self::CLAIM_CLOSE`], around a
    /// `SELECT id ... LIMIT n`. PostgreSQL locks the picked rows with `FOR UPDATE SKIP
    /// LOCKED` so concurrent claimers skip each other's rows instead of waiting.
    const CLAIM_OPEN: &'static str;
    /// See [`Self::CLAIM_OPEN`].
    const CLAIM_CLOSE: &'static str;
    /// A statement setting the planner for a node's claim alone, run in the claim's
    /// transaction. `None`: the claim is one statement outside a transaction.
    const CLAIM_PLAN: Option<&'static str>;
    /// Whether a query over the ranges of an index (the claim's accounts not left out)
    /// is written as one `SELECT` per range joined by `UNION ALL` (SQLite, whose planner
    /// reads an index range by range only that way) rather than one `SELECT` with the
    /// ranges `OR`ed (PostgreSQL, which reads them as one bitmap, and cannot lock the
    /// rows of a `UNION`).
    const RANGES_AS_UNION: bool;
    /// A statement making the planner join a batch of rows given by primary key (a
    /// `VALUES` list) to `jobs` through that key, run in the batch's transaction.
    /// `None`: the backend's planner does that anyway.
    const KEYED_PLAN: Option<&'static str>;
    /// Statement opening a read-only transaction that sees one snapshot of every table
    /// (backups): SQLite's deferred `BEGIN` (WAL keeps the snapshot of the first read),
    /// PostgreSQL's `REPEATABLE READ`.
    const BEGIN_SNAPSHOT: &'static str;
    /// Query listing Keywarden's tables (column `name`), without the migrations' own.
    const TABLES: &'static str;
    /// Query listing the foreign keys among them (columns `child`, `parent`).
    const FOREIGN_KEYS: &'static str;
    /// Opens the query listing a table's columns in order (`column_name`, `column_type`),
    /// closed by binding the table name and [`Self::COLUMNS_CLOSE`].
    const COLUMNS_OPEN: &'static str;
    /// See [`Self::COLUMNS_OPEN`].
    const COLUMNS_CLOSE: &'static str;
    /// Appended to an index column so it orders NULLs first ascending, as the listings
    /// sort (PostgreSQL's default is last; SQLite's is first and it takes no clause).
    const INDEX_NULLS_FIRST: &'static str;

    /// Appends `v` as a bind parameter.
    fn bind(qb: &mut QueryBuilder<'static, Self>, v: Val);
    /// Applies every migration the pool's database lacks.
    fn migrate(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Result<(), sqlx::migrate::MigrateError>> + Send;
    /// Runs a statement; rows affected.
    fn execute(
        conn: &mut Self::Connection,
        qb: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
    /// Runs a query; its rows one by one, as the database sends them (a whole table is
    /// never held in memory).
    fn fetch_stream<'c>(
        conn: &'c mut Self::Connection,
        qb: &'c mut QueryBuilder<'static, Self>,
    ) -> futures_core::stream::BoxStream<'c, Result<Self::Row, sqlx::Error>>;
    /// Runs a query; all rows.
    fn fetch_all(
        conn: &mut Self::Connection,
        qb: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send;
    /// A TEXT column.
    fn text(row: &Self::Row, col: &str) -> Result<Option<String>, sqlx::Error>;
    /// A BIGINT column.
    fn int(row: &Self::Row, col: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A BOOLEAN column.
    fn boolean(row: &Self::Row, col: &str) -> Result<bool, sqlx::Error>;
    /// A BOOLEAN column that may be NULL.
    fn opt_boolean(row: &Self::Row, col: &str) -> Result<Option<bool>, sqlx::Error>;
    /// Expression: the string member `key` of the JSON text in `column`, or NULL.
    fn json_member(column: &str, key: &str) -> String;
    /// Expression sorting a text column bytewise (SQLite's BINARY, PostgreSQL's "C"), so
    /// both backends return the same order whatever the database locale.
    fn sort_text(column: &str) -> String;
    /// `table` in a `FROM` clause, read through `index` where the backend lets a query
    /// name its index (SQLite's `INDEXED BY`; PostgreSQL is steered by [`Self::CLAIM_PLAN`]).
    /// For the claim, which must walk the queue in order: SQLite's planner, without
    /// statistics, prefers any index with an equality on `status` and sorts every queued
    /// job per claim (20 ms a claim at 50,000 queued, holding the write lock).
    fn indexed(table: &str, index: &str) -> String;
    /// Expression: the UTF-8 byte length of a text expression.
    fn byte_length(expr: &str) -> String;
    /// Name of the function `f(haystack, needle)` giving the 1-based position of a
    /// substring, 0 when absent (SQLite's `instr`, PostgreSQL's `strpos`): an exact,
    /// case-sensitive containment test on both backends, unlike `LIKE`.
    const STRPOS: &'static str;
}

/// A query under construction: SQL text plus binds, placeholders numbered per backend.
pub(crate) struct Sql<DB: Backend>(QueryBuilder<'static, DB>);

impl<DB: Backend> Sql<DB> {
    pub fn new(sql: impl Display) -> Self {
        Sql(QueryBuilder::new(sql.to_string()))
    }

    /// The query builder, to run through [`Backend::fetch_stream`].
    pub fn into_inner(self) -> QueryBuilder<'static, DB> {
        self.0
    }

    /// Appends SQL text. Never pass user input here; bind it.
    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        self.0.push(sql);
        self
    }

    /// Appends a bind placeholder for `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        DB::bind(&mut self.0, v.into());
        self
    }

    /// Appends `(?, ?, ...)` binding each value.
    pub fn bind_list<V: Into<Val>>(&mut self, vals: impl IntoIterator<Item = V>) -> &mut Self {
        self.push("(");
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// Appends `a = ?, b = ?, ...`.
    pub fn assign(&mut self, pairs: Vec<(&str, Val)>) -> &mut Self {
        for (i, (col, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push(col).push(" = ").bind(v);
        }
        self
    }

    /// Appends ` ORDER BY ...` for resolved sort keys. NULLs sort as the smallest value on
    /// both backends (PostgreSQL's default is the opposite), text sorts bytewise.
    pub fn order_by(&mut self, keys: &[(Column, bool)]) -> &mut Self {
        self.push(" ORDER BY ");
        for (i, (col, descending)) in keys.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            if col.text {
                self.push(DB::sort_text(col.name));
            } else {
                self.push(col.name);
            }
            self.push(if *descending {
                " DESC NULLS LAST"
            } else {
                " ASC NULLS FIRST"
            });
        }
        self
    }

    /// Appends ` LIMIT ? OFFSET ?`; negative values count as zero.
    pub fn page(&mut self, skip: i64, limit: i64) -> &mut Self {
        self.push(" LIMIT ")
            .bind(limit.max(0))
            .push(" OFFSET ")
            .bind(skip.max(0))
    }

    pub async fn execute(self, conn: &mut DB::Connection) -> Result<u64, sqlx::Error> {
        DB::execute(conn, self.0).await
    }

    pub async fn fetch_all(self, conn: &mut DB::Connection) -> Result<Vec<DB::Row>, sqlx::Error> {
        DB::fetch_all(conn, self.0).await
    }

    pub async fn fetch_optional(
        self,
        conn: &mut DB::Connection,
    ) -> Result<Option<DB::Row>, sqlx::Error> {
        Ok(self.fetch_all(conn).await?.into_iter().next())
    }

    /// First column of the first row as an integer (`COUNT(*)` and the like).
    pub async fn fetch_int(self, conn: &mut DB::Connection, col: &str) -> Result<i64> {
        match self.fetch_optional(conn).await? {
            Some(row) => Ok(DB::int(&row, col)?.unwrap_or(0)),
            None => Ok(0),
        }
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::Text(v)
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        Val::Text(v.map(str::to_owned))
    }
}
impl From<&Option<String>> for Val {
    fn from(v: &Option<String>) -> Self {
        Val::Text(v.clone())
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::Int(Some(v.into()))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<DateTime<Utc>> for Val {
    fn from(v: DateTime<Utc>) -> Self {
        Val::Int(Some(v.timestamp_micros()))
    }
}
impl From<Option<DateTime<Utc>>> for Val {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Val::Int(v.map(|t| t.timestamp_micros()))
    }
}
impl From<Uuid> for Val {
    fn from(v: Uuid) -> Self {
        Val::Text(Some(v.to_string()))
    }
}
impl From<Option<Uuid>> for Val {
    fn from(v: Option<Uuid>) -> Self {
        Val::Text(v.map(|u| u.to_string()))
    }
}
impl From<&Value> for Val {
    fn from(v: &Value) -> Self {
        Val::Text(Some(v.to_string()))
    }
}

/// The word enums of the model are stored as their words.
macro_rules! word_val {
    ($($ty:ty),+) => {$(
        impl From<$ty> for Val {
            fn from(v: $ty) -> Self {
                Val::Text(Some(v.as_str().to_owned()))
            }
        }
        impl From<Option<$ty>> for Val {
            fn from(v: Option<$ty>) -> Self {
                Val::Text(v.map(|v| v.as_str().to_owned()))
            }
        }
    )+};
}
word_val!(
    crate::AlertKind,
    crate::AlertState,
    crate::ScanKind,
    crate::ProbeStatus,
    JobStatus,
    JobResult,
    CatchUp,
    Overlap,
    ScheduleKind,
    TokenRole
);

impl From<&RunOn> for Val {
    fn from(v: &RunOn) -> Self {
        Val::Text(Some(v.as_str().to_owned()))
    }
}

impl From<&Option<Recurrence>> for Val {
    fn from(v: &Option<Recurrence>) -> Self {
        Val::Text(
            v.as_ref()
                .map(|r| serde_json::to_string(r).expect("a recurrence always serialises")),
        )
    }
}

/// Typed access to a row with the store's encodings undone.
pub(crate) struct Cols<'r, DB: Backend>(pub &'r DB::Row);

impl<DB: Backend> Cols<'_, DB> {
    pub fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(DB::text(self.0, col)?)
    }
    pub fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(DB::int(self.0, col)?)
    }
    pub fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?.ok_or_else(|| null(col))
    }
    pub fn int32(&self, col: &str) -> Result<i32> {
        let v = self.int(col)?;
        i32::try_from(v).map_err(|_| DbError::Corrupt(format!("{col} = {v} out of range")))
    }
    pub fn boolean(&self, col: &str) -> Result<bool> {
        Ok(DB::boolean(self.0, col)?)
    }
    pub fn opt_bool(&self, col: &str) -> Result<Option<bool>> {
        Ok(DB::opt_boolean(self.0, col)?)
    }
    pub fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.opt_int(col)?
            .map(|us| {
                DateTime::from_timestamp_micros(us)
                    .ok_or_else(|| DbError::Corrupt(format!("{col} = {us} is no timestamp")))
            })
            .transpose()
    }
    pub fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        self.opt_time(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.opt_text(col)?
            .map(|s| {
                Uuid::parse_str(&s).map_err(|e| DbError::Corrupt(format!("{col} = {s:?}: {e}")))
            })
            .transpose()
    }
    pub fn uuid(&self, col: &str) -> Result<Uuid> {
        self.opt_uuid(col)?.ok_or_else(|| null(col))
    }
    pub fn opt_json(&self, col: &str) -> Result<Option<Value>> {
        self.opt_text(col)?
            .map(|s| serde_json::from_str(&s).map_err(|e| DbError::Corrupt(format!("{col}: {e}"))))
            .transpose()
    }
    pub fn json(&self, col: &str) -> Result<Value> {
        self.opt_json(col)?.ok_or_else(|| null(col))
    }
    /// A word enum (or anything else parsed from its stored text).
    pub fn opt_word<T: FromStr>(&self, col: &str) -> Result<Option<T>>
    where
        T::Err: Display,
    {
        self.opt_text(col)?
            .map(|s| {
                s.parse()
                    .map_err(|e| DbError::Corrupt(format!("{col} = {s:?}: {e}")))
            })
            .transpose()
    }
    pub fn word<T: FromStr>(&self, col: &str) -> Result<T>
    where
        T::Err: Display,
    {
        self.opt_word(col)?.ok_or_else(|| null(col))
    }
    /// A JSON column decoded into a model type.
    pub fn opt_typed<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<Option<T>> {
        self.opt_text(col)?
            .map(|s| serde_json::from_str(&s).map_err(|e| DbError::Corrupt(format!("{col}: {e}"))))
            .transpose()
    }
}

fn null(col: &str) -> DbError {
    DbError::Corrupt(format!("{col} is NULL"))
}

//! A whole database as plain values, for backups: every table with its columns and rows,
//! read in one consistent snapshot ([`crate::Database::snapshot`]) and written back into an
//! empty database of either backend ([`crate::Database::restore`]).
//!
//! The portable schema stores only three column types (TEXT, BIGINT, BOOLEAN; see
//! `migrations/`), so a row is a list of [`Cell`]s and the same values come out of SQLite
//! and PostgreSQL. Tables come parents first (by their foreign keys), so restoring in the
//! order they arrive never breaks a reference.

use serde::{Deserialize, Serialize};

/// The type of a column of the portable schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Text,
    Bigint,
    Boolean,
}

impl ColumnType {
    /// From a column type as the catalog shows it (SQLite's declared type, PostgreSQL's
    /// `data_type`); `None` for a type the portable schema does not use.
    pub fn from_catalog(declared: &str) -> Option<Self> {
        match declared.trim().to_ascii_lowercase().as_str() {
            "text" => Some(ColumnType::Text),
            "bigint" => Some(ColumnType::Bigint),
            "boolean" => Some(ColumnType::Boolean),
            _ => None,
        }
    }
}

/// One value of a row. Serialised untagged: `null`, a string, a number, `true`/`false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

impl Cell {
    /// Whether the value may be stored in a column of `ty`.
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (Cell::Null, _)
                | (Cell::Text(_), ColumnType::Text)
                | (Cell::Int(_), ColumnType::Bigint)
                | (Cell::Bool(_), ColumnType::Boolean)
        )
    }
}

/// A table: its name and its columns in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
}

/// What a snapshot sends, in order: for each table its [`SnapshotItem::Table`] and then
/// its rows in batches; [`SnapshotItem::End`] once every table was read. A restore takes
/// the same sequence and commits only after `End` (a sequence that stops early, because
/// its reader failed, writes nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotItem {
    /// The next table and how many rows it has in the snapshot.
    Table {
        table: TableSchema,
        rows: u64,
    },
    /// Rows of the last table, each with one cell per column.
    Rows(Vec<Vec<Cell>>),
    End,
}

/// What a snapshot read or a restore wrote: the schema version and rows per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    /// The newest migration applied (its version number, e.g. `20250113000000`).
    pub schema_version: i64,
    /// Rows per table, in the order the tables came.
    pub tables: Vec<(String, u64)>,
}

/// Tables that migrations fill (counter rows starting at 0): an empty database has
/// these rows, and a restore replaces them.
pub const SEEDED_TABLES: &[&str] = &["counters"];

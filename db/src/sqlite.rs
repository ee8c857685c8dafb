//! SQLite backend: the default, for single-node deployments and tests.
//!
//! A file database in WAL mode (readers never block the writer), `synchronous = NORMAL`
//! (durable at checkpoints, safe against corruption, much faster than FULL) and a busy
//! timeout so concurrent writers queue instead of failing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::backend::{Backend, Val};
use crate::error::Result;
use sqlx::migrate::Migrator;

use crate::sql::{MIGRATOR, SqlDatabase};

/// The SQLite store.
pub type SqliteDatabase = SqlDatabase<Sqlite>;

/// How long a writer waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections of a file database (each is a thread in sqlx). Reads run in parallel in WAL
/// mode; writes serialize on the database lock whatever this number.
const FILE_CONNECTIONS: u32 = 8;

impl SqlDatabase<Sqlite> {
    /// Opens (creating if missing) and migrates a database. `url` is `sqlite:<path>`,
    /// `sqlite://<path>`, `sqlite::memory:` or a plain file path.
    pub async fn open(url: &str) -> Result<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::open_with(Self::options(url)?, memory).await
    }

    /// What `url` names: `sqlite:...` or a plain file path.
    pub(crate) fn options(url: &str) -> Result<SqliteConnectOptions> {
        Ok(if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url)?
        } else {
            SqliteConnectOptions::new().filename(url)
        })
    }

    /// Opens with explicit options. An in-memory database exists only while a connection
    /// to it is open, so `in_memory` makes the pool keep exactly one connection forever.
    pub async fn open_with(options: SqliteConnectOptions, in_memory: bool) -> Result<Self> {
        let db = Self::open_migrated(options, in_memory, &MIGRATOR).await?;
        db.create_listing_indexes().await?;
        Ok(db)
    }

    /// Opens and applies `migrator`'s migrations.
    pub(crate) async fn open_migrated(
        options: SqliteConnectOptions,
        in_memory: bool,
        migrator: &Migrator,
    ) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(FILE_CONNECTIONS)
        };
        let pool = pool.connect_with(options).await?;
        migrator.run(&pool).await?;
        Ok(SqlDatabase { pool })
    }
}

impl Backend for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const CLAIM_OPEN: &'static str = "id IN (";
    const CLAIM_CLOSE: &'static str = ")";
    const CLAIM_PLAN: Option<&'static str> = None;
    const KEYED_PLAN: Option<&'static str> = None;
    const RANGES_AS_UNION: bool = true;
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const TABLES: &'static str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'";
    const FOREIGN_KEYS: &'static str = "SELECT m.name AS child, f.\"table\" AS parent FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'";
    const COLUMNS_OPEN: &'static str =
        "SELECT name AS column_name, type AS column_type FROM pragma_table_info(";
    const COLUMNS_CLOSE: &'static str = ") ORDER BY cid";
    const STRPOS: &'static str = "instr";
    const INDEX_NULLS_FIRST: &'static str = "";

    fn bind(qb: &mut QueryBuilder<'static, Self>, v: Val) {
        match v {
            Val::Text(s) => qb.push_bind(s),
            Val::Int(i) => qb.push_bind(i),
            Val::Bool(b) => qb.push_bind(b),
            Val::OptBool(b) => qb.push_bind(b),
        };
    }

    async fn execute(
        conn: &mut SqliteConnection,
        mut qb: QueryBuilder<'static, Self>,
    ) -> Result<u64, sqlx::Error> {
        Ok(qb.build().execute(conn).await?.rows_affected())
    }

    async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(pool).await
    }

    fn fetch_stream<'c>(
        conn: &'c mut SqliteConnection,
        qb: &'c mut QueryBuilder<'static, Self>,
    ) -> futures_core::stream::BoxStream<'c, Result<SqliteRow, sqlx::Error>> {
        qb.build().fetch(conn)
    }

    async fn fetch_all(
        conn: &mut SqliteConnection,
        mut qb: QueryBuilder<'static, Self>,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        qb.build().fetch_all(conn).await
    }

    fn text(row: &SqliteRow, col: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(col)
    }

    fn int(row: &SqliteRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(col)
    }

    fn boolean(row: &SqliteRow, col: &str) -> Result<bool, sqlx::Error> {
        row.try_get(col)
    }

    fn opt_boolean(row: &SqliteRow, col: &str) -> Result<Option<bool>, sqlx::Error> {
        row.try_get(col)
    }

    fn json_member(column: &str, key: &str) -> String {
        format!("CAST(json_extract({column}, '$.{key}') AS TEXT)")
    }

    fn sort_text(column: &str) -> String {
        column.to_owned()
    }

    fn indexed(table: &str, index: &str) -> String {
        format!("{table} INDEXED BY {index}")
    }

    fn byte_length(expr: &str) -> String {
        format!("length(CAST({expr} AS BLOB))")
    }
}

//! PostgreSQL backend: for clusters of nodes sharing one queue.
//!
//! Same schema and queries as SQLite; the differences live in the [`Backend`] impl:
//! `FOR UPDATE SKIP LOCKED` claiming, JSON access through `jsonb`, and bytewise ("C")
//! collation for sorting text so listings order exactly as on SQLite.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use crate::backend::{Backend, Val};
use crate::error::Result;
use sqlx::migrate::Migrator;

use crate::sql::{MIGRATOR, SqlDatabase};

/// The PostgreSQL store.
pub type PgDatabase = SqlDatabase<Postgres>;

/// Pool size; each executor batch and API request holds a connection only per statement.
const CONNECTIONS: u32 = 16;

impl SqlDatabase<Postgres> {
    /// Connects and migrates. `url` is `postgres://user:pass@host:port/db`; add
    /// `?options=-c%20search_path%3Dmyschema` to keep the tables in another schema.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url.parse()?).await
    }

    /// Connects with explicit options and migrates.
    pub async fn open_with(options: PgConnectOptions) -> Result<Self> {
        let db = Self::open_migrated(options, &MIGRATOR).await?;
        db.create_listing_indexes().await?;
        Ok(db)
    }

    /// Connects and applies `migrator`'s migrations.
    pub(crate) async fn open_migrated(
        options: PgConnectOptions,
        migrator: &Migrator,
    ) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        migrator.run(&pool).await?;
        Ok(SqlDatabase { pool })
    }
}

impl Backend for Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = "BEGIN";
    // ARRAY(...) is evaluated once, before the UPDATE scans, so the LIMIT and the row
    // locks apply exactly once.
    const CLAIM_OPEN: &'static str = "id = ANY(ARRAY(";
    const CLAIM_CLOSE: &'static str = " FOR UPDATE SKIP LOCKED))";
    // The claim must walk the queue index in order and stop after `limit` rows. When the
    // statistics are older than a burst of jobs (the table was near empty at the last
    // ANALYZE), the planner thinks a handful are queued and prefers a bitmap scan of every
    // due job and a sort: 7-14 ms a claim with 20,000 queued instead of a fraction of a
    // millisecond. Without sorts and bitmap scans the ordered index walk is the only plan.
    // The same stale statistics made the update fetch the picked rows with a sequential
    // scan of the table (a near-empty table costs nothing to scan): 50-80 ms a claim of
    // 256 with 10,000 queued, which held a node to one claim per 100 ms. Without
    // sequential scans they are fetched by primary key.
    // (An agent's claim keeps the planner's choice: it takes only jobs pinned to it, which
    // an ordered walk would look for past every other due job.)
    const CLAIM_PLAN: Option<&'static str> = Some(
        "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), \
         set_config('enable_seqscan', 'off', true)",
    );
    // Finishing and renewing a batch of running jobs looks each one up by id. With
    // statistics older than a burst (few jobs were running at the last ANALYZE) the
    // planner hash-joined the batch with a bitmap scan of every index entry of every job
    // that ran since, live or dead (30-80 ms a batch of 256 at 50,000 jobs). Without hash
    // and merge joins the batch drives a nested loop of primary-key lookups. (The
    // statements compare `status` with a column of the batch, not a literal, so the
    // planner cannot start from the running jobs' index either.)
    const KEYED_PLAN: Option<&'static str> = Some(
        "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)",
    );
    const RANGES_AS_UNION: bool = false;
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const TABLES: &'static str = "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'";
    const FOREIGN_KEYS: &'static str = "SELECT c.relname::text AS child, r.relname::text AS parent FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'f' AND n.nspname = current_schema()";
    const COLUMNS_OPEN: &'static str = "SELECT column_name::text AS column_name, data_type::text AS column_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name::text = ";
    const COLUMNS_CLOSE: &'static str = " ORDER BY ordinal_position";
    const STRPOS: &'static str = "strpos";
    const INDEX_NULLS_FIRST: &'static str = " NULLS FIRST";

    fn bind(qb: &mut QueryBuilder<'static, Self>, v: Val) {
        match v {
            Val::Text(s) => qb.push_bind(s),
            Val::Int(i) => qb.push_bind(i),
            Val::Bool(b) => qb.push_bind(b),
            Val::OptBool(b) => qb.push_bind(b),
        };
    }

    async fn execute(
        conn: &mut PgConnection,
        mut qb: QueryBuilder<'static, Self>,
    ) -> Result<u64, sqlx::Error> {
        Ok(qb.build().execute(conn).await?.rows_affected())
    }

    async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(pool).await
    }

    fn fetch_stream<'c>(
        conn: &'c mut PgConnection,
        qb: &'c mut QueryBuilder<'static, Self>,
    ) -> futures_core::stream::BoxStream<'c, Result<PgRow, sqlx::Error>> {
        qb.build().fetch(conn)
    }

    async fn fetch_all(
        conn: &mut PgConnection,
        mut qb: QueryBuilder<'static, Self>,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        qb.build().fetch_all(conn).await
    }

    fn text(row: &PgRow, col: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(col)
    }

    fn int(row: &PgRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
        row.try_get(col)
    }

    fn boolean(row: &PgRow, col: &str) -> Result<bool, sqlx::Error> {
        row.try_get(col)
    }

    fn opt_boolean(row: &PgRow, col: &str) -> Result<Option<bool>, sqlx::Error> {
        row.try_get(col)
    }

    fn json_member(column: &str, key: &str) -> String {
        // JSON allows the escape \u0000 (params may carry it), but it cannot become
        // jsonb ("unsupported Unicode escape sequence") and one such row would fail the
        // whole query: such a document has no member here instead. CASE evaluates the
        // cast only for rows without the escape.
        format!("(CASE WHEN strpos({column}, '\\u0000') = 0 THEN {column}::jsonb ->> '{key}' END)")
    }

    fn sort_text(column: &str) -> String {
        format!("{column} COLLATE \"C\"")
    }

    fn indexed(table: &str, _index: &str) -> String {
        table.to_owned()
    }

    fn byte_length(expr: &str) -> String {
        format!("octet_length({expr})")
    }
}

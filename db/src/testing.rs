//! A throwaway PostgreSQL schema for tests, shared by every suite that runs its cases
//! on both backends (the conformance suite, the server and executor tests).

use std::io::Write;

/// The variable naming the PostgreSQL server tests may use.
pub const PG_ENV: &str = "KEYWARDEN_TEST_DATABASE_URL";

/// A fresh schema on the server named by [`PG_ENV`]; [`url`](Self::url) selects it
/// through `search_path`, so the store's migrations and queries run inside it.
#[derive(Debug)]
pub struct PgTestSchema {
    /// Connection URL with the schema as `search_path`.
    pub url: String,
    base: String,
    schema: String,
}

impl PgTestSchema {
    /// Creates the schema, or returns `None` after a visible `SKIPPED` line when
    /// [`PG_ENV`] is not a PostgreSQL URL (the caller's test then passes vacuously).
    pub async fn create(case: &str) -> Option<Self> {
        let base = match std::env::var(PG_ENV) {
            Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => url,
            _ => {
                // Written past the test harness's capture so the skip shows.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED postgres::{case}: set {PG_ENV}=postgres://user@host:port/db to run it"
                );
                return None;
            }
        };
        let schema = format!("kw_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("connect to {PG_ENV}: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create the test schema");
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(Self { url, base, schema })
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) {
        if let Ok(admin) = sqlx::PgPool::connect(&self.base).await {
            let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

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

/// Whether the PostgreSQL variants run, skip or must fail, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTarget {
    /// Run against this server.
    Server(String),
    /// Skip with a visible note (a developer's machine without PostgreSQL).
    Skip,
    /// Fail: under CI (`CI` set) every variant must run, so a missing server is an error,
    /// never a silent pass.
    Missing(String),
}

impl PgTarget {
    /// Decides from the values of [`PG_ENV`] and `CI`.
    pub fn from_env_values(url: Option<&str>, ci: Option<&str>) -> Self {
        match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                PgTarget::Server(u.to_owned())
            }
            _ if ci
                .is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")) =>
            {
                PgTarget::Missing(format!(
                    "CI is set but {PG_ENV} is not a postgres:// URL; the PostgreSQL variants \
                     must run under CI (bash .ci/postgres.sh starts a server)"
                ))
            }
            _ => PgTarget::Skip,
        }
    }

    /// Decides from this process's environment.
    pub fn from_env() -> Self {
        let url = std::env::var(PG_ENV).ok();
        let ci = std::env::var("CI").ok();
        Self::from_env_values(url.as_deref(), ci.as_deref())
    }
}

impl PgTestSchema {
    /// The schema's name (for tools such as `pg_dump --schema`).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The server's URL without the schema selection.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Creates the schema, or returns `None` after a visible `SKIPPED` line when
    /// [`PG_ENV`] is not a PostgreSQL URL (the caller's test then passes vacuously).
    /// Under CI a missing server panics instead: the variant must not pass unrun.
    pub async fn create(case: &str) -> Option<Self> {
        let base = match PgTarget::from_env() {
            PgTarget::Server(url) => url,
            PgTarget::Missing(why) => panic!("postgres::{case}: {why}"),
            PgTarget::Skip => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_ci_a_missing_server_fails_instead_of_skipping() {
        let url = "postgres://u@127.0.0.1:5432/db";
        assert_eq!(
            PgTarget::from_env_values(Some(url), Some("1")),
            PgTarget::Server(url.to_owned())
        );
        assert_eq!(PgTarget::from_env_values(None, None), PgTarget::Skip);
        assert_eq!(
            PgTarget::from_env_values(None, Some("false")),
            PgTarget::Skip
        );
        assert_eq!(
            PgTarget::from_env_values(Some("sqlite://x"), Some("")),
            PgTarget::Skip
        );
        for ci in ["1", "true"] {
            assert!(matches!(
                PgTarget::from_env_values(None, Some(ci)),
                PgTarget::Missing(why) if why.contains(PG_ENV)
            ));
        }
        assert!(matches!(
            PgTarget::from_env_values(Some("mysql://x"), Some("1")),
            PgTarget::Missing(_)
        ));
    }
}

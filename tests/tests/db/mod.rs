//! Shared by the executor and scheduler tests: a fresh database per test (SQLite file in a
//! temp dir; a fresh PostgreSQL schema when `KEYWARDEN_TEST_DATABASE_URL` is set, the
//! same approach as the store's conformance suite), a plugin registry over the compiled
//! plugins, and polling helpers.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use keywarden::plugins::PluginRegistry;
use keywarden_db::testing::PgTestSchema;
use keywarden_db::{Database, Job, JobFilter, Sort, connect};
use uuid::Uuid;

/// A fresh database; `url` reopens it (a "restarted process").
pub struct Db {
    pub database: Arc<dyn Database>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgTestSchema>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = dir.path().join("keywarden.db").display().to_string();
        let db = connect(&url).await.expect("open sqlite");
        Db {
            database: db,
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// `None` (and a visible note) when no PostgreSQL server is configured.
    pub async fn postgres(case: &str) -> Option<Db> {
        let pg = PgTestSchema::create(case).await?;
        let db = connect(&pg.url).await.expect("open postgres");
        Some(Db {
            database: db,
            url: pg.url.clone(),
            _dir: None,
            pg: Some(pg),
        })
    }

    /// A second, independent connection to the same database.
    pub async fn reopen(&self) -> Arc<dyn Database> {
        connect(&self.url).await.expect("reopen db")
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        drop(self.database);
        if let Some(pg) = self.pg {
            pg.drop_schema().await;
        }
    }
}

/// Generates `sqlite::<case>` and `postgres::<case>` tests from `async fn case(db: Db)`.
#[macro_export]
macro_rules! db_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = $crate::db::Db::sqlite().await;
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = $crate::db::Db::postgres(stringify!($case)).await else {
                        return;
                    };
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

/// A registry over the compiled plugins with the operator config `toml`. Compiled
/// components are cached under `target/` so each test does not recompile them.
pub async fn registry(toml: &str) -> Arc<PluginRegistry> {
    let cache = keywarden_tests::plugins_dir().with_file_name("test-component-cache");
    let toml = format!(
        "{toml}\n[runtime]\ncache_dir = {:?}\n",
        cache.display().to_string()
    );
    let runtime = keywarden_tests::runtime_from_toml(&toml);
    let registry = PluginRegistry::new(runtime, keywarden_tests::plugins_dir());
    let summary = registry.scan().await;
    assert!(
        summary.loaded.iter().any(|p| p == "hello"),
        "hello did not load: {summary:?}"
    );
    registry
}

/// Every job of the config (or all jobs), oldest `scheduled_for` first.
pub async fn jobs(db: &dyn Database, config: Option<Uuid>) -> Vec<Job> {
    let filter = JobFilter {
        job_config_id: config,
        ..JobFilter::default()
    };
    let (_, mut jobs) = db
        .list_jobs(&filter, &Sort::default(), 0, 100_000)
        .await
        .expect("list jobs");
    jobs.sort_by_key(|j| j.scheduled_for);
    jobs
}

/// Polls `get_job` until `done(job)` or the timeout; returns the last state seen.
pub async fn wait_job(
    db: &dyn Database,
    id: Uuid,
    timeout: Duration,
    done: impl Fn(&Job) -> bool,
) -> Job {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = db
            .get_job(None, id)
            .await
            .expect("get job")
            .expect("job exists");
        if done(&job) || tokio::time::Instant::now() >= deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the job reached a final status.
pub fn is_final(job: &Job) -> bool {
    job.status.is_final()
}

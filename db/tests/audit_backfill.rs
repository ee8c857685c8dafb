//! The audit-id migration on a database that already holds jobs: existing jobs are
//! numbered in creation order and new ones continue after them. SQLite always, PostgreSQL
//! when `KEYWARDEN_TEST_DATABASE_URL` is set.

use std::path::Path;

use keywarden_db::testing::PgTestSchema;
use keywarden_db::{JobCondition, JobField, JobOrder, JobQuery, connect};
use sqlx::migrate::Migrator;

/// Rows written by the schema before the audit-id migration (created_at out of insertion
/// order on purpose).
const OLD_JOBS: &str = "INSERT INTO jobs (id, account_id, name, operation, status, \
     scheduled_for, enqueued_at, created_at, updated_at) VALUES \
     ('00000000-0000-0000-0000-00000000000b', 'kylo', 'second', 'hello', 'completed', 0, 0, 20, 20), \
     ('00000000-0000-0000-0000-00000000000a', 'kylo', 'first', 'hello', 'failed', 0, 0, 10, 10), \
     ('00000000-0000-0000-0000-00000000000c', 'kylo', 'third', 'hello', 'queued', 0, 0, 30, 30)";

async fn first_migration_only() -> Migrator {
    let mut m = Migrator::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .await
        .expect("migrations");
    m.migrations = m
        .migrations
        .iter()
        .take(1)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    m
}

async fn check(url: &str) {
    let store = connect(url).await.expect("migrate the rest");
    let query = JobQuery {
        account_id: None,
        condition: JobCondition::True,
        order: vec![(JobOrder::Field(JobField::AuditId), false)],
        count_bound: None,
    };
    let (_, page) = store.query_job_history(&query, 0, 10).await.unwrap();
    let got: Vec<(i64, &str)> = page
        .iter()
        .map(|e| (e.audit_id, e.job.name.as_str()))
        .collect();
    assert_eq!(got, [(1, "first"), (2, "second"), (3, "third")]);
    let new = keywarden_db::NewJob::from_config(
        &keywarden_db::JobConfig::new("kylo", "n", "hello", "@daily", chrono::Utc::now()),
        chrono::Utc::now(),
        chrono::Utc::now(),
    );
    store.insert_jobs(&[new]).await.unwrap();
    let (_, page) = store.query_job_history(&query, 0, 10).await.unwrap();
    assert_eq!(page.last().unwrap().audit_id, 4);
}

#[tokio::test]
async fn sqlite_existing_jobs_get_audit_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    first_migration_only().await.run(&pool).await.unwrap();
    sqlx::query(OLD_JOBS).execute(&pool).await.unwrap();
    pool.close().await;
    check(path.to_str().unwrap()).await;
}

#[tokio::test]
async fn postgres_existing_jobs_get_audit_ids() {
    let Some(pg) = PgTestSchema::create("audit_backfill").await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    first_migration_only().await.run(&pool).await.unwrap();
    sqlx::query(OLD_JOBS).execute(&pool).await.unwrap();
    pool.close().await;
    check(&pg.url).await;
    pg.drop_schema().await;
}

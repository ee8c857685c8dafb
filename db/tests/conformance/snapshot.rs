//! Snapshots and restores: every table comes out parents first with its rows, a
//! restore into an empty database of the same backend gives back the same rows, and a
//! restore is refused (nothing written) into a database holding rows, for another schema
//! version, or when the sequence stops before its end.

use std::sync::Arc;

use keywarden_db::testing::PgTestSchema;
use keywarden_db::{
    Cell, Database, DbError, JobConfig, NewToken, SnapshotItem, SnapshotSummary, TokenRole, connect,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{new_job, t};

/// An empty database of the same backend as `db`, and what keeps it alive.
async fn empty_like(db: &dyn Database) -> (Arc<dyn Database>, Box<dyn std::any::Any + Send>) {
    if db.backend() == "postgres" {
        let pg = PgTestSchema::create("snapshot_target")
            .await
            .expect("the source is PostgreSQL, so a server is configured");
        let target = connect(&pg.url).await.expect("open the target schema");
        (target, Box::new(Dropper(Some(pg))))
    } else {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("target.db");
        let target = connect(path.to_str().expect("utf-8")).await.expect("open");
        (target, Box::new(dir))
    }
}

/// Drops a PostgreSQL test schema when the test ends.
struct Dropper(Option<PgTestSchema>);

impl Drop for Dropper {
    fn drop(&mut self) {
        if let Some(pg) = self.0.take() {
            // A runtime of its own: the test's may be shutting down.
            std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .expect("runtime")
                    .block_on(pg.drop_schema());
            })
            .join()
            .ok();
        }
    }
}

/// Takes a snapshot of `db`, keeping every item.
async fn take(db: &dyn Database) -> (SnapshotSummary, Vec<SnapshotItem>) {
    let (tx, mut rx) = mpsc::channel(4);
    let reader = tokio::spawn(async move {
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(item);
        }
        items
    });
    let summary = db.snapshot(tx).await.expect("snapshot");
    (summary, reader.await.expect("reader"))
}

/// Restores `items` into `db`.
async fn restore(
    db: &dyn Database,
    version: i64,
    items: Vec<SnapshotItem>,
) -> Result<SnapshotSummary, DbError> {
    let (tx, rx) = mpsc::channel(items.len().max(1));
    for item in items {
        tx.send(item).await.expect("send");
    }
    drop(tx);
    db.restore(version, rx).await
}

/// Asserts a refusal of `kind` ("conflict" or "invalid") whose reason says `says`.
fn refused(result: Result<SnapshotSummary, DbError>, kind: &str, says: &str) {
    match (kind, result) {
        ("conflict", Err(DbError::Conflict(why))) | ("invalid", Err(DbError::Invalid(why))) => {
            assert!(why.contains(says), "{why}")
        }
        (_, other) => panic!("expected a {kind} refusal saying {says:?}, got {other:?}"),
    }
}

async fn fill(db: &dyn Database) -> uuid::Uuid {
    db.create_token(&NewToken {
        account_id: "admin",
        token_hash: "h1",
        role: TokenRole::Admin,
        label: "root",
        expires_at: None,
    })
    .await
    .unwrap();
    let mut config = JobConfig::new("team-a", "nightly", "hello", "0 3 * * *", t(0));
    config.params = json!({"who": "world", "quote": "it's \"fine\""});
    config.next_fire_at = Some(t(100));
    db.insert_config(&config).await.unwrap();
    let jobs: Vec<_> = (0..1_234)
        .map(|i| new_job("team-a", &format!("job-{i}"), t(i), t(0)))
        .collect();
    db.insert_jobs(&jobs).await.unwrap();
    config.id
}

pub async fn snapshot_and_restore(db: Arc<dyn Database>) {
    let version = db.schema_version().await.unwrap();
    assert_eq!(version, keywarden_db::newest_migration());
    db.migrate()
        .await
        .expect("migrating an up-to-date database does nothing");
    assert_eq!(db.schema_version().await.unwrap(), version);
    assert!(
        db.non_empty_tables().await.unwrap().is_empty(),
        "new is empty"
    );
    let config_id = fill(db.as_ref()).await;
    let busy = db.non_empty_tables().await.unwrap();
    for table in ["accounts", "api_tokens", "job_configs", "jobs"] {
        assert!(busy.iter().any(|t| t == table), "{table} in {busy:?}");
    }

    let (summary, items) = take(db.as_ref()).await;
    assert_eq!(summary.schema_version, version);
    let rows = |name: &str| {
        summary
            .tables
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, n)| *n)
    };
    assert_eq!(rows("jobs"), Some(1_234));
    assert_eq!(rows("job_configs"), Some(1));
    assert_eq!(
        rows("_sqlx_migrations"),
        None,
        "the migrations' own table stays out"
    );
    let order: Vec<&str> = summary.tables.iter().map(|(t, _)| t.as_str()).collect();
    let at = |name: &str| order.iter().position(|t| *t == name).unwrap();
    assert!(
        at("accounts") < at("api_tokens"),
        "parents first: {order:?}"
    );
    assert!(
        at("agents") < at("agent_sessions"),
        "parents first: {order:?}"
    );
    assert!(matches!(items.last(), Some(SnapshotItem::End)));
    let texts: usize = items
        .iter()
        .filter_map(|i| match i {
            SnapshotItem::Rows(rows) => Some(rows),
            _ => None,
        })
        .flatten()
        .filter(|row| row.contains(&Cell::Text("job-7".to_owned())))
        .count();
    assert_eq!(texts, 1, "rows carry their values");

    // Into an empty database: the same rows come back.
    let (target, _keep) = empty_like(db.as_ref()).await;
    let restored = restore(target.as_ref(), version, items.clone())
        .await
        .unwrap();
    assert_eq!(restored.tables, summary.tables);
    let (again, _) = take(target.as_ref()).await;
    assert_eq!(again.tables, summary.tables);
    let back = target
        .get_config(None, config_id)
        .await
        .unwrap()
        .expect("the config is back");
    assert_eq!(back.params["quote"], "it's \"fine\"");
    assert_eq!(back.next_fire_at, Some(t(100)));
    assert!(target.find_token_by_hash("h1").await.unwrap().is_some());

    // Not into a database holding rows (the target now does), nothing written.
    refused(
        restore(target.as_ref(), version, items.clone()).await,
        "conflict",
        "not empty",
    );

    let (fresh, _keep2) = empty_like(db.as_ref()).await;
    // Another schema version.
    refused(
        restore(fresh.as_ref(), version + 1, items.clone()).await,
        "invalid",
        "schema version",
    );
    // A sequence that stops before its end writes nothing.
    let mut cut = items.clone();
    cut.truncate(items.len() - 1);
    refused(
        restore(fresh.as_ref(), version, cut).await,
        "invalid",
        "ended",
    );
    assert!(
        fresh.non_empty_tables().await.unwrap().is_empty(),
        "nothing written"
    );
    // A row count other than announced.
    let mut short = items.clone();
    let jobs_rows = short
        .iter()
        .position(|i| matches!(i, SnapshotItem::Table { table, .. } if table.name == "jobs"))
        .unwrap()
        + 1;
    if let SnapshotItem::Rows(rows) = &mut short[jobs_rows] {
        rows.pop();
    }
    refused(
        restore(fresh.as_ref(), version, short).await,
        "invalid",
        "announced",
    );
    assert!(
        fresh.non_empty_tables().await.unwrap().is_empty(),
        "nothing written"
    );
}

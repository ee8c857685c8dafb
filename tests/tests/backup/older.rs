//! A backup from an older Keywarden (an older schema) restores: the target is built at
//! the backup's schema version, filled, then migrated like any database of that age. A
//! target already at a newer schema is refused.

use std::sync::Arc;

use keywarden::backup::key::BackupKey;
use keywarden::backup::take;
use keywarden_db::{JobConfig, connect, connect_at, newest_migration};

use crate::support::{age_keygen, restore};

/// The migration before the newest (20250113 only adds columns to `ssl_networks`).
const OLDER: i64 = 20250112000000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_backups_restore_and_migrate() {
    assert!(OLDER < newest_migration());
    let key = age_keygen();
    let work = tempfile::tempdir().unwrap();
    let old_path = work.path().join("old.db");
    let old = connect_at(old_path.to_str().unwrap(), OLDER).await.unwrap();
    assert_eq!(old.schema_version().await.unwrap(), OLDER);
    // Written as that version wrote it: today's code writes columns the old schema lacks.
    let now = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap();
    let config = JobConfig::new("admin", "kept", "hello", "0 3 * * *", now);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", old_path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO job_configs (id, account_id, name, operation, run_at, params_key, \
         created_at, updated_at) VALUES (?1, 'admin', 'kept', 'hello', '0 3 * * *', 'params', ?2, ?2)",
    )
    .bind(config.id.to_string())
    .bind(now.timestamp_micros())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let backups = work.path().join("backups");
    let parsed = Arc::new(BackupKey::parse(&key.value).unwrap());
    let taken = take::take(old.as_ref(), parsed, &backups, "old.age", "older", None)
        .await
        .unwrap();
    assert_eq!(taken.manifest.schema_version, OLDER);

    let target = work.path().join("new");
    let file = taken.path.to_str().unwrap();
    let args = [file, "--data-dir", target.to_str().unwrap()];
    let out = restore(&args, Some(&key.value));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("migrated from schema {OLDER}")),
        "{stdout}"
    );
    let db = connect(target.join("keywarden.db").to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(db.schema_version().await.unwrap(), newest_migration());
    let back = db.get_config(None, config.id).await.unwrap().expect("kept");
    assert_eq!(back.name, "kept");

    // A new target already at the newest schema cannot take the older backup.
    let newer = work.path().join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    drop(
        connect(newer.join("keywarden.db").to_str().unwrap())
            .await
            .unwrap(),
    );
    let out = restore(
        &[file, "--data-dir", newer.to_str().unwrap()],
        Some(&key.value),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("new, empty database"),
        "{stderr}"
    );
}

//! What `keywarden restore` refuses, each with a clear error and nothing written: a wrong
//! key (another identity, a passphrase), a truncated or altered file (age authenticates
//! every chunk; the whole file is read before the target is touched), a backup from a
//! newer schema, a target database that holds rows (SQLite and PostgreSQL).

use std::path::Path;

use keywarden_db::testing::PgTestSchema;
use keywarden_tests::server::TestServer;
use serde_json::json;

use crate::support::{age_keygen, backup, config, file_of, restore};

/// `keywarden restore` of `file` into `target` (a data dir, SQLite) with the key in the
/// environment; (success, stderr).
fn restore_into(file: &Path, target: &Path, key: &str, url: Option<&str>) -> (bool, String) {
    let mut args = vec![
        file.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ];
    if let Some(url) = url {
        args.extend(["--database-url", url]);
    }
    let out = restore(&args, Some(key));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stderr.contains(key) && !stdout.contains(key),
        "the key is never shown"
    );
    (out.status.success(), stderr)
}

/// Nothing was written into the SQLite database of `dir` (if it was even created).
async fn untouched(dir: &Path) {
    let db = dir.join("keywarden.db");
    if !db.exists() {
        return;
    }
    let db = keywarden_db::connect(db.to_str().unwrap()).await.unwrap();
    assert_eq!(db.non_empty_tables().await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_with_a_reason_and_nothing_written() {
    let key = age_keygen();
    let s = TestServer::sqlite_with(config(&key, "")).await;
    crate::support::seed(&s).await;
    let file = file_of(&backup(&s, json!({"backupKey": "backup_key"})).await);
    let work = tempfile::tempdir().unwrap();

    // A wrong key: another identity, or a passphrase.
    let other = age_keygen();
    let target = work.path().join("wrong-identity");
    let (ok, err) = restore_into(&file, &target, &other.value, None);
    assert!(!ok && err.contains("wrong key"), "{err}");
    untouched(&target).await;
    let target = work.path().join("wrong-passphrase");
    let (ok, err) = restore_into(&file, &target, "a passphrase long enough to try", None);
    assert!(!ok && err.contains("wrong key"), "{err}");
    untouched(&target).await;
    // A key too short to be one is refused before the file is opened.
    let (ok, err) = restore_into(&file, &work.path().join("short"), "tiny-key", None);
    assert!(!ok && err.contains("shorter than 16 characters"), "{err}");

    // Truncated: authentication fails at the end, before anything is written.
    let bytes = std::fs::read(&file).unwrap();
    let cut = work.path().join("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let target = work.path().join("truncated");
    let (ok, err) = restore_into(&cut, &target, &key.value, None);
    assert!(!ok && err.contains("damaged or was altered"), "{err}");
    untouched(&target).await;
    // Altered: one byte in the middle.
    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x01;
    let bad = work.path().join("altered.age");
    std::fs::write(&bad, &altered).unwrap();
    let target = work.path().join("altered");
    let (ok, err) = restore_into(&bad, &target, &key.value, None);
    assert!(!ok && err.contains("damaged or was altered"), "{err}");
    untouched(&target).await;
    // Not a backup at all.
    let (ok, err) = restore_into(&key.file, &work.path().join("junk"), &key.value, None);
    assert!(!ok && err.contains("not a Keywarden backup"), "{err}");

    // The right key restores; a second restore into the same database is refused.
    let target = work.path().join("good");
    let (ok, err) = restore_into(&file, &target, &key.value, None);
    assert!(ok, "{err}");
    let (ok, err) = restore_into(&file, &target, &key.value, None);
    assert!(!ok && err.contains("not empty"), "{err}");
    // The same on PostgreSQL.
    if let Some(pg) = PgTestSchema::create("restore_twice").await {
        let dir = work.path().join("pg");
        let (ok, err) = restore_into(&file, &dir, &key.value, Some(&pg.url));
        assert!(ok, "{err}");
        let (ok, err) = restore_into(&file, &dir, &key.value, Some(&pg.url));
        assert!(!ok && err.contains("not empty"), "{err}");
        pg.drop_schema().await;
    }

    // A backup from a newer schema (a migration this build does not know).
    s.execute_sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29990101000000, 'from the future', 1, X'00', 0)",
    )
    .await;
    let newer = file_of(&backup(&s, json!({"backupKey": "backup_key"})).await);
    let target = work.path().join("newer");
    let (ok, err) = restore_into(&newer, &target, &key.value, None);
    assert!(!ok && err.contains("newer schema"), "{err}");
    untouched(&target).await;
    s.stop().await;
}

//! Moving a server between databases: a backup taken on SQLite restored into
//! PostgreSQL (one node to several) and the other way, with `keywarden restore` (the real
//! binary), and the restored server (the real server) shows the same configs, jobs,
//! stores, inventory and kept keys, answers the old admin token and keeps firing
//! schedules. The `age` CLI opens the backup without Keywarden.

use std::process::Command;
use std::time::{Duration, Instant};

use keywarden_db::testing::PgTestSchema;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{CONFIGS, Key, age_keygen, backup, config, file_of, restore, seed, seen};

/// Takes a backup of `source` (seeded), restores it with `keywarden restore` into the
/// other kind of database and starts a server on it; compares what a user sees.
async fn move_server(source: TestServer, key: &Key, to_postgres: bool) {
    seed(&source).await;
    // A frequent schedule: it must keep firing after the move.
    let frequent = source
        .create_config(
            &source.admin,
            &json!({"name": "every-2s", "operation": "noop", "run_at": "*/2 * * * * *",
                    "disabled": true}),
        )
        .await;
    let job = backup(
        &source,
        json!({"backupKey": "backup_key", "description": "before the move"}),
    )
    .await;
    // The data dir goes with the source server: keep the backup apart, as an operator would.
    let kept = tempfile::tempdir().unwrap();
    let file = kept.path().join(file_of(&job).file_name().unwrap());
    std::fs::copy(file_of(&job), &file).unwrap();
    let manifest = &job["details"]["details"]["manifest"];
    assert_eq!(manifest["source_backend"], source.backend);
    assert!(
        manifest["checksum"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{manifest}"
    );
    let before = seen(&source).await;
    let admin = source.admin.clone();
    let from = source.backend;
    source.stop().await;

    // Anyone with the key reads it with the age CLI: zstd-compressed JSON lines.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "age -d -i '{}' '{}' | zstd -dc | head -n 1",
            key.file.display(),
            file.display()
        ))
        .output()
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(header["header"]["format"], "keywarden-backup");
    assert_eq!(header["header"]["description"], "before the move");

    let data_dir = tempfile::tempdir().unwrap();
    let pg = if to_postgres {
        Some(
            PgTestSchema::create("restore_target")
                .await
                .expect("PostgreSQL is configured"),
        )
    } else {
        None
    };
    let dir = data_dir.path().to_str().unwrap().to_owned();
    let mut args = vec![
        file.to_str().unwrap(),
        "--backup-key-file",
        key.file.to_str().unwrap(),
        "--data-dir",
        &dir,
    ];
    let url = pg.as_ref().map(|p| p.url.clone());
    if let Some(url) = &url {
        args.extend(["--database-url", url]);
    }
    let out = restore(&args, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{from} -> restore failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("restored"), "{stdout}");
    assert!(stdout.contains(&format!("on {from}")), "{stdout}");

    // The operator carries the admin token over; the database knows it.
    std::fs::write(data_dir.path().join("admin-token"), format!("{admin}\n")).unwrap();
    let restored = TestServer::on_existing(data_dir, pg, config(key, "")).await;
    assert_eq!(restored.admin, admin);
    assert_eq!(
        seen(&restored).await,
        before,
        "{from} -> {}: what a user sees",
        restored.backend
    );

    // The schedules still fire: enable the frequent config, a job of it runs.
    let id = frequent["id"].as_str().unwrap();
    let (status, body) = restored
        .patch(
            &admin,
            &format!("{CONFIGS}/{id}"),
            &json!({"disabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, jobs) = restored
            .get(
                &admin,
                &format!("/api/v1/scheduler/jobs?job_config_id={id}&status=completed"),
            )
            .await;
        if jobs["total"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fire after the restore: {jobs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    restored.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres() {
    let Some(probe) = PgTestSchema::create("sqlite_to_postgres").await else {
        return;
    };
    probe.drop_schema().await;
    let key = age_keygen();
    let source = TestServer::sqlite_with(config(&key, "")).await;
    move_server(source, &key, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite() {
    let key = age_keygen();
    let Some(source) = TestServer::postgres_with(config(&key, "")).await else {
        return;
    };
    move_server(source, &key, false).await;
}

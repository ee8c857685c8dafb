//! Backup and restore speed: `database_backup`'s snapshot (zstd, age) of a database with
//! 100,000 jobs and 10,000 job configs, and `keywarden restore`'s two passes into an
//! empty database of the same kind, beside `sqlite3 .backup` (SQLite) and `pg_dump` /
//! `pg_restore` (PostgreSQL, when `KEYWARDEN_TEST_DATABASE_URL` is set) of the same
//! database in the same run. Prints one line per figure.
//!
//! `cargo bench -p keywarden-tests --bench backup` (needs `age-keygen`, `sqlite3`,
//! `pg_dump` and `pg_restore`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden::backup::key::BackupKey;
use keywarden::backup::{restore, take};
use keywarden_db::testing::PgTestSchema;
use keywarden_db::{Database, JobConfig, NewJob, RunOn, connect};
use serde_json::json;
use uuid::Uuid;

const JOBS: usize = 100_000;
const CONFIGS: usize = 10_000;

async fn seed(db: &dyn Database) {
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut ids = Vec::with_capacity(CONFIGS);
    for i in 0..CONFIGS {
        let account = format!("team-{}", i % 20);
        let mut c = JobConfig::new(
            &account,
            &format!("rotate-{i}"),
            "cckm_key_rotation",
            "0 3 * * *",
            now,
        );
        c.params = json!({"cloud_name": "aws", "aws_param": {"regions": ["eu-west-1"], "tags": {"team": account}},
                          "rotation_after": "90d"});
        c.next_fire_at = Some(now + chrono::Duration::hours(1));
        ids.push((account, db.insert_config(&c).await.expect("config").id));
    }
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(2_000) {
        let jobs: Vec<NewJob> = chunk
            .iter()
            .map(|&i| {
                let (account, config) = &ids[i % CONFIGS];
                NewJob {
                    id: Uuid::now_v7(),
                    account_id: account.clone(),
                    job_config_id: Some(*config),
                    name: format!("rotate-{}", i % CONFIGS),
                    description: "nightly rotation".into(),
                    operation: "cckm_key_rotation".into(),
                    target: Some("aws".into()),
                    params: json!({"cloud_name": "aws", "aws_param": {"regions": ["eu-west-1"]}}),
                    run_on: RunOn::Any,
                    schedule_kind: None,
                    max_attempts: 3,
                    retry_backoff_secs: 60,
                    scheduled_for: now - chrono::Duration::seconds(i as i64),
                    start_by: None,
                    enqueued_at: now - chrono::Duration::seconds(i as i64),
                }
            })
            .collect();
        db.insert_jobs(&jobs).await.expect("jobs");
    }
}

fn key(dir: &Path) -> Arc<BackupKey> {
    let file = dir.join("backup.key");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen");
    assert!(out.status.success());
    Arc::new(BackupKey::parse(&std::fs::read_to_string(&file).unwrap()).unwrap())
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn run(tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

/// Backs up `db`, restores into `target`; prints the figures.
async fn keywarden(
    label: &str,
    db: &dyn Database,
    target: &dyn Database,
    dir: &Path,
    key: Arc<BackupKey>,
) {
    let start = Instant::now();
    let taken = take::take(db, key.clone(), dir, &format!("{label}.age"), "bench", None)
        .await
        .expect("backup");
    let backup = start.elapsed();
    let start = Instant::now();
    let restored = restore::restore(target, &taken.path, key)
        .await
        .expect("restore");
    let restore = start.elapsed();
    let rows: u64 = restored.manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "{label}: keywarden backup {:.2} s ({:.1} MiB encrypted, {rows} rows), restore {:.2} s",
        backup.as_secs_f64(),
        mib(taken.bytes),
        restore.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());

    // SQLite.
    let source = dir.path().join("source.db");
    let db = connect(source.to_str().unwrap()).await.unwrap();
    let (_, seeding) = {
        let start = Instant::now();
        seed(db.as_ref()).await;
        ((), start.elapsed())
    };
    println!(
        "sqlite: seeded {JOBS} jobs and {CONFIGS} configs in {:.1} s",
        seeding.as_secs_f64()
    );
    let target = connect(dir.path().join("target.db").to_str().unwrap())
        .await
        .unwrap();
    keywarden(
        "sqlite",
        db.as_ref(),
        target.as_ref(),
        dir.path(),
        key.clone(),
    )
    .await;
    let copy = dir.path().join("copy.db");
    let (_, t) = timed(|| {
        run(
            "sqlite3",
            &[
                source.to_str().unwrap(),
                &format!(".backup '{}'", copy.display()),
            ],
        )
    });
    println!(
        "sqlite: sqlite3 .backup {:.2} s ({:.1} MiB, unencrypted, uncompressed; database {:.1} MiB)",
        t.as_secs_f64(),
        mib(size(&copy)),
        mib(size(&source))
    );

    // PostgreSQL.
    let Some(pg) = PgTestSchema::create("bench_backup_source").await else {
        println!(
            "postgres: skipped ({} not set)",
            keywarden_db::testing::PG_ENV
        );
        return;
    };
    let target_pg = PgTestSchema::create("bench_backup_target").await.unwrap();
    let db = connect(&pg.url).await.unwrap();
    seed(db.as_ref()).await;
    let target = connect(&target_pg.url).await.unwrap();
    keywarden("postgres", db.as_ref(), target.as_ref(), dir.path(), key).await;
    let dump = dir.path().join("pg.dump");
    let (_, t) = timed(|| {
        run(
            "pg_dump",
            &[
                "--format=custom",
                "--schema",
                pg.schema(),
                "--file",
                dump.to_str().unwrap(),
                pg.base_url(),
            ],
        )
    });
    println!(
        "postgres: pg_dump -Fc {:.2} s ({:.1} MiB, compressed, unencrypted)",
        t.as_secs_f64(),
        mib(size(&dump))
    );
    // pg_restore into a database of its own (the schema's name is taken beside the source).
    let base = pg.base_url().split('?').next().unwrap().to_owned();
    let (server, _) = base.rsplit_once('/').unwrap();
    let scratch = format!("kw_bench_restore_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {scratch}"))
        .execute(&admin)
        .await
        .unwrap();
    let scratch_url = format!("{server}/{scratch}");
    let (_, t) = timed(|| {
        run(
            "pg_restore",
            &["--dbname", &scratch_url, dump.to_str().unwrap()],
        )
    });
    println!("postgres: pg_restore {:.2} s", t.as_secs_f64());
    sqlx::query(&format!("DROP DATABASE {scratch}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    drop((db, target));
    pg.drop_schema().await;
    target_pg.drop_schema().await;
}

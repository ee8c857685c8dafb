//! `keywarden restore`: a backup file into an empty database, SQLite or PostgreSQL
//! whichever it was taken from.
//!
//! Two passes over the file. The first decrypts and reads it whole, writing nothing:
//! age authenticates every chunk and the end, and the manifest's checksum and counts are
//! compared, so a wrong key, an altered or truncated file is refused before the target is
//! touched. The second pass streams the rows into the database's restore, which writes
//! them in one transaction. Decrypting twice costs a second pass over the file; keeping
//! the plaintext on disk or in memory between the passes would cost more.

use std::path::Path;
use std::sync::Arc;

use keywarden_db::{Database, JobFinish, JobResult, JobStatus, SnapshotItem, TableSchema};
use tokio::sync::mpsc;

use super::format::{Header, Line, Manifest, Reader};
use super::key::BackupKey;

/// What the reader says when the database ended the restore.
const STOPPED: &str = "the database stopped taking rows";

/// Rows sent to the database per batch.
const BATCH_ROWS: usize = 500;

/// What a restore wrote.
#[derive(Debug, Clone)]
pub struct Restored {
    pub header: Header,
    pub manifest: Manifest,
}

/// Restores `file` into `db` (which must be empty and of the backup's schema version).
pub async fn restore(
    db: &dyn Database,
    file: &Path,
    key: Arc<BackupKey>,
) -> Result<Restored, String> {
    let header = header_of(file, key.clone()).await?;
    let newest = keywarden_db::newest_migration();
    let own = db
        .schema_version()
        .await
        .map_err(|e| format!("reading the target database: {e}"))?;
    if header.schema_version > newest {
        return Err(format!(
            "the backup is from a newer schema (version {}) than this Keywarden knows (newest {newest}); \
             restore it with the Keywarden version that wrote it, or a newer one",
            header.schema_version
        ));
    }
    if header.schema_version != own {
        return Err(format!(
            "the backup's schema version is {}, the target database's is {own}: restore into a new, \
             empty database (it is then built at the backup's version and migrated)",
            header.schema_version
        ));
    }
    let busy = db
        .non_empty_tables()
        .await
        .map_err(|e| format!("reading the target database: {e}"))?;
    if !busy.is_empty() {
        return Err(format!(
            "the target database is not empty ({} hold rows): restore into a new, empty database",
            busy.join(", ")
        ));
    }
    let path = file.to_owned();
    let k = key.clone();
    let manifest = tokio::task::spawn_blocking(move || verify(&path, &k))
        .await
        .map_err(|e| e.to_string())??;
    let (tx, rx) = mpsc::channel::<SnapshotItem>(8);
    let path = file.to_owned();
    let feeder = tokio::task::spawn_blocking(move || feed(&path, &key, tx));
    let written = db.restore(header.schema_version, rx).await;
    let fed = feeder.await.map_err(|e| e.to_string())?;
    if let Err(e) = written {
        return Err(match fed {
            // The file failed on the second pass: that explains the early end.
            Err(why) if why != STOPPED => format!("{why} (nothing was written)"),
            // The database refused; the reader only saw it stop taking rows.
            _ => format!("restoring: {e} (nothing was written)"),
        });
    }
    fed?;
    if let Some(id) = header.job_id {
        settle_backup_job(db, id).await;
    }
    Ok(Restored { header, manifest })
}

/// The job that took the backup was running when its row was read; left so, the
/// restored server's lease recovery would fail it (or run it again). It did complete:
/// record that, on the node and attempt the row names.
async fn settle_backup_job(db: &dyn Database, id: uuid::Uuid) {
    let Ok(Some(job)) = db.get_job(None, id).await else {
        return;
    };
    let Some(node) = job
        .processing_node
        .clone()
        .filter(|_| job.status == JobStatus::Running)
    else {
        return;
    };
    let finish = JobFinish {
        id,
        node_id: node,
        attempt: Some(job.attempt),
        status: JobStatus::Completed,
        result: Some(JobResult::Success),
        message: Some(
            "completed: this database was restored from the backup this job took".to_owned(),
        ),
        details: None,
        logs: Vec::new(),
        progress: None,
    };
    if let Err(e) = db.finish_jobs(&[finish]).await {
        tracing::warn!(job = %id, "recording the backup job as completed failed: {e}");
    }
}

fn open(path: &Path, key: &BackupKey) -> Result<Reader<impl std::io::Read>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the backup {}: {e}", path.display()))?;
    let plain = key.decrypt(std::io::BufReader::with_capacity(1 << 16, file))?;
    Reader::new(plain).map_err(|e| format!("the backup cannot be read: {e}"))
}

/// The header of `file` (opened with `key`, which is checked here): what to prepare the
/// target database for.
pub async fn header_of(file: &Path, key: Arc<BackupKey>) -> Result<Header, String> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || read_header(&path, &key))
        .await
        .map_err(|e| e.to_string())?
}

/// Opens the file and reads its header (the key is checked here).
fn read_header(path: &Path, key: &BackupKey) -> Result<Header, String> {
    let mut reader = open(path, key)?;
    match reader.next_line()? {
        Some(Line::Header(h)) => Ok(h),
        _ => Err("the backup does not start with its header".to_owned()),
    }
}

/// Reads the whole file, checking everything; returns its manifest.
fn verify(path: &Path, key: &BackupKey) -> Result<Manifest, String> {
    let mut reader = open(path, key)?;
    loop {
        match reader.next_line()? {
            Some(Line::Manifest(m)) => return Ok(m),
            Some(_) => {}
            None => return Err("the backup ends before its manifest (truncated)".to_owned()),
        }
    }
}

/// The second pass: the file's tables and rows into `tx`, `End` after the manifest.
fn feed(path: &Path, key: &BackupKey, tx: mpsc::Sender<SnapshotItem>) -> Result<(), String> {
    let mut reader = open(path, key)?;
    let mut batch = Vec::new();
    let send = |item: SnapshotItem| tx.blocking_send(item).map_err(|_| STOPPED.to_owned());
    loop {
        match reader.next_line()? {
            Some(Line::Header(_)) => {}
            Some(Line::Table(t)) => {
                if !batch.is_empty() {
                    send(SnapshotItem::Rows(std::mem::take(&mut batch)))?;
                }
                send(SnapshotItem::Table {
                    table: TableSchema {
                        name: t.name,
                        columns: t.columns,
                    },
                    rows: t.rows,
                })?;
            }
            Some(Line::Row(row)) => {
                batch.push(row);
                if batch.len() == BATCH_ROWS {
                    send(SnapshotItem::Rows(std::mem::take(&mut batch)))?;
                }
            }
            Some(Line::Manifest(_)) => {
                if !batch.is_empty() {
                    send(SnapshotItem::Rows(std::mem::take(&mut batch)))?;
                }
                return send(SnapshotItem::End);
            }
            None => return Err("the backup ends before its manifest (truncated)".to_owned()),
        }
    }
}

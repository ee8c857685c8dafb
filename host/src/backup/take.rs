//! Taking a backup: one snapshot of the database, written as the line format
//! (`format.rs`), compressed and encrypted, into a file of the backup directory.
//!
//! The database streams rows into a channel and a blocking task writes them, so a large
//! table is never held in memory and the async workers never wait on compression or the
//! disk. The file is written under a `.partial` name and renamed when complete, so a
//! directory listing never shows half a backup as a backup.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use keywarden_db::{Database, SnapshotItem};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::format::{FORMAT, FORMAT_VERSION, Header, Manifest, Writer};
use super::key::BackupKey;

/// A backup written to disk.
#[derive(Debug, Clone)]
pub struct Taken {
    pub path: PathBuf,
    /// Size of the (encrypted) file.
    pub bytes: u64,
    /// `sha256:<hex>` of the file as stored, to compare copies with `sha256sum`.
    pub file_sha256: String,
    pub manifest: Manifest,
}

/// The file name of a backup taken at `at` by `tag` (a job id): sorts by time.
pub fn file_name(at: DateTime<Utc>, tag: &str) -> String {
    format!("keywarden-backup-{}-{tag}.age", at.format("%Y%m%dT%H%M%SZ"))
}

/// Writes a backup of `db` into `dir` as `name`.
pub async fn take(
    db: &dyn Database,
    key: Arc<BackupKey>,
    dir: &Path,
    name: &str,
    description: &str,
    job_id: Option<uuid::Uuid>,
) -> Result<Taken, String> {
    create_private_dir(dir)?;
    let path = dir.join(name);
    let partial = dir.join(format!("{name}.partial"));
    let header = Header {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        schema_version: db
            .schema_version()
            .await
            .map_err(|e| format!("reading the schema version: {e}"))?,
        created_at: Utc::now(),
        source_backend: db.backend().to_owned(),
        description: description.to_owned(),
        job_id,
    };
    let version = header.schema_version;
    let (tx, rx) = mpsc::channel::<SnapshotItem>(8);
    let target = partial.clone();
    let writer = tokio::task::spawn_blocking(move || write_file(&target, &key, header, rx));
    let read = db.snapshot(tx).await;
    let written = writer
        .await
        .map_err(|e| format!("the backup writer stopped: {e}"))?;
    let cleanup = |why: String| {
        let _ = std::fs::remove_file(&partial);
        why
    };
    let summary = read.map_err(|e| cleanup(format!("reading the database: {e}")))?;
    let (manifest, bytes, file_sha256) = written.map_err(cleanup)?;
    if summary.schema_version != version {
        return Err(cleanup(
            "the schema changed while the backup was taken".to_owned(),
        ));
    }
    std::fs::rename(&partial, &path).map_err(|e| cleanup(format!("naming the backup: {e}")))?;
    Ok(Taken {
        path,
        bytes,
        file_sha256,
        manifest,
    })
}

/// Creates `dir` readable by Keywarden's user only (backups hold every account's data,
/// encrypted, but the names and sizes are nobody else's business either).
fn create_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the backup directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// The blocking side: items in, an encrypted file out.
fn write_file(
    path: &Path,
    key: &BackupKey,
    header: Header,
    mut rx: mpsc::Receiver<SnapshotItem>,
) -> Result<(Manifest, u64, String), String> {
    let io = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Owner-only whatever the process's umask (the server sets 077; embedders may not).
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(io)?;
    let hashed = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        hash: Sha256::new(),
        bytes: 0,
    };
    let sealed = key.encrypt(hashed).map_err(io)?;
    let mut lines = Writer::new(sealed, header).map_err(io)?;
    let mut ended = false;
    while let Some(item) = rx.blocking_recv() {
        match item {
            SnapshotItem::Table { table, rows } => lines.table(&table, rows).map_err(io)?,
            SnapshotItem::Rows(rows) => {
                for row in &rows {
                    lines.row(row).map_err(io)?;
                }
            }
            SnapshotItem::End => {
                ended = true;
                break;
            }
        }
    }
    if !ended {
        return Err("the snapshot stopped before its end".to_owned());
    }
    let (manifest, sealed) = lines.finish().map_err(io)?;
    let mut hashed = sealed.finish().map_err(io)?;
    hashed.flush().map_err(io)?;
    let file = hashed.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok((
        manifest,
        hashed.bytes,
        format!("sha256:{}", hex::encode(hashed.hash.finalize())),
    ))
}

/// Counts and hashes what passes through to `inner`.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

//! `keywarden restore BACKUP`: a backup from `database_backup` into an empty database,
//! SQLite (the data dir's, by default) or PostgreSQL (`--database-url`), whichever the
//! backup came from. How to move from one node to several is in `docs/backup.md`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use super::serve::{database_url, load_config};
use crate::backup::key::BackupKey;

/// Where `restore` reads the backup key from, first given first: the flag (visible to
/// other users in `ps`), a file, the environment.
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    pub value: Option<String>,
    pub file: Option<PathBuf>,
    pub env: Option<String>,
}

impl KeySources {
    fn key(&self) -> anyhow::Result<BackupKey> {
        let (text, from) = if let Some(v) = &self.value {
            (v.clone(), "--backup-key".to_owned())
        } else if let Some(path) = &self.file {
            (
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --backup-key-file {}", path.display()))?,
                format!("--backup-key-file {}", path.display()),
            )
        } else if let Some(v) = &self.env {
            (v.clone(), "KEYWARDEN_BACKUP_KEY".to_owned())
        } else {
            anyhow::bail!(
                "the backup key is needed: --backup-key-file FILE, the KEYWARDEN_BACKUP_KEY \
                 variable, or --backup-key (shows in process lists)"
            );
        };
        BackupKey::parse(&text).map_err(|e| anyhow::anyhow!("{from}: {e}"))
    }
}

/// Restores `backup`; prints what was restored.
pub async fn restore(
    backup: PathBuf,
    key: KeySources,
    data_dir: PathBuf,
    config: Option<PathBuf>,
    database_url_flag: Option<String>,
) -> anyhow::Result<bool> {
    let key = Arc::new(key.key()?);
    let operator = load_config(config.as_deref())?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let url = database_url(database_url_flag, &operator, &data_dir);
    let failed = |why: String| anyhow::anyhow!("{}: {why}", backup.display());
    let header = crate::backup::restore::header_of(&backup, key.clone())
        .await
        .map_err(failed)?;
    // A newer backup is refused before the target is opened (opening migrates it).
    if header.schema_version > keywarden_db::newest_migration() {
        return Err(failed(format!(
            "the backup is from a newer schema (version {}) than this Keywarden knows (newest {}); \
             restore it with the Keywarden version that wrote it, or a newer one",
            header.schema_version,
            keywarden_db::newest_migration()
        )));
    }
    // A backup from an older Keywarden: the target is built at its schema, then migrated.
    let older = header.schema_version < keywarden_db::newest_migration();
    let db = if older {
        keywarden_db::connect_at(&url, header.schema_version)
            .await
            .with_context(|| {
                format!(
                    "cannot set the target database up at the backup's schema version {} \
                     (restore into a new, empty database)",
                    header.schema_version
                )
            })?
    } else {
        keywarden_db::connect(&url)
            .await
            .context("cannot open the target database")?
    };
    let restored = crate::backup::restore::restore(db.as_ref(), &backup, key)
        .await
        .map_err(failed)?;
    if older {
        db.migrate()
            .await
            .context("the backup was restored, but migrating it to this version failed")?;
        println!(
            "migrated from schema {} to {}",
            header.schema_version,
            keywarden_db::newest_migration()
        );
    }
    let rows: u64 = restored.manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "restored {} tables, {rows} rows (schema {}, taken {} on {}) into the {} database",
        restored.manifest.tables.len(),
        restored.manifest.schema_version,
        restored.manifest.created_at.to_rfc3339(),
        restored.manifest.source_backend,
        db.backend()
    );
    for t in &restored.manifest.tables {
        println!("  {:<32} {:>10}", t.name, t.rows);
    }
    Ok(true)
}

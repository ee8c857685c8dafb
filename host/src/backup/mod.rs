//! Backups of Keywarden's own database: CipherTrust's `database_backup` host operation
//! and `keywarden restore`. See `docs/backup.md`.

pub mod config;
pub mod format;
pub mod key;
pub mod operation;
pub mod restore;
pub mod sftp;
pub mod take;

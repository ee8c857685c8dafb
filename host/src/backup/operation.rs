//! CipherTrust's `database_backup`, a host operation: built into the server, not served
//! by a plugin, because it reads Keywarden's own database, which no sandbox may reach.
//!
//! Params (`database_backup_params`, or the reference's `cckm_database_backup_params`):
//! `backupKey` names the `[secrets]` entry holding the backup key (`key.rs`),
//! `description` goes into the backup's header, and `do_scp` uploads the file to the
//! `[backup.connections]` entry `connection` names (`sftp.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use keywarden_db::{Database, Job};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::BackupConfig;
use super::key::BackupKey;
use super::take;
use crate::runtime::capabilities::secrets::SecretResolver;

/// The operation's name.
pub const DATABASE_BACKUP: &str = "database_backup";

/// The params, as a job holds them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupParams {
    /// The `[secrets]` entry holding the backup key.
    #[serde(rename = "backupKey")]
    pub backup_key: String,
    /// A `[backup.connections]` entry (needed with `do_scp`).
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub do_scp: bool,
}

/// The params schema the API offers for the operation on this server: `backupKey` one of
/// the configured secrets, `connection` one of the configured connections and required
/// with `do_scp` (which is only offered when a connection exists). `None` when no secret
/// is configured (nothing could serve as the key).
pub fn params_schema(secrets: &[String], backup: &BackupConfig) -> Option<Value> {
    if secrets.is_empty() {
        return None;
    }
    let connections: Vec<&String> = backup.connections.keys().collect();
    let text = json!({"type": "string", "pattern": "^[^\\u0000]*$", "maxLength": 1024});
    let mut schema = json!({
        "type": "object",
        "properties": {
            "backupKey": {"type": "string", "enum": secrets,
                "description": "The [secrets] entry holding the backup key (an age identity or a passphrase of 16+ characters)"},
            "description": text,
        },
        "required": ["backupKey"],
        "additionalProperties": false,
    });
    if connections.is_empty() {
        schema["properties"]["do_scp"] = json!({"type": "boolean", "const": false});
    } else {
        schema["properties"]["do_scp"] = json!({"type": "boolean"});
        schema["properties"]["connection"] = json!({"type": "string", "enum": connections,
            "description": "The [backup.connections] entry to upload to"});
        schema["if"] = json!({"properties": {"do_scp": {"const": true}}, "required": ["do_scp"]});
        schema["then"] = json!({"required": ["connection"]});
    }
    Some(schema)
}

/// What a backup job did, for its record (no secret values).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub message: String,
    pub details: Value,
}

/// Takes the backup a job asks for and uploads it when asked.
pub async fn run(
    db: &dyn Database,
    backup: &BackupConfig,
    secrets: &dyn SecretResolver,
    job: &Job,
) -> Result<Outcome, String> {
    let params: BackupParams = serde_json::from_value(job.params.clone())
        .map_err(|e| format!("invalid database_backup params: {e}"))?;
    let value = secrets.resolve(&params.backup_key).ok_or_else(|| {
        format!(
            "secret {:?} (backupKey) has no value on this node",
            params.backup_key
        )
    })?;
    let key = BackupKey::parse(&value)
        .map_err(|e| format!("secret {:?} (backupKey): {e}", params.backup_key))?;
    drop(value);
    let connection = match (params.do_scp, &params.connection) {
        (false, _) => None,
        (true, None) => return Err("do_scp needs a connection".to_owned()),
        (true, Some(name)) => Some((
            name.clone(),
            backup.connections.get(name).cloned().ok_or_else(|| {
                format!("connection {name:?} is not in [backup.connections] on this node")
            })?,
        )),
    };
    let dir: PathBuf = backup
        .dir
        .clone()
        .ok_or("this node has no backup directory ([backup] dir)")?;
    let name = take::file_name(chrono::Utc::now(), &job.id.simple().to_string()[..12]);
    let taken = take::take(
        db,
        Arc::new(key),
        &dir,
        &name,
        params.description.as_deref().unwrap_or_default(),
        Some(job.id),
    )
    .await?;
    let rows: u64 = taken.manifest.tables.iter().map(|t| t.rows).sum();
    let mut details = json!({
        "file": taken.path.display().to_string(),
        "bytes": taken.bytes,
        "file_sha256": taken.file_sha256,
        "manifest": taken.manifest,
    });
    let mut message = format!(
        "backed up {} tables ({rows} rows, schema {}) to {} ({} bytes)",
        taken.manifest.tables.len(),
        taken.manifest.schema_version,
        taken.path.display(),
        taken.bytes
    );
    if let Some((name, connection)) = connection {
        let private = secrets.resolve(&connection.key_secret).ok_or_else(|| {
            format!(
                "the backup was written to {}, but secret {:?} (key of connection {name:?}) has no value on this node",
                taken.path.display(),
                connection.key_secret
            )
        })?;
        let remote = super::sftp::upload(&connection, &private, &taken.path)
            .await
            .map_err(|e| {
                format!(
                    "the backup was written to {}, but uploading it to connection {name:?} failed: {e}",
                    taken.path.display()
                )
            })?;
        details["uploaded"] = json!({
            "connection": name,
            "host": connection.host,
            "port": connection.port,
            "path": remote,
        });
        message.push_str(&format!(
            "; uploaded to {}:{remote} (connection {name})",
            connection.host
        ));
    }
    Ok(Outcome { message, details })
}

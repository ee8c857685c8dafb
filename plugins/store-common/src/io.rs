//! File access inside the sandbox with errors that say which file and why.

use std::io::ErrorKind;
use std::path::Path;

use keywarden_sdk::JobError;

/// The whole file; a missing file is an error naming it.
pub fn read_file(path: &str) -> Result<Vec<u8>, JobError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => JobError::failed(format!("the store file `{path}` does not exist")),
        _ => JobError::failed(format!("cannot read `{path}`: {e}")),
    })
}

/// The whole file, or `None` when it does not exist.
pub fn read_optional(path: &str) -> Result<Option<Vec<u8>>, JobError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(JobError::failed(format!("cannot read `{path}`: {e}"))),
    }
}

/// Replace `path` with `bytes`: written to a hidden file of its own next to it (a name no
/// other job uses), then renamed over it, so a failed write never leaves a half-written
/// store behind.
pub fn write_atomically(path: &str, bytes: &[u8]) -> Result<(), JobError> {
    let temp = sibling(path, &format!("{}.keywarden-tmp", unique()))?;
    let temp_text = temp.display().to_string();
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            write_error(path, &temp_text, &e)
        })
}

/// Replaces several files as one (a PEM store's certificate and its separate key): each
/// `Some(bytes)` is written, each `None` removed. A journal next to `anchor` (the store's
/// path) lists the backups of the files as they were while they are replaced, so an
/// interruption at any point (a time-out, the host killed between two renames) leaves the
/// previous set when [`recover_files`] runs, never a certificate with another's key.
pub fn replace_files(anchor: &str, changes: &[(&str, Option<&[u8]>)]) -> Result<(), JobError> {
    recover_files(anchor)?;
    let id = unique();
    let mut plan = Vec::with_capacity(changes.len());
    let cleanup = |plan: &[Planned]| {
        for p in plan {
            if let Some(t) = &p.temp {
                let _ = std::fs::remove_file(t);
            }
            if let Some(b) = &p.backup {
                let _ = std::fs::remove_file(b);
            }
        }
    };
    for (path, bytes) in changes {
        let mut planned = Planned {
            path: (*path).to_owned(),
            temp: None,
            backup: None,
        };
        let staged = (|| -> Result<(), JobError> {
            if let Some(bytes) = bytes {
                let temp = sibling(path, &format!("{id}.keywarden-tmp"))?;
                planned.temp = Some(temp.display().to_string());
                std::fs::write(&temp, bytes)
                    .map_err(|e| write_error(path, &temp.display().to_string(), &e))?;
            }
            if let Some(old) = read_optional(path)? {
                let backup = sibling(path, &format!("{id}.keywarden-bak"))?;
                planned.backup = Some(backup.display().to_string());
                std::fs::write(&backup, old)
                    .map_err(|e| write_error(path, &backup.display().to_string(), &e))?;
            }
            Ok(())
        })();
        plan.push(planned);
        if let Err(e) = staged {
            cleanup(&plan);
            return Err(e);
        }
    }
    // The commit point: from here on, an interruption rolls back to the backups.
    let journal = journal_path(anchor)?;
    let text = serde_json::to_vec(&plan).map_err(|e| JobError::failed(e.to_string()))?;
    if let Err(e) = write_atomically(&journal, &text) {
        cleanup(&plan);
        return Err(e);
    }
    for p in &plan {
        let applied = match &p.temp {
            Some(temp) => std::fs::rename(temp, &p.path),
            None => match std::fs::remove_file(&p.path) {
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if let Err(e) = applied {
            let error = write_error(&p.path, p.temp.as_deref().unwrap_or(&p.path), &e);
            recover_files(anchor)?;
            cleanup(&plan);
            return Err(error);
        }
    }
    remove_if_exists(&journal)?;
    cleanup(&plan);
    Ok(())
}

/// Whether an interrupted [`replace_files`] left its journal next to `anchor` (read
/// only: [`recover_files`] undoes it).
pub fn interrupted_write(anchor: &str) -> Result<bool, JobError> {
    Ok(read_optional(&journal_path(anchor)?)?.is_some())
}

/// Puts back the files an interrupted [`replace_files`] was replacing, as they were before
/// it (the journal next to `anchor` lists them); `true` when there was one to undo.
pub fn recover_files(anchor: &str) -> Result<bool, JobError> {
    let journal = journal_path(anchor)?;
    let Some(text) = read_optional(&journal)? else {
        return Ok(false);
    };
    let plan: Vec<Planned> = serde_json::from_slice(&text).map_err(|e| {
        JobError::failed(format!(
            "`{journal}` (the journal of an interrupted write) is unreadable: {e}; \
             check the store's files and remove it"
        ))
    })?;
    for p in &plan {
        match &p.backup {
            Some(backup) if Path::new(backup).exists() => {
                std::fs::rename(backup, &p.path).map_err(|e| write_error(&p.path, backup, &e))?
            }
            Some(_) => {
                return Err(JobError::failed(format!(
                    "`{journal}` names a backup of `{}` that is gone; check the store's files",
                    p.path
                )));
            }
            // The file did not exist before the interrupted write.
            None => remove_if_exists(&p.path)?,
        }
        if let Some(temp) = &p.temp {
            remove_if_exists(temp)?;
        }
    }
    remove_if_exists(&journal)?;
    keywarden_sdk::log::warn_with(
        "an interrupted write of the store was undone: its files are as they were before it",
        &[("store", &anchor)],
    );
    Ok(true)
}

/// One file of a [`replace_files`] and where its new and old contents are.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Planned {
    path: String,
    temp: Option<String>,
    backup: Option<String>,
}

fn journal_path(anchor: &str) -> Result<String, JobError> {
    Ok(sibling(anchor, "keywarden-journal")?.display().to_string())
}

/// `.<file name>.<suffix>` in the directory of `path`.
fn sibling(path: &str, suffix: &str) -> Result<std::path::PathBuf, JobError> {
    let target = Path::new(path);
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| JobError::failed(format!("`{path}` does not name a file")))?;
    Ok(target.with_file_name(format!(".{name}.{suffix}")))
}

/// 16 random hex digits: temporary names no other job picks.
fn unique() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    });
    hex::encode(bytes)
}

fn write_error(path: &str, via: &str, e: &std::io::Error) -> JobError {
    match e.kind() {
        ErrorKind::NotFound => JobError::failed(format!(
            "cannot write `{path}`: its directory does not exist"
        )),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => JobError::failed(format!(
            "cannot write `{path}`: the directory is granted read-only ({e})"
        )),
        _ => JobError::failed(format!("cannot write `{path}` (via {via}): {e}")),
    }
}

/// Delete `path` if it exists.
pub fn remove_if_exists(path: &str) -> Result<(), JobError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(JobError::failed(format!("cannot remove `{path}`: {e}"))),
    }
}

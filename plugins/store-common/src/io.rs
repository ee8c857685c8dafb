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

/// Replace `path` with `bytes`: written to a hidden file next to it, then renamed over
/// it, so a failed write never leaves a half-written store behind.
pub fn write_atomically(path: &str, bytes: &[u8]) -> Result<(), JobError> {
    let target = Path::new(path);
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| JobError::failed(format!("`{path}` does not name a file")))?;
    let temp = target.with_file_name(format!(".{name}.keywarden-tmp"));
    let temp_text = temp.display().to_string();
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, target))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            match e.kind() {
                ErrorKind::NotFound => JobError::failed(format!(
                    "cannot write `{path}`: its directory does not exist"
                )),
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => JobError::failed(
                    format!("cannot write `{path}`: the directory is granted read-only ({e})"),
                ),
                _ => JobError::failed(format!("cannot write `{path}` (via {temp_text}): {e}")),
            }
        })
}

/// Delete `path` if it exists.
pub fn remove_if_exists(path: &str) -> Result<(), JobError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(JobError::failed(format!("cannot remove `{path}`: {e}"))),
    }
}

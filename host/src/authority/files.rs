//! Files a CA keeps in the data dir.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to a file readable by the owner only, through a temporary file and
/// a rename, so a crash never leaves half a key behind and the secret is never
/// world-readable, even briefly.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    // NamedTempFile is created with mode 0600 on Unix.
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

//! Store files keep their permissions when a plugin rewrites them.
//!
//! A store plugin replaces a store by writing a new file next to it and renaming it over
//! the old one: the only atomic replace WASI offers. WASI cannot set permissions, so the
//! new file gets the server's default mode, and a private key kept `0600` would come back
//! readable by everyone. Before a job that writes a store runs, the executor notes the
//! modes of the files the store names (its path and, for PEM, `private_key_path`); after
//! the plugin returns it puts them back. A file the job created is made owner-only.

use std::path::{Component, Path, PathBuf};

use keywarden_store::CertificateStore;

use crate::config::DirGrant;

/// The store files of one writing job and the modes they had before it ran (`None`: the
/// file did not exist).
#[derive(Debug, Default)]
pub(crate) struct StoreFileModes {
    files: Vec<(PathBuf, Option<u32>)>,
}

impl StoreFileModes {
    /// Notes the current modes of `store`'s files, found on the host through the
    /// plugin's writable directory grants. Files outside every grant are skipped: the
    /// plugin cannot write them anyway.
    pub fn capture(store: &CertificateStore, dirs: &[DirGrant]) -> StoreFileModes {
        let key_path = store
            .properties
            .get("private_key_path")
            .and_then(serde_json::Value::as_str);
        let files = std::iter::once(store.store_path.as_str())
            .chain(key_path)
            .filter_map(|guest| host_path(guest, dirs))
            .map(|path| {
                let mode = current_mode(&path);
                (path, mode)
            })
            .collect();
        StoreFileModes { files }
    }

    /// Puts the noted modes back; makes files that did not exist before owner-only.
    pub fn restore(&self) {
        for (path, before) in &self.files {
            let Some(now) = current_mode(path) else {
                continue; // removed, or never made
            };
            let wanted = before.unwrap_or(now & !0o077);
            if wanted != now
                && let Err(e) = set_mode(path, wanted)
            {
                tracing::warn!(path = %path.display(), "restoring a store file's mode failed: {e}");
            }
        }
    }
}

/// The host path of `guest` under the most specific writable grant containing it;
/// `None` when no writable grant contains it or it climbs out with `..`.
fn host_path(guest: &str, dirs: &[DirGrant]) -> Option<PathBuf> {
    let guest = Path::new(guest);
    if guest
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    dirs.iter()
        .filter(|d| d.writable)
        .filter_map(|d| {
            let rest = guest.strip_prefix(&d.guest).ok()?;
            Some((d.guest.len(), d.host.join(rest)))
        })
        .max_by_key(|(specificity, _)| *specificity)
        .map(|(_, path)| path)
}

#[cfg(unix)]
fn current_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn current_mode(_: &Path) -> Option<u32> {
    None
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn grant(host: &Path, guest: &str, writable: bool) -> DirGrant {
        DirGrant {
            host: host.to_path_buf(),
            guest: guest.to_owned(),
            writable,
        }
    }

    #[test]
    fn guest_paths_map_through_the_most_specific_writable_grant() {
        let dirs = [
            grant(Path::new("/srv/all"), "/stores", true),
            grant(Path::new("/srv/web"), "/stores/web", true),
            grant(Path::new("/srv/ro"), "/readonly", false),
        ];
        assert_eq!(
            host_path("/stores/web/site.pem", &dirs),
            Some(PathBuf::from("/srv/web/site.pem"))
        );
        assert_eq!(
            host_path("/stores/db.p12", &dirs),
            Some(PathBuf::from("/srv/all/db.p12"))
        );
        assert_eq!(host_path("/readonly/a.pem", &dirs), None);
        assert_eq!(host_path("/stores/../etc/passwd", &dirs), None);
        assert_eq!(host_path("/storesX/a.pem", &dirs), None);
    }
}

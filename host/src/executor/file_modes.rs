//! Store files keep their permissions when a plugin rewrites them.
//!
//! A store plugin replaces a store by writing a new file next to it and renaming it over
//! the old one: the only atomic replace WASI offers. WASI cannot set permissions, so the
//! new file gets the server's default mode and group, and a private key kept `0640` for
//! group `ssl-cert` would come back with other permissions. Before a job that writes a
//! store runs, the executor notes the mode and group of the files the store names (its
//! path and, for PEM, `private_key_path`); after the plugin returns it puts them back. A
//! file the job created is made owner-only.
//!
//! The plugin controls what lies under its grants, symlinks included, so the host never
//! touches these files by path: it opens them beneath the grant's directory refusing every
//! symlink (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), checks that it got a
//! regular file, and changes that open file. Linux only; elsewhere modes are left alone.

use std::path::{Component, Path, PathBuf};

use keywarden_db::CertificateStore;

use crate::operator_config::DirGrant;

/// The store files of one writing job and their permissions before it ran.
#[derive(Debug, Default)]
pub(crate) struct StoreFileModes {
    files: Vec<StoreFile>,
}

#[derive(Debug)]
struct StoreFile {
    /// The grant's directory on the host, which the operator controls.
    grant_dir: PathBuf,
    /// The file's path beneath it, as the plugin named it.
    beneath: PathBuf,
    /// `None`: the file did not exist (or was not a regular file).
    before: Option<Perms>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Perms {
    mode: u32,
    gid: u32,
}

impl StoreFileModes {
    /// Notes the current permissions of `store`'s files, found on the host through the
    /// plugin's directory grants. Files under no writable grant are skipped: the plugin
    /// cannot write them anyway.
    pub fn capture(store: &CertificateStore, dirs: &[DirGrant]) -> StoreFileModes {
        let key_path = store
            .properties
            .get("private_key_path")
            .and_then(serde_json::Value::as_str);
        let files = std::iter::once(store.store_path.as_str())
            .chain(key_path)
            .filter_map(|guest| locate(guest, dirs))
            .map(|(grant_dir, beneath)| {
                let before = os::perms(&grant_dir, &beneath);
                StoreFile {
                    grant_dir,
                    beneath,
                    before,
                }
            })
            .collect();
        StoreFileModes { files }
    }

    /// Puts the noted permissions back; makes files that did not exist before owner-only.
    pub fn restore(&self) {
        for file in &self.files {
            if let Err(e) = os::restore(&file.grant_dir, &file.beneath, file.before) {
                tracing::warn!(
                    path = %file.grant_dir.join(&file.beneath).display(),
                    "restoring a store file's permissions failed: {e}"
                );
            }
        }
    }
}

/// The host directory of the grant WASI resolves `guest` through (the most specific
/// one containing it) and the path beneath it; `None` when that grant is read-only, no
/// grant contains `guest`, or it climbs with `..`.
fn locate(guest: &str, dirs: &[DirGrant]) -> Option<(PathBuf, PathBuf)> {
    let guest = Path::new(guest);
    if guest
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    let (grant, beneath) = dirs
        .iter()
        .filter_map(|d| Some((d, guest.strip_prefix(&d.guest).ok()?)))
        .max_by_key(|(d, _)| Path::new(&d.guest).components().count())?;
    (grant.writable && !beneath.as_os_str().is_empty())
        .then(|| (grant.host.clone(), beneath.to_path_buf()))
}

/// What the new permissions should be, given the file's old ones (`None`: it is new)
/// and its current ones.
fn wanted(before: Option<Perms>, now: Perms) -> Perms {
    match before {
        Some(before) => before,
        None => Perms {
            mode: now.mode & !0o077,
            gid: now.gid,
        },
    }
}

#[cfg(target_os = "linux")]
mod os {
    use std::os::fd::OwnedFd;
    use std::path::Path;

    use rustix::fs::{FileType, Gid, Mode, OFlags, ResolveFlags};

    use super::{Perms, wanted};

    /// The regular file `beneath` inside `grant_dir`, reached without following any
    /// symlink and without leaving the directory; `None` if there is no such file.
    fn open_beneath(grant_dir: &Path, beneath: &Path) -> Option<(OwnedFd, Perms)> {
        let dir = rustix::fs::open(
            grant_dir,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let file = rustix::fs::openat2(
            &dir,
            beneath,
            // NONBLOCK: a FIFO planted by the plugin must not hang the executor.
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let stat = rustix::fs::fstat(&file).ok()?;
        (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile).then_some((
            file,
            Perms {
                mode: stat.st_mode & 0o7777,
                gid: stat.st_gid,
            },
        ))
    }

    pub(super) fn perms(grant_dir: &Path, beneath: &Path) -> Option<Perms> {
        open_beneath(grant_dir, beneath).map(|(_, perms)| perms)
    }

    pub(super) fn restore(
        grant_dir: &Path,
        beneath: &Path,
        before: Option<Perms>,
    ) -> std::io::Result<()> {
        let Some((file, now)) = open_beneath(grant_dir, beneath) else {
            return Ok(()); // removed, never made, or not a plain file: nothing to guard
        };
        let mut target = wanted(before, now);
        if target.gid != now.gid
            && rustix::fs::fchown(&file, None, Some(Gid::from_raw(target.gid))).is_err()
        {
            // The old group cannot be given back: its permissions must not go to the
            // server's group instead.
            target.mode &= !0o070;
        }
        if target.mode != now.mode {
            rustix::fs::fchmod(&file, Mode::from_raw_mode(target.mode))?;
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use std::path::Path;

    use super::Perms;

    pub(super) fn perms(_: &Path, _: &Path) -> Option<Perms> {
        None
    }

    pub(super) fn restore(_: &Path, _: &Path, _: Option<Perms>) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;

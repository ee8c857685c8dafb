use std::os::unix::fs::PermissionsExt;

use super::*;

fn grant(host: &Path, guest: &str, writable: bool) -> DirGrant {
    DirGrant {
        host: host.to_path_buf(),
        guest: guest.to_owned(),
        writable,
    }
}

fn store(path: &str) -> CertificateStore {
    CertificateStore::new("acct", "web01", path, "PEM", chrono::Utc::now())
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What a store plugin does: a new file renamed over the old one.
fn rewrite(path: &Path) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, "new").unwrap();
    set_mode(&temp, 0o644);
    std::fs::rename(&temp, path).unwrap();
}

#[test]
fn guest_paths_map_through_the_grant_wasi_would_use() {
    let dirs = [
        grant(Path::new("/srv/all"), "/stores", true),
        grant(Path::new("/srv/web"), "/stores/web", true),
        grant(Path::new("/srv/ro"), "/stores/ro", false),
    ];
    let at = |guest| locate(guest, &dirs);
    assert_eq!(
        at("/stores/web/site.pem"),
        Some(("/srv/web".into(), "site.pem".into()))
    );
    assert_eq!(
        at("/stores/db.p12"),
        Some(("/srv/all".into(), "db.p12".into()))
    );
    // The read-only grant is the one WASI resolves through: not the writable parent.
    assert_eq!(at("/stores/ro/a.pem"), None);
    assert_eq!(at("/stores/../etc/passwd"), None);
    assert_eq!(at("/storesX/a.pem"), None);
    assert_eq!(at("/stores"), None);
}

#[test]
fn a_rewritten_store_gets_its_mode_back_and_a_new_one_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = [grant(dir.path(), "/stores", true)];
    let kept = dir.path().join("kept.pem");
    std::fs::write(&kept, "old").unwrap();
    set_mode(&kept, 0o640);

    let guard = StoreFileModes::capture(&store("/stores/kept.pem"), &dirs);
    rewrite(&kept);
    assert_eq!(mode(&kept), 0o644);
    guard.restore();
    assert_eq!(mode(&kept), 0o640);

    let guard = StoreFileModes::capture(&store("/stores/new.pem"), &dirs);
    rewrite(&dir.path().join("new.pem"));
    guard.restore();
    assert_eq!(mode(&dir.path().join("new.pem")), 0o600);
}

#[test]
fn symlinks_planted_by_the_plugin_are_never_followed() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("database");
    std::fs::write(&victim, "secret").unwrap();
    set_mode(&victim, 0o600);

    let dir = tempfile::tempdir().unwrap();
    let dirs = [grant(dir.path(), "/stores", true)];
    let store_file = dir.path().join("web.pem");
    std::fs::write(&store_file, "old").unwrap();
    set_mode(&store_file, 0o644);
    let guard = StoreFileModes::capture(&store("/stores/web.pem"), &dirs);
    // The plugin swaps the store for a link out of its grant, in both forms.
    std::fs::remove_file(&store_file).unwrap();
    std::os::unix::fs::symlink(&victim, &store_file).unwrap();
    guard.restore();
    assert_eq!(mode(&victim), 0o600, "chmod went through the symlink");

    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let nested = dir.path().join("sub").join("key.pem");
    std::fs::write(&nested, "old").unwrap();
    set_mode(&nested, 0o644);
    let guard = StoreFileModes::capture(&store("/stores/sub/key.pem"), &dirs);
    std::fs::remove_dir_all(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
    std::fs::rename(&victim, outside.path().join("key.pem")).unwrap();
    guard.restore();
    assert_eq!(mode(&outside.path().join("key.pem")), 0o600);
}

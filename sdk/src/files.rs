//! The directories the operator preopened for this plugin.
//!
//! Files are reached with `std::fs` on the paths the plugin sees (e.g. `/stores/a.p12`);
//! anything outside these directories does not exist for the plugin. Checking a path
//! against [`granted_directories`] first lets a plugin answer "outside the grant"
//! instead of the less helpful "no such file or directory".

use std::path::{Component, Path, PathBuf};

/// The guest paths of the preopened directories, e.g. `["/stores"]`.
pub fn granted_directories() -> Vec<String> {
    wasi::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_descriptor, path)| path)
        .collect()
}

/// `path` without `.` components, or `None` when it is relative or has a `..`
/// component (which could climb out of a granted directory).
pub fn normalize(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Whether the absolute `path` lies inside one of `granted` (guest paths).
pub fn is_inside(path: &str, granted: &[String]) -> bool {
    let Some(path) = normalize(path) else {
        return false;
    };
    granted
        .iter()
        .filter_map(|dir| normalize(dir))
        .any(|dir| path.starts_with(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_and_outside() {
        let granted = vec!["/stores".to_owned()];
        assert!(is_inside("/stores/a.p12", &granted));
        assert!(is_inside("/stores/./sub/a.p12", &granted));
        assert!(is_inside("/stores", &granted));
        assert!(!is_inside("/storesx/a.p12", &granted));
        assert!(!is_inside("/stores/../etc/passwd", &granted));
        assert!(!is_inside("stores/a.p12", &granted));
        assert!(!is_inside("/etc/passwd", &granted));
    }
}

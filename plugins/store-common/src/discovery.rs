//! Discovery: walk the requested directories (inside the grant) and return the files
//! that are stores of the plugin's type.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};

use crate::format::StoreFormat;
use crate::open::checked_path;

/// How much of a file Discovery reads to recognise its type.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Paths of the stores found, sorted.
///
/// * `directories`: where to start (each inside a granted directory; empty means
///   every granted directory);
/// * `extensions`: file extensions, with or without the dot, case-insensitive (empty
///   means the type's defaults);
/// * `ignored_directories`: directory names (or full paths) not to descend into;
/// * `patterns`: substrings, any of which the file name must contain (empty: all).
///
/// Files whose content is not a store of this type are left out.
pub fn discover<F: StoreFormat>(request: &DiscoveryRequest) -> Result<Vec<String>, JobError> {
    let roots: Vec<String> = if request.directories.is_empty() {
        keywarden_sdk::files::granted_directories()
    } else {
        request
            .directories
            .iter()
            .enumerate()
            .map(|(i, dir)| checked_path(dir, &format!("request.directories[{i}]")))
            .collect::<Result<_, _>>()?
    };
    let extensions: Vec<String> = if request.extensions.is_empty() {
        F::DEFAULT_EXTENSIONS
            .iter()
            .map(|e| (*e).to_owned())
            .collect()
    } else {
        request
            .extensions
            .iter()
            .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
            .collect()
    };
    let ignored: Vec<&str> = request
        .ignored_directories
        .iter()
        .map(|d| d.trim().trim_end_matches('/'))
        .filter(|d| !d.is_empty())
        .collect();
    let patterns: Vec<String> = request
        .patterns
        .iter()
        .map(|p| p.to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();

    let mut found = BTreeSet::new();
    for (i, root) in roots.iter().enumerate() {
        let metadata = std::fs::metadata(root)
            .map_err(|e| JobError::failed(format!("cannot search `{root}`: {e}")))?;
        if !metadata.is_dir() {
            return Err(JobError::invalid_param(
                format!("request.directories[{i}]"),
                format!("`{root}` is not a directory"),
            ));
        }
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let listing = match std::fs::read_dir(&dir) {
                Ok(listing) => listing,
                Err(e) => {
                    log::warn_with("cannot list a directory", &[("dir", &dir), ("error", &e)]);
                    continue;
                }
            };
            for item in listing.flatten() {
                let Some(name) = item.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = format!("{}/{}", dir.trim_end_matches('/'), name);
                let Ok(kind) = item.file_type() else { continue };
                if kind.is_dir() {
                    if !ignored.iter().any(|d| *d == name || *d == path) {
                        pending.push(path);
                    }
                    continue;
                }
                // Symlinks are followed to files but never into directories (no loops).
                let is_file = kind.is_file()
                    || (kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
                if is_file
                    && matches_name(&name, &extensions, &patterns)
                    && has_store_content::<F>(&path)
                {
                    found.insert(path);
                }
            }
        }
        progress::report(i as u64 + 1, roots.len() as u64);
    }
    Ok(found.into_iter().collect())
}

fn matches_name(name: &str, extensions: &[String], patterns: &[String]) -> bool {
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !extensions.contains(&extension) {
        return false;
    }
    let lower = name.to_lowercase();
    patterns.is_empty() || patterns.iter().any(|p| lower.contains(p.as_str()))
}

fn has_store_content<F: StoreFormat>(path: &str) -> bool {
    let mut head = Vec::new();
    match std::fs::File::open(path) {
        Ok(file) => file.take(SNIFF_BYTES).read_to_end(&mut head).is_ok() && F::looks_like(&head),
        Err(_) => false,
    }
}

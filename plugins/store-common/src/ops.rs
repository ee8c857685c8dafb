//! Inventory and Management (Add, Remove, Create) over any [`StoreFormat`], with the
//! same overwrite rules for every store type.

use keywarden_sdk::log;
use keywarden_sdk::prelude::*;

use crate::certs::{parse_certificate, subject_of};
use crate::entry::{Entry, KeyMaterial};
use crate::format::StoreFormat;
use crate::io::read_optional;
use crate::keys::key_matches_certificate;
use crate::open::OpenStore;

/// Every entry of the store.
pub fn inventory<F: StoreFormat>(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
    if !exists(&store.path)? {
        return Err(JobError::failed(format!(
            "the store file `{}` does not exist",
            store.path
        )));
    }
    F::load(store)
}

/// Whether the store's file is there.
pub fn exists(path: &str) -> Result<bool, JobError> {
    Ok(read_optional(path)?.is_some())
}

/// Check what Add was given: an alias, parseable certificates, a PKCS#8 key that
/// belongs to the leaf.
pub fn validate_new_entry(entry: &NewEntry) -> Result<Entry, JobError> {
    if entry.alias.trim().is_empty() {
        return Err(JobError::invalid_param("entry.alias", "the alias is empty"));
    }
    if entry.chain.is_empty() {
        return Err(JobError::invalid_param(
            "entry.chain",
            "at least the leaf certificate is needed",
        ));
    }
    for (i, der) in entry.chain.iter().enumerate() {
        parse_certificate(der, &format!("entry.chain[{i}]"))
            .map_err(|e| JobError::invalid_param(format!("entry.chain[{i}]"), e.to_string()))?;
    }
    if let Some(key) = &entry.private_key {
        let matches = key_matches_certificate(key, &entry.chain[0])
            .map_err(|e| JobError::invalid_param("entry.private-key", e.to_string()))?;
        if !matches {
            return Err(JobError::invalid_param(
                "entry.private-key",
                "the private key does not belong to the leaf certificate (entry.chain[0])",
            ));
        }
    }
    Ok(Entry {
        alias: entry.alias.trim().to_owned(),
        chain: entry.chain.clone(),
        key: entry.private_key.clone().map(KeyMaterial::Pkcs8),
        created_ms: None,
    })
}

/// Where an entry under some alias would go in a store: the entries as they are and
/// what installing it replaces, under the overwrite rules (shared by Add and
/// Reenrollment, and by their dry runs, so a dry run answers what a real run would do).
pub struct Placement {
    /// Whether the store's file exists (else installing creates it).
    pub existed: bool,
    /// The store's entries now.
    pub entries: Vec<Entry>,
    /// The index of the entry with the same alias, if there is one.
    pub position: Option<usize>,
    /// The aliases installing replaces.
    pub replaced: Vec<String>,
}

/// Where `alias` would be installed, or why it may not be: it exists and `overwrite` is
/// not set, the store is full, or the store is missing and `create_if_missing` is not set.
pub fn place<F: StoreFormat>(
    store: &OpenStore,
    alias: &str,
    overwrite: bool,
    create_if_missing: bool,
) -> Result<Placement, JobError> {
    let existed = exists(&store.path)?;
    if !existed && !create_if_missing {
        return Err(JobError::failed(format!(
            "the store `{}` does not exist; set create-if-missing to create it",
            store.path
        )));
    }
    let entries = if existed {
        F::load_for_update(store)?
    } else {
        Vec::new()
    };
    let key = F::alias_key(alias);
    let position = entries.iter().position(|e| F::alias_key(&e.alias) == key);
    let mut replaced = Vec::new();
    if let Some(i) = position {
        if !overwrite {
            return Err(JobError::failed(format!(
                "the alias `{alias}` already exists in `{}`; set overwrite to replace it",
                store.path
            )));
        }
        replaced.push(entries[i].alias.clone());
    } else if let Some(capacity) = F::capacity(store)
        && entries.len() >= capacity
    {
        let held: Vec<&str> = entries.iter().map(|e| e.alias.as_str()).collect();
        if !overwrite {
            return Err(JobError::failed(format!(
                "`{}` holds one certificate only and already has `{}`; set overwrite to replace it",
                store.path,
                held.join("`, `")
            )));
        }
        replaced.extend(held.iter().map(|a| (*a).to_owned()));
    }
    Ok(Placement {
        existed,
        entries,
        position,
        replaced,
    })
}

/// Install `entry`, following the overwrite rules; the store is created first when it
/// is missing and `create_if_missing` is set. A `dry_run` writes nothing and answers
/// what it would have done (`dry_run: true` in the details).
pub fn add<F: StoreFormat>(
    store: &OpenStore,
    entry: Entry,
    overwrite: bool,
    create_if_missing: bool,
    dry_run: bool,
) -> Result<Outcome, JobError> {
    F::check_entry(store, &entry)?;
    let Placement {
        existed,
        mut entries,
        position,
        replaced,
    } = place::<F>(store, &entry.alias, overwrite, create_if_missing)?;
    let alias = entry.alias.clone();
    let subject = subject_of(&entry.chain[0]);
    let has_key = entry.key.is_some();
    let verb = if replaced.is_empty() {
        "add"
    } else {
        "replace"
    };
    let details = json!({
        "alias": alias,
        "store": store.path,
        "subject": subject,
        "has_private_key": has_key,
        "replaced": replaced,
        "store_created": !existed,
    });
    if dry_run {
        return Ok(would(
            format!("would {verb} `{alias}` in `{}`", store.path),
            details,
        ));
    }
    match position {
        Some(i) => entries[i] = entry,
        None if replaced.is_empty() => entries.push(entry),
        // A single-certificate store: the new entry replaces what it held.
        None => entries = vec![entry],
    }
    F::save(store, &entries)?;
    log::info_with(
        "installed an entry",
        &[
            ("alias", &alias),
            ("store", &store.path),
            ("subject", &subject),
        ],
    );
    Ok(Outcome::success(format!("{verb}d `{alias}` in `{}`", store.path)).with_details(details))
}

/// What a dry run answers: `message` prefixed with "dry run", `details` with
/// `dry_run: true`.
pub fn would(message: String, mut details: Value) -> Outcome {
    log::info_with("dry run: nothing written", &[("would", &message)]);
    if let Some(d) = details.as_object_mut() {
        d.insert("dry_run".into(), json!(true));
    }
    Outcome::success(format!("dry run: {message}; nothing was changed")).with_details(details)
}

/// Remove the entry `alias`; a missing alias is an error. A `dry_run` writes nothing.
pub fn remove<F: StoreFormat>(
    store: &OpenStore,
    alias: &str,
    dry_run: bool,
) -> Result<Outcome, JobError> {
    if !exists(&store.path)? {
        return Err(JobError::failed(format!(
            "the store file `{}` does not exist",
            store.path
        )));
    }
    let mut entries = F::load_for_update(store)?;
    let key = F::alias_key(alias);
    let Some(i) = entries.iter().position(|e| F::alias_key(&e.alias) == key) else {
        let known: Vec<&str> = entries.iter().map(|e| e.alias.as_str()).collect();
        return Err(JobError::failed(format!(
            "the alias `{alias}` is not in `{}` (it holds: {})",
            store.path,
            if known.is_empty() {
                "nothing".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let removed = entries.remove(i);
    if dry_run {
        return Ok(would(
            format!("would remove `{}` from `{}`", removed.alias, store.path),
            json!({"alias": removed.alias, "store": store.path, "remaining": entries.len()}),
        ));
    }
    F::save(store, &entries)?;
    log::info_with(
        "removed an entry",
        &[("alias", &removed.alias), ("store", &store.path)],
    );
    Ok(
        Outcome::success(format!("removed `{}` from `{}`", removed.alias, store.path))
            .with_details(json!({
                "alias": removed.alias,
                "store": store.path,
                "remaining": entries.len(),
            })),
    )
}

/// Create an empty store; an existing store is left as it is. A `dry_run` writes nothing.
pub fn create<F: StoreFormat>(store: &OpenStore, dry_run: bool) -> Result<Outcome, JobError> {
    if exists(&store.path)? {
        // Reading it proves the password is right and the file is a store of this type.
        let entries = F::load(store)?;
        return Ok(
            Outcome::success(format!("`{}` already exists; left unchanged", store.path))
                .with_details(
                    json!({"store": store.path, "created": false, "entries": entries.len()}),
                ),
        );
    }
    if dry_run {
        return Ok(would(
            format!("would create `{}`", store.path),
            json!({"store": store.path, "created": true}),
        ));
    }
    F::save(store, &[])?;
    log::info_with("created a store", &[("store", &store.path)]);
    Ok(Outcome::success(format!("created `{}`", store.path))
        .with_details(json!({"store": store.path, "created": true})))
}

//! What each store type implements: reading and writing its files.

use keywarden_sdk::JobError;
use serde_json::{Value, json};

use crate::entry::Entry;
use crate::open::OpenStore;

/// A certificate store file format. The shared operations ([`StorePlugin`](crate::StorePlugin))
/// read the whole store with [`StoreFormat::load`], change the entries and write them
/// back with [`StoreFormat::save`], which must replace the files atomically.
pub trait StoreFormat: 'static {
    /// The store type this format serves, as in the operations' target (`PEM`).
    const STORE_TYPE: &'static str;
    /// File extensions Discovery looks for when the request names none.
    const DEFAULT_EXTENSIONS: &'static [&'static str];
    /// Whether the store cannot be read or written without a password.
    const NEEDS_PASSWORD: bool;
    /// One paragraph for operators, shown in the manifest.
    const DESCRIPTION: &'static str;

    /// Whether `bytes` (the start of a file) look like a store of this type; used by
    /// Discovery to leave out files that merely have a matching extension.
    fn looks_like(bytes: &[u8]) -> bool;

    /// The form of an alias used to compare aliases (JKS aliases are case-insensitive).
    fn alias_key(alias: &str) -> String {
        alias.to_owned()
    }

    /// How many entries the store can hold (a single-certificate PEM file holds one).
    fn capacity(store: &OpenStore) -> Option<usize> {
        let _ = store;
        None
    }

    /// Refuse an entry the store cannot hold (e.g. a private key in a trust store).
    fn check_entry(store: &OpenStore, entry: &Entry) -> Result<(), JobError> {
        let _ = (store, entry);
        Ok(())
    }

    /// JSON Schema of `store.properties` for this type, shown in the manifest.
    fn properties_schema() -> Value {
        json!({"type": "object", "additionalProperties": false})
    }

    /// Read every entry of an existing store.
    fn load(store: &OpenStore) -> Result<Vec<Entry>, JobError>;

    /// Read every entry of an existing store that is about to be rewritten; refuse
    /// stores holding what [`StoreFormat::save`] could not write back.
    fn load_for_update(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
        Self::load(store)
    }

    /// Write the store with exactly `entries` (atomically: readers never see half a file).
    fn save(store: &OpenStore, entries: &[Entry]) -> Result<(), JobError>;
}

//! `jks-store`: Java KeyStore (JKS) files, read and written by the plugin itself (see
//! [`jks`]) so no Java is needed inside the sandbox.
//!
//! The store password comes from the secret the store record names; it checks the
//! file's integrity digest and protects the keys this plugin writes (key password =
//! store password, as keytool does by default). Keys already in the file stay as they
//! are, whatever password protects them. Aliases are case-insensitive and written in
//! lower case, like keytool.

mod jks;

use std::time::{SystemTime, UNIX_EPOCH};

use keywarden_sdk::JobError;
use store_common::{Entry, KeyMaterial, OpenStore, StoreFormat, StorePlugin};

use jks::JksEntry;

/// The JKS store type.
pub struct JksFormat;

impl StoreFormat for JksFormat {
    const STORE_TYPE: &'static str = "JKS";
    const DEFAULT_EXTENSIONS: &'static [&'static str] = &["jks", "keystore", "ks"];
    const NEEDS_PASSWORD: bool = true;
    const DESCRIPTION: &'static str = "Java KeyStore (JKS) files: Inventory, Management \
        (Add/Remove/Create), Discovery and Reenrollment with the key generated inside the \
        sandbox. The store password comes from the secret named in the store record.";

    fn looks_like(bytes: &[u8]) -> bool {
        bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED])
    }

    fn alias_key(alias: &str) -> String {
        alias.to_lowercase()
    }

    fn load(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
        let password = store.required_password()?;
        let bytes = store_common::read_file(&store.path)?;
        let entries = jks::read(&bytes, password)
            .map_err(|e| JobError::failed(format!("`{}`: {e}", store.path)))?;
        Ok(entries
            .into_iter()
            .map(|entry| match entry {
                JksEntry::PrivateKey {
                    alias,
                    created_ms,
                    protected_key,
                    chain,
                } => Entry {
                    alias,
                    chain,
                    key: Some(KeyMaterial::Sealed(protected_key)),
                    created_ms: Some(created_ms),
                },
                JksEntry::Certificate {
                    alias,
                    created_ms,
                    cert,
                } => Entry {
                    alias,
                    chain: vec![cert],
                    key: None,
                    created_ms: Some(created_ms),
                },
            })
            .collect())
    }

    fn save(store: &OpenStore, entries: &[Entry]) -> Result<(), JobError> {
        let password = store.required_password()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let alias = entry.alias.to_lowercase();
            let created_ms = entry.created_ms.unwrap_or(now);
            out.push(match &entry.key {
                None => JksEntry::Certificate {
                    alias,
                    created_ms,
                    cert: entry.chain.first().cloned().ok_or_else(|| {
                        JobError::failed(format!("the entry `{}` has no certificate", entry.alias))
                    })?,
                },
                Some(key) => JksEntry::PrivateKey {
                    alias,
                    created_ms,
                    protected_key: match key {
                        KeyMaterial::Sealed(sealed) => sealed.clone(),
                        KeyMaterial::Pkcs8(pkcs8) => jks::protect_key(pkcs8, password)
                            .map_err(|e| JobError::failed(format!("protecting the key: {e}")))?,
                    },
                    chain: entry.chain.clone(),
                },
            });
        }
        store_common::write_atomically(&store.path, &jks::write(&out, password))
    }
}

keywarden_sdk::export_plugin!(StorePlugin<JksFormat>);

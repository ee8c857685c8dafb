//! `pem-store`: certificate stores in PEM files.
//!
//! Two layouts, chosen by the store's `properties`:
//!
//! * a single-certificate store (the default): the file holds one certificate, its
//!   chain after it, and its private key, either in the same file or in a separate
//!   file (`private_key_path`). This is what web servers read.
//! * a trust store (`"trust_store": true`): a bundle of CA certificates, each its own
//!   entry, without keys.
//!
//! An entry's alias is written as a `friendlyName` bag attribute above its certificate,
//! the way `openssl pkcs12 -out` annotates PEM output; certificates without one are
//! listed under their SHA-1 thumbprint. With a `password-secret`, keys are written as
//! encrypted PKCS#8 (PBES2, AES-256-CBC) and encrypted keys are read.

mod pem;

use keywarden_sdk::JobError;
use serde_json::{Value, json};
use store_common::{Entry, KeyMaterial, OpenStore, StoreFormat, StorePlugin};

/// The PEM store type.
pub struct PemFormat;

/// The `properties` this plugin understands, digested.
struct Layout {
    key_path: Option<String>,
    trust_store: bool,
    include_chain: bool,
}

impl Layout {
    fn of(store: &OpenStore) -> Result<Self, JobError> {
        if let Some(object) = store.properties.as_object() {
            for name in object.keys() {
                if !["private_key_path", "trust_store", "include_chain"].contains(&name.as_str()) {
                    return Err(JobError::invalid_param(
                        format!("store.properties.{name}"),
                        "unknown property; PEM stores take private_key_path, trust_store and include_chain",
                    ));
                }
            }
        }
        let key_path = store
            .property_str("private_key_path")?
            .map(|p| store_common::checked_path(p, "store.properties.private_key_path"))
            .transpose()?;
        let trust_store = store.property_bool("trust_store", false)?;
        if trust_store && key_path.is_some() {
            return Err(JobError::invalid_param(
                "store.properties.private_key_path",
                "a trust store holds no private keys",
            ));
        }
        Ok(Self {
            key_path,
            trust_store,
            include_chain: store.property_bool("include_chain", true)?,
        })
    }
}

impl StoreFormat for PemFormat {
    const STORE_TYPE: &'static str = "PEM";
    const DEFAULT_EXTENSIONS: &'static [&'static str] = &["pem", "crt", "cer"];
    const NEEDS_PASSWORD: bool = false;
    const DESCRIPTION: &'static str = "Certificate stores in PEM files: a certificate with \
        its chain and private key (in the same file or a separate key file), or a trust \
        store bundle of CA certificates. Inventory, Management (Add/Remove/Create), \
        Discovery and Reenrollment with the key generated inside the sandbox.";

    fn looks_like(bytes: &[u8]) -> bool {
        bytes
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    }

    fn capacity(store: &OpenStore) -> Option<usize> {
        match Layout::of(store) {
            Ok(layout) if layout.trust_store => None,
            _ => Some(1),
        }
    }

    fn check_entry(store: &OpenStore, entry: &Entry) -> Result<(), JobError> {
        let layout = Layout::of(store)?;
        if layout.trust_store && entry.key.is_some() {
            return Err(JobError::invalid_param(
                "entry.private-key",
                "this PEM store is a trust store (properties.trust_store) and holds no private keys",
            ));
        }
        Ok(())
    }

    fn properties_schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "private_key_path": {
                    "type": "string",
                    "description": "Path (inside a granted directory) of a separate file \
                        holding the private key. Without it the key is read from, and \
                        written into, the store file itself."
                },
                "trust_store": {
                    "type": "boolean",
                    "default": false,
                    "description": "The file is a bundle of trusted certificates: every \
                        certificate is an entry of its own and no keys are allowed. \
                        Otherwise the file holds one certificate (leaf first, then its chain)."
                },
                "include_chain": {
                    "type": "boolean",
                    "default": true,
                    "description": "Write the chain after the leaf certificate when adding \
                        (single-certificate stores)."
                }
            }
        })
    }

    fn load(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
        let layout = Layout::of(store)?;
        let text = store_common::read_file(&store.path)?;
        let blocks = pem::parse(&text, &store.path)?;
        let password = store.password.as_deref();
        let mut certs = Vec::new();
        let mut keys = Vec::new();
        for block in blocks {
            if block.label == "CERTIFICATE" {
                certs.push((block.friendly_name, block.der));
            } else if let Some(key) = store_common::to_pkcs8(&block.label, &block.der, password)? {
                keys.push(key);
            }
        }
        if layout.trust_store {
            if !keys.is_empty() {
                return Err(JobError::failed(format!(
                    "`{}` is configured as a trust store but holds a private key",
                    store.path
                )));
            }
            return Ok(certs
                .into_iter()
                .map(|(name, der)| Entry {
                    alias: name.unwrap_or_else(|| store_common::thumbprint(&der)),
                    chain: vec![der],
                    key: None,
                    created_ms: None,
                })
                .collect());
        }
        if let Some(key_path) = &layout.key_path
            && let Some(key_text) = store_common::read_optional(key_path)?
        {
            for block in pem::parse(&key_text, key_path)? {
                if let Some(key) = store_common::to_pkcs8(&block.label, &block.der, password)? {
                    keys.push(key);
                }
            }
        }
        if keys.len() > 1 {
            return Err(JobError::failed(format!(
                "`{}` holds {} private keys; a PEM certificate store holds one",
                store.path,
                keys.len()
            )));
        }
        let key = keys.pop();
        if certs.is_empty() {
            return match key {
                Some(_) => Err(JobError::failed(format!(
                    "`{}` holds a private key but no certificate",
                    store.path
                ))),
                None => Ok(Vec::new()),
            };
        }
        // The leaf is the certificate of the key; without a key, the first one.
        let leaf = match &key {
            Some(key) => {
                let mut found = None;
                for (i, (_, der)) in certs.iter().enumerate() {
                    if store_common::key_matches_certificate(key, der)? {
                        found = Some(i);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    JobError::failed(format!(
                        "the private key in `{}` belongs to none of its certificates",
                        layout.key_path.as_deref().unwrap_or(&store.path)
                    ))
                })?
            }
            None => 0,
        };
        let (name, leaf_der) = certs.remove(leaf);
        let alias = name.unwrap_or_else(|| store_common::thumbprint(&leaf_der));
        let mut chain = vec![leaf_der];
        chain.extend(certs.into_iter().map(|(_, der)| der));
        Ok(vec![Entry {
            alias,
            chain,
            key: key.map(KeyMaterial::Pkcs8),
            created_ms: None,
        }])
    }

    fn save(store: &OpenStore, entries: &[Entry]) -> Result<(), JobError> {
        let layout = Layout::of(store)?;
        let mut out = String::new();
        let mut key_text = String::new();
        for entry in entries {
            let chain = if layout.trust_store || !layout.include_chain {
                &entry.chain[..1]
            } else {
                &entry.chain[..]
            };
            for (i, der) in chain.iter().enumerate() {
                let name = (i == 0 && entry.alias != store_common::thumbprint(der))
                    .then_some(entry.alias.as_str());
                out.push_str(&pem::certificate(der, name)?);
            }
            match &entry.key {
                Some(KeyMaterial::Pkcs8(key)) => {
                    key_text.push_str(&pem::private_key(key, store.password.as_deref())?)
                }
                Some(KeyMaterial::Sealed(_)) => {
                    return Err(JobError::failed(
                        "a sealed key cannot be written to a PEM file",
                    ));
                }
                None => {}
            }
        }
        match &layout.key_path {
            // The certificate and its key change together or not at all.
            Some(key_path) => {
                let key = (!key_text.is_empty()).then_some(key_text.as_bytes());
                store_common::replace_files(
                    &store.path,
                    &[(key_path, key), (&store.path, Some(out.as_bytes()))],
                )
            }
            None => {
                out.push_str(&key_text);
                store_common::write_atomically(&store.path, out.as_bytes())
            }
        }
    }
}

keywarden_sdk::export_plugin!(StorePlugin<PemFormat>);

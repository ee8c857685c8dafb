//! `pkcs12-store`: PKCS#12 (`.p12`, `.pfx`) files, through the `p12-keystore` crate.
//!
//! Reads modern files (PBES2/AES, HMAC-SHA-256) and legacy ones (RC2/3DES, SHA-1 MAC,
//! `openssl pkcs12 -legacy`); writes the modern form, which current OpenSSL and Java
//! read. Key entries are matched to their certificates by `localKeyId`, their chains by
//! issuer; certificates that are not part of a key's chain are trusted-certificate
//! entries (written with Java's trusted-certificate attribute, so keytool lists them
//! as `trustedCertEntry`). The alias is the `friendlyName`, else the subject.

use keywarden_sdk::JobError;
use p12_keystore::{
    Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain, error::Error as P12Error,
};
use store_common::{Entry, KeyMaterial, OpenStore, StoreFormat, StorePlugin};

/// The PKCS12 store type.
pub struct Pkcs12Format;

fn read_archive(store: &OpenStore) -> Result<p12_keystore::Pkcs12Archive, JobError> {
    let password = store.required_password()?;
    let bytes = store_common::read_file(&store.path)?;
    p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, password).map_err(|e| {
        JobError::failed(match e {
            P12Error::MacError(_) => format!(
                "`{}`: the store password is wrong (the PKCS#12 integrity check failed)",
                store.path
            ),
            other => format!("`{}` is not a readable PKCS#12 file: {other}", store.path),
        })
    })
}

fn entries_of(archive: p12_keystore::Pkcs12Archive) -> Vec<Entry> {
    let certs = archive.certs;
    let mut in_chain = vec![false; certs.len()];
    let mut entries = Vec::new();
    for key in archive.keys {
        let leaf = key.local_key_id.as_ref().and_then(|id| {
            certs
                .iter()
                .position(|c| c.local_key_id.as_deref() == Some(id.0.as_slice()))
        });
        let mut chain = Vec::new();
        if let Some(mut current) = leaf {
            in_chain[current] = true;
            chain.push(certs[current].cert.as_der().to_vec());
            // Follow issuers; stop at a self-signed certificate or a loop.
            while certs[current].cert.issuer() != certs[current].cert.subject() {
                let Some(next) = certs.iter().position(|c| {
                    c.cert.subject() == certs[current].cert.issuer()
                        && !chain.iter().any(|d| d.as_slice() == c.cert.as_der())
                }) else {
                    break;
                };
                in_chain[next] = true;
                chain.push(certs[next].cert.as_der().to_vec());
                current = next;
            }
        }
        let alias = key
            .friendly_name
            .clone()
            .or_else(|| leaf.and_then(|i| certs[i].friendly_name.clone()))
            .or_else(|| leaf.map(|i| certs[i].cert.subject().to_owned()))
            .unwrap_or_else(|| format!("key-{}", entries.len() + 1));
        entries.push(Entry {
            alias,
            chain,
            key: Some(KeyMaterial::Pkcs8(key.key.as_der().to_vec())),
            created_ms: None,
        });
    }
    for (i, cert) in certs.into_iter().enumerate() {
        if in_chain[i] && !cert.trusted {
            continue;
        }
        entries.push(Entry {
            alias: cert
                .friendly_name
                .unwrap_or_else(|| cert.cert.subject().to_owned()),
            chain: vec![cert.cert.as_der().to_vec()],
            key: None,
            created_ms: None,
        });
    }
    entries
}

impl StoreFormat for Pkcs12Format {
    const STORE_TYPE: &'static str = "PKCS12";
    const DEFAULT_EXTENSIONS: &'static [&'static str] = &["p12", "pfx"];
    const NEEDS_PASSWORD: bool = true;
    const DESCRIPTION: &'static str = "PKCS#12 (.p12/.pfx) files: Inventory, Management \
        (Add/Remove/Create), Discovery and Reenrollment with the key generated inside the \
        sandbox. The store password comes from the secret named in the store record.";

    fn looks_like(bytes: &[u8]) -> bool {
        // A DER SEQUENCE holding INTEGER 3 (the PFX version) right after its length.
        let Some((&0x30, rest)) = bytes.split_first() else {
            return false;
        };
        let skip = match rest.first() {
            Some(len) if len & 0x80 == 0 => 1,
            Some(len) => 1 + usize::from(len & 0x7F),
            None => return false,
        };
        rest.get(skip..skip + 3) == Some(&[0x02, 0x01, 0x03][..])
    }

    fn load(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
        Ok(entries_of(read_archive(store)?))
    }

    fn load_for_update(store: &OpenStore) -> Result<Vec<Entry>, JobError> {
        let archive = read_archive(store)?;
        if !archive.secrets.is_empty() {
            return Err(JobError::failed(format!(
                "`{}` holds secret-key entries, which this plugin cannot carry over; \
                 it is left unchanged",
                store.path
            )));
        }
        if archive.keys.iter().any(|k| k.local_key_id.is_none()) && archive.keys.len() > 1 {
            return Err(JobError::failed(format!(
                "`{}` holds several keys without localKeyId; it is left unchanged",
                store.path
            )));
        }
        Ok(entries_of(archive))
    }

    fn save(store: &OpenStore, entries: &[Entry]) -> Result<(), JobError> {
        let password = store.required_password()?;
        let bad = |e: P12Error| JobError::failed(format!("encoding the PKCS#12 store: {e}"));
        let mut keystore = KeyStore::new();
        for entry in entries {
            let chain = entry
                .chain
                .iter()
                .map(|der| Certificate::from_der(der).map_err(bad))
                .collect::<Result<Vec<_>, _>>()?;
            let value = match &entry.key {
                Some(KeyMaterial::Pkcs8(key)) => {
                    let key = PrivateKey::from_der(key).map_err(bad)?;
                    let local_key_id = store_common::thumbprint(&entry.chain[0]).into_bytes();
                    KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, chain))
                }
                Some(KeyMaterial::Sealed(_)) => {
                    return Err(JobError::failed(
                        "a sealed key cannot be written to PKCS#12",
                    ));
                }
                None => KeyStoreEntry::Certificate(chain.into_iter().next().ok_or_else(|| {
                    JobError::failed(format!("the entry `{}` has no certificate", entry.alias))
                })?),
            };
            keystore.add_entry(&entry.alias, value);
        }
        let bytes = keystore.writer(password).write().map_err(bad)?;
        store_common::write_atomically(&store.path, &bytes)
    }
}

keywarden_sdk::export_plugin!(StorePlugin<Pkcs12Format>);

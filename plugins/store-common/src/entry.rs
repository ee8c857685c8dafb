//! One entry of a store as the plugins hold it between reading and writing the file.

use keywarden_sdk::prelude::CertificateEntry;

/// A private key, as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// PKCS#8 DER, in the clear (only in the plugin's memory).
    Pkcs8(Vec<u8>),
    /// The store's own protected form, carried over unchanged when the file is
    /// rewritten (e.g. a JKS key protected with a password other than the store's).
    Sealed(Vec<u8>),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key bytes, not even in a debug log.
        match self {
            KeyMaterial::Pkcs8(_) => f.write_str("Pkcs8(<redacted>)"),
            KeyMaterial::Sealed(_) => f.write_str("Sealed(<redacted>)"),
        }
    }
}

/// An alias with its certificate chain and, for key entries, the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The alias (PEM: the `friendlyName` written with the certificate, or the
    /// certificate's SHA-1 thumbprint).
    pub alias: String,
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The private key, for key entries.
    pub key: Option<KeyMaterial>,
    /// Creation time in milliseconds since the epoch, where the format records one.
    pub created_ms: Option<u64>,
}

impl Entry {
    /// What Inventory reports for this entry.
    pub fn to_inventory(&self) -> CertificateEntry {
        CertificateEntry {
            alias: self.alias.clone(),
            chain: self.chain.clone(),
            has_private_key: self.key.is_some(),
        }
    }
}

//! Guest-side code shared by the certificate-store plugins (`pem-store`,
//! `pkcs12-store`, `jks-store`).
//!
//! A plugin implements [`StoreFormat`] (how its file format is read and written) and
//! exports [`StorePlugin`] over it; everything the three store types have in common
//! lives here, so they behave alike: the path checks against the operator's grants,
//! the store password from the secrets import, the overwrite rules of Management/Add,
//! Discovery's walk, and Reenrollment with the key generated inside the sandbox.

mod certs;
mod csr;
mod discovery;
mod entry;
mod format;
mod io;
mod keys;
mod manifest;
mod open;
mod ops;
mod plugin;

pub use certs::{parse_certificate, subject_of, thumbprint};
pub use entry::{Entry, KeyMaterial};
pub use format::StoreFormat;
pub use io::{
    read_file, read_optional, recover_files, remove_if_exists, replace_files, write_atomically,
};
pub use keys::{
    KeyType, encrypt_pkcs8, generate_key, key_matches_certificate, public_key_der, to_pkcs8,
};
pub use open::{OpenStore, checked_path};
pub use plugin::StorePlugin;

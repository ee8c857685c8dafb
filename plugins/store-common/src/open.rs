//! A job's store record checked and resolved: the type, the path inside the grant,
//! and the password revealed from the secret the record names.

use keywarden_sdk::JobError;
use keywarden_sdk::files;
use keywarden_sdk::prelude::Store;
use keywarden_sdk::secrets::{self, SecretError};
use serde_json::Value;

use crate::format::StoreFormat;

/// A store ready to be read or written.
#[derive(Clone)]
pub struct OpenStore {
    /// Path inside the sandbox, normalised.
    pub path: String,
    /// The store password, if the record names a secret.
    pub password: Option<String>,
    /// The record's `properties` object.
    pub properties: Value,
}

impl std::fmt::Debug for OpenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStore")
            .field("path", &self.path)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .finish()
    }
}

impl OpenStore {
    /// Check `store` for the format `F` and reveal its password.
    pub fn open<F: StoreFormat>(store: &Store) -> Result<Self, JobError> {
        Self::open_for::<F>(store, false)
    }

    /// [`OpenStore::open`] for a job that may be a `dry_run`: that one reads the store as
    /// it is and undoes nothing (a real run first puts back an interrupted write, which a
    /// dry run may not, so it refuses to guess what the store would then hold).
    pub fn open_for<F: StoreFormat>(store: &Store, dry_run: bool) -> Result<Self, JobError> {
        if !store.store_type.eq_ignore_ascii_case(F::STORE_TYPE) {
            return Err(JobError::invalid_param(
                "store.store-type",
                format!(
                    "this plugin serves `{}` stores, not `{}`",
                    F::STORE_TYPE,
                    store.store_type
                ),
            ));
        }
        let path = checked_path(&store.path, "store.path")?;
        // A write of this store that was interrupted (a time-out, the host killed) is
        // undone before anything reads the store.
        if !dry_run {
            crate::io::recover_files(&path)?;
        } else if crate::io::interrupted_write(&path)? {
            return Err(JobError::failed(format!(
                "a write of `{path}` was interrupted; a real run puts the store back first, \
                 which a dry run may not do, so it cannot say what would change"
            )));
        }
        let password = match store.password_secret.as_deref() {
            Some(name) => Some(reveal_password(name)?),
            None if F::NEEDS_PASSWORD => {
                return Err(JobError::invalid_param(
                    "store.password-secret",
                    format!(
                        "a {} store needs a password: name the secret that holds it",
                        F::STORE_TYPE
                    ),
                ));
            }
            None => None,
        };
        Ok(Self {
            path,
            password,
            properties: store.properties.clone(),
        })
    }

    /// The password, for formats that cannot do without one.
    pub fn required_password(&self) -> Result<&str, JobError> {
        self.password.as_deref().ok_or_else(|| {
            JobError::invalid_param(
                "store.password-secret",
                "this store needs a password: name the secret that holds it",
            )
        })
    }

    /// A string property, e.g. `private_key_path`.
    pub fn property_str(&self, name: &str) -> Result<Option<&str>, JobError> {
        match self.properties.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(JobError::invalid_param(
                format!("store.properties.{name}"),
                "must be a string",
            )),
        }
    }

    /// A boolean property, e.g. `trust_store`.
    pub fn property_bool(&self, name: &str, default: bool) -> Result<bool, JobError> {
        match self.properties.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(JobError::invalid_param(
                format!("store.properties.{name}"),
                "must be true or false",
            )),
        }
    }
}

/// `path` normalised, if it lies inside a directory the operator granted; otherwise an
/// invalid-params error on `field` naming the granted directories.
pub fn checked_path(path: &str, field: &str) -> Result<String, JobError> {
    let granted = files::granted_directories();
    let Some(normalized) = files::normalize(path) else {
        return Err(JobError::invalid_param(
            field,
            format!("`{path}` must be an absolute path without `..`"),
        ));
    };
    if !files::is_inside(path, &granted) {
        let granted = if granted.is_empty() {
            "none".to_owned()
        } else {
            granted.join(", ")
        };
        return Err(JobError::invalid_param(
            field,
            format!(
                "`{path}` is outside the directories granted to this plugin (granted: {granted})"
            ),
        ));
    }
    Ok(normalized.display().to_string())
}

fn reveal_password(name: &str) -> Result<String, JobError> {
    secrets::reveal(name).map_err(|e| {
        let why = match e {
            SecretError::NotGranted(d) => format!("it is not granted to this plugin ({d})"),
            SecretError::NotFound(d) => format!("the host has no value for it ({d})"),
        };
        JobError::failed(format!(
            "the store password secret `{name}` cannot be read: {why}"
        ))
    })
}

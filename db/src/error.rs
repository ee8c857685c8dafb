//! The one error type of the storage layer.
//!
//! The variants are chosen so the API layer can map them to HTTP answers without
//! inspecting database-specific error codes: `NotFound` → 404, `Conflict` → 409,
//! `InvalidSort` / `Invalid` → 400, everything else → 500.

/// Result alias used by every storage operation.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Everything a [`Database`](crate::Database) operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row the operation addresses does not exist (or belongs to another account).
    #[error("not found")]
    NotFound,
    /// The operation would break a uniqueness rule (e.g. a second job config with the same
    /// name in one account) or the row is in a state that forbids it (e.g. deleting a
    /// running job). The text says which, in words fit for an API answer.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A sort key that is not on the allow-list of the listed entity. Carries the key as given.
    #[error("cannot sort by '{0}'")]
    InvalidSort(String),
    /// An argument the store refuses before touching the database (bad status value, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The connection URL names no supported backend.
    #[error("unsupported database url '{0}': expected sqlite:<path>, a file path, or postgres://")]
    InvalidUrl(String),
    /// A stored value could not be turned back into the model (bad UUID, bad JSON, ...).
    /// Means the database was edited by hand or by an incompatible version.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Schema migration failed on connect.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database failure (connection lost, lock timeout, ...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl DbError {
    /// Turns a unique-constraint violation into [`DbError::Conflict`] with `what` as the
    /// message, and any other database error into [`DbError::Database`].
    pub(crate) fn unique(err: sqlx::Error, what: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(what.to_owned())
            }
            _ => DbError::Database(err),
        }
    }
}

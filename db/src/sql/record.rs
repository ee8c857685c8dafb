//! One row in, one row out: the insert, read and update every resource table (job
//! configs, certificate stores, agents, SSL networks) does the same way, written once.

use uuid::Uuid;

use super::SqlDatabase;
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};

/// Inserts one row of `table` from `cols` and reads it back with `decode`; a unique
/// constraint it breaks is `Conflict(duplicate)`.
pub(crate) async fn insert<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    table: &str,
    cols: Vec<(&'static str, Val)>,
    duplicate: &str,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<T> {
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let mut q = Sql::<DB>::new(format!(
        "INSERT INTO {table} ({}) VALUES ",
        names.join(", ")
    ));
    q.bind_list(cols.into_iter().map(|(_, v)| v))
        .push(" RETURNING *");
    returned(s, q, duplicate, decode).await
}

/// Sets `pairs` on the row of `table` with `id` in `account_id` and reads it back;
/// `NotFound` when there is none, `Conflict(duplicate)` for a broken unique constraint.
pub(crate) async fn update<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    table: &str,
    pairs: Vec<(&str, Val)>,
    (id, account_id): (Uuid, &str),
    duplicate: &str,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<T> {
    let mut q = Sql::<DB>::new(format!("UPDATE {table} SET "));
    q.assign(pairs)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND account_id = ")
        .bind(account_id)
        .push(" RETURNING *");
    returned(s, q, duplicate, decode).await
}

/// The row of `table` with `id` (in `account_id` unless `None`).
pub(crate) async fn get<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    table: &str,
    account_id: Option<&str>,
    id: Uuid,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<Option<T>> {
    let mut q = Sql::<DB>::new(format!("SELECT * FROM {table} WHERE id = "));
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

async fn returned<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    q: Sql<DB>,
    duplicate: &str,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<T> {
    let rows = q
        .fetch_all(&mut *s.conn().await?)
        .await
        .map_err(|e| DbError::unique(e, duplicate))?;
    rows.first().map(decode).ok_or(DbError::NotFound)?
}

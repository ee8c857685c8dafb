//! Synchronized cloud keys: per-source snapshots and the filtered listing.

use super::page::page;
use super::{SqlDatabase, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::filter::{KEY_SORT, KeyFilter, Sort, resolve};
use crate::model::SyncedKey;

/// Rows per INSERT statement (12 binds each).
const INSERT_CHUNK: usize = 500;

pub(crate) async fn replace<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: &str,
    source: &str,
    keys: &[SyncedKey],
) -> Result<u64> {
    if let Some(k) = keys
        .iter()
        .find(|k| k.account_id != account_id || k.source != source)
    {
        return Err(DbError::Invalid(format!(
            "key {}: account {:?} and source {:?} do not match the snapshot's {account_id:?}/{source:?}",
            k.key_id, k.account_id, k.source
        )));
    }
    let mut tx = s.write_tx().await?;
    let mut delete = Sql::<DB>::new("DELETE FROM cloud_keys WHERE account_id = ");
    delete.bind(account_id).push(" AND source = ").bind(source);
    delete.execute(&mut tx).await?;
    let mut inserted = 0;
    for chunk in keys.chunks(INSERT_CHUNK) {
        let mut q = Sql::<DB>::new(
            "INSERT INTO cloud_keys (id, account_id, source, cloud_name, key_id, resource_name, \
             aliases, state, created_at, rotated_at, attributes, synced_at) VALUES ",
        );
        for (i, k) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let vals: [Val; 12] = [
                format!("{source}/{}", k.key_id).into(),
                account_id.into(),
                source.into(),
                (&k.cloud_name).into(),
                (&k.key_id).into(),
                (&k.resource_name).into(),
                serde_json::to_string(&k.aliases)
                    .unwrap_or_else(|_| "[]".into())
                    .into(),
                (&k.state).into(),
                k.created_at.into(),
                k.rotated_at.into(),
                (&k.attributes).into(),
                k.synced_at.into(),
            ];
            q.bind_list(vals);
        }
        inserted += q
            .execute(&mut tx)
            .await
            .map_err(|e| DbError::unique(e, "the snapshot lists a key id twice"))?;
    }
    tx.commit().await?;
    Ok(inserted)
}

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &KeyFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = &f.cloud_name {
        q.push(" AND cloud_name = ").bind(v);
    }
    if let Some(v) = &f.key_id {
        q.push(" AND key_id = ").bind(v);
    }
    if let Some(v) = &f.state {
        q.push(" AND state = ").bind(v);
    }
    if let Some(v) = &f.source {
        q.push(" AND source = ").bind(v);
    }
    if let Some(alias) = &f.alias {
        // The aliases column is a JSON array; its element, JSON-quoted, is an exact match.
        let needle = serde_json::Value::String(alias.clone()).to_string();
        q.push(format!(" AND {}(aliases, ", DB::STRPOS))
            .bind(needle)
            .push(") > 0");
    }
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &KeyFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<SyncedKey>)> {
    let order = resolve(sort, KEY_SORT)?;
    let filter = |q: &mut Sql<DB>| push_filter(q, filter);
    page(
        s,
        "cloud_keys",
        filter,
        &order,
        skip,
        limit,
        rows::synced_key::<DB>,
    )
    .await
}

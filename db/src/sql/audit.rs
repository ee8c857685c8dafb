//! The audit log: appended in order, each entry chained to the one before by its hash.

use super::{SqlDatabase, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::Result;
use crate::model::{AUDIT_GENESIS, AuditEntry, AuditFilter, NewAuditEntry, truncate_micros};

/// Appends `entries` in order. The `audit_seq` counter row is advanced first, in the same
/// transaction: on PostgreSQL its row lock makes concurrent appends (from every node) wait
/// for each other until commit, so each reads the true last hash; SQLite writers hold the
/// database lock anyway.
pub(crate) async fn append<DB: Backend>(
    s: &SqlDatabase<DB>,
    entries: &[NewAuditEntry],
) -> Result<Vec<AuditEntry>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = s.write_tx().await?;
    let appended = append_in::<DB>(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(appended)
}

/// [`append`] inside the caller's write transaction, so what is audited and what it
/// records commit together. Call it last in the transaction: the counter row stays locked
/// (every other append waits) until the commit.
pub(crate) async fn append_in<DB: Backend>(
    tx: &mut DB::Connection,
    entries: &[NewAuditEntry],
) -> Result<Vec<AuditEntry>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let mut reserve = Sql::<DB>::new("UPDATE counters SET value = value + ");
    reserve
        .bind(n)
        .push(" WHERE name = 'audit_seq' RETURNING value");
    let last = reserve.fetch_int(tx, "value").await?;
    let first = last - n + 1;
    let mut previous = Sql::<DB>::new("SELECT hash FROM audit_log WHERE seq = ");
    previous.bind(first - 1);
    let mut prev_hash = match previous.fetch_optional(tx).await? {
        Some(row) => crate::backend::Cols::<DB>(&row).text("hash")?,
        None => AUDIT_GENESIS.to_owned(),
    };
    let mut appended = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let mut entry = entry.clone();
        entry.at = truncate_micros(entry.at);
        let seq = first + i64::try_from(i).unwrap_or(i64::MAX);
        let hash = AuditEntry::compute_hash(seq, &entry, &prev_hash);
        appended.push(AuditEntry {
            seq,
            entry,
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
            hash,
        });
    }
    // A few hundred rows per statement keeps the bind count within SQLite's limit.
    for chunk in appended.chunks(200) {
        let mut q = Sql::<DB>::new(
            "INSERT INTO audit_log (seq, at, account_id, token_id, action, target, result, detail, prev_hash, hash) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_list::<Val>([
                e.seq.into(),
                e.entry.at.into(),
                e.entry.account_id.as_str().into(),
                e.entry.token_id.as_deref().into(),
                e.entry.action.as_str().into(),
                e.entry.target.as_str().into(),
                e.entry.result.as_str().into(),
                (&e.entry.detail).into(),
                e.prev_hash.as_str().into(),
                e.hash.as_str().into(),
            ]);
        }
        q.execute(tx).await?;
    }
    Ok(appended)
}

/// The entries `filter` keeps, in chain order, `limit` of them, and how many match.
pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &AuditFilter,
    limit: i64,
) -> Result<(i64, Vec<AuditEntry>)> {
    let mut conn = s.conn().await?;
    let mut count = Sql::<DB>::new("SELECT COUNT(*) AS n FROM audit_log");
    push_filter(&mut count, filter);
    let total = count.fetch_int(&mut conn, "n").await?;
    let mut q = Sql::<DB>::new("SELECT * FROM audit_log");
    push_filter(&mut q, filter);
    q.push(" ORDER BY seq LIMIT ").bind(limit.max(0));
    let rows = q.fetch_all(&mut conn).await?;
    Ok((total, rows::all::<DB, _>(&rows, rows::audit_entry::<DB>)?))
}

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &AuditFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = &f.token_id {
        q.push(" AND token_id = ").bind(v);
    }
    if let Some(v) = &f.action_prefix {
        // The length is a number this code computed, not caller text: written inline, so
        // PostgreSQL sees an integer literal (SUBSTR takes no BIGINT).
        q.push(format!(" AND SUBSTR(action, 1, {}) = ", v.chars().count()))
            .bind(v);
    }
    if let Some(v) = f.since {
        q.push(" AND at >= ").bind(v);
    }
    if let Some(v) = f.until {
        q.push(" AND at <= ").bind(v);
    }
    if let Some(v) = f.after_seq {
        q.push(" AND seq > ").bind(v);
    }
}

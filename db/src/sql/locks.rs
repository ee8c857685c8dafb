//! Target locks (one job per target, migration 20250118) and stored payloads (20250108).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::SqlDatabase;
use crate::backend::{Backend, Sql, Val};
use crate::error::Result;
use crate::model::truncate_micros;

/// Takes the lock of `target` for `job` until `until`, when it is free, expired, or held
/// by `job` already (then extended). One statement, so two takers cannot both win.
pub(crate) async fn acquire<DB: Backend>(
    s: &SqlDatabase<DB>,
    target: &str,
    job: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    let mut q = Sql::<DB>::new("INSERT INTO target_locks (target, job_id, expires_at) VALUES ");
    q.bind_list::<Val>([target.into(), job.into(), truncate_micros(until).into()])
        .push(
            " ON CONFLICT (target) DO UPDATE SET job_id = excluded.job_id, \
             expires_at = excluded.expires_at WHERE target_locks.job_id = excluded.job_id \
             OR target_locks.expires_at <= ",
        )
        .bind(truncate_micros(now))
        .push(" RETURNING job_id");
    let taken = q.fetch_optional(&mut *s.conn().await?).await?;
    Ok(taken.is_some())
}

/// Gives the lock of `target` back, if `job` holds it.
pub(crate) async fn release<DB: Backend>(
    s: &SqlDatabase<DB>,
    target: &str,
    job: Uuid,
) -> Result<()> {
    let mut q = Sql::<DB>::new("DELETE FROM target_locks WHERE target = ");
    q.bind(target).push(" AND job_id = ").bind(job);
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

/// Stores `body` under its hash for `account` (kept when already there, its time
/// refreshed: the retention purge leaves payloads younger than a grace period alone, and a
/// payload stored again is about to be referenced by new jobs).
pub(crate) async fn put_payload<DB: Backend>(
    s: &SqlDatabase<DB>,
    account: &str,
    sha256: &str,
    body: &str,
) -> Result<()> {
    let mut q =
        Sql::<DB>::new("INSERT INTO payloads (account_id, sha256, body, created_at) VALUES ");
    q.bind_list::<Val>([
        account.into(),
        sha256.into(),
        body.into(),
        truncate_micros(Utc::now()).into(),
    ])
    .push(" ON CONFLICT (account_id, sha256) DO UPDATE SET created_at = excluded.created_at");
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

/// The payload of `account` with this hash.
pub(crate) async fn get_payload<DB: Backend>(
    s: &SqlDatabase<DB>,
    account: &str,
    sha256: &str,
) -> Result<Option<String>> {
    let mut q = Sql::<DB>::new("SELECT body FROM payloads WHERE account_id = ");
    q.bind(account).push(" AND sha256 = ").bind(sha256);
    match q.fetch_optional(&mut *s.conn().await?).await? {
        Some(row) => Ok(Some(crate::backend::Cols::<DB>(&row).text("body")?)),
        None => Ok(None),
    }
}

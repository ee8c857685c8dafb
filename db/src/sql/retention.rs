//! Job retention (migration 20250109): finished jobs past the operator's retention are
//! deleted and added to `job_counts`; payloads no job references are deleted.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::SqlDatabase;
use crate::backend::{Backend, Cols, Sql, Val};
use crate::error::Result;
use crate::model::{JobCount, JobCountFilter, truncate_micros};

/// Microseconds in a day: `finished_at / DAY` is the UTC day number, in SQL and here.
const DAY: i64 = 86_400_000_000;

/// What the counts are grouped by, on both sides of their union.
const GROUPS: &str = "account_id, day, job_config_id, operation, status, result";

/// The statuses of a job that has ended.
const FINISHED: &str = "('completed', 'failed', 'cancelled')";

/// Deletes up to `limit` finished jobs that ended before `before` and adds them to the
/// counts, in one transaction. The delete returns the rows it removed, so two nodes
/// purging at once count each job once: the second deletes (and counts) nothing the first
/// already did.
pub(crate) async fn purge_jobs<DB: Backend>(
    s: &SqlDatabase<DB>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64> {
    let mut tx = s.write_tx().await?;
    // The picked rows are locked as they are read, skipping rows another purger holds
    // (PostgreSQL): two purgers never wait on each other's rows in opposite orders, which
    // deadlocked under load when the delete joined a plain subquery.
    let mut q = Sql::<DB>::new("DELETE FROM jobs WHERE ");
    q.push(DB::CLAIM_OPEN)
        .push(format_args!(
            "SELECT id FROM jobs WHERE status IN {FINISHED} AND finished_at < "
        ))
        .bind(truncate_micros(before))
        .push(" ORDER BY finished_at LIMIT ")
        .bind(limit.max(1))
        .push(DB::CLAIM_CLOSE)
        .push(" RETURNING account_id, job_config_id, operation, status, result, finished_at");
    let rows = q.fetch_all(&mut tx).await?;
    let mut by_day: BTreeMap<(i64, [String; 5]), i64> = BTreeMap::new();
    for row in &rows {
        let c = Cols::<DB>(row);
        let day = c.opt_int("finished_at")?.unwrap_or(0).div_euclid(DAY);
        let key = [
            c.text("account_id")?,
            c.opt_text("job_config_id")?.unwrap_or_default(),
            c.text("operation")?,
            c.text("status")?,
            c.opt_text("result")?.unwrap_or_default(),
        ];
        *by_day.entry((day, key)).or_insert(0) += 1;
    }
    for ((day, [account, config, operation, status, result]), n) in by_day {
        let mut up = Sql::<DB>::new(
            "INSERT INTO job_counts (account_id, day, job_config_id, operation, status, result, count) VALUES ",
        );
        up.bind_list::<Val>([
            account.into(),
            day.into(),
            config.into(),
            operation.into(),
            status.into(),
            result.into(),
            n.into(),
        ])
        .push(
            " ON CONFLICT (account_id, day, job_config_id, operation, status, result) \
             DO UPDATE SET count = job_counts.count + excluded.count",
        );
        up.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
}

/// Deletes the payloads stored before `before` that no job's params name any more.
/// Storing a payload again refreshes its time (see `locks::put_payload`), so one a new
/// request is about to reference is never older than the grace the caller leaves.
pub(crate) async fn purge_payloads<DB: Backend>(
    s: &SqlDatabase<DB>,
    before: DateTime<Utc>,
) -> Result<u64> {
    let mut q = Sql::<DB>::new("DELETE FROM payloads WHERE created_at < ");
    q.bind(truncate_micros(before)).push(
        " AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.account_id = payloads.account_id \
         AND jobs.params LIKE '%' || payloads.sha256 || '%')",
    );
    Ok(q.execute(&mut *s.conn().await?).await?)
}

/// The day number of `d` (days since 1970-01-01).
fn day_number(d: NaiveDate) -> i64 {
    d.signed_duration_since(NaiveDate::default()).num_days()
}

/// Finished jobs, stored and purged, counted per day, config, operation, status and
/// result: a page of `limit` groups after `skip`, and how many groups there are.
pub(crate) async fn job_counts<DB: Backend>(
    s: &SqlDatabase<DB>,
    f: &JobCountFilter,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<JobCount>)> {
    let union = |q: &mut Sql<DB>| {
        q.push(format_args!(
            "SELECT account_id, finished_at / {DAY} AS day, COALESCE(job_config_id, '') AS job_config_id, \
             operation, status, COALESCE(result, '') AS result, COUNT(*) AS n FROM jobs \
             WHERE status IN {FINISHED} AND finished_at IS NOT NULL"
        ));
        filters(q, f, "finished_at", DAY);
        q.push(" GROUP BY account_id, finished_at / ")
            .push(DAY)
            .push(", COALESCE(job_config_id, ''), operation, status, COALESCE(result, '')");
        q.push(
            " UNION ALL SELECT account_id, day, job_config_id, operation, status, result, count AS n \
             FROM job_counts WHERE 1 = 1",
        );
        filters(q, f, "day", 1);
    };
    let mut conn = s.conn().await?;
    let mut count = Sql::<DB>::new("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM (");
    union(&mut count);
    count.push(format_args!(") u GROUP BY {GROUPS}) g"));
    let total = count.fetch_int(&mut conn, "n").await?;
    let mut q = Sql::<DB>::new(format_args!(
        "SELECT {GROUPS}, CAST(SUM(n) AS BIGINT) AS n FROM ("
    ));
    union(&mut q);
    q.push(format_args!(
        ") u GROUP BY {GROUPS} ORDER BY day, account_id, job_config_id, operation, status, result"
    ))
    .page(skip, limit);
    let rows = q.fetch_all(&mut conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let c = Cols::<DB>(row);
        let day = c.int("day")?;
        let config = c.text("job_config_id")?;
        let result = c.text("result")?;
        out.push(JobCount {
            account_id: c.text("account_id")?,
            day: NaiveDate::default() + chrono::Days::new(u64::try_from(day).unwrap_or(0)),
            job_config_id: nonempty(&config, "job_config_id")?,
            operation: c.text("operation")?,
            status: c.word("status")?,
            result: nonempty(&result, "result")?,
            count: c.int("n")?,
        });
    }
    Ok((total, out))
}

/// `''` (the counts' "none") as `None`, anything else parsed.
fn nonempty<T: std::str::FromStr>(text: &str, col: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| crate::DbError::Corrupt(format!("{col} = {text:?}: {e}")))
}

/// The `WHERE` conditions of `f` for one side of the union: `time` is that side's column
/// counting `per_day` units a day (the jobs' `finished_at` in microseconds, so its index
/// serves the range; the counts' `day`).
fn filters<DB: Backend>(q: &mut Sql<DB>, f: &JobCountFilter, time: &str, per_day: i64) {
    if let Some(a) = &f.account_id {
        q.push(" AND account_id = ").bind(a);
    }
    if let Some(c) = f.job_config_id {
        q.push(" AND job_config_id = ").bind(c.to_string());
    }
    if let Some(o) = &f.operation {
        q.push(" AND operation = ").bind(o);
    }
    if let Some(d) = f.from {
        q.push(format_args!(" AND {time} >= "))
            .bind(day_number(d).saturating_mul(per_day));
    }
    if let Some(d) = f.to {
        q.push(format_args!(" AND {time} < "))
            .bind(day_number(d).saturating_add(1).saturating_mul(per_day));
    }
}

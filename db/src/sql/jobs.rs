//! Job queries for the API: enqueue, read, list, delete.

use uuid::Uuid;

use super::page::page_bounded;
use super::{SqlDatabase, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::filter::{JOB_SORT, JobFilter, Sort, resolve};
use crate::model::{Job, NewJob};

/// Rows per INSERT statement: 16 binds each stays far below SQLite's 32766 and
/// PostgreSQL's 65535 parameter limits.
const INSERT_CHUNK: usize = 500;

pub(crate) async fn insert<DB: Backend>(s: &SqlDatabase<DB>, new: &[NewJob]) -> Result<u64> {
    if new.is_empty() {
        return Ok(0);
    }
    let mut tx = s.write_tx().await?;
    let n = insert_on::<DB>(&mut tx, new).await?;
    tx.commit().await?;
    Ok(n)
}

/// Multi-row INSERTs on an open transaction; shared with `fire_config`.
pub(crate) async fn insert_on<DB: Backend>(
    conn: &mut DB::Connection,
    new: &[NewJob],
) -> Result<u64> {
    if let Some(j) = new.iter().find(|j| j.max_attempts < 1) {
        return Err(DbError::Invalid(format!(
            "job {}: max_attempts must be at least 1",
            j.id
        )));
    }
    let mut inserted = 0;
    for chunk in new.chunks(INSERT_CHUNK) {
        let first_audit_id = reserve_audit_ids::<DB>(conn, chunk.len()).await?;
        let mut q = Sql::<DB>::new(
            "INSERT INTO jobs (status, logs, audit_id, id, account_id, job_config_id, name, \
             description, operation, target, params, run_on, schedule_kind, max_attempts, \
             retry_backoff_secs, scheduled_for, start_by, dry_run, enqueued_at, created_at, updated_at) VALUES ",
        );
        for (i, j) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let vals: [Val; 19] = [
                (first_audit_id + i as i64).into(),
                j.id.into(),
                (&j.account_id).into(),
                j.job_config_id.into(),
                (&j.name).into(),
                (&j.description).into(),
                (&j.operation).into(),
                (&j.target).into(),
                (&j.params).into(),
                (&j.run_on).into(),
                j.schedule_kind.into(),
                j.max_attempts.into(),
                j.retry_backoff_secs.into(),
                j.scheduled_for.into(),
                j.start_by.into(),
                j.dry_run.into(),
                j.enqueued_at.into(),
                j.enqueued_at.into(),
                j.enqueued_at.into(),
            ];
            q.push("('queued', ''");
            for v in vals {
                q.push(", ").bind(v);
            }
            q.push(")");
        }
        inserted += q
            .execute(conn)
            .await
            .map_err(|e| DbError::unique(e, "a job with this id already exists"))?;
    }
    Ok(inserted)
}

/// Advances the `job_audit_id` counter by `n` on the caller's transaction and returns the
/// first of the `n` ids reserved. On PostgreSQL the row lock serialises concurrent inserts
/// until commit; SQLite writers hold the database lock anyway.
async fn reserve_audit_ids<DB: Backend>(conn: &mut DB::Connection, n: usize) -> Result<i64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let mut q = Sql::<DB>::new("UPDATE counters SET value = value + ");
    q.bind(n)
        .push(" WHERE name = 'job_audit_id' RETURNING value");
    let last = q.fetch_int(conn, "value").await?;
    Ok(last - n + 1)
}

pub(crate) async fn get<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<Job>> {
    let mut q = Sql::<DB>::new("SELECT * FROM jobs WHERE id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::job::<DB>)
        .transpose()
}

/// The columns [`rows::job`] reads, but params and logs (see `JobFilter::omit_params`).
macro_rules! job_columns_but {
    ($($extra:literal),*) => {
        concat!(
            "id, account_id, job_config_id, name, description, operation, target, run_on, schedule_kind, status, result, message, details, progress_done, progress_total, attempt, max_attempts, retry_backoff_secs, scheduled_for, enqueued_at, started_at, finished_at, processing_node, lease_expires_at, start_by, dry_run, created_at, updated_at"
            $(, ", ", $extra)*
        )
    };
}
const JOB_COLUMNS_NO_PARAMS: &str = job_columns_but!("'{}' AS params", "logs");
pub(crate) const JOB_COLUMNS_NO_LOGS: &str = job_columns_but!("params", "'' AS logs");
const JOB_COLUMNS_LIGHT: &str = job_columns_but!("'{}' AS params", "'' AS logs");

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &JobFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = f.id {
        q.push(" AND id = ").bind(v);
    }
    if let Some(v) = &f.name {
        q.push(" AND name = ").bind(v);
    }
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = f.job_config_id {
        q.push(" AND job_config_id = ").bind(v);
    }
    if let Some(v) = &f.operation {
        q.push(" AND operation = ").bind(v);
    }
    if let Some(v) = f.status {
        q.push(" AND status = ").bind(v);
    }
    if let Some(v) = f.created_before {
        q.push(" AND created_at <= ").bind(v);
    }
    if let Some(v) = f.created_after {
        q.push(" AND created_at >= ").bind(v);
    }
    if let Some(v) = f.updated_after {
        q.push(" AND updated_at >= ").bind(v);
    }
    if let Some(v) = &f.processing_node {
        q.push(" AND processing_node = ").bind(v);
    }
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &JobFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<Job>)> {
    let order = resolve(sort, JOB_SORT)?;
    let columns = match (filter.omit_params, filter.omit_logs) {
        (false, false) => "*",
        (true, false) => JOB_COLUMNS_NO_PARAMS,
        (false, true) => JOB_COLUMNS_NO_LOGS,
        (true, true) => JOB_COLUMNS_LIGHT,
    };
    let bound = filter.count_bound;
    let filter = |q: &mut Sql<DB>| push_filter(q, filter);
    page_bounded(
        s,
        columns,
        "jobs",
        filter,
        &order,
        skip,
        limit,
        bound,
        rows::job::<DB>,
    )
    .await
}

pub(crate) async fn delete<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<bool> {
    let mut conn = s.conn().await?;
    let mut q = Sql::<DB>::new("DELETE FROM jobs WHERE status <> 'running' AND id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    if q.execute(&mut conn).await? > 0 {
        return Ok(true);
    }
    // Nothing deleted: tell "running" apart from "no such job".
    let mut q = Sql::<DB>::new("SELECT status FROM jobs WHERE id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    match q.fetch_optional(&mut conn).await? {
        Some(_) => Err(DbError::Conflict(
            "the job is running; it cannot be deleted".into(),
        )),
        None => Ok(false),
    }
}

pub(crate) async fn has_unfinished<DB: Backend>(
    s: &SqlDatabase<DB>,
    config_id: Uuid,
) -> Result<bool> {
    let mut q = Sql::<DB>::new(
        "SELECT id FROM jobs WHERE status IN ('queued', 'running') AND job_config_id = ",
    );
    q.bind(config_id).push(" LIMIT 1");
    Ok(q.fetch_optional(&mut *s.conn().await?).await?.is_some())
}

/// Ids per statement of [`unfinished_configs`].
const UNFINISHED_CHUNK: usize = 500;

pub(crate) async fn unfinished_configs<DB: Backend>(
    s: &SqlDatabase<DB>,
    config_ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    let mut found = Vec::new();
    let mut conn = s.conn().await?;
    for chunk in config_ids.chunks(UNFINISHED_CHUNK) {
        let mut q = Sql::<DB>::new(
            "SELECT DISTINCT job_config_id FROM jobs WHERE status IN ('queued', 'running') \
             AND job_config_id IN ",
        );
        q.bind_list(chunk.iter().copied());
        for row in q.fetch_all(&mut conn).await? {
            found.push(crate::backend::Cols::<DB>(&row).uuid("job_config_id")?);
        }
    }
    Ok(found)
}

/// One pass over the queued and running jobs (the partial indexes keep it to those).
pub(crate) async fn queue_stats<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::QueueStats> {
    let mut q = Sql::<DB>::new(
        "SELECT COUNT(CASE WHEN status = 'queued' THEN 1 END) AS queued, \
         COUNT(CASE WHEN status = 'running' THEN 1 END) AS running, \
         COUNT(CASE WHEN status = 'queued' AND scheduled_for <= ",
    );
    q.bind(now)
        .push(" THEN 1 END) AS due, MIN(CASE WHEN status = 'queued' AND scheduled_for <= ")
        .bind(now)
        .push(" THEN scheduled_for END) AS oldest_due FROM jobs WHERE status IN ('queued', 'running')");
    let Some(row) = q.fetch_optional(&mut *s.conn().await?).await? else {
        return Ok(crate::QueueStats::default());
    };
    let cols = crate::backend::Cols::<DB>(&row);
    Ok(crate::QueueStats {
        queued: cols.opt_int("queued")?.unwrap_or(0),
        due: cols.opt_int("due")?.unwrap_or(0),
        running: cols.opt_int("running")?.unwrap_or(0),
        oldest_due: cols.opt_time("oldest_due")?,
    })
}

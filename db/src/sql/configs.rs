//! Job-config queries: CRUD, listing, and the scheduler's fire protocol.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::page::page_bounded;
use super::{SqlDatabase, jobs, record, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::filter::{CONFIG_SORT, ConfigFilter, Sort, resolve};
use crate::kinds::JobStatus;
use crate::model::{ConfigFacts, ConfigFire, JobConfig, NewJob, truncate_micros};

const DUPLICATE: &str = "a job config with this name already exists in the account";

/// Refuses values the database's CHECK constraints would turn into an opaque error.
pub(crate) fn validate(c: &JobConfig) -> Result<()> {
    if c.max_retries < 0 {
        return Err(DbError::Invalid("max_retries must not be negative".into()));
    }
    Ok(())
}

/// The columns a user edits, with their values; shared by insert and update.
pub(crate) fn editable(c: &JobConfig) -> Vec<(&'static str, Val)> {
    vec![
        ("name", (&c.name).into()),
        ("operation", (&c.operation).into()),
        ("description", (&c.description).into()),
        ("run_on", (&c.run_on).into()),
        ("run_at", (&c.run_at).into()),
        ("timezone", (&c.timezone).into()),
        ("start_date", c.start_date.into()),
        ("end_date", c.end_date.into()),
        ("disabled", c.disabled.into()),
        ("params", (&c.params).into()),
        ("params_key", (&c.params_key).into()),
        ("target", (&c.target).into()),
        ("schedule_kind", c.schedule_kind.into()),
        ("recurrence", (&c.recurrence).into()),
        ("catch_up", c.catch_up.into()),
        ("overlap", c.overlap.into()),
        ("max_retries", c.max_retries.into()),
        ("retry_backoff_secs", c.retry_backoff_secs.into()),
        ("next_fire_at", c.next_fire_at.into()),
        (
            "alerts",
            Val::Text(Some(
                serde_json::to_string(&c.alerts).unwrap_or_else(|_| "{}".into()),
            )),
        ),
        (
            "policy",
            Val::Text(Some(
                serde_json::to_string(&c.policy).unwrap_or_else(|_| "{}".into()),
            )),
        ),
        ("paused_reason", (&c.paused_reason).into()),
        ("paused_at", c.paused_at.into()),
    ]
}

pub(crate) async fn insert<DB: Backend>(s: &SqlDatabase<DB>, c: &JobConfig) -> Result<JobConfig> {
    validate(c)?;
    let mut cols = vec![
        ("id", c.id.into()),
        ("account_id", (&c.account_id).into()),
        ("created_at", c.created_at.into()),
        ("updated_at", c.updated_at.into()),
    ];
    cols.extend(editable(c));
    record::insert(s, "job_configs", cols, DUPLICATE, rows::config::<DB>).await
}

pub(crate) async fn get<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<JobConfig>> {
    record::get(s, "job_configs", account_id, id, rows::config::<DB>).await
}

pub(crate) async fn update<DB: Backend>(s: &SqlDatabase<DB>, c: &JobConfig) -> Result<JobConfig> {
    validate(c)?;
    let mut pairs = editable(c);
    pairs.push(("updated_at", truncate_micros(Utc::now()).into()));
    let key = (c.id, c.account_id.as_str());
    record::update(s, "job_configs", pairs, key, DUPLICATE, rows::config::<DB>).await
}

pub(crate) async fn delete<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<bool> {
    let mut q = Sql::<DB>::new("DELETE FROM job_configs WHERE id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &ConfigFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = &f.name {
        q.push(" AND name = ").bind(v);
    }
    if let Some(v) = f.id {
        q.push(" AND id = ").bind(v);
    }
    if let Some(v) = &f.operation {
        q.push(" AND operation = ").bind(v);
    }
    if let Some(v) = f.disabled {
        q.push(" AND disabled = ").bind(v);
    }
    if let Some(v) = &f.cloud_name {
        q.push(format!(
            " AND {} = ",
            DB::json_member("params", "cloud_name")
        ))
        .bind(v);
    }
    if let Some(v) = &f.expire_in {
        q.push(format!(
            " AND {} = ",
            DB::json_member("params", "expire_in")
        ))
        .bind(v);
    }
    if let Some(v) = f.created_before {
        q.push(" AND created_at <= ").bind(v);
    }
    if let Some(v) = f.created_after {
        q.push(" AND created_at >= ").bind(v);
    }
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &ConfigFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<JobConfig>)> {
    let order = resolve(sort, CONFIG_SORT)?;
    let bound = filter.count_bound;
    let filter = |q: &mut Sql<DB>| push_filter(q, filter);
    page_bounded(
        s,
        "*",
        "job_configs",
        filter,
        &order,
        skip,
        limit,
        bound,
        rows::config::<DB>,
    )
    .await
}

pub(crate) async fn due<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<JobConfig>> {
    // The literal `disabled = FALSE AND next_fire_at IS NOT NULL` matches the partial index.
    let mut q = Sql::<DB>::new(
        "SELECT * FROM job_configs WHERE disabled = FALSE AND next_fire_at IS NOT NULL \
         AND next_fire_at <= ",
    );
    q.bind(now);
    if let Some((at, id)) = after {
        // The page's order, from just past `(at, id)`; the first term bounds the index
        // range, the second picks up the ties.
        q.push(" AND next_fire_at >= ")
            .bind(at)
            .push(" AND (next_fire_at > ")
            .bind(at)
            .push(" OR id > ")
            .bind(id)
            .push(")");
    }
    q.push(" ORDER BY next_fire_at, id LIMIT ")
        .bind(limit.max(0));
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::config::<DB>)
}

pub(crate) async fn fire<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    expected: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
    new_jobs: &[NewJob],
) -> Result<bool> {
    let mut tx = s.write_tx().await?;
    let mut q = Sql::<DB>::new("UPDATE job_configs SET next_fire_at = ");
    q.bind(next).push(" WHERE id = ").bind(id);
    match expected {
        Some(t) => q.push(" AND next_fire_at = ").bind(t),
        None => q.push(" AND next_fire_at IS NULL"),
    };
    if q.execute(&mut tx).await? == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    jobs::insert_on::<DB>(&mut tx, new_jobs).await?;
    tx.commit().await?;
    Ok(true)
}

/// Configs per compare-and-set statement of [`fire_many`] (3 binds each, and the id again).
const FIRE_CHUNK: usize = 500;

pub(crate) async fn fire_many<DB: Backend>(
    s: &SqlDatabase<DB>,
    fires: &[ConfigFire],
) -> Result<Vec<Uuid>> {
    if fires.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = s.write_tx().await?;
    let mut fired = std::collections::HashSet::with_capacity(fires.len());
    for chunk in fires.chunks(FIRE_CHUNK) {
        // The rows are locked in id order, skipping any another scheduler holds (on
        // PostgreSQL; SQLite writers hold the database lock): two nodes firing overlapping
        // pages neither deadlock nor wait, and the compare-and-set picks one winner.
        let mut q = Sql::<DB>::new("WITH v (id, expected, next) AS (VALUES ");
        for (i, f) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_list::<Val>([f.config_id.into(), f.expected.into(), f.next.into()]);
        }
        q.push(
            ") UPDATE job_configs SET next_fire_at = v.next FROM v WHERE job_configs.id = v.id \
             AND job_configs.next_fire_at = v.expected AND job_configs.",
        )
        .push(DB::CLAIM_OPEN)
        .push("SELECT id FROM job_configs WHERE id IN ")
        .bind_list(chunk.iter().map(|f| f.config_id))
        .push(" ORDER BY id")
        .push(DB::CLAIM_CLOSE)
        .push(" RETURNING job_configs.id AS id");
        for row in q.fetch_all(&mut tx).await? {
            fired.insert(crate::backend::Cols::<DB>(&row).uuid("id")?);
        }
    }
    let jobs: Vec<NewJob> = fires
        .iter()
        .filter(|f| fired.contains(&f.config_id))
        .flat_map(|f| f.jobs.iter().cloned())
        .collect();
    jobs::insert_on::<DB>(&mut tx, &jobs).await?;
    tx.commit().await?;
    Ok(fires
        .iter()
        .map(|f| f.config_id)
        .filter(|id| fired.contains(id))
        .collect())
}

pub(crate) async fn set_next_fire<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    next: Option<DateTime<Utc>>,
) -> Result<bool> {
    let mut q = Sql::<DB>::new("UPDATE job_configs SET next_fire_at = ");
    q.bind(next).push(" WHERE id = ").bind(id);
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn latest_outcomes<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<JobStatus>> {
    let mut q = Sql::<DB>::new("SELECT status FROM jobs WHERE job_config_id = ");
    q.bind(id)
        .push(" AND finished_at > ")
        .bind(since)
        // A dry run says nothing about the config's health.
        .push(" AND status IN ('completed', 'failed') AND dry_run = FALSE ORDER BY finished_at DESC LIMIT ")
        .bind(limit.max(0));
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows.iter()
        .map(|r| {
            let word = DB::text(r, "status")?.unwrap_or_default();
            word.parse::<JobStatus>()
                .map_err(|e| DbError::Corrupt(format!("jobs.status: {e}")))
        })
        .collect()
}

pub(crate) async fn pause<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let mut q = Sql::<DB>::new(
        "UPDATE job_configs SET disabled = TRUE, next_fire_at = NULL, paused_reason = ",
    );
    q.bind(reason)
        .push(", paused_at = ")
        .bind(truncate_micros(at))
        .push(" WHERE disabled = FALSE AND id = ")
        .bind(id);
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn unclassified<DB: Backend>(
    s: &SqlDatabase<DB>,
    limit: i64,
) -> Result<Vec<JobConfig>> {
    let mut q = Sql::<DB>::new(
        "SELECT * FROM job_configs WHERE schedule_kind IS NULL AND recurrence IS NULL \
         ORDER BY id LIMIT ",
    );
    q.bind(limit.max(0));
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::config::<DB>)
}

pub(crate) async fn record_facts<DB: Backend>(
    s: &SqlDatabase<DB>,
    facts: &[ConfigFacts],
) -> Result<u64> {
    let mut tx = s.write_tx().await?;
    let mut updated = 0;
    for f in facts {
        let mut q = Sql::<DB>::new("UPDATE job_configs SET ");
        q.assign(vec![
            ("target", (&f.target).into()),
            ("schedule_kind", f.schedule_kind.into()),
            ("recurrence", (&f.recurrence).into()),
            ("description", (&f.description).into()),
        ])
        .push(" WHERE id = ")
        .bind(f.id);
        updated += q.execute(&mut tx).await?;
        if let Some(kind) = f.schedule_kind {
            let mut q = Sql::<DB>::new("UPDATE jobs SET schedule_kind = ");
            q.bind(kind)
                .push(" WHERE schedule_kind IS NULL AND job_config_id = ")
                .bind(f.id);
            q.execute(&mut tx).await?;
        }
    }
    tx.commit().await?;
    Ok(updated)
}

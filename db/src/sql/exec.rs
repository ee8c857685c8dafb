//! The executor's hot path: claim, lease renewal, finish, retry, lease-expiry recovery.
//! Every operation is one statement (or one short transaction) per batch, whatever the
//! batch size.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqlDatabase, micros, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::model::{Job, JobFinish, JobRetry, truncate_micros};

/// Rows per finish statement (9 binds each).
const FINISH_CHUNK: usize = 256;
/// Ids per lease-renewal statement.
const RENEW_CHUNK: usize = 500;

/// Which queued jobs a claim may take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Claimant<'a> {
    /// A node: jobs for any node or pinned to it.
    Node(&'a str),
    /// An agent: only jobs pinned to it, in its account (never `any`: those are the
    /// nodes', of every account).
    Agent { id: &'a str, account: &'a str },
}

pub(crate) async fn claim<DB: Backend>(
    s: &SqlDatabase<DB>,
    claimant: Claimant<'_>,
    now: DateTime<Utc>,
    limit: i64,
    lease: Duration,
    exclude_accounts: &[String],
) -> Result<Vec<Job>> {
    let node = match claimant {
        Claimant::Node(n) | Claimant::Agent { id: n, .. } => n,
    };
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let now_us = now.timestamp_micros();
    let until = now_us.saturating_add(micros(lease));
    // One statement: on SQLite a write statement takes the write lock before it reads, so
    // the pick-and-update is atomic; on PostgreSQL the subquery locks the picked rows with
    // SKIP LOCKED so a concurrent claimer takes the next ones instead. The picked rows are
    // queued and locked, so the update names them by id alone: restating `status =
    // 'queued'` there let PostgreSQL's planner walk the whole partial queue index once per
    // claim (checking each entry against the picked ids) instead of fetching them by
    // primary key, about 100 ms a claim with 20,000 jobs waiting.
    let mut q = Sql::<DB>::new("UPDATE jobs SET status = 'running', started_at = ");
    q.bind(now_us)
        .push(", processing_node = ")
        .bind(node)
        .push(", lease_expires_at = ")
        .bind(until)
        .push(", attempt = attempt + 1, updated_at = ")
        .bind(now_us)
        .push(" WHERE ")
        .push(DB::CLAIM_OPEN)
        .push("SELECT id FROM jobs WHERE status = 'queued' AND scheduled_for <= ")
        .bind(now_us)
        .push(" AND ");
    match claimant {
        Claimant::Node(_) => {
            q.push("(run_on = 'any' OR run_on = ").bind(node).push(")");
        }
        Claimant::Agent { id, account } => {
            q.push("run_on = ")
                .bind(id)
                .push(" AND account_id = ")
                .bind(account);
        }
    }
    if !exclude_accounts.is_empty() {
        q.push(" AND account_id NOT IN ")
            .bind_list(exclude_accounts.iter().map(String::as_str));
    }
    q.push(" ORDER BY scheduled_for, id LIMIT ")
        .bind(limit)
        .push(DB::CLAIM_CLOSE)
        .push(" RETURNING *");
    let plan = match claimant {
        Claimant::Node(_) => DB::CLAIM_PLAN,
        Claimant::Agent { .. } => None,
    };
    let rows = match plan {
        None => q.fetch_all(&mut *s.conn().await?).await?,
        Some(setting) => {
            let mut tx = s.write_tx().await?;
            Sql::<DB>::new(setting).execute(&mut tx).await?;
            let rows = q.fetch_all(&mut tx).await?;
            tx.commit().await?;
            rows
        }
    };
    let mut jobs = rows::all::<DB, _>(&rows, rows::job::<DB>)?;
    // RETURNING order is unspecified.
    jobs.sort_by_key(|j| (j.scheduled_for, j.id));
    Ok(jobs)
}

pub(crate) async fn renew_leases<DB: Backend>(
    s: &SqlDatabase<DB>,
    node: &str,
    jobs: &[(Uuid, i32)],
    until: DateTime<Utc>,
) -> Result<u64> {
    let mut renewed = 0;
    let mut conn = s.conn().await?;
    for chunk in jobs.chunks(RENEW_CHUNK) {
        let mut q = Sql::<DB>::new("UPDATE jobs SET lease_expires_at = ");
        q.bind(until)
            .push(" WHERE status = 'running' AND processing_node = ")
            .bind(node)
            .push(" AND (");
        for (i, (id, attempt)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(id = ")
                .bind(*id)
                .push(" AND attempt = ")
                .bind(i64::from(*attempt))
                .push(")");
        }
        q.push(")");
        renewed += q.execute(&mut conn).await?;
    }
    Ok(renewed)
}

fn validate(f: &JobFinish) -> Result<()> {
    if !f.status.is_final() {
        return Err(DbError::Invalid(format!(
            "job {}: finish status must be completed, failed or cancelled, not {}",
            f.id, f.status
        )));
    }
    Ok(())
}

pub(crate) async fn finish<DB: Backend>(
    s: &SqlDatabase<DB>,
    finishes: &[JobFinish],
) -> Result<u64> {
    for f in finishes {
        validate(f)?;
    }
    let now = truncate_micros(Utc::now());
    let mut applied = 0;
    let mut conn = s.conn().await?;
    for chunk in finishes.chunks(FINISH_CHUNK) {
        // One UPDATE ... FROM (VALUES ...) per chunk; the join condition is the
        // "still running on the reporting node" guard.
        let mut q = Sql::<DB>::new(
            "WITH v (id, node, attempt, status, result, message, details, logs, pdone, ptotal) AS (VALUES ",
        );
        for (i, f) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let vals: [Val; 10] = [
                f.id.into(),
                (&f.node_id).into(),
                f.attempt.map(i64::from).into(),
                f.status.into(),
                f.result.into(),
                (&f.message).into(),
                Val::Text(f.details.as_ref().map(|d| d.to_string())),
                rows::encode_logs(&f.logs).into(),
                f.progress.map(|p| p.done).into(),
                f.progress.map(|p| p.total).into(),
            ];
            q.bind_list(vals);
        }
        q.push(
            ") UPDATE jobs SET status = v.status, result = v.result, message = v.message, \
             details = v.details, logs = jobs.logs || v.logs, \
             progress_done = COALESCE(v.pdone, jobs.progress_done), \
             progress_total = COALESCE(v.ptotal, jobs.progress_total), \
             lease_expires_at = NULL, finished_at = ",
        )
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(
            " FROM v WHERE jobs.id = v.id AND jobs.processing_node = v.node \
             AND jobs.status = 'running' AND (v.attempt IS NULL OR jobs.attempt = v.attempt)",
        );
        applied += q.execute(&mut conn).await?;
    }
    Ok(applied)
}

pub(crate) async fn retry<DB: Backend>(s: &SqlDatabase<DB>, r: &JobRetry) -> Result<bool> {
    let mut q = Sql::<DB>::new(
        "UPDATE jobs SET status = 'queued', processing_node = NULL, lease_expires_at = NULL, \
         scheduled_for = ",
    );
    q.bind(truncate_micros(r.at))
        .push(", message = ")
        .bind(r.message.as_str())
        .push(", logs = logs || ")
        .bind(rows::encode_logs(&r.logs))
        .push(", updated_at = ")
        .bind(truncate_micros(Utc::now()));
    if r.not_run {
        q.push(", attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END");
    }
    q.push(" WHERE status = 'running' AND id = ")
        .bind(r.id)
        .push(" AND processing_node = ")
        .bind(r.node_id.as_str());
    if let Some(attempt) = r.attempt {
        q.push(" AND attempt = ").bind(attempt);
    }
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn update_progress<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    done: i64,
    total: i64,
) -> Result<bool> {
    let mut q = Sql::<DB>::new("UPDATE jobs SET progress_done = ");
    q.bind(done)
        .push(", progress_total = ")
        .bind(total)
        .push(", updated_at = ")
        .bind(truncate_micros(Utc::now()))
        .push(" WHERE status = 'running' AND id = ")
        .bind(id);
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

/// The message of a job whose node stopped while running it: names the node so an
/// operator knows where to look, and says how the loss was noticed (`why`).
fn lost_message(why: &str) -> String {
    format!(
        "'node ' || COALESCE(processing_node, 'unknown') || ' stopped while running the job ({why})'"
    )
}

pub(crate) async fn recover_expired_leases<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: DateTime<Utc>,
) -> Result<Vec<Job>> {
    let now_us = now.timestamp_micros();
    let mut recovered = fail_expired_agent_jobs(s, now_us).await?;
    recovered.extend(
        recover_lost(s, now, "lease expired", |q| {
            q.push(" AND lease_expires_at < ")
                .bind(now_us)
                .push(" AND processing_node NOT IN (SELECT id FROM agents)");
        })
        .await?,
    );
    Ok(recovered)
}

/// A job handed to an agent is never handed out again: the agent may still be running
/// it (a network cut, not a crash), so a second run could act twice on a store. Once its
/// lease ends it fails, naming the agent; an operator may reschedule it.
async fn fail_expired_agent_jobs<DB: Backend>(
    s: &SqlDatabase<DB>,
    now_us: i64,
) -> Result<Vec<Job>> {
    let mut q = Sql::<DB>::new(
        "UPDATE jobs SET status = 'failed', result = 'failure', message = 'agent ' || \
         COALESCE((SELECT client_machine FROM agents WHERE agents.id = jobs.processing_node), '') \
         || ' (' || processing_node || ') did not complete the job within its lease', \
         lease_expires_at = NULL, finished_at = ",
    );
    q.bind(now_us)
        .push(", updated_at = ")
        .bind(now_us)
        .push(" WHERE status = 'running' AND lease_expires_at < ")
        .bind(now_us)
        .push(" AND processing_node IN (SELECT id FROM agents) RETURNING *");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::job::<DB>)
}

pub(crate) async fn recover_node<DB: Backend>(
    s: &SqlDatabase<DB>,
    node_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Job>> {
    recover_lost(s, now, "restarted", |q| {
        q.push(" AND processing_node = ").bind(node_id);
    })
    .await
}

/// Running jobs matching `filter` (an `AND ...` appended to the WHERE clause) whose node
/// was lost: failed once attempts are used up, else requeued due `now`; in one
/// transaction. Returns the affected jobs as they are now.
async fn recover_lost<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: DateTime<Utc>,
    why: &str,
    filter: impl Fn(&mut Sql<DB>),
) -> Result<Vec<Job>> {
    let now_us = now.timestamp_micros();
    let lost = lost_message(why);
    let mut tx = s.write_tx().await?;
    // Attempts exhausted: failed, keeping processing_node as the node that was lost.
    let mut fail = Sql::<DB>::new(format!(
        "UPDATE jobs SET status = 'failed', result = 'failure', message = {lost}, \
         lease_expires_at = NULL, finished_at = "
    ));
    fail.bind(now_us)
        .push(", updated_at = ")
        .bind(now_us)
        .push(" WHERE status = 'running' AND attempt >= max_attempts");
    filter(&mut fail);
    fail.push(" RETURNING *");
    let mut rows = fail.fetch_all(&mut tx).await?;
    // Attempts left: back in the queue, due now.
    let mut requeue = Sql::<DB>::new(format!(
        "UPDATE jobs SET status = 'queued', message = {lost}, processing_node = NULL, \
         lease_expires_at = NULL, scheduled_for = "
    ));
    requeue
        .bind(now_us)
        .push(", updated_at = ")
        .bind(now_us)
        .push(" WHERE status = 'running' AND attempt < max_attempts");
    filter(&mut requeue);
    requeue.push(" RETURNING *");
    rows.extend(requeue.fetch_all(&mut tx).await?);
    tx.commit().await?;
    rows::all::<DB, _>(&rows, rows::job::<DB>)
}

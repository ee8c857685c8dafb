//! The executor's hot path: claim, lease renewal, finish, retry, lease-expiry recovery.
//! Every operation is one statement (or one short transaction) per batch, whatever the
//! batch size.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqlDatabase, micros, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::model::{Job, JobFinish, JobRetry, NewAuditEntry, truncate_micros};

/// Rows per finish statement (11 binds each).
const FINISH_CHUNK: usize = 256;
/// Most account ranges a claim reads (see `account_ranges`).
const MAX_RANGES: usize = 200;
/// Jobs per lease-renewal statement (3 binds each).
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
        .push(DB::CLAIM_OPEN);
    // The ordered walk of the queue index suits a node's claim open to every account.
    // One leaving accounts out reads the others' ranges of `jobs_queue_account` instead:
    // a walk would pass every due job of the accounts left out (all of a long backlog,
    // each time a node at its share looks for other accounts' jobs).
    let ranges = account_ranges(exclude_accounts);
    let node_walk = matches!(claimant, Claimant::Node(_)) && ranges.is_empty();
    let by_account = DB::indexed("jobs", "jobs_queue_account");
    if ranges.is_empty() {
        let from = if node_walk {
            DB::indexed("jobs", "jobs_queue")
        } else {
            "jobs".to_owned()
        };
        select_due(&mut q, &from, claimant, now_us);
    } else if ranges.len() > MAX_RANGES {
        // Past `MAX_RANGES` accounts at their share (only with a tiny `account_share`),
        // SQLite takes neither that many `UNION ALL` parts (500) nor that deep an `OR` (an
        // expression tree of 1,000): the accounts are left out with `NOT IN`, a slower walk.
        select_due(&mut q, &DB::indexed("jobs", "jobs_queue"), claimant, now_us);
        q.push(" AND account_id NOT IN ")
            .bind_list(exclude_accounts.iter().map(String::as_str));
    } else if DB::RANGES_AS_UNION {
        q.push("SELECT id FROM (");
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push(format!("SELECT id, scheduled_for FROM {by_account} WHERE "));
            due(&mut q, claimant, now_us);
            q.push(" AND ");
            in_range(&mut q, *range);
        }
        q.push(")");
    } else {
        select_due(&mut q, &by_account, claimant, now_us);
        q.push(" AND (");
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                q.push(" OR ");
            }
            in_range(&mut q, *range);
        }
        q.push(")");
    }
    q.push(" ORDER BY scheduled_for, id LIMIT ")
        .bind(limit)
        .push(DB::CLAIM_CLOSE)
        .push(" RETURNING *");
    // A claim leaving accounts out stays one statement: it runs every round of a node
    // at its share, and a transaction around it (to set the planner) costs three more
    // round trips, more than it saves on a small node (measured: 16 slots went from ~2k
    // to ~1.2k starts a second).
    let plan = if node_walk { DB::CLAIM_PLAN } else { None };
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

/// Appends the condition of a due job the claimant may take: queued, due at `now_us`,
/// for any node or pinned to this one (an agent: pinned to it, in its account).
fn due<DB: Backend>(q: &mut Sql<DB>, claimant: Claimant<'_>, now_us: i64) {
    q.push("status = 'queued' AND scheduled_for <= ")
        .bind(now_us)
        .push(" AND ");
    match claimant {
        Claimant::Node(node) => {
            q.push("(run_on = 'any' OR run_on = ").bind(node).push(")");
        }
        Claimant::Agent { id, account } => {
            q.push("run_on = ")
                .bind(id)
                .push(" AND account_id = ")
                .bind(account);
        }
    }
}

/// Appends `SELECT id FROM <from> WHERE` and the [`due`] condition.
fn select_due<DB: Backend>(q: &mut Sql<DB>, from: &str, claimant: Claimant<'_>, now_us: i64) {
    q.push(format!("SELECT id FROM {from} WHERE "));
    due(q, claimant, now_us);
}

/// Account ids strictly between two bounds in byte order (`None`: unbounded).
type AccountRange<'a> = (Option<&'a str>, Option<&'a str>);

/// Every account but `accounts`, as the open ranges between them in byte order (none
/// when nothing is left out): ranges an index on `account_id` answers without reading
/// the accounts left out, where `NOT IN` is checked row by row.
fn account_ranges(accounts: &[String]) -> Vec<AccountRange<'_>> {
    if accounts.is_empty() {
        return Vec::new();
    }
    let mut bounds: Vec<&str> = accounts.iter().map(String::as_str).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let lows = std::iter::once(None).chain(bounds.iter().copied().map(Some));
    let highs = bounds
        .iter()
        .copied()
        .map(Some)
        .chain(std::iter::once(None));
    lows.zip(highs).collect()
}

/// Appends `(account_id > low AND account_id < high)`, compared bytewise.
fn in_range<DB: Backend>(q: &mut Sql<DB>, (low, high): AccountRange<'_>) {
    let column = DB::sort_text("account_id");
    q.push("(");
    if let Some(low) = low {
        q.push(format!("{column} > ")).bind(low);
    }
    if let Some(high) = high {
        if low.is_some() {
            q.push(" AND ");
        }
        q.push(format!("{column} < ")).bind(high);
    }
    if low.is_none() && high.is_none() {
        q.push("1 = 1");
    }
    q.push(")");
}

pub(crate) async fn renew_leases<DB: Backend>(
    s: &SqlDatabase<DB>,
    node: &str,
    jobs: &[(Uuid, i32)],
    until: DateTime<Utc>,
) -> Result<u64> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut renewed = 0;
    let mut jobs = jobs.to_vec();
    jobs.sort_unstable();
    let mut tx = s.write_tx().await?;
    keyed_plan::<DB>(&mut tx).await?;
    for chunk in jobs.chunks(RENEW_CHUNK) {
        // The batch joined by id (see `Backend::KEYED_PLAN`); `was` is the status a job
        // must still have.
        let mut q = Sql::<DB>::new("WITH v (id, attempt, was) AS (VALUES ");
        for (i, (id, attempt)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_list::<Val>([(*id).into(), i64::from(*attempt).into(), "running".into()]);
        }
        q.push(") UPDATE jobs SET lease_expires_at = ")
            .bind(until)
            .push(
                " FROM v WHERE jobs.id = v.id AND jobs.attempt = v.attempt \
                 AND jobs.status = v.was AND jobs.processing_node = ",
            )
            .bind(node);
        renewed += q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(renewed)
}

/// Runs the backend's [`Backend::KEYED_PLAN`] in the transaction, if it has one.
async fn keyed_plan<DB: Backend>(conn: &mut DB::Connection) -> Result<()> {
    if let Some(setting) = DB::KEYED_PLAN {
        Sql::<DB>::new(setting).execute(conn).await?;
    }
    Ok(())
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

/// Records the outcomes that still apply and, in the same transaction, appends the
/// audit entry given with each of those (none for one that did not apply: another node
/// recovered that job and its record stands). Returns how many applied.
///
/// Rows are written in id order, as [`renew_leases`] writes them: a finish and a lease
/// renewal of the same running jobs then wait for each other instead of deadlocking
/// (PostgreSQL lets a deadlock stand for a second before it cancels one of them).
pub(crate) async fn finish<DB: Backend>(
    s: &SqlDatabase<DB>,
    finishes: &[(&JobFinish, Option<&NewAuditEntry>)],
) -> Result<u64> {
    let mut ids = HashSet::with_capacity(finishes.len());
    for (f, _) in finishes {
        validate(f)?;
        // One row is updated per job: a second outcome would be audited unrecorded.
        if !ids.insert(f.id) {
            return Err(DbError::Invalid(format!(
                "job {}: two outcomes in one batch",
                f.id
            )));
        }
    }
    if finishes.is_empty() {
        return Ok(0);
    }
    let now = truncate_micros(Utc::now());
    let mut applied: HashSet<Uuid> = HashSet::with_capacity(finishes.len());
    let mut ordered = finishes.to_vec();
    ordered.sort_unstable_by_key(|(f, _)| f.id);
    let mut tx = s.write_tx().await?;
    keyed_plan::<DB>(&mut tx).await?;
    for chunk in ordered.chunks(FINISH_CHUNK) {
        // One UPDATE ... FROM (VALUES ...) per chunk, joined by id (see
        // `Backend::KEYED_PLAN`); the rest of the join condition is the "still running on
        // the reporting node, in that attempt" guard (`was`: the status it must have).
        let mut q = Sql::<DB>::new(
            "WITH v (id, node, attempt, status, result, message, details, logs, pdone, ptotal, was) AS (VALUES ",
        );
        for (i, (f, _)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_list::<Val>([
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
                "running".into(),
            ]);
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
             AND jobs.status = v.was AND (v.attempt IS NULL OR jobs.attempt = v.attempt) \
             RETURNING jobs.id",
        );
        for row in q.fetch_all(&mut tx).await? {
            applied.insert(crate::backend::Cols::<DB>(&row).uuid("id")?);
        }
    }
    let entries: Vec<NewAuditEntry> = finishes
        .iter()
        .filter(|(f, _)| applied.contains(&f.id))
        .filter_map(|(_, entry)| entry.cloned())
        .collect();
    super::audit::append_in::<DB>(&mut tx, &entries).await?;
    tx.commit().await?;
    Ok(applied.len() as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accounts_not_left_out_are_the_ranges_between_those_left_out() {
        assert!(account_ranges(&[]).is_empty());
        let left_out = ["b", "B", "a", "b"].map(String::from);
        assert_eq!(
            account_ranges(&left_out),
            [
                (None, Some("B")),
                (Some("B"), Some("a")),
                (Some("a"), Some("b")),
                (Some("b"), None)
            ]
        );
    }

    #[test]
    fn the_claim_reads_the_queue_through_its_index_on_sqlite() {
        let mut q = Sql::<sqlx::Sqlite>::new("");
        in_range(&mut q, (Some("a"), None));
        assert_eq!(q.into_inner().sql(), "(account_id > ?)");
        assert_eq!(
            <sqlx::Sqlite as Backend>::indexed("jobs", "jobs_queue"),
            "jobs INDEXED BY jobs_queue"
        );
        let mut q = Sql::<sqlx::Postgres>::new("");
        in_range(&mut q, (Some("a"), Some("b")));
        assert_eq!(
            q.into_inner().sql(),
            "(account_id COLLATE \"C\" > $1 AND account_id COLLATE \"C\" < $2)"
        );
    }
}

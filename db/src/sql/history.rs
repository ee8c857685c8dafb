//! Job history: condition-tree queries, acknowledgement and reschedule (see
//! `crate::history`).

use chrono::Utc;
use uuid::Uuid;

use super::condition::push_condition;
use super::{SqlDatabase, jobs, rows};
use crate::backend::{Backend, Cols, Sql};
use crate::error::{DbError, Result};
use crate::history::{
    ColumnKind, Field, JobCondition, JobField, JobHistoryEntry, JobOrder, JobQuery,
};
use crate::model::{NewJob, truncate_micros};

fn push_where<DB: Backend>(
    q: &mut Sql<DB>,
    account_id: Option<&str>,
    cond: &JobCondition,
) -> Result<()> {
    q.push(" WHERE ");
    if let Some(a) = account_id {
        q.push("account_id = ").bind(a).push(" AND ");
    }
    push_condition(q, cond, 0)
}

fn push_order<DB: Backend>(q: &mut Sql<DB>, order: &[(JobOrder, bool)]) -> Result<()> {
    q.push(" ORDER BY ");
    for (key, descending) in order {
        match key {
            JobOrder::Field(f) if Field::kind(*f) == ColumnKind::Text => {
                q.push(DB::sort_text(Field::column(*f)));
            }
            JobOrder::Field(f) => {
                q.push(Field::column(*f));
            }
            JobOrder::Rank(conds) => {
                q.push("(CASE");
                for (i, c) in conds.iter().enumerate() {
                    q.push(" WHEN ");
                    push_condition(q, c, 1)?;
                    q.push(format!(" THEN {i}"));
                }
                q.push(format!(" ELSE {} END)", conds.len()));
            }
        }
        // The audit id is never NULL: no NULLs clause, so PostgreSQL reads the order
        // off its index (the clause would differ from the index's NULLs order).
        let audit_id = matches!(key, JobOrder::Field(JobField::AuditId));
        q.push(match (*descending, audit_id) {
            (true, false) => " DESC NULLS LAST, ",
            (false, false) => " ASC NULLS FIRST, ",
            (true, true) => " DESC, ",
            (false, true) => " ASC, ",
        });
    }
    let last_descending = order.first().is_some_and(|(_, d)| *d);
    q.push(if last_descending {
        "audit_id DESC"
    } else {
        "audit_id ASC"
    });
    Ok(())
}

fn entry<DB: Backend>(row: &DB::Row) -> Result<JobHistoryEntry> {
    let job = rows::job::<DB>(row)?;
    let c = Cols::<DB>(row);
    let acknowledged_attempt = c.opt_int("acknowledged_attempt")?;
    Ok(JobHistoryEntry {
        audit_id: c.int("audit_id")?,
        acknowledged: acknowledged_attempt == Some(i64::from(job.attempt)),
        rescheduled_as: c.opt_uuid("rescheduled_as")?,
        job,
    })
}

pub(crate) async fn query<DB: Backend>(
    s: &SqlDatabase<DB>,
    query: &JobQuery,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<JobHistoryEntry>)> {
    let account = query.account_id.as_deref();
    // Checked once here, so the count's filter below cannot fail.
    push_where(&mut Sql::<DB>::new(""), account, &query.condition)?;
    let count = super::page::count_query::<DB>(
        "jobs",
        |q| {
            let _ = push_where(q, account, &query.condition);
        },
        query.count_bound,
    );
    // Never the logs: no history view or batch action reads them, and a page of jobs
    // with their logs can be many megabytes.
    let mut q = Sql::<DB>::new(format_args!(
        "SELECT {}, audit_id, acknowledged_attempt, rescheduled_as FROM jobs",
        super::jobs::JOB_COLUMNS_NO_LOGS
    ));
    push_where(&mut q, account, &query.condition)?;
    push_order(&mut q, &query.order)?;
    q.page(skip, limit);
    let mut conn = s.conn().await?;
    let total = count.fetch_int(&mut conn, "n").await?;
    let rows = q.fetch_all(&mut conn).await?;
    Ok((total, rows::all::<DB, _>(&rows, entry::<DB>)?))
}

pub(crate) async fn acknowledge<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    cond: &JobCondition,
) -> Result<u64> {
    let mut q = Sql::<DB>::new("UPDATE jobs SET acknowledged_attempt = attempt, updated_at = ");
    q.bind(truncate_micros(Utc::now()));
    push_where(&mut q, account_id, cond)?;
    Ok(q.execute(&mut *s.conn().await?).await?)
}

pub(crate) async fn reschedule<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    reruns: &[(Uuid, NewJob)],
) -> Result<u64> {
    if reruns.is_empty() {
        return Ok(0);
    }
    let now = truncate_micros(Utc::now());
    let mut tx = s.write_tx().await?;
    for (old, new) in reruns {
        let mut q = Sql::<DB>::new("UPDATE jobs SET rescheduled_as = ");
        q.bind(new.id)
            .push(", updated_at = ")
            .bind(now)
            .push(
                " WHERE rescheduled_as IS NULL AND status IN ('completed', 'failed', 'cancelled') \
                 AND id = ",
            )
            .bind(*old);
        if let Some(a) = account_id {
            q.push(" AND account_id = ").bind(a);
        }
        if q.execute(&mut tx).await? == 0 {
            tx.rollback().await?;
            return Err(DbError::Conflict(format!(
                "job {old} is not a finished job that was never rescheduled (any more)"
            )));
        }
    }
    let news: Vec<NewJob> = reruns.iter().map(|(_, n)| n.clone()).collect();
    let n = jobs::insert_on::<DB>(&mut tx, &news).await?;
    tx.commit().await?;
    Ok(n)
}

//! Alerts: raised once, claimed with a lease, settled (migration 20250112).

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqlDatabase, rows};
use crate::alerts::{Alert, AlertFilter, AlertOutcome, NewAlert};
use crate::backend::{Backend, Sql, Val};
use crate::error::Result;
use crate::model::truncate_micros;

pub(crate) async fn raise<DB: Backend>(s: &SqlDatabase<DB>, alerts: &[NewAlert]) -> Result<u64> {
    if alerts.is_empty() {
        return Ok(0);
    }
    let mut tx = s.write_tx().await?;
    let mut raised = 0;
    for a in alerts {
        let created = truncate_micros(a.created_at);
        let vals: [Val; 13] = [
            a.id.into(),
            (&a.account_id).into(),
            a.kind.into(),
            (&a.dedupe_key).into(),
            (&a.subject).into(),
            (&a.message).into(),
            (&a.details).into(),
            a.network_id.into(),
            a.job_config_id.into(),
            a.job_id.into(),
            created.into(),
            "pending".into(),
            created.into(),
        ];
        let mut q = Sql::<DB>::new(
            "INSERT INTO alerts (id, account_id, kind, dedupe_key, subject, message, details, \
             network_id, job_config_id, job_id, created_at, state, next_attempt_at) VALUES ",
        );
        q.bind_list(vals)
            .push(" ON CONFLICT (dedupe_key) DO NOTHING");
        raised += q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(raised)
}

pub(crate) async fn claim<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: DateTime<Utc>,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Alert>> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let now = truncate_micros(now);
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    // One statement, as jobs are claimed: atomic on SQLite, SKIP LOCKED on PostgreSQL.
    let mut q = Sql::<DB>::new("UPDATE alerts SET lease_until = ");
    q.bind(until)
        .push(" WHERE state = 'pending' AND ")
        .push(DB::CLAIM_OPEN)
        .push("SELECT id FROM alerts WHERE state = 'pending' AND next_attempt_at <= ")
        .bind(now)
        .push(" AND (lease_until IS NULL OR lease_until < ")
        .bind(now)
        .push(") ORDER BY next_attempt_at, id LIMIT ")
        .bind(limit)
        .push(DB::CLAIM_CLOSE)
        .push(" RETURNING *");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    let mut alerts = rows::all::<DB, _>(&rows, rows::alert::<DB>)?;
    alerts.sort_by_key(|a| (a.next_attempt_at, a.id));
    Ok(alerts)
}

pub(crate) async fn settle<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    outcome: &AlertOutcome,
) -> Result<()> {
    let mut pairs: Vec<(&str, Val)> = vec![("lease_until", Val::Int(None))];
    let mut q = Sql::<DB>::new("UPDATE alerts SET ");
    match outcome {
        AlertOutcome::Delivered { at } => {
            pairs.push(("state", "delivered".into()));
            pairs.push(("delivered_at", truncate_micros(*at).into()));
            q.assign(pairs).push(", attempts = attempts + 1");
        }
        AlertOutcome::Failed { error, retry_at } => {
            pairs.push(("last_error", error.as_str().into()));
            match retry_at {
                Some(at) => pairs.push(("next_attempt_at", truncate_micros(*at).into())),
                None => pairs.push(("state", "failed".into())),
            }
            q.assign(pairs).push(", attempts = attempts + 1");
        }
        AlertOutcome::Deferred { until } => {
            pairs.push(("next_attempt_at", truncate_micros(*until).into()));
            q.assign(pairs);
        }
    }
    q.push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'pending'");
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    f: &AlertFilter,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<Alert>)> {
    let filter = |q: &mut Sql<DB>| {
        q.push(" WHERE 1 = 1");
        if let Some(a) = &f.account_id {
            q.push(" AND account_id = ").bind(a);
        }
        if let Some(k) = f.kind {
            q.push(" AND kind = ").bind(k);
        }
        if let Some(st) = f.state {
            q.push(" AND state = ").bind(st);
        }
        if let Some(n) = f.network_id {
            q.push(" AND network_id = ").bind(n);
        }
    };
    let mut conn = s.conn().await?;
    let mut count = Sql::<DB>::new("SELECT COUNT(*) AS n FROM alerts");
    filter(&mut count);
    let total = count.fetch_int(&mut conn, "n").await?;
    let mut q = Sql::<DB>::new("SELECT * FROM alerts");
    filter(&mut q);
    q.push(" ORDER BY created_at DESC, id DESC")
        .page(skip, limit);
    let rows = q.fetch_all(&mut conn).await?;
    Ok((total, rows::all::<DB, _>(&rows, rows::alert::<DB>)?))
}

pub(crate) async fn purge<DB: Backend>(
    s: &SqlDatabase<DB>,
    before: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let before = truncate_micros(before);
    let mut conn = s.conn().await?;
    let mut q = Sql::<DB>::new("DELETE FROM ssl_endpoint_history WHERE observed_at < ");
    q.bind(before).push(
        " AND id NOT IN (SELECT last_history_id FROM ssl_endpoints WHERE last_history_id IS NOT NULL)",
    );
    let history = q.execute(&mut conn).await?;
    let mut q = Sql::<DB>::new("DELETE FROM alerts WHERE state <> 'pending' AND created_at < ");
    q.bind(before);
    let alerts = q.execute(&mut conn).await?;
    Ok((history, alerts))
}

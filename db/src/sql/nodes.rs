//! Nodes: what each process says of itself when it starts, its heartbeats, the jobs it
//! runs (counted when read), and the queued jobs that wait for a node that stopped.

use chrono::{DateTime, Utc};

use super::{SqlDatabase, micros, rows};
use crate::backend::{Backend, Cols, Sql, Val};
use crate::error::Result;
use crate::model::{Job, Node, NodeStart, truncate_micros};

pub(crate) async fn start_node<DB: Backend>(s: &SqlDatabase<DB>, n: &NodeStart<'_>) -> Result<()> {
    let at = truncate_micros(n.started_at);
    let mut q = Sql::<DB>::new(
        "INSERT INTO nodes (id, first_seen_at, last_seen_at, version, started_at, heartbeat_ms) VALUES ",
    );
    q.bind_list::<Val>([
        n.id.into(),
        at.into(),
        at.into(),
        n.version.into(),
        at.into(),
        (micros(n.heartbeat) / 1000).into(),
    ])
    .push(
        " ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, \
         version = excluded.version, started_at = excluded.started_at, \
         heartbeat_ms = excluded.heartbeat_ms, stopped_at = NULL",
    );
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

pub(crate) async fn stop_node<DB: Backend>(
    s: &SqlDatabase<DB>,
    node_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut q = Sql::<DB>::new("UPDATE nodes SET stopped_at = ");
    q.bind(truncate_micros(at))
        .push(" WHERE id = ")
        .bind(node_id);
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

pub(crate) async fn heartbeat<DB: Backend>(
    s: &SqlDatabase<DB>,
    node: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    // A node that heartbeats without having announced its start (an older caller) is
    // taken to have started now.
    let mut q =
        Sql::<DB>::new("INSERT INTO nodes (id, first_seen_at, last_seen_at, started_at) VALUES ");
    q.bind_list::<Val>([node.into(), now.into(), now.into(), now.into()])
        .push(" ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at");
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

pub(crate) async fn list_nodes<DB: Backend>(s: &SqlDatabase<DB>) -> Result<Vec<Node>> {
    let rows = Sql::<DB>::new("SELECT * FROM nodes ORDER BY id")
        .fetch_all(&mut *s.conn().await?)
        .await?;
    rows::all::<DB, _>(&rows, rows::node::<DB>)
}

pub(crate) async fn running_jobs_per_node<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
) -> Result<Vec<(String, i64)>> {
    let mut q = Sql::<DB>::new(
        "SELECT processing_node, COUNT(*) AS n FROM jobs \
         WHERE status = 'running' AND processing_node IS NOT NULL",
    );
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q.push(" GROUP BY processing_node ORDER BY processing_node");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows.iter()
        .map(|row| {
            let c = Cols::<DB>(row);
            Ok((c.text("processing_node")?, c.int("n")?))
        })
        .collect()
}

pub(crate) async fn note_jobs_waiting_for<DB: Backend>(
    s: &SqlDatabase<DB>,
    node_id: &str,
    due_before: DateTime<Utc>,
    message: &str,
) -> Result<Vec<Job>> {
    let now = truncate_micros(Utc::now());
    // The message is the compare: a job already told this is not returned again, so
    // several nodes noting at once raise one alert per job.
    let mut q = Sql::<DB>::new("UPDATE jobs SET message = ");
    q.bind(message)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE status = 'queued' AND run_on = ")
        .bind(node_id)
        .push(" AND scheduled_for <= ")
        .bind(truncate_micros(due_before))
        .push(" AND (message IS NULL OR message <> ")
        .bind(message)
        .push(") RETURNING *");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    let mut jobs = rows::all::<DB, _>(&rows, rows::job::<DB>)?;
    jobs.sort_by_key(|j| (j.scheduled_for, j.id));
    Ok(jobs)
}

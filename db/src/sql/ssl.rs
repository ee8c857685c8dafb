//! SSL network queries (migration 20250110).

use chrono::Utc;
use uuid::Uuid;

use super::page::page;
use super::{SqlDatabase, record, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::Result;
use crate::filter::{SSL_NETWORK_SORT, Sort, resolve};
use crate::model::truncate_micros;
use crate::ssl::{SslNetwork, SslNetworkFilter};

const DUPLICATE: &str = "an SSL network with this name already exists";

fn json<T: serde::Serialize>(v: &T) -> Val {
    Val::Text(Some(
        serde_json::to_string(v).unwrap_or_else(|_| "[]".into()),
    ))
}

/// Columns a user edits; shared by insert and update.
fn editable(n: &SslNetwork) -> Vec<(&'static str, Val)> {
    vec![
        ("name", (&n.name).into()),
        ("description", (&n.description).into()),
        ("agent_pool_name", (&n.agent_pool_name).into()),
        ("enabled", n.enabled.into()),
        ("discover_schedule", (&n.discover_schedule).into()),
        ("monitor_schedule", (&n.monitor_schedule).into()),
        ("discover_timeout_ms", n.discover_timeout_ms.into()),
        ("monitor_timeout_ms", n.monitor_timeout_ms.into()),
        ("expiration_alert_days", n.expiration_alert_days.into()),
        ("quiet_hours", json(&n.quiet_hours)),
        ("alert_recipients", json(&n.alert_recipients)),
        ("auto_monitor", n.auto_monitor.into()),
        ("get_robots", n.get_robots.into()),
        ("ranges", json(&n.ranges)),
        (
            "next_discover_at",
            n.next_discover_at.map(truncate_micros).into(),
        ),
        (
            "next_monitor_at",
            n.next_monitor_at.map(truncate_micros).into(),
        ),
    ]
}

pub(crate) async fn insert<DB: Backend>(s: &SqlDatabase<DB>, n: &SslNetwork) -> Result<SslNetwork> {
    let mut cols = vec![
        ("id", n.id.into()),
        ("account_id", (&n.account_id).into()),
        ("created_at", truncate_micros(n.created_at).into()),
        ("updated_at", truncate_micros(n.updated_at).into()),
    ];
    cols.extend(editable(n));
    record::insert(s, "ssl_networks", cols, DUPLICATE, rows::ssl_network::<DB>).await
}

pub(crate) async fn update<DB: Backend>(s: &SqlDatabase<DB>, n: &SslNetwork) -> Result<SslNetwork> {
    let mut pairs = editable(n);
    pairs.push(("updated_at", truncate_micros(Utc::now()).into()));
    let key = (n.id, n.account_id.as_str());
    record::update(
        s,
        "ssl_networks",
        pairs,
        key,
        DUPLICATE,
        rows::ssl_network::<DB>,
    )
    .await
}

/// The network with `id` (in `account_id` unless `None`).
pub(crate) async fn get<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<SslNetwork>> {
    record::get(s, "ssl_networks", account_id, id, rows::ssl_network::<DB>).await
}

pub(crate) async fn delete<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<bool> {
    let mut tx = s.write_tx().await?;
    let mut q = Sql::<DB>::new("DELETE FROM ssl_networks WHERE id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    if q.execute(&mut tx).await? == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    super::ssl_scans::delete_network_data::<DB>(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &SslNetworkFilter) -> Result<()> {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = &f.name {
        q.push(" AND name = ").bind(v);
    }
    if let Some(v) = &f.agent_pool_name {
        q.push(" AND agent_pool_name = ").bind(v);
    }
    if let Some(c) = &f.condition {
        q.push(" AND ");
        super::condition::push_condition(q, c, 0)?;
    }
    Ok(())
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &SslNetworkFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<SslNetwork>)> {
    let order = resolve(sort, SSL_NETWORK_SORT)?;
    push_filter(&mut Sql::<DB>::new(""), filter)?;
    let filter = |q: &mut Sql<DB>| push_filter(q, filter).expect("rendered once above");
    page(
        s,
        "ssl_networks",
        filter,
        &order,
        skip,
        limit,
        rows::ssl_network::<DB>,
    )
    .await
}

/// Enabled networks with a schedule due at `now`.
pub(crate) async fn due<DB: Backend>(
    s: &SqlDatabase<DB>,
    now: chrono::DateTime<Utc>,
    limit: i64,
) -> Result<Vec<SslNetwork>> {
    let now = truncate_micros(now);
    let mut q =
        Sql::<DB>::new("SELECT * FROM ssl_networks WHERE enabled = TRUE AND (next_discover_at <= ");
    q.bind(now)
        .push(" OR next_monitor_at <= ")
        .bind(now)
        .push(") ORDER BY id LIMIT ")
        .bind(limit);
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::ssl_network::<DB>)
}

/// Moves a network's next fire of `kind` from `expected` to `next`; `false` when another
/// node (or an edit) moved it first.
pub(crate) async fn advance<DB: Backend>(
    s: &SqlDatabase<DB>,
    id: Uuid,
    kind: crate::ScanKind,
    expected: chrono::DateTime<Utc>,
    next: Option<chrono::DateTime<Utc>>,
) -> Result<bool> {
    let column = match kind {
        crate::ScanKind::Discovery => "next_discover_at",
        crate::ScanKind::Monitoring => "next_monitor_at",
    };
    let mut q = Sql::<DB>::new(format_args!("UPDATE ssl_networks SET {column} = "));
    q.bind(next.map(truncate_micros))
        .push(" WHERE id = ")
        .bind(id)
        .push(format_args!(" AND {column} = "))
        .bind(truncate_micros(expected));
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn set_ranges<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: &str,
    id: Uuid,
    ranges: &[String],
) -> Result<bool> {
    let mut q = Sql::<DB>::new("UPDATE ssl_networks SET ");
    q.assign(vec![
        ("ranges", json(&ranges)),
        ("updated_at", truncate_micros(Utc::now()).into()),
    ]);
    q.push(" WHERE id = ")
        .bind(id)
        .push(" AND account_id = ")
        .bind(account_id);
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

//! SSL scans, endpoints and their history (migration 20250111).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::condition::push_condition;
use super::page::page_of;
use super::{SqlDatabase, jobs, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::filter::{
    SSL_ENDPOINT_ORDER, SSL_ENDPOINT_SORT, SSL_HISTORY_ORDER, SSL_PART_ORDER, Sort, resolve,
};
use crate::model::{NewJob, truncate_micros};
use crate::ssl::{
    ScanProgress, ScanStats, SslEndpoint, SslEndpointFilter, SslHistoryEntry, SslObservation,
    SslScanPart,
};
use crate::{JobStatus, ProbeStatus};

/// A part with its job's state.
/// A part with its job's state: the select list and the tables.
const PART_COLUMNS: &str = "p.*, j.status AS job_status, j.started_at AS job_started_at, \
     j.finished_at AS job_finished_at";
const PART_TABLES: &str = "ssl_scan_parts p LEFT JOIN jobs j ON j.id = p.job_id";

pub(crate) async fn insert_scan<DB: Backend>(
    s: &SqlDatabase<DB>,
    parts: &[SslScanPart],
    new_jobs: &[NewJob],
) -> Result<()> {
    if let Some(p) = parts
        .iter()
        .find(|p| !new_jobs.iter().any(|j| j.id == p.job_id))
    {
        return Err(DbError::Invalid(format!(
            "scan part {} names job {}, which is not among the jobs",
            p.id, p.job_id
        )));
    }
    let mut tx = s.write_tx().await?;
    // One scan of a kind at a time per network: the network's row is locked (a no-op
    // update) so two requests cannot both find none running.
    for (network_id, kind) in parts
        .iter()
        .map(|p| (p.network_id, p.kind))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mut lock =
            Sql::<DB>::new("UPDATE ssl_networks SET updated_at = updated_at WHERE id = ");
        lock.bind(network_id);
        lock.execute(&mut tx).await?;
        let mut q = Sql::<DB>::new(
            "SELECT COUNT(*) AS n FROM ssl_scan_parts p JOIN jobs j ON j.id = p.job_id \
             WHERE p.finished_at IS NULL AND j.status IN ('queued', 'running') AND p.network_id = ",
        );
        q.bind(network_id).push(" AND p.kind = ").bind(kind);
        if q.fetch_int(&mut tx, "n").await? > 0 {
            tx.rollback().await?;
            return Err(DbError::Conflict(format!(
                "a {kind} scan of this network is still running"
            )));
        }
    }
    jobs::insert_on::<DB>(&mut tx, new_jobs).await?;
    for p in parts {
        let mut q = Sql::<DB>::new(
            "INSERT INTO ssl_scan_parts (id, scan_id, account_id, network_id, kind, seq, job_id, \
             definitions, estimated_endpoints, created_at) VALUES ",
        );
        let vals: [Val; 10] = [
            p.id.into(),
            p.scan_id.into(),
            (&p.account_id).into(),
            p.network_id.into(),
            p.kind.into(),
            p.seq.into(),
            p.job_id.into(),
            (&p.definitions).into(),
            p.estimated_endpoints.into(),
            truncate_micros(p.created_at).into(),
        ];
        q.bind_list(vals);
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn scoped<DB: Backend>(q: &mut Sql<DB>, column: &str, account_id: Option<&str>) {
    if let Some(a) = account_id {
        q.push(format_args!(" AND {column} = ")).bind(a);
    }
}

pub(crate) async fn list_parts<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    network_id: Uuid,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<SslScanPart>)> {
    let filter = |q: &mut Sql<DB>| {
        q.push(" WHERE p.network_id = ").bind(network_id);
        scoped(q, "p.account_id", account_id);
    };
    page_of(
        s,
        PART_COLUMNS,
        PART_TABLES,
        filter,
        SSL_PART_ORDER,
        skip,
        limit,
        rows::ssl_part::<DB>,
    )
    .await
}

pub(crate) async fn get_part<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    column: &str,
    id: Uuid,
) -> Result<Option<SslScanPart>> {
    let mut q = Sql::<DB>::new(format_args!(
        "SELECT {PART_COLUMNS} FROM {PART_TABLES} WHERE p.{column} = "
    ));
    q.bind(id);
    scoped(&mut q, "p.account_id", account_id);
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .map(|r| rows::ssl_part::<DB>(&r))
        .transpose()
}

/// The network's endpoints, by `(host, port, sni_name)`.
async fn endpoints_of<DB: Backend>(
    conn: &mut DB::Connection,
    network_id: Uuid,
) -> Result<HashMap<(String, i64, String), SslEndpoint>> {
    let mut q = Sql::<DB>::new("SELECT * FROM ssl_endpoints WHERE network_id = ");
    q.bind(network_id);
    let mut out = HashMap::new();
    for row in q.fetch_all(conn).await? {
        let e = rows::ssl_endpoint::<DB>(&row)?;
        out.insert((e.host.clone(), e.port, e.sni_name.clone()), e);
    }
    Ok(out)
}

pub(crate) async fn keep_results<DB: Backend>(
    s: &SqlDatabase<DB>,
    part: &SslScanPart,
    observations: &[SslObservation],
    stats: &ScanStats,
    auto_monitor: bool,
    at: DateTime<Utc>,
) -> Result<bool> {
    let at = truncate_micros(at);
    let mut tx = s.write_tx().await?;
    // Marking the part first makes a second keeping of the same part a no-op.
    let mut mark = Sql::<DB>::new("UPDATE ssl_scan_parts SET ");
    mark.assign(vec![
        ("finished_at", at.into()),
        (
            "stats",
            Val::Text(Some(serde_json::to_string(stats).unwrap_or_default())),
        ),
    ]);
    mark.push(" WHERE id = ").bind(part.id);
    mark.push(" AND finished_at IS NULL");
    if mark.execute(&mut tx).await? == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    let mut known = endpoints_of::<DB>(&mut tx, part.network_id).await?;
    for o in observations {
        let key = (o.host.clone(), o.port, o.sni_name.clone());
        let found = o.status == ProbeStatus::CertificateFound;
        let existing = known.get(&key);
        if existing.is_none() && !found {
            continue;
        }
        let history_id = Uuid::now_v7();
        let cert = o.certificate.as_ref();
        let changed = match existing {
            None => false,
            Some(e) => e.thumbprint.as_deref() != cert.map(|c| c.thumbprint.as_str()),
        };
        let endpoint_id = match existing {
            Some(e) => {
                let mut q = Sql::<DB>::new("UPDATE ssl_endpoints SET ");
                let mut pairs: Vec<(&str, Val)> = vec![
                    ("last_status", o.status.into()),
                    ("last_history_id", history_id.into()),
                    ("last_seen", at.into()),
                ];
                if let Some(a) = &o.address {
                    pairs.push(("address", a.into()));
                }
                if let Some(c) = cert {
                    pairs.extend(certificate_columns(c));
                }
                q.assign(pairs).push(" WHERE id = ").bind(e.id);
                q.execute(&mut tx).await?;
                e.id
            }
            None => {
                let id = Uuid::now_v7();
                let mut cols: Vec<(&str, Val)> = vec![
                    ("id", id.into()),
                    ("account_id", (&part.account_id).into()),
                    ("network_id", part.network_id.into()),
                    ("host", (&o.host).into()),
                    ("port", o.port.into()),
                    ("sni_name", (&o.sni_name).into()),
                    ("address", o.address.clone().unwrap_or_default().into()),
                    ("enable_monitor", auto_monitor.into()),
                    ("last_status", o.status.into()),
                    ("last_history_id", history_id.into()),
                    ("first_seen", at.into()),
                    ("last_seen", at.into()),
                ];
                if let Some(c) = cert {
                    cols.extend(certificate_columns(c));
                }
                insert_row::<DB>(&mut tx, "ssl_endpoints", cols).await?;
                // A name probed twice in one part is one endpoint.
                known.insert(
                    key,
                    SslEndpoint {
                        id,
                        account_id: part.account_id.clone(),
                        network_id: part.network_id,
                        host: o.host.clone(),
                        port: o.port,
                        sni_name: o.sni_name.clone(),
                        address: o.address.clone().unwrap_or_default(),
                        enable_monitor: auto_monitor,
                        reviewed: false,
                        last_status: o.status,
                        last_history_id: Some(history_id),
                        thumbprint: cert.map(|c| c.thumbprint.clone()),
                        subject: None,
                        issuer: None,
                        serial_number: None,
                        not_before: None,
                        not_after: None,
                        certificate: None,
                        trusted: None,
                        name_matches: None,
                        first_seen: at,
                        last_seen: at,
                    },
                );
                id
            }
        };
        let mut cols: Vec<(&str, Val)> = vec![
            ("id", history_id.into()),
            ("endpoint_id", endpoint_id.into()),
            ("account_id", (&part.account_id).into()),
            ("job_id", part.job_id.into()),
            ("kind", part.kind.into()),
            ("observed_at", at.into()),
            ("status", o.status.into()),
            ("changed", changed.into()),
            ("address", o.address.clone().into()),
        ];
        if let Some(c) = cert {
            cols.extend([
                ("thumbprint", (&c.thumbprint).into()),
                (
                    "chain",
                    Val::Text(Some(serde_json::to_string(&c.chain).unwrap_or_default())),
                ),
                ("protocol", (&c.protocol).into()),
                ("cipher_suite", (&c.cipher_suite).into()),
                ("trusted", c.trusted.into()),
                ("trust_error", c.trust_error.clone().into()),
                ("name_matches", c.name_matches.into()),
                ("expired", c.expired.into()),
            ]);
        }
        insert_row::<DB>(&mut tx, "ssl_endpoint_history", cols).await?;
    }
    tx.commit().await?;
    Ok(true)
}

fn certificate_columns(c: &crate::ssl::ObservedCertificate) -> Vec<(&'static str, Val)> {
    vec![
        ("thumbprint", (&c.thumbprint).into()),
        ("subject", (&c.subject).into()),
        ("issuer", (&c.issuer).into()),
        ("serial_number", (&c.serial_number).into()),
        ("not_before", truncate_micros(c.not_before).into()),
        ("not_after", truncate_micros(c.not_after).into()),
        ("certificate", (&c.certificate).into()),
        ("trusted", c.trusted.into()),
        ("name_matches", c.name_matches.into()),
    ]
}

async fn insert_row<DB: Backend>(
    conn: &mut DB::Connection,
    table: &str,
    cols: Vec<(&str, Val)>,
) -> Result<()> {
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let mut q = Sql::<DB>::new(format_args!(
        "INSERT INTO {table} ({}) VALUES ",
        names.join(", ")
    ));
    q.bind_list(cols.into_iter().map(|(_, v)| v));
    q.execute(conn).await?;
    Ok(())
}

pub(crate) async fn progress<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    network_ids: &[Uuid],
) -> Result<Vec<ScanProgress>> {
    if network_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::<DB>::new(format_args!(
        "SELECT {PART_COLUMNS} FROM {PART_TABLES} WHERE p.scan_id = (SELECT MAX(l.scan_id) FROM ssl_scan_parts l \
         WHERE l.network_id = p.network_id AND l.kind = p.kind) AND p.network_id IN "
    ));
    q.bind_list(network_ids.iter().copied());
    scoped(&mut q, "p.account_id", account_id);
    let mut out: Vec<ScanProgress> = Vec::new();
    for row in q.fetch_all(&mut *s.conn().await?).await? {
        let p = rows::ssl_part::<DB>(&row)?;
        let kept = p.finished_at.is_some();
        let failed = !kept
            && matches!(
                p.job_status,
                None | Some(JobStatus::Failed | JobStatus::Cancelled | JobStatus::Completed)
            );
        let ended_at = p
            .finished_at
            .or(if failed { p.job_finished_at } else { None });
        let running = p.job_status == Some(JobStatus::Running) && !kept;
        match out
            .iter_mut()
            .find(|g| g.network_id == p.network_id && g.kind == p.kind)
        {
            Some(g) => {
                g.parts += 1;
                g.ended += i64::from(kept || failed);
                g.failed += i64::from(failed);
                g.running += i64::from(running);
                g.started_at = g.started_at.min(p.created_at);
                g.last_ended_at = g.last_ended_at.max(ended_at);
            }
            None => out.push(ScanProgress {
                network_id: p.network_id,
                kind: p.kind,
                scan_id: p.scan_id,
                parts: 1,
                ended: i64::from(kept || failed),
                failed: i64::from(failed),
                running: i64::from(running),
                started_at: p.created_at,
                last_ended_at: ended_at,
            }),
        }
    }
    for g in &mut out {
        if g.ended < g.parts {
            g.last_ended_at = None;
        }
    }
    Ok(out)
}

fn endpoint_filter<DB: Backend>(q: &mut Sql<DB>, f: &SslEndpointFilter) -> Result<()> {
    q.push(" WHERE 1 = 1");
    scoped(q, "account_id", f.account_id.as_deref());
    if let Some(n) = f.network_id {
        q.push(" AND network_id = ").bind(n);
    }
    if let Some(m) = f.monitored {
        q.push(" AND enable_monitor = ").bind(m);
    }
    if let Some(r) = f.reviewed {
        q.push(" AND reviewed = ").bind(r);
    }
    if let Some(t) = f.expiring_before {
        q.push(" AND not_after < ").bind(truncate_micros(t));
    }
    if let Some(c) = &f.condition {
        q.push(" AND ");
        push_condition(q, c, 0)?;
    }
    Ok(())
}

pub(crate) async fn list_endpoints<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &SslEndpointFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<SslEndpoint>)> {
    let order: Vec<_> = if sort.0.is_empty() {
        SSL_ENDPOINT_ORDER.iter().map(|c| (*c, false)).collect()
    } else {
        resolve(sort, SSL_ENDPOINT_SORT)?
    };
    // Render once up front so a bad condition is an error, not a panic in the closure.
    endpoint_filter(&mut Sql::<DB>::new(""), filter)?;
    super::page::page(
        s,
        "ssl_endpoints",
        |q| endpoint_filter(q, filter).expect("rendered once above"),
        &order,
        skip,
        limit,
        rows::ssl_endpoint::<DB>,
    )
    .await
}

pub(crate) async fn set_flags_where<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &SslEndpointFilter,
    monitor: Option<bool>,
    reviewed: Option<bool>,
) -> Result<u64> {
    let mut pairs: Vec<(&str, Val)> = Vec::new();
    if let Some(m) = monitor {
        pairs.push(("enable_monitor", m.into()));
    }
    if let Some(r) = reviewed {
        pairs.push(("reviewed", r.into()));
    }
    if pairs.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::<DB>::new("UPDATE ssl_endpoints SET ");
    q.assign(pairs);
    endpoint_filter(&mut q, filter)?;
    Ok(q.execute(&mut *s.conn().await?).await?)
}

pub(crate) async fn get_endpoint<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<SslEndpoint>> {
    super::record::get(s, "ssl_endpoints", account_id, id, rows::ssl_endpoint::<DB>).await
}

pub(crate) async fn set_flags<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
    monitor: Option<bool>,
    reviewed: Option<bool>,
) -> Result<bool> {
    let mut pairs: Vec<(&str, Val)> = Vec::new();
    if let Some(m) = monitor {
        pairs.push(("enable_monitor", m.into()));
    }
    if let Some(r) = reviewed {
        pairs.push(("reviewed", r.into()));
    }
    if pairs.is_empty() {
        return Ok(get_endpoint(s, account_id, id).await?.is_some());
    }
    let mut q = Sql::<DB>::new("UPDATE ssl_endpoints SET ");
    q.assign(pairs).push(" WHERE id = ").bind(id);
    scoped(&mut q, "account_id", account_id);
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn list_history<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    endpoint_id: Uuid,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<SslHistoryEntry>)> {
    let filter = |q: &mut Sql<DB>| {
        q.push(" WHERE endpoint_id = ").bind(endpoint_id);
        scoped(q, "account_id", account_id);
    };
    page_of(
        s,
        "*",
        "ssl_endpoint_history",
        filter,
        SSL_HISTORY_ORDER,
        skip,
        limit,
        rows::ssl_history::<DB>,
    )
    .await
}

/// Removes a network's parts, endpoints and their history (with the network).
pub(crate) async fn delete_network_data<DB: Backend>(
    conn: &mut DB::Connection,
    network_id: Uuid,
) -> Result<()> {
    // Parts first: a part's results being kept meanwhile hold its row, so they are
    // either in (and deleted below) or find their part gone and keep nothing.
    let mut q = Sql::<DB>::new("DELETE FROM ssl_scan_parts WHERE network_id = ");
    q.bind(network_id);
    q.execute(&mut *conn).await?;
    let mut q = Sql::<DB>::new(
        "DELETE FROM ssl_endpoint_history WHERE endpoint_id IN \
         (SELECT id FROM ssl_endpoints WHERE network_id = ",
    );
    q.bind(network_id).push(")");
    q.execute(&mut *conn).await?;
    for table in ["ssl_endpoints"] {
        let mut q = Sql::<DB>::new(format_args!("DELETE FROM {table} WHERE network_id = "));
        q.bind(network_id);
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

//! Agent queries: agent records, registration credentials and sessions.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::condition::push_condition;
use super::page::page;
use super::{SqlDatabase, record, rows};
use crate::agents::{
    Agent, AgentFilter, AgentSession, AgentStatus, CertificateRenewal, RegistrationCredential,
};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::filter::{AGENT_SORT, Sort, resolve};
use crate::model::truncate_micros;

const DUPLICATE_THUMBPRINT: &str = "another agent already holds a certificate with this thumbprint";

/// Every column but the id and the account, which never change.
fn columns(a: &Agent) -> Vec<(&'static str, Val)> {
    vec![
        ("client_machine", (&a.client_machine).into()),
        ("username", (&a.username).into()),
        ("platform", a.platform.into()),
        ("version", (&a.version).into()),
        ("status", a.status.code().into()),
        (
            "capabilities",
            Val::Text(Some(
                serde_json::to_string(&a.capabilities).expect("strings always serialise"),
            )),
        ),
        ("thumbprint", (&a.thumbprint).into()),
        ("legacy_thumbprint", (&a.legacy_thumbprint).into()),
        ("last_thumbprint_used", (&a.last_thumbprint_used).into()),
        ("certificate_not_after", a.certificate_not_after.into()),
        (
            "auth_cert_reenrollment",
            a.certificate_renewal.code().into(),
        ),
        ("last_error_code", a.last_error_code.into()),
        ("last_error_message", (&a.last_error_message).into()),
        ("last_seen", a.last_seen.into()),
    ]
}

pub(crate) async fn insert<DB: Backend>(s: &SqlDatabase<DB>, agent: &Agent) -> Result<Agent> {
    let mut cols = vec![
        ("id", agent.id.into()),
        ("account_id", (&agent.account_id).into()),
        ("created_at", agent.created_at.into()),
        ("updated_at", agent.updated_at.into()),
    ];
    cols.extend(columns(agent));
    record::insert(s, "agents", cols, DUPLICATE_THUMBPRINT, rows::agent::<DB>).await
}

pub(crate) async fn get<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<Agent>> {
    record::get(s, "agents", account_id, id, rows::agent::<DB>).await
}

pub(crate) async fn find_by_thumbprint<DB: Backend>(
    s: &SqlDatabase<DB>,
    thumbprint: &str,
) -> Result<Option<Agent>> {
    let mut q = Sql::<DB>::new("SELECT * FROM agents WHERE thumbprint = ");
    q.bind(thumbprint)
        .push(" OR legacy_thumbprint = ")
        .bind(thumbprint)
        .push(" ORDER BY CASE WHEN thumbprint = ")
        .bind(thumbprint)
        .push(" THEN 0 ELSE 1 END, created_at DESC LIMIT 1");
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::agent::<DB>)
        .transpose()
}

pub(crate) async fn find_by_machine<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: &str,
    client_machine: &str,
) -> Result<Vec<Agent>> {
    let mut q = Sql::<DB>::new("SELECT * FROM agents WHERE account_id = ");
    q.bind(account_id)
        .push(" AND client_machine = ")
        .bind(client_machine)
        .push(" ORDER BY created_at DESC, id");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::agent::<DB>)
}

pub(crate) async fn update<DB: Backend>(s: &SqlDatabase<DB>, agent: &Agent) -> Result<Agent> {
    let mut pairs = columns(agent);
    pairs.push(("updated_at", truncate_micros(Utc::now()).into()));
    let mut q = Sql::<DB>::new("UPDATE agents SET ");
    q.assign(pairs)
        .push(" WHERE id = ")
        .bind(agent.id)
        .push(" AND account_id = ")
        .bind(&agent.account_id)
        .push(" RETURNING *");
    let rows = q
        .fetch_all(&mut *s.conn().await?)
        .await
        .map_err(|e| DbError::unique(e, DUPLICATE_THUMBPRINT))?;
    rows.first()
        .map(rows::agent::<DB>)
        .ok_or(DbError::NotFound)?
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &AgentFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<Agent>)> {
    let order = resolve(sort, AGENT_SORT)?;
    // Render once up front so a bad condition is an error, not a panic in the closure.
    if let Some(c) = &filter.condition {
        push_condition(&mut Sql::<DB>::new(""), c, 0)?;
    }
    let push = |q: &mut Sql<DB>| {
        q.push(" WHERE 1 = 1");
        if let Some(a) = &filter.account_id {
            q.push(" AND account_id = ").bind(a);
        }
        if let Some(c) = &filter.condition {
            q.push(" AND ");
            push_condition(q, c, 0).expect("rendered once above");
        }
    };
    page(s, "agents", push, &order, skip, limit, rows::agent::<DB>).await
}

/// Back to New: no certificate, no renewal asked, no sessions, and none of its queued jobs.
/// Returns the agent as it is now and how many queued jobs were removed.
pub(crate) async fn reset<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<(Agent, u64)>> {
    let now = truncate_micros(Utc::now());
    let mut tx = s.write_tx().await?;
    let mut q = Sql::<DB>::new("UPDATE agents SET ");
    q.assign(vec![
        ("status", AgentStatus::New.code().into()),
        ("thumbprint", Val::Text(None)),
        ("legacy_thumbprint", Val::Text(None)),
        (
            "certificate_not_after",
            Option::<DateTime<Utc>>::None.into(),
        ),
        (
            "auth_cert_reenrollment",
            CertificateRenewal::None.code().into(),
        ),
        ("updated_at", now.into()),
    ])
    .push(" WHERE id = ")
    .bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q.push(" RETURNING *");
    let Some(row) = q.fetch_optional(&mut tx).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let agent = rows::agent::<DB>(&row)?;
    let mut q = Sql::<DB>::new("DELETE FROM agent_sessions WHERE agent_id = ");
    q.bind(id);
    q.execute(&mut tx).await?;
    let mut q = Sql::<DB>::new("DELETE FROM jobs WHERE status = 'queued' AND run_on = ");
    q.bind(id.to_string())
        .push(" AND account_id = ")
        .bind(&agent.account_id);
    let removed = q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(Some((agent, removed)))
}

pub(crate) async fn insert_credential<DB: Backend>(
    s: &SqlDatabase<DB>,
    credential: &RegistrationCredential,
) -> Result<()> {
    let mut q = Sql::<DB>::new(
        "INSERT INTO agent_registration_credentials \
         (username, account_id, secret_hash, client_machine, created_at) VALUES ",
    );
    q.bind_list::<Val>([
        (&credential.username).into(),
        (&credential.account_id).into(),
        (&credential.secret_hash).into(),
        (&credential.client_machine).into(),
        credential.created_at.into(),
    ]);
    q.execute(&mut *s.conn().await?).await.map_err(|e| {
        DbError::unique(
            e,
            "a registration credential with this username already exists",
        )
    })?;
    Ok(())
}

pub(crate) async fn delete_credential<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    username: &str,
) -> Result<bool> {
    let mut q = Sql::<DB>::new("DELETE FROM agent_registration_credentials WHERE username = ");
    q.bind(username);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    Ok(q.execute(&mut *s.conn().await?).await? > 0)
}

pub(crate) async fn find_credential<DB: Backend>(
    s: &SqlDatabase<DB>,
    username: &str,
) -> Result<Option<RegistrationCredential>> {
    let mut q = Sql::<DB>::new("SELECT * FROM agent_registration_credentials WHERE username = ");
    q.bind(username);
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::registration_credential::<DB>)
        .transpose()
}

/// Stores a session and drops the expired ones (of every agent) in one transaction.
pub(crate) async fn insert_session<DB: Backend>(
    s: &SqlDatabase<DB>,
    session: &AgentSession,
) -> Result<()> {
    let mut tx = s.write_tx().await?;
    let mut q = Sql::<DB>::new("DELETE FROM agent_sessions WHERE expires_at < ");
    q.bind(session.created_at);
    q.execute(&mut tx).await?;
    let mut q = Sql::<DB>::new(
        "INSERT INTO agent_sessions (token_hash, agent_id, account_id, thumbprint, created_at, expires_at) VALUES ",
    );
    q.bind_list::<Val>([
        (&session.token_hash).into(),
        session.agent_id.into(),
        (&session.account_id).into(),
        (&session.thumbprint).into(),
        session.created_at.into(),
        session.expires_at.into(),
    ]);
    q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn find_session<DB: Backend>(
    s: &SqlDatabase<DB>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<AgentSession>> {
    let mut q = Sql::<DB>::new("SELECT * FROM agent_sessions WHERE token_hash = ");
    q.bind(token_hash).push(" AND expires_at >= ").bind(now);
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::agent_session::<DB>)
        .transpose()
}

//! Accounts, tokens and plugin key/value state.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SqlDatabase, rows};
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::kinds::TokenRole;
use crate::model::{Account, ApiToken, NewToken, truncate_micros};

fn insert_account_sql<DB: Backend>(id: &str) -> Sql<DB> {
    let mut q = Sql::<DB>::new("INSERT INTO accounts (id, created_at) VALUES (");
    q.bind(id)
        .push(", ")
        .bind(truncate_micros(Utc::now()))
        .push(") ON CONFLICT (id) DO NOTHING");
    q
}

pub(crate) async fn ensure_account<DB: Backend>(s: &SqlDatabase<DB>, id: &str) -> Result<Account> {
    let mut conn = s.conn().await?;
    insert_account_sql::<DB>(id).execute(&mut conn).await?;
    let mut q = Sql::<DB>::new("SELECT * FROM accounts WHERE id = ");
    q.bind(id);
    let row = q
        .fetch_optional(&mut conn)
        .await?
        .ok_or(DbError::NotFound)?;
    rows::account::<DB>(&row)
}

pub(crate) async fn create_token<DB: Backend>(
    s: &SqlDatabase<DB>,
    token: &NewToken<'_>,
) -> Result<ApiToken> {
    let mut tx = s.write_tx().await?;
    insert_account_sql::<DB>(token.account_id)
        .execute(&mut tx)
        .await?;
    let mut q = Sql::<DB>::new(
        "INSERT INTO api_tokens (id, account_id, token_hash, is_admin, role, label, created_at, expires_at) VALUES ",
    );
    q.bind_list::<Val>([
        Uuid::now_v7().into(),
        token.account_id.into(),
        token.token_hash.into(),
        (token.role == TokenRole::Admin).into(),
        token.role.into(),
        token.label.into(),
        truncate_micros(Utc::now()).into(),
        token.expires_at.map(truncate_micros).into(),
    ])
    .push(" RETURNING *");
    let rows = q
        .fetch_all(&mut tx)
        .await
        .map_err(|e| DbError::unique(e, "a token with this hash already exists"))?;
    let token = rows
        .first()
        .map(rows::token::<DB>)
        .ok_or(DbError::NotFound)??;
    tx.commit().await?;
    Ok(token)
}

pub(crate) async fn find_token_by_hash<DB: Backend>(
    s: &SqlDatabase<DB>,
    token_hash: &str,
) -> Result<Option<ApiToken>> {
    let mut q = Sql::<DB>::new("SELECT * FROM api_tokens WHERE token_hash = ");
    q.bind(token_hash);
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::token::<DB>)
        .transpose()
}

pub(crate) async fn list_tokens<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
) -> Result<Vec<ApiToken>> {
    let mut q = Sql::<DB>::new("SELECT * FROM api_tokens");
    if let Some(a) = account_id {
        q.push(" WHERE account_id = ").bind(a);
    }
    q.push(" ORDER BY created_at, id");
    let rows = q.fetch_all(&mut *s.conn().await?).await?;
    rows::all::<DB, _>(&rows, rows::token::<DB>)
}

pub(crate) async fn revoke_token<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<ApiToken>> {
    let mut q = Sql::<DB>::new("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ");
    q.bind(truncate_micros(at)).push(") WHERE id = ").bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q.push(" RETURNING *");
    q.fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::token::<DB>)
        .transpose()
}

pub(crate) async fn count_admin_tokens<DB: Backend>(s: &SqlDatabase<DB>) -> Result<i64> {
    let mut q = Sql::<DB>::new(
        "SELECT COUNT(*) AS n FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > ",
    );
    q.bind(Utc::now()).push(")");
    q.fetch_int(&mut *s.conn().await?, "n").await
}

pub(crate) async fn state_get<DB: Backend>(
    s: &SqlDatabase<DB>,
    plugin: &str,
    scope: &str,
    key: &str,
) -> Result<Option<String>> {
    let mut q = Sql::<DB>::new("SELECT state_value FROM plugin_state WHERE plugin = ");
    q.bind(plugin)
        .push(" AND scope = ")
        .bind(scope)
        .push(" AND state_key = ")
        .bind(key);
    match q.fetch_optional(&mut *s.conn().await?).await? {
        Some(row) => Ok(DB::text(&row, "state_value")?),
        None => Ok(None),
    }
}

pub(crate) async fn state_set<DB: Backend>(
    s: &SqlDatabase<DB>,
    plugin: &str,
    scope: &str,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    let q = match value {
        Some(v) => {
            let mut q = Sql::<DB>::new(
                "INSERT INTO plugin_state (plugin, scope, state_key, state_value) VALUES ",
            );
            q.bind_list([plugin, scope, key, v]).push(
                " ON CONFLICT (plugin, scope, state_key) \
                 DO UPDATE SET state_value = excluded.state_value",
            );
            q
        }
        None => {
            let mut q = Sql::<DB>::new("DELETE FROM plugin_state WHERE plugin = ");
            q.bind(plugin)
                .push(" AND scope = ")
                .bind(scope)
                .push(" AND state_key = ")
                .bind(key);
            q
        }
    };
    q.execute(&mut *s.conn().await?).await?;
    Ok(())
}

pub(crate) async fn state_size<DB: Backend>(
    s: &SqlDatabase<DB>,
    plugin: &str,
    scope: &str,
) -> Result<i64> {
    let mut q = Sql::<DB>::new(format!(
        "SELECT COALESCE(SUM({} + {}), 0) AS n FROM plugin_state WHERE plugin = ",
        DB::byte_length("state_key"),
        DB::byte_length("state_value")
    ));
    q.bind(plugin).push(" AND scope = ").bind(scope);
    q.fetch_int(&mut *s.conn().await?, "n").await
}

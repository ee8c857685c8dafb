//! The indexes the API's sorted listings read a page from, and the other indexes whose
//! text columns must sort bytewise on both backends.
//!
//! They are the one part of the schema written per backend. An index serves an
//! `ORDER BY ... LIMIT` only when its collation and NULLs order match the query's, and
//! the listings sort text bytewise (`COLLATE "C"` on PostgreSQL, so both backends order
//! alike) with NULLs first ascending: PostgreSQL indexes need `COLLATE "C"` and `NULLS
//! FIRST` spelled out, which SQLite does not parse (it has no "C" collation and puts NULLs
//! first anyway). So each index is declared once here, as columns, and rendered for the
//! backend; [`create`] makes the missing ones (`IF NOT EXISTS`) whenever a database is
//! brought to the newest schema. Equality-filtered columns (`status`, `operation`,
//! `account_id`) keep the database collation, as the filters compare with it.

use crate::backend::{Backend, Sql};
use crate::error::Result;

/// A column of a listing index.
#[derive(Clone, Copy)]
enum Part {
    /// Compared with `=` by a filter.
    Eq(&'static str),
    /// A sort key that is not text.
    Key(&'static str),
    /// A sort key that is text.
    TextKey(&'static str),
}

use Part::{Eq, Key, TextKey};

/// Name, table, columns. Every sort ends with its table's key (the listings' tie-breaker),
/// so a page is read straight off the index, forwards or backwards.
const LISTING_INDEXES: &[(&str, &str, &[Part])] = &[
    // Job configs: newest first (the default), by name, by next run, of one operation.
    (
        "job_configs_list_created",
        "job_configs",
        &[Key("created_at"), TextKey("id")],
    ),
    (
        "job_configs_list_account_created",
        "job_configs",
        &[Eq("account_id"), Key("created_at"), TextKey("id")],
    ),
    (
        "job_configs_list_name",
        "job_configs",
        &[TextKey("name"), TextKey("id")],
    ),
    (
        "job_configs_list_next_fire",
        "job_configs",
        &[Key("next_fire_at"), TextKey("id")],
    ),
    (
        "job_configs_list_operation_created",
        "job_configs",
        &[Eq("operation"), Key("created_at"), TextKey("id")],
    ),
    // Jobs: newest first, of one status; per account.
    (
        "jobs_list_created",
        "jobs",
        &[Key("created_at"), TextKey("id")],
    ),
    (
        "jobs_list_account_created",
        "jobs",
        &[Eq("account_id"), Key("created_at"), TextKey("id")],
    ),
    (
        "jobs_list_status_created",
        "jobs",
        &[Eq("status"), Key("created_at"), TextKey("id")],
    ),
    // Inventories: soonest expiry first (the default), across stores.
    (
        "certificate_store_inventory_list_expiry",
        "certificate_store_inventory",
        &[Key("not_after"), TextKey("store_id"), TextKey("alias")],
    ),
    // The SSL endpoints' side of the same listing (its alias, `host:port`, is computed).
    (
        "ssl_endpoints_list_expiry",
        "ssl_endpoints",
        &[Key("not_after")],
    ),
];

/// Partial indexes whose text columns are compared bytewise, like the listings': name,
/// table, columns, the rows they hold.
const PARTIAL_INDEXES: &[(&str, &str, &[Part], &str)] = &[
    // Due jobs of the accounts other than those at their share of a node's slots
    // (`exec::claim` with exclusions): the accounts left are ranges of this index, so the
    // search never walks the backlog of the accounts left out.
    (
        "jobs_queue_account",
        "jobs",
        &[TextKey("account_id"), Key("scheduled_for")],
        "status = 'queued'",
    ),
];

/// The `CREATE INDEX IF NOT EXISTS` statement of one listing index on `DB`.
fn statement<DB: Backend>(name: &str, table: &str, parts: &[Part]) -> String {
    let columns: Vec<String> = parts
        .iter()
        .map(|p| match *p {
            Eq(c) => c.to_owned(),
            Key(c) => format!("{c}{}", DB::INDEX_NULLS_FIRST),
            TextKey(c) => format!("{}{}", DB::sort_text(c), DB::INDEX_NULLS_FIRST),
        })
        .collect();
    format!(
        "CREATE INDEX IF NOT EXISTS {name} ON {table} ({})",
        columns.join(", ")
    )
}

/// Creates the listing indexes the database lacks. Building one on a table of a million
/// rows holds that table's writes for a few seconds, once, on the upgrade that adds it.
pub(crate) async fn create<DB: Backend>(conn: &mut DB::Connection) -> Result<()> {
    let partial = PARTIAL_INDEXES.iter().map(|(name, table, parts, rows)| {
        format!("{} WHERE {rows}", statement::<DB>(name, table, parts))
    });
    let listing = LISTING_INDEXES
        .iter()
        .map(|(name, table, parts)| statement::<DB>(name, table, parts));
    for sql in listing.chain(partial) {
        if Sql::<DB>::new(&sql).execute(conn).await.is_err() {
            // Nodes starting together on one PostgreSQL race to create the same index and
            // all but one fail on its name; once the winner committed, `IF NOT EXISTS`
            // holds. Any other failure fails again here and is returned.
            Sql::<DB>::new(&sql).execute(conn).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_spells_out_the_collation_and_nulls_order() {
        let sql = statement::<sqlx::Postgres>(
            "x",
            "jobs",
            &[Eq("status"), Key("created_at"), TextKey("id")],
        );
        assert_eq!(
            sql,
            "CREATE INDEX IF NOT EXISTS x ON jobs (status, created_at NULLS FIRST, id COLLATE \"C\" NULLS FIRST)"
        );
    }

    #[test]
    fn sqlite_uses_its_defaults() {
        let sql = statement::<sqlx::Sqlite>(
            "x",
            "jobs",
            &[Eq("status"), Key("created_at"), TextKey("id")],
        );
        assert_eq!(
            sql,
            "CREATE INDEX IF NOT EXISTS x ON jobs (status, created_at, id)"
        );
    }
}

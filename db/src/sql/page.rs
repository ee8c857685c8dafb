//! One page of a listing and its total: every `list` query counts and selects with the
//! same filter, then orders and pages the select.

use super::{SqlDatabase, rows};
use crate::backend::{Backend, Sql};
use crate::error::Result;
use crate::filter::Column;

/// The rows of `table` that `filter` keeps (it pushes a `WHERE` clause, into the count
/// and the select alike), in `order`, `limit` of them after `skip`, and how many match.
pub(crate) async fn page<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    table: &str,
    filter: impl Fn(&mut Sql<DB>),
    order: &[(Column, bool)],
    skip: i64,
    limit: i64,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<(i64, Vec<T>)> {
    page_of(s, "*", table, filter, order, skip, limit, decode).await
}

/// [`page`] selecting `columns` (an SQL select list, a constant) instead of `*`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn page_of<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    columns: &str,
    table: &str,
    filter: impl Fn(&mut Sql<DB>),
    order: &[(Column, bool)],
    skip: i64,
    limit: i64,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<(i64, Vec<T>)> {
    page_bounded(s, columns, table, filter, order, skip, limit, None, decode).await
}

/// [`page_of`] counting at most `count_bound + 1` matches (see [`crate::Total`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn page_bounded<DB: Backend, T>(
    s: &SqlDatabase<DB>,
    columns: &str,
    table: &str,
    filter: impl Fn(&mut Sql<DB>),
    order: &[(Column, bool)],
    skip: i64,
    limit: i64,
    count_bound: Option<i64>,
    decode: fn(&DB::Row) -> Result<T>,
) -> Result<(i64, Vec<T>)> {
    let mut conn = s.conn().await?;
    let count = count_query(table, &filter, count_bound);
    let total = count.fetch_int(&mut conn, "n").await?;
    let mut q = Sql::<DB>::new(format_args!("SELECT {columns} FROM {table}"));
    filter(&mut q);
    q.order_by(order).page(skip, limit);
    let rows = q.fetch_all(&mut conn).await?;
    Ok((total, rows::all::<DB, _>(&rows, decode)?))
}

/// `SELECT COUNT(*) AS n` of the rows of `table` that `filter` keeps; with a bound, of at
/// most `bound + 1` of them (a subquery with a LIMIT, which both backends stop scanning
/// at), so a million matches cost what ten thousand do.
pub(crate) fn count_query<DB: Backend>(
    table: &str,
    filter: impl Fn(&mut Sql<DB>),
    count_bound: Option<i64>,
) -> Sql<DB> {
    match count_bound {
        None => {
            let mut q = Sql::<DB>::new(format_args!("SELECT COUNT(*) AS n FROM {table}"));
            filter(&mut q);
            q
        }
        Some(bound) => {
            let mut q = Sql::<DB>::new(format_args!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM {table}"
            ));
            filter(&mut q);
            q.push(" LIMIT ")
                .bind(bound.max(0).saturating_add(1))
                .push(") AS counted");
            q
        }
    }
}

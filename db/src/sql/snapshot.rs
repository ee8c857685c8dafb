//! Reading every table in one snapshot and writing it back (see `crate::snapshot`).
//!
//! The tables and their columns come from the database's own catalog rather than a list
//! kept here, so a table a later migration adds is in every backup without anyone
//! remembering to add it; a column type outside the portable three stops the backup.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use tokio::sync::mpsc::{Receiver, Sender};

use super::SqlDatabase;
use crate::backend::{Backend, Sql, Val};
use crate::error::{DbError, Result};
use crate::snapshot::{
    Cell, ColumnType, SEEDED_TABLES, SnapshotItem, SnapshotSummary, TableSchema,
};

/// Rows sent per [`SnapshotItem::Rows`].
const BATCH_ROWS: usize = 500;
/// Most bind parameters in one INSERT (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BINDS: usize = 30_000;

/// The newest migration applied to the database.
pub(crate) async fn schema_version<DB: Backend>(conn: &mut DB::Connection) -> Result<i64> {
    let rows = Sql::<DB>::new("SELECT MAX(version) AS version FROM _sqlx_migrations WHERE success")
        .fetch_all(conn)
        .await?;
    Ok(rows
        .first()
        .map(|r| DB::int(r, "version"))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// Keywarden's tables with their columns, parents before the tables referring to them
/// (ties by name), so the same order comes from both backends.
pub(crate) async fn tables<DB: Backend>(conn: &mut DB::Connection) -> Result<Vec<TableSchema>> {
    let names: BTreeSet<String> = Sql::<DB>::new(DB::TABLES)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| DB::text(r, "name").map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in Sql::<DB>::new(DB::FOREIGN_KEYS)
        .fetch_all(&mut *conn)
        .await?
    {
        let (child, parent) = (DB::text(&r, "child")?, DB::text(&r, "parent")?);
        if let (Some(child), Some(parent)) = (child, parent)
            && child != parent
        {
            parents.entry(child).or_default().insert(parent);
        }
    }
    let mut ordered: Vec<String> = Vec::new();
    let mut left = names.clone();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                parents
                    .get(*t)
                    .is_none_or(|ps| ps.iter().all(|p| !left.contains(p)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(DbError::Corrupt(format!(
                "the foreign keys among tables {left:?} form a cycle"
            )));
        }
        for t in ready {
            left.remove(&t);
            ordered.push(t);
        }
    }
    let mut out = Vec::new();
    for name in ordered {
        let mut q = Sql::<DB>::new(DB::COLUMNS_OPEN);
        q.bind(name.as_str()).push(DB::COLUMNS_CLOSE);
        let mut columns = Vec::new();
        for r in q.fetch_all(&mut *conn).await? {
            let column = DB::text(&r, "column_name")?.unwrap_or_default();
            let declared = DB::text(&r, "column_type")?.unwrap_or_default();
            let ty = ColumnType::from_catalog(&declared).ok_or_else(|| {
                DbError::Corrupt(format!(
                    "{name}.{column} has type {declared}, outside the portable schema"
                ))
            })?;
            columns.push((column, ty));
        }
        out.push(TableSchema { name, columns });
    }
    Ok(out)
}

/// Quotes an identifier the catalog gave (the same rule on both backends).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Sends every table of one snapshot into `out`, ending with [`SnapshotItem::End`].
pub(crate) async fn snapshot<DB: Backend>(
    s: &SqlDatabase<DB>,
    out: Sender<SnapshotItem>,
) -> Result<SnapshotSummary> {
    let mut tx = s.pool.begin_with(DB::BEGIN_SNAPSHOT).await?;
    let schema_version = schema_version::<DB>(&mut *tx).await?;
    let tables = tables::<DB>(&mut *tx).await?;
    let closed = || DbError::Invalid("the snapshot's reader stopped".to_owned());
    let mut summary = SnapshotSummary {
        schema_version,
        tables: Vec::new(),
    };
    for table in tables {
        let count = Sql::<DB>::new(format!("SELECT COUNT(*) AS n FROM {}", quoted(&table.name)))
            .fetch_all(&mut *tx)
            .await?
            .first()
            .map(|r| DB::int(r, "n"))
            .transpose()?
            .flatten()
            .unwrap_or(0);
        let rows = u64::try_from(count).unwrap_or(0);
        out.send(SnapshotItem::Table {
            table: table.clone(),
            rows,
        })
        .await
        .map_err(|_| closed())?;
        let mut qb = Sql::<DB>::new(format!("SELECT * FROM {}", quoted(&table.name))).into_inner();
        let mut stream = DB::fetch_stream(&mut *tx, &mut qb);
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let mut sent = 0_u64;
        while let Some(row) = stream.try_next().await? {
            batch.push(cells::<DB>(&row, &table)?);
            if batch.len() == BATCH_ROWS {
                sent += batch.len() as u64;
                out.send(SnapshotItem::Rows(std::mem::take(&mut batch)))
                    .await
                    .map_err(|_| closed())?;
            }
        }
        drop(stream);
        sent += batch.len() as u64;
        if !batch.is_empty() {
            out.send(SnapshotItem::Rows(batch))
                .await
                .map_err(|_| closed())?;
        }
        if sent != rows {
            return Err(DbError::Corrupt(format!(
                "{} counted {rows} rows but {sent} were read in the same snapshot",
                table.name
            )));
        }
        summary.tables.push((table.name, rows));
    }
    out.send(SnapshotItem::End).await.map_err(|_| closed())?;
    tx.rollback().await?;
    Ok(summary)
}

fn cells<DB: Backend>(row: &DB::Row, table: &TableSchema) -> Result<Vec<Cell>> {
    table
        .columns
        .iter()
        .map(|(name, ty)| {
            Ok(match ty {
                ColumnType::Text => DB::text(row, name)?.map_or(Cell::Null, Cell::Text),
                ColumnType::Bigint => DB::int(row, name)?.map_or(Cell::Null, Cell::Int),
                ColumnType::Boolean => DB::opt_boolean(row, name)?.map_or(Cell::Null, Cell::Bool),
            })
        })
        .collect()
}

fn val(cell: Cell, ty: ColumnType) -> Val {
    match (cell, ty) {
        (Cell::Null, ColumnType::Text) => Val::Text(None),
        (Cell::Null, ColumnType::Bigint) => Val::Int(None),
        (Cell::Null, ColumnType::Boolean) => Val::OptBool(None),
        (Cell::Text(t), _) => Val::Text(Some(t)),
        (Cell::Int(i), _) => Val::Int(Some(i)),
        (Cell::Bool(b), _) => Val::OptBool(Some(b)),
    }
}

/// The tables holding rows beyond what the migrations seed (counters at 0).
pub(crate) async fn non_empty_tables<DB: Backend>(
    conn: &mut DB::Connection,
    tables: &[TableSchema],
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for t in tables {
        let filter = if SEEDED_TABLES.contains(&t.name.as_str()) {
            " WHERE value <> 0"
        } else {
            ""
        };
        let rows = Sql::<DB>::new(format!(
            "SELECT 1 AS one FROM {}{filter} LIMIT 1",
            quoted(&t.name)
        ))
        .fetch_all(&mut *conn)
        .await?;
        if !rows.is_empty() {
            found.push(t.name.clone());
        }
    }
    Ok(found)
}

/// Writes the tables `input` sends into this (empty) database in one transaction,
/// committed only once [`SnapshotItem::End`] arrives. Refused, with nothing written:
/// a database whose newest migration is not `schema_version`, one holding rows, a table
/// or column this schema does not have, a value of the wrong type, a row count other
/// than the one announced.
pub(crate) async fn restore<DB: Backend>(
    s: &SqlDatabase<DB>,
    schema_version: i64,
    mut input: Receiver<SnapshotItem>,
) -> Result<SnapshotSummary> {
    let mut tx = s.write_tx().await?;
    let own_version = self::schema_version::<DB>(&mut *tx).await?;
    if own_version != schema_version {
        return Err(DbError::Invalid(format!(
            "the backup's schema version is {schema_version}, this database's is {own_version}"
        )));
    }
    let own: BTreeMap<String, TableSchema> = tables::<DB>(&mut *tx)
        .await?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let own_list: Vec<TableSchema> = own.values().cloned().collect();
    let busy = non_empty_tables::<DB>(&mut *tx, &own_list).await?;
    if !busy.is_empty() {
        return Err(DbError::Conflict(format!(
            "the target database is not empty: {} hold rows; restore into a new, empty database",
            busy.join(", ")
        )));
    }
    let mut summary = SnapshotSummary {
        schema_version,
        tables: Vec::new(),
    };
    let mut current: Option<(TableSchema, u64, u64)> = None;
    let check_count = |c: &Option<(TableSchema, u64, u64)>| -> Result<()> {
        match c {
            Some((t, announced, got)) if announced != got => Err(DbError::Invalid(format!(
                "table {}: {announced} rows announced, {got} sent",
                t.name
            ))),
            _ => Ok(()),
        }
    };
    loop {
        let Some(item) = input.recv().await else {
            return Err(DbError::Invalid(
                "the backup ended before its last table; nothing was written".to_owned(),
            ));
        };
        match item {
            SnapshotItem::Table { table, rows } => {
                check_count(&current)?;
                if let Some((t, _, got)) = current.take() {
                    summary.tables.push((t.name, got));
                }
                match own.get(&table.name) {
                    Some(mine) if mine.columns == table.columns => {}
                    Some(_) => {
                        return Err(DbError::Invalid(format!(
                            "table {} has other columns in the backup than here",
                            table.name
                        )));
                    }
                    None => {
                        return Err(DbError::Invalid(format!(
                            "the backup has a table this database does not: {}",
                            table.name
                        )));
                    }
                }
                if SEEDED_TABLES.contains(&table.name.as_str()) {
                    Sql::<DB>::new(format!("DELETE FROM {}", quoted(&table.name)))
                        .execute(&mut *tx)
                        .await?;
                }
                current = Some((table, rows, 0));
            }
            SnapshotItem::Rows(rows) => {
                let Some((table, _, got)) = current.as_mut() else {
                    return Err(DbError::Invalid("rows before any table".to_owned()));
                };
                *got += rows.len() as u64;
                insert::<DB>(&mut *tx, table, rows).await?;
            }
            SnapshotItem::End => break,
        }
    }
    check_count(&current)?;
    if let Some((t, _, got)) = current.take() {
        summary.tables.push((t.name, got));
    }
    let sent: BTreeSet<&str> = summary.tables.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(missing) = own.keys().find(|n| !sent.contains(n.as_str())) {
        return Err(DbError::Invalid(format!(
            "the backup has no table {missing}, which this schema has"
        )));
    }
    tx.commit().await?;
    Ok(summary)
}

async fn insert<DB: Backend>(
    conn: &mut DB::Connection,
    table: &TableSchema,
    rows: Vec<Vec<Cell>>,
) -> Result<()> {
    let width = table.columns.len().max(1);
    let per_statement = (MAX_BINDS / width).max(1);
    let columns: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        quoted(&table.name),
        columns.join(", ")
    );
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut q = Sql::<DB>::new(&head);
        for (i, row) in rows.by_ref().take(per_statement).enumerate() {
            if row.len() != table.columns.len() {
                return Err(DbError::Invalid(format!(
                    "a row of {} has {} values for {} columns",
                    table.name,
                    row.len(),
                    table.columns.len()
                )));
            }
            if i > 0 {
                q.push(", ");
            }
            let mut vals = Vec::with_capacity(row.len());
            for (cell, (column, ty)) in row.into_iter().zip(&table.columns) {
                if !cell.fits(*ty) {
                    return Err(DbError::Invalid(format!(
                        "{}.{column} is {ty:?}; the backup holds another type there",
                        table.name
                    )));
                }
                vals.push(val(cell, *ty));
            }
            q.bind_list(vals);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

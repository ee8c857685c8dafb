//! Certificate-store queries: store CRUD and listing, the inventory schedule (a job config
//! the store owns), inventories and discovered paths.

use chrono::Utc;
use uuid::Uuid;

use super::page::{count_query, page, page_bounded};
use super::{SqlDatabase, configs, jobs, record, rows};
use crate::backend::{Backend, Sql, Val};
use crate::certificates::{
    CertificateStore, CertificateStoreFilter, DiscoveredFilter, DiscoveredPath, InventoryEntry,
    InventoryFilter,
};
use crate::error::{DbError, Result};
use crate::filter::{
    CERTIFICATE_STORE_SORT, Column, DISCOVERED_ORDER, INVENTORY_SORT, Sort, resolve,
};
use crate::model::{JobConfig, NewJob, truncate_micros};

const DUPLICATE: &str =
    "a certificate store with this ClientMachine, StorePath and store type already exists";

fn check(s: &CertificateStore) -> Result<()> {
    if !s.properties.is_object() {
        return Err(DbError::Invalid(
            "certificate store properties must be a JSON object".into(),
        ));
    }
    Ok(())
}

/// Columns a user edits; shared by insert and update.
fn editable(s: &CertificateStore) -> Vec<(&'static str, Val)> {
    vec![
        ("client_machine", (&s.client_machine).into()),
        ("store_path", (&s.store_path).into()),
        ("store_type", (&s.store_type).into()),
        ("container_id", s.container_id.into()),
        ("approved", s.approved.into()),
        ("create_if_missing", s.create_if_missing.into()),
        ("properties", (&s.properties).into()),
        ("agent_id", (&s.agent_id).into()),
        ("password_secret", (&s.password_secret).into()),
        ("inventory_config_id", s.inventory_config_id.into()),
    ]
}

pub(crate) async fn insert<DB: Backend>(
    s: &SqlDatabase<DB>,
    store: &CertificateStore,
) -> Result<CertificateStore> {
    check(store)?;
    let mut cols = vec![
        ("id", store.id.into()),
        ("account_id", (&store.account_id).into()),
        ("created_at", store.created_at.into()),
        ("updated_at", store.updated_at.into()),
    ];
    cols.extend(editable(store));
    let decode = rows::certificate_store::<DB>;
    record::insert(s, "certificate_stores", cols, DUPLICATE, decode).await
}

fn select_one<DB: Backend>(account_id: Option<&str>, id: Uuid) -> Sql<DB> {
    let mut q = Sql::<DB>::new("SELECT * FROM certificate_stores WHERE id = ");
    q.bind(id);
    if let Some(a) = account_id {
        q.push(" AND account_id = ").bind(a);
    }
    q
}

pub(crate) async fn get<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<Option<CertificateStore>> {
    select_one::<DB>(account_id, id)
        .fetch_optional(&mut *s.conn().await?)
        .await?
        .as_ref()
        .map(rows::certificate_store::<DB>)
        .transpose()
}

pub(crate) async fn update<DB: Backend>(
    s: &SqlDatabase<DB>,
    store: &CertificateStore,
) -> Result<CertificateStore> {
    check(store)?;
    let mut pairs = editable(store);
    pairs.push(("updated_at", truncate_micros(Utc::now()).into()));
    let key = (store.id, store.account_id.as_str());
    let decode = rows::certificate_store::<DB>;
    record::update(s, "certificate_stores", pairs, key, DUPLICATE, decode).await
}

/// Deletes the store, its inventory and the job config it owns in one transaction.
pub(crate) async fn delete<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: Option<&str>,
    id: Uuid,
) -> Result<bool> {
    let mut tx = s.write_tx().await?;
    let Some(row) = select_one::<DB>(account_id, id)
        .fetch_optional(&mut tx)
        .await?
    else {
        tx.rollback().await?;
        return Ok(false);
    };
    let store = rows::certificate_store::<DB>(&row)?;
    let mut q = Sql::<DB>::new("DELETE FROM certificate_store_inventory WHERE store_id = ");
    q.bind(id);
    q.execute(&mut tx).await?;
    if let Some(config) = store.inventory_config_id {
        delete_config_on::<DB>(&mut tx, config, &store.account_id).await?;
    }
    let mut q = Sql::<DB>::new("DELETE FROM certificate_stores WHERE id = ");
    q.bind(id);
    q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

async fn delete_config_on<DB: Backend>(
    conn: &mut DB::Connection,
    id: Uuid,
    account_id: &str,
) -> Result<()> {
    let mut q = Sql::<DB>::new("DELETE FROM job_configs WHERE id = ");
    q.bind(id).push(" AND account_id = ").bind(account_id);
    q.execute(conn).await?;
    Ok(())
}

fn push_filter<DB: Backend>(q: &mut Sql<DB>, f: &CertificateStoreFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = &f.client_machine {
        q.push(" AND client_machine = ").bind(v);
    }
    if let Some(v) = &f.store_path {
        q.push(" AND store_path = ").bind(v);
    }
    if let Some(v) = &f.store_type {
        q.push(" AND store_type = ").bind(v);
    }
    if let Some(v) = &f.agent_id {
        q.push(" AND agent_id = ").bind(v);
    }
    if let Some(v) = f.approved {
        q.push(" AND approved = ").bind(v);
    }
    if let Some(v) = f.container_id {
        q.push(" AND container_id = ").bind(v);
    }
}

pub(crate) async fn list<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &CertificateStoreFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<CertificateStore>)> {
    let order = resolve(sort, CERTIFICATE_STORE_SORT)?;
    let filter = |q: &mut Sql<DB>| push_filter(q, filter);
    let decode = rows::certificate_store::<DB>;
    page(s, "certificate_stores", filter, &order, skip, limit, decode).await
}

/// In one transaction: replaces the store's inventory config with `config` (keeping its
/// id if it has one; `None` removes the schedule), links it to the store and enqueues
/// `new_jobs`. `NotFound` if the store is not in `account_id`.
pub(crate) async fn set_inventory_schedule<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: &str,
    store_id: Uuid,
    config: Option<&JobConfig>,
    new_jobs: &[NewJob],
) -> Result<CertificateStore> {
    if let Some(c) = config {
        configs::validate(c)?;
        if c.account_id != account_id {
            return Err(DbError::Invalid(
                "the inventory config must belong to the store's account".into(),
            ));
        }
    }
    let mut tx = s.write_tx().await?;
    let Some(row) = select_one::<DB>(Some(account_id), store_id)
        .fetch_optional(&mut tx)
        .await?
    else {
        tx.rollback().await?;
        return Err(DbError::NotFound);
    };
    let before = rows::certificate_store::<DB>(&row)?;
    if let Some(old) = before.inventory_config_id {
        delete_config_on::<DB>(&mut tx, old, account_id).await?;
    }
    if let Some(c) = config {
        let mut cols = vec![
            ("id", c.id.into()),
            ("account_id", (&c.account_id).into()),
            ("created_at", c.created_at.into()),
            ("updated_at", c.updated_at.into()),
        ];
        cols.extend(configs::editable(c));
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let mut q = Sql::<DB>::new(format!(
            "INSERT INTO job_configs ({}) VALUES ",
            names.join(", ")
        ));
        q.bind_list(cols.into_iter().map(|(_, v)| v));
        q.execute(&mut tx).await.map_err(|e| {
            DbError::unique(
                e,
                "a job config with this name already exists in the account",
            )
        })?;
    }
    let mut q = Sql::<DB>::new("UPDATE certificate_stores SET ");
    q.assign(vec![
        ("inventory_config_id", config.map(|c| c.id).into()),
        ("updated_at", truncate_micros(Utc::now()).into()),
    ])
    .push(" WHERE id = ")
    .bind(store_id)
    .push(" RETURNING *");
    let rows = q.fetch_all(&mut tx).await?;
    let stored = rows
        .first()
        .map(rows::certificate_store::<DB>)
        .ok_or(DbError::NotFound)??;
    jobs::insert_on::<DB>(&mut tx, new_jobs).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Rows per inventory INSERT: 15 binds each.
const INVENTORY_CHUNK: usize = 500;

/// Replaces the store's whole inventory with `entries` in one transaction. `NotFound` if
/// the store is gone (deleted while its inventory ran).
pub(crate) async fn replace_inventory<DB: Backend>(
    s: &SqlDatabase<DB>,
    account_id: &str,
    store_id: Uuid,
    entries: &[InventoryEntry],
) -> Result<u64> {
    if let Some(e) = entries
        .iter()
        .find(|e| e.store_id != store_id || e.account_id != account_id)
    {
        return Err(DbError::Invalid(format!(
            "inventory entry {:?} belongs to store {} of account {:?}, not {store_id} of {account_id:?}",
            e.alias, e.store_id, e.account_id
        )));
    }
    let mut tx = s.write_tx().await?;
    if select_one::<DB>(Some(account_id), store_id)
        .fetch_optional(&mut tx)
        .await?
        .is_none()
    {
        tx.rollback().await?;
        return Err(DbError::NotFound);
    }
    let mut q = Sql::<DB>::new("DELETE FROM certificate_store_inventory WHERE store_id = ");
    q.bind(store_id);
    q.execute(&mut tx).await?;
    let mut inserted = 0;
    for chunk in entries.chunks(INVENTORY_CHUNK) {
        let mut q = Sql::<DB>::new(
            "INSERT INTO certificate_store_inventory (store_id, account_id, alias, thumbprint, \
             serial_number, subject, issuer, sans, not_before, not_after, has_private_key, \
             chain_length, certificate, job_id, inventoried_at) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let sans = serde_json::Value::from(e.sans.clone());
            let vals: [Val; 15] = [
                e.store_id.into(),
                (&e.account_id).into(),
                (&e.alias).into(),
                (&e.thumbprint).into(),
                (&e.serial_number).into(),
                (&e.subject).into(),
                (&e.issuer).into(),
                (&sans).into(),
                e.not_before.into(),
                e.not_after.into(),
                e.has_private_key.into(),
                e.chain_length.into(),
                (&e.certificate).into(),
                e.job_id.into(),
                e.inventoried_at.into(),
            ];
            q.bind_list(vals);
        }
        inserted += q
            .execute(&mut tx)
            .await
            .map_err(|e| DbError::unique(e, "the inventory has two entries with the same alias"))?;
    }
    tx.commit().await?;
    Ok(inserted)
}

/// Store inventories, as rows of the combined listing.
const STORE_ROWS: &str = "SELECT store_id, CAST(NULL AS TEXT) AS endpoint_id, account_id, alias, \
     thumbprint, serial_number, subject, issuer, sans, not_before, not_after, has_private_key, \
     chain_length, certificate, job_id, inventoried_at FROM certificate_store_inventory";

/// The certificates SSL endpoints last served, as rows of the combined listing: an endpoint
/// is listed under its network (`store_id`), aliased `host:port`.
const SSL_ENDPOINT_ROWS: &str = "SELECT network_id AS store_id, id AS endpoint_id, account_id, \
     host || ':' || CAST(port AS TEXT) AS alias, thumbprint, serial_number, subject, issuer, \
     '[]' AS sans, not_before, not_after, FALSE AS has_private_key, 1 AS chain_length, \
     certificate, NULL AS job_id, last_seen AS inventoried_at FROM ssl_endpoints \
     WHERE thumbprint IS NOT NULL";

fn push_inventory_filter<DB: Backend>(q: &mut Sql<DB>, f: &InventoryFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.account_id {
        q.push(" AND account_id = ").bind(v);
    }
    if let Some(v) = f.store_id {
        q.push(" AND store_id = ").bind(v);
    }
    if let Some(v) = f.not_after_before {
        q.push(" AND not_after <= ").bind(v);
    }
    if let Some(v) = &f.alias {
        q.push(" AND alias = ").bind(v);
    }
    if let Some(v) = &f.thumbprint {
        q.push(" AND thumbprint = ").bind(v);
    }
}

pub(crate) async fn list_inventory<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &InventoryFilter,
    sort: &Sort,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<InventoryEntry>)> {
    let default_sort = Sort::by("not_after", false);
    let sort = if sort.0.is_empty() {
        &default_sort
    } else {
        sort
    };
    let mut order = resolve(sort, INVENTORY_SORT)?;
    // The generic tie-breaker is `id`; inventory rows are keyed by (store_id, alias).
    order.retain(|(c, _)| c.name != "id");
    let descending = order.first().is_some_and(|(_, d)| *d);
    order.extend(
        INVENTORY_SORT
            .iter()
            .filter(|c| c.name == "store_id" || c.name == "alias")
            .map(|c| (*c, descending)),
    );
    let decode = rows::inventory_entry::<DB>;
    let bound = filter.count_bound;
    if !(filter.include_ssl_endpoints && filter.store_id.is_none()) {
        let table = format!("({STORE_ROWS}) inv");
        let filter = |q: &mut Sql<DB>| push_inventory_filter(q, filter);
        return page_bounded(s, "*", &table, filter, &order, skip, limit, bound, decode).await;
    }
    merged_inventory_page(s, filter, &order, skip, limit, decode).await
}

/// The page of stores' and SSL endpoints' certificates together. Each source gives its
/// first `skip + limit` matches in the page's order (an index walk on the inventory)
/// and only those are merged and sorted, so the page costs what its depth does, not what
/// both tables hold; the total is the two sources' (bounded) counts added.
async fn merged_inventory_page<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &InventoryFilter,
    order: &[(Column, bool)],
    skip: i64,
    limit: i64,
    decode: fn(&DB::Row) -> Result<InventoryEntry>,
) -> Result<(i64, Vec<InventoryEntry>)> {
    let push_filter = |q: &mut Sql<DB>| push_inventory_filter(q, filter);
    // One endpoint may be listed under several SNI names with the same `host:port`: its
    // id breaks the tie, so every page cuts the same total order. Store rows are unique
    // by (store, alias) already and keep the order their index gives.
    let descending = order.first().is_some_and(|(_, d)| *d);
    let mut by_endpoint = order.to_vec();
    by_endpoint.push((
        Column {
            name: "endpoint_id",
            text: true,
        },
        descending,
    ));
    let mut conn = s.conn().await?;
    let mut total = 0;
    for rows in [STORE_ROWS, SSL_ENDPOINT_ROWS] {
        let table = format!("({rows}) inv");
        let count = count_query(&table, push_filter, filter.count_bound);
        total += count.fetch_int(&mut conn, "n").await?;
    }
    let depth = skip.max(0).saturating_add(limit.max(0));
    let mut q = Sql::<DB>::new("SELECT * FROM (");
    let sources = [
        (STORE_ROWS, order),
        (SSL_ENDPOINT_ROWS, by_endpoint.as_slice()),
    ];
    for (i, (rows, source_order)) in sources.into_iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(format_args!("SELECT * FROM (SELECT * FROM ({rows}) src"));
        push_filter(&mut q);
        q.order_by(source_order).push(" LIMIT ").bind(depth);
        q.push(format_args!(") first{i}"));
    }
    q.push(") inv");
    q.order_by(&by_endpoint).page(skip, limit);
    let found = q.fetch_all(&mut conn).await?;
    Ok((total, rows::all::<DB, _>(&found, decode)?))
}

/// Records discovered paths; a path found again gets the newer job and time.
pub(crate) async fn record_discovered<DB: Backend>(
    s: &SqlDatabase<DB>,
    paths: &[DiscoveredPath],
) -> Result<u64> {
    if paths.is_empty() {
        return Ok(0);
    }
    let mut tx = s.write_tx().await?;
    let mut recorded = 0;
    for chunk in paths.chunks(INVENTORY_CHUNK) {
        let mut q = Sql::<DB>::new(
            "INSERT INTO discovered_store_paths (account_id, store_type, client_machine, path, \
             job_id, discovered_at) VALUES ",
        );
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let vals: [Val; 6] = [
                (&p.account_id).into(),
                (&p.store_type).into(),
                (&p.client_machine).into(),
                (&p.path).into(),
                p.job_id.into(),
                p.discovered_at.into(),
            ];
            q.bind_list(vals);
        }
        q.push(
            " ON CONFLICT (account_id, store_type, client_machine, path) DO UPDATE SET \
             job_id = excluded.job_id, discovered_at = excluded.discovered_at",
        );
        recorded += q
            .execute(&mut tx)
            .await
            .map_err(|e| DbError::unique(e, "the discovery reported the same path twice"))?;
    }
    tx.commit().await?;
    Ok(recorded)
}

pub(crate) async fn list_discovered<DB: Backend>(
    s: &SqlDatabase<DB>,
    filter: &DiscoveredFilter,
    skip: i64,
    limit: i64,
) -> Result<(i64, Vec<DiscoveredPath>)> {
    let push = |q: &mut Sql<DB>| {
        q.push(" WHERE 1 = 1");
        if let Some(v) = &filter.account_id {
            q.push(" AND account_id = ").bind(v);
        }
        if let Some(v) = &filter.store_type {
            q.push(" AND store_type = ").bind(v);
        }
        if let Some(v) = &filter.client_machine {
            q.push(" AND client_machine = ").bind(v);
        }
    };
    let decode = rows::discovered_path::<DB>;
    page(
        s,
        "discovered_store_paths",
        push,
        DISCOVERED_ORDER,
        skip,
        limit,
        decode,
    )
    .await
}

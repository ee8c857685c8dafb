//! Filters and sort orders of the list operations.
//!
//! Sort keys are checked against a per-entity allow-list before any SQL is built, so user
//! input never reaches the query text; only the bound filter values do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DbError, Result};
use crate::kinds::JobStatus;

/// Filters of [`crate::Database::list_configs`]; `None` fields do not filter. All set fields
/// must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigFilter {
    /// Only this account's configs (`None` = every account, for admins).
    pub account_id: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Exact id.
    pub id: Option<Uuid>,
    /// Exact operation.
    pub operation: Option<String>,
    /// Disabled flag.
    pub disabled: Option<bool>,
    /// `params.cloud_name` equals this.
    pub cloud_name: Option<String>,
    /// `params.expire_in` equals this.
    pub expire_in: Option<String>,
    /// Created at or before (inclusive).
    pub created_before: Option<DateTime<Utc>>,
    /// Created at or after (inclusive).
    pub created_after: Option<DateTime<Utc>>,
    /// Stop counting matches past this many (see [`Total`]); `None` counts them all.
    #[serde(default)]
    pub count_bound: Option<i64>,
}

/// Filters of [`crate::Database::list_jobs`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Exact id.
    pub id: Option<Uuid>,
    /// Exact name.
    pub name: Option<String>,
    /// Only this account's jobs (`None` = every account).
    pub account_id: Option<String>,
    /// Jobs fired by this config.
    pub job_config_id: Option<Uuid>,
    /// Exact operation.
    pub operation: Option<String>,
    /// Exact status.
    pub status: Option<JobStatus>,
    /// Created at or before (inclusive).
    pub created_before: Option<DateTime<Utc>>,
    /// Created at or after (inclusive).
    pub created_after: Option<DateTime<Utc>>,
    /// Changed (created, claimed, progressed, finished...) at or after (inclusive).
    pub updated_after: Option<DateTime<Utc>>,
    /// Ran (or runs) on this node.
    pub processing_node: Option<String>,
    /// Stop counting matches past this many (see [`Total`]); `None` counts them all.
    #[serde(default)]
    pub count_bound: Option<i64>,
    /// Leave each job's params out (read back as `{}`): listings do not carry them unless
    /// asked, so a page of jobs costs what its columns do, not what plugins were given.
    pub omit_params: bool,
    /// Leave each job's logs out (read back empty), for the same reason.
    pub omit_logs: bool,
}

/// Filters of [`crate::Database::list_cloud_keys`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyFilter {
    /// Only this account's keys (`None` = every account, for admins).
    pub account_id: Option<String>,
    /// Exact cloud name.
    pub cloud_name: Option<String>,
    /// Exact key id.
    pub key_id: Option<String>,
    /// Keys carrying this exact alias.
    pub alias: Option<String>,
    /// Exact state word.
    pub state: Option<String>,
    /// Synchronized by this source (job config id).
    pub source: Option<String>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    /// Field name as the API received it (`createdAt` and `created_at` both work).
    pub field: String,
    /// Descending order.
    pub descending: bool,
}

/// A multi-key sort order, most significant key first. Empty means the default order
/// (newest first). `id` is always added as the last key so pages are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort(pub Vec<SortKey>);

impl Sort {
    /// Parses the API's `sort` parameter: comma-separated fields, each optionally prefixed
    /// with `-` (descending) or `+` (ascending). Fields are validated later, by the list
    /// operation, against its entity's allow-list.
    pub fn parse(s: &str) -> Sort {
        let keys = s
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| match f.strip_prefix('-') {
                Some(rest) => SortKey {
                    field: rest.trim().to_owned(),
                    descending: true,
                },
                None => SortKey {
                    field: f.strip_prefix('+').unwrap_or(f).trim().to_owned(),
                    descending: false,
                },
            })
            .collect();
        Sort(keys)
    }

    /// Shorthand for a one-key sort.
    pub fn by(field: &str, descending: bool) -> Sort {
        Sort(vec![SortKey {
            field: field.to_owned(),
            descending,
        }])
    }

    /// Adds a key.
    pub fn then(mut self, field: &str, descending: bool) -> Sort {
        self.0.push(SortKey {
            field: field.to_owned(),
            descending,
        });
        self
    }
}

/// How many rows a listing matched.
///
/// Counting every match costs a scan of every match: a million jobs take PostgreSQL
/// about 80 ms to count, longer than the page itself by a thousand times. A listing asked
/// for with a `count_bound` stops counting one past the bound, and the total says whether
/// it is the exact number or only a lower bound ("more than 10,000"), as GitLab and
/// Elasticsearch answer large counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    /// The number of matches, or the bound when there are more.
    pub count: i64,
    /// Whether `count` is every match.
    pub exact: bool,
}

impl Total {
    /// An exact count.
    pub fn exact(count: i64) -> Total {
        Total { count, exact: true }
    }

    /// Reads what a list operation returned for a filter with `count_bound`: the count
    /// query stops at `bound + 1`, so reaching that means "more than `bound`".
    pub fn of(counted: i64, bound: Option<i64>) -> Total {
        match bound {
            Some(bound) if counted > bound => Total {
                count: bound,
                exact: false,
            },
            _ => Total::exact(counted),
        }
    }
}

/// A count made without a bound.
impl From<i64> for Total {
    fn from(count: i64) -> Total {
        Total::exact(count)
    }
}

/// "10000", or "more than 10000" when counting stopped at the bound.
impl std::fmt::Display for Total {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exact {
            write!(f, "{}", self.count)
        } else {
            write!(f, "more than {}", self.count)
        }
    }
}

/// A sortable column: its name and whether it holds text (which needs the same collation
/// on every backend to sort identically).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub text: bool,
}

const fn text(name: &'static str) -> Column {
    Column { name, text: true }
}

const fn other(name: &'static str) -> Column {
    Column { name, text: false }
}

/// Sortable columns of `job_configs`.
pub(crate) const CONFIG_SORT: &[Column] = &[
    text("name"),
    text("account_id"),
    text("operation"),
    other("created_at"),
    other("updated_at"),
    text("id"),
    text("run_at"),
    text("run_on"),
    other("disabled"),
    other("next_fire_at"),
];

/// Sortable columns of `jobs`.
pub(crate) const JOB_SORT: &[Column] = &[
    text("name"),
    text("account_id"),
    text("operation"),
    other("created_at"),
    other("updated_at"),
    text("id"),
    text("status"),
    other("enqueued_at"),
    text("processing_node"),
    text("run_on"),
    other("scheduled_for"),
    other("started_at"),
    other("finished_at"),
    text("job_config_id"),
];

/// Sortable columns of `agents` (the default is `id`).
pub(crate) const AGENT_SORT: &[Column] = &[
    text("id"),
    text("client_machine"),
    text("username"),
    other("platform"),
    text("version"),
    other("status"),
    other("last_seen"),
    other("created_at"),
];

/// Sortable columns of `certificate_stores`.
pub(crate) const CERTIFICATE_STORE_SORT: &[Column] = &[
    text("id"),
    text("client_machine"),
    text("store_path"),
    text("store_type"),
    text("agent_id"),
    other("approved"),
    other("container_id"),
    other("created_at"),
    other("updated_at"),
];

/// Sortable columns of `certificate_store_inventory` (the default is `not_after`).
pub(crate) const INVENTORY_SORT: &[Column] = &[
    text("store_id"),
    text("alias"),
    text("thumbprint"),
    text("subject"),
    text("issuer"),
    other("not_before"),
    other("not_after"),
    other("inventoried_at"),
];

/// The fixed order of discovered store paths (not user-sortable).
pub(crate) const DISCOVERED_ORDER: &[(Column, bool)] = &[
    (text("account_id"), false),
    (text("store_type"), false),
    (text("client_machine"), false),
    (text("path"), false),
];

/// Sortable columns of `ssl_networks`.
pub(crate) const SSL_NETWORK_SORT: &[Column] = &[
    text("name"),
    text("agent_pool_name"),
    other("enabled"),
    other("created_at"),
    other("updated_at"),
    text("id"),
];

/// Sortable columns of `cloud_keys`.
pub(crate) const KEY_SORT: &[Column] = &[
    text("key_id"),
    text("cloud_name"),
    text("state"),
    text("source"),
    text("account_id"),
    other("created_at"),
    other("rotated_at"),
    other("synced_at"),
    text("id"),
];

/// `createdAt` → `created_at`; snake_case input is unchanged.
fn snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Resolves `sort` against `allowed`: the validated `(column, descending)` list, with the
/// default order for an empty sort and `id` appended as the final tie-breaker.
pub(crate) fn resolve(sort: &Sort, allowed: &[Column]) -> Result<Vec<(Column, bool)>> {
    let mut out = Vec::with_capacity(sort.0.len() + 2);
    for key in &sort.0 {
        let name = snake_case(&key.field);
        let col = allowed
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| DbError::InvalidSort(key.field.clone()))?;
        out.push((*col, key.descending));
    }
    if out.is_empty() {
        out.push((other("created_at"), true));
    }
    if !out.iter().any(|(c, _)| c.name == "id") {
        let descending = out[0].1;
        out.push((text("id"), descending));
    }
    Ok(out)
}

/// Sortable columns of `ssl_endpoints`.
pub(crate) const SSL_ENDPOINT_SORT: &[Column] = &[
    text("host"),
    text("address"),
    other("port"),
    text("sni_name"),
    text("thumbprint"),
    text("subject"),
    other("not_after"),
    other("last_seen"),
    other("first_seen"),
    text("network_id"),
    text("id"),
];

/// The order of a network's scan parts: newest scan first, each scan's parts in order.
pub(crate) const SSL_PART_ORDER: &[(Column, bool)] =
    &[(text("scan_id"), true), (other("seq"), false)];

/// The order of an endpoint's history: newest first.
pub(crate) const SSL_HISTORY_ORDER: &[(Column, bool)] =
    &[(other("observed_at"), true), (text("id"), true)];

/// The order of `ssl_endpoints` listings.
pub(crate) const SSL_ENDPOINT_ORDER: &[Column] = &[
    text("network_id"),
    text("host"),
    other("port"),
    text("sni_name"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_resolve() {
        let s = Sort::parse("name, -createdAt,+run_at");
        let r = resolve(&s, CONFIG_SORT).unwrap();
        let got: Vec<_> = r.iter().map(|(c, d)| (c.name, *d)).collect();
        assert_eq!(
            got,
            vec![
                ("name", false),
                ("created_at", true),
                ("run_at", false),
                ("id", false)
            ]
        );
        assert!(matches!(
            resolve(&Sort::by("password", false), CONFIG_SORT),
            Err(DbError::InvalidSort(f)) if f == "password"
        ));
        assert!(resolve(&Sort::by("status", false), CONFIG_SORT).is_err());
        assert!(resolve(&Sort::by("processingNode", true), JOB_SORT).is_ok());
        let d = resolve(&Sort::default(), JOB_SORT).unwrap();
        assert_eq!(d[0].0.name, "created_at");
        assert!(d[0].1);
    }
}

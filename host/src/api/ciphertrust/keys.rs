//! `/api/v1/cckm/keys`: the cloud keys `cckm_synchronization` jobs pulled in, one row per
//! key and synchronizing job config, listed with the CipherTrust list shape.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use keywarden_db::{KeyFilter, Sort, SyncedKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{self, ApiQuery, text};
use super::views::{Page, account_uri};
use crate::api::AppState;
use crate::domain::Caller;

/// Query parameters of `GET /cckm/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyListQuery {
    pub skip: Option<String>,
    pub limit: Option<String>,
    /// Comma-separated fields, `-` prefix for descending: `key_id`, `cloud_name`,
    /// `state`, `created_at`, `rotated_at`, `synced_at`, `job_config_id`.
    pub sort: Option<String>,
    /// `aws`, `AzureCloud`, ...
    pub cloud_name: Option<String>,
    /// The cloud's key id.
    pub key_id: Option<String>,
    /// Keys carrying this exact alias (e.g. `alias/app`).
    pub alias: Option<String>,
    /// The cloud's state word, e.g. `Enabled`, `Disabled`, `PendingDeletion`.
    pub state: Option<String>,
    /// Keys synchronized by this job config.
    pub job_config_id: Option<String>,
}

/// A synchronized cloud key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloudKeyView {
    pub key_id: String,
    pub cloud_name: String,
    /// The full resource name (AWS: the ARN).
    pub resource_name: Option<String>,
    pub aliases: Vec<String>,
    pub state: String,
    /// When the cloud created the key (RFC 3339).
    pub created_at: Option<String>,
    /// The last rotation the cloud reports (RFC 3339).
    pub rotated_at: Option<String>,
    /// Spec, usage, origin, ... as the plugin reported them.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub account: String,
    /// The synchronizing job config (or the job, for a run without a config).
    pub job_config_id: String,
    /// When that synchronization ran.
    pub synced_at: String,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl From<&SyncedKey> for CloudKeyView {
    fn from(k: &SyncedKey) -> Self {
        CloudKeyView {
            key_id: k.key_id.clone(),
            cloud_name: k.cloud_name.clone(),
            resource_name: k.resource_name.clone(),
            aliases: k.aliases.clone(),
            state: k.state.clone(),
            created_at: k.created_at.map(time),
            rotated_at: k.rotated_at.map(time),
            attributes: k.attributes.clone(),
            account: account_uri(&k.account_id),
            job_config_id: k.source.clone(),
            synced_at: time(k.synced_at),
        }
    }
}

/// The API's `job_config_id` sort key is the database's `source`.
fn store_sort(raw: &str) -> Sort {
    let mut sort = Sort::parse(raw);
    for key in &mut sort.0 {
        if key.field == "job_config_id" || key.field == "jobConfigId" {
            key.field = "source".to_owned();
        }
    }
    sort
}

#[utoipa::path(get, path = "/api/v1/cckm/keys", tag = "cckm",
    responses((status = 200, body = Page<CloudKeyView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<KeyListQuery>,
) -> ApiResult<Json<Page<CloudKeyView>>> {
    let (skip, limit) = extract::paging(q.skip.as_deref(), q.limit.as_deref())?;
    let filter = KeyFilter {
        account_id: None,
        cloud_name: text(q.cloud_name),
        key_id: text(q.key_id),
        alias: text(q.alias),
        state: text(q.state),
        source: extract::uuid_param("job_config_id", q.job_config_id.as_deref())?
            .map(|id| id.to_string()),
    };
    let sort = store_sort(q.sort.as_deref().unwrap_or(""));
    let (total, rows) = state
        .service
        .cloud_keys(&caller, filter, &sort, skip, limit)
        .await?;
    Ok(Json(Page::new(
        skip,
        limit,
        total,
        rows.iter().map(CloudKeyView::from).collect(),
    )))
}

//! `/KeyfactorAPI/CertificateStores`: certificate stores as resources, in Keyfactor's
//! field names (see `reference/keyfactor-certificate-stores-facts.md`).
//!
//! Passwords: Keyfactor takes a store password as a secret value or a PAM reference.
//! Keywarden never stores secret values, so `Password` must be a reference to a secret
//! the operator configured, `{"SecretName": "..."}`, granted to the plugin that serves
//! the store type. A plain password (a string, or an object with `SecretValue` or
//! `Value`) is refused with 422 naming `Password`, and so is a `SecretValue` anywhere in
//! `Properties`: the value would end up in the database.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use keywarden_db::{CertificateStore, CertificateStoreFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::kf_body::{self, Body};
use super::store_schedule::{self, KfSchedule};
use super::store_types;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{self, ApiJson, ApiQuery, text};
use crate::certificates::job_params::operation;

/// Response fields a client may send back unchanged from a GET; not editable.
const READ_ONLY: &[&str] = &[
    "CertStoreInventoryJobId",
    "CertStoreTypeName",
    "ContainerName",
    "DisplayName",
    "ReenrollmentStatus",
    "SetNewPasswordAllowed",
    "AgentAssigned",
    "CreatedAt",
    "UpdatedAt",
];

/// A certificate store as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateStoreView {
    pub id: String,
    pub container_id: Option<i64>,
    pub client_machine: String,
    /// Keyfactor's spelling.
    pub storepath: String,
    /// Keyfactor's numeric store type id, when the type has one.
    pub cert_store_type: Option<i64>,
    /// The store type name a plugin serves (`PEM`, `PKCS12`, `JKS`).
    pub cert_store_type_name: String,
    pub approved: bool,
    pub create_if_missing: bool,
    /// Store-type specific properties, a JSON object serialised into a string.
    pub properties: String,
    /// The node that runs the store's jobs; null = any node.
    pub agent_id: Option<String>,
    pub agent_assigned: bool,
    /// The job config holding the inventory schedule.
    pub cert_store_inventory_job_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub inventory_schedule: Option<Value>,
    /// `{"SecretName": ...}`: the secret holding the password; never a value.
    #[schema(value_type = Option<Object>)]
    pub password: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl CertificateStoreView {
    async fn of(state: &AppState, s: &CertificateStore) -> ApiResult<Self> {
        let schedule = match s.inventory_config_id {
            Some(id) => state
                .db
                .get_config(Some(&s.account_id), id)
                .await?
                .as_ref()
                .and_then(store_schedule::render),
            None => None,
        };
        Ok(CertificateStoreView {
            id: s.id.to_string(),
            container_id: s.container_id,
            client_machine: s.client_machine.clone(),
            storepath: s.store_path.clone(),
            cert_store_type: store_types::keyfactor_id(&s.store_type),
            cert_store_type_name: s.store_type.clone(),
            approved: s.approved,
            create_if_missing: s.create_if_missing,
            properties: s.properties.to_string(),
            agent_id: s.agent_id.clone(),
            agent_assigned: s.agent_id.is_some(),
            cert_store_inventory_job_id: s.inventory_config_id.map(|id| id.to_string()),
            inventory_schedule: schedule,
            password: s
                .password_secret
                .as_ref()
                .map(|name| serde_json::json!({"SecretName": name})),
            created_at: kf_body::time(s.created_at),
            updated_at: kf_body::time(s.updated_at),
        })
    }
}

/// Body of `POST` (and, with `Id`, `PUT`) `/KeyfactorAPI/CertificateStores`. Field
/// names are case-insensitive.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
#[serde(rename_all = "PascalCase")]
pub struct CertificateStoreRequest {
    /// Required on PUT: the store's GUID.
    pub id: Option<String>,
    pub client_machine: String,
    /// Also accepted as `StorePath`. The path as the store type's plugin sees it.
    pub storepath: String,
    /// Keyfactor's store type id (0 JKS, 2 PEM, 102 PKCS12) or a store type name.
    #[schema(value_type = Object)]
    pub cert_store_type: Value,
    pub container_id: Option<i64>,
    /// Default true.
    pub approved: Option<bool>,
    pub create_if_missing: Option<bool>,
    /// A JSON object, or one serialised into a string.
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
    pub agent_id: Option<String>,
    /// `{"SecretName": "<secret configured on the server>"}`. Plain passwords are refused.
    #[schema(value_type = Option<Object>)]
    pub password: Option<Value>,
    /// A Keyfactor schedule object (see `POST /CertificateStores/Schedule`).
    #[schema(value_type = Option<Object>)]
    pub inventory_schedule: Option<Value>,
}

/// Reads a create/replace body into `store`; returns the inventory schedule if given.
fn read(
    state: &AppState,
    store: &mut CertificateStore,
    mut body: Body,
) -> ApiResult<Option<KfSchedule>> {
    body.ignore(READ_ONLY);
    store.client_machine = body.required_text("ClientMachine")?;
    store.store_path = match body.take_any(&["Storepath", "StorePath"]) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(other) if !other.is_string() => {
            return Err(ApiError::invalid(
                "Storepath",
                format!("expected a string, got {other}"),
            ));
        }
        _ => return Err(ApiError::invalid("Storepath", "is required")),
    };
    let store_type = body
        .take("CertStoreType")
        .ok_or_else(|| ApiError::invalid("CertStoreType", "is required"))?;
    store.store_type = store_types::resolve(&state.registry, "CertStoreType", &store_type)?;
    store.container_id = body.integer("ContainerId", 0, i64::MAX)?;
    store.approved = body.boolean("Approved")?.unwrap_or(true);
    store.create_if_missing = body.boolean("CreateIfMissing")?.unwrap_or(false);
    store.properties = properties(body.take("Properties"))?;
    store.agent_id = body.text("AgentId")?;
    store.password_secret = password(state, &store.store_type, body.take("Password"))?;
    let schedule = body
        .take("InventorySchedule")
        .map(|v| store_schedule::parse(v, "InventorySchedule"))
        .transpose()?;
    body.finish()?;
    check_path(state, store)?;
    check_properties(state, store)?;
    Ok(schedule)
}

/// Validates `Properties` against the schema the store type's plugin publishes as
/// `$defs.storeProperties` in its Inventory params schema, when it publishes one.
fn check_properties(state: &AppState, store: &CertificateStore) -> ApiResult<()> {
    let Ok((_, op)) = state
        .registry
        .resolve(operation::INVENTORY, Some(&store.store_type))
    else {
        return Ok(());
    };
    let Some(schema) = op.params_schema.pointer("/$defs/storeProperties") else {
        return Ok(());
    };
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Ok(());
    };
    match validator.iter_errors(&store.properties).next() {
        None => Ok(()),
        Some(error) => {
            let mut field = "Properties".to_owned();
            for part in error
                .instance_path
                .as_str()
                .split('/')
                .filter(|p| !p.is_empty())
            {
                field.push('.');
                field.push_str(part);
            }
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                &error.kind
                && let Some(first) = unexpected.first()
            {
                field.push('.');
                field.push_str(first);
            }
            Err(ApiError::unprocessable(&field, error.to_string()))
        }
    }
}

fn properties(value: Option<Value>) -> ApiResult<Value> {
    let value = match value {
        None => return Ok(Value::Object(Map::new())),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Value::Object(Map::new())),
        Some(Value::String(s)) => serde_json::from_str(&s).map_err(|e| {
            ApiError::invalid(
                "Properties",
                format!("is not a JSON object serialised into a string: {e}"),
            )
        })?,
        Some(v) => v,
    };
    if !value.is_object() {
        return Err(ApiError::invalid("Properties", "must be a JSON object"));
    }
    if let Some(path) = secret_value_path(&value, "Properties") {
        return Err(ApiError::unprocessable(
            &path,
            "secret values are not stored; configure a named secret on the server and give \
             its name instead",
        ));
    }
    Ok(value)
}

/// The path of the first `SecretValue` member anywhere in `value`.
fn secret_value_path(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = format!("{path}.{k}");
            if k.eq_ignore_ascii_case("SecretValue") && !v.is_null() {
                Some(here)
            } else {
                secret_value_path(v, &here)
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| secret_value_path(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// The secret name of a `Password` field, checked against the operator config.
fn password(state: &AppState, store_type: &str, value: Option<Value>) -> ApiResult<Option<String>> {
    const HOW: &str = "plain passwords are not stored; give {\"SecretName\": \"<name>\"} naming a \
                       secret configured on the server";
    let mut body = match value {
        None => return Ok(None),
        Some(Value::Object(map)) => Body::new(Value::Object(map), "Password.")?,
        Some(_) => return Err(ApiError::unprocessable("Password", HOW)),
    };
    if body.take_any(&["SecretValue", "Value"]).is_some() {
        return Err(ApiError::unprocessable("Password", HOW));
    }
    body.ignore(&["IsManaged"]);
    let name = body.text("SecretName")?;
    body.finish()?;
    let Some(name) = name else {
        return Ok(None);
    };
    let runtime = state.registry.runtime();
    if !runtime.config().secrets.contains_key(&name) {
        return Err(ApiError::unprocessable(
            "Password.SecretName",
            format!("no secret named {name:?} is configured on the server"),
        ));
    }
    if let Some(plugin) = store_types::plugin_for(&state.registry, operation::INVENTORY, store_type)
        && !plugin.grants.secrets.contains(&name)
    {
        return Err(ApiError::unprocessable(
            "Password.SecretName",
            format!(
                "secret {name:?} is not granted to plugin {}, which serves {store_type} stores",
                plugin.name
            ),
        ));
    }
    Ok(Some(name))
}

/// The path must lie in a directory granted to the plugin serving the type, else no job
/// could ever open it.
fn check_path(state: &AppState, store: &CertificateStore) -> ApiResult<()> {
    let Some(plugin) =
        store_types::plugin_for(&state.registry, operation::INVENTORY, &store.store_type)
    else {
        return Ok(());
    };
    let path = std::path::Path::new(&store.store_path);
    if !path.is_absolute() || store.store_path.split('/').any(|part| part == "..") {
        return Err(ApiError::unprocessable(
            "Storepath",
            "must be an absolute path without '..' components",
        ));
    }
    let granted: Vec<&str> = plugin
        .grants
        .dirs
        .iter()
        .map(|d| d.guest.as_str())
        .collect();
    if granted.iter().any(|dir| path.starts_with(dir)) {
        return Ok(());
    }
    let granted = if granted.is_empty() {
        "none".to_owned()
    } else {
        granted.join(", ")
    };
    Err(ApiError::unprocessable(
        "Storepath",
        format!(
            "{} is outside the directories granted to plugin {} ({granted})",
            store.store_path, plugin.name
        ),
    ))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CertificateStore> {
    let uuid = extract::path_id(id, "certificate store")?;
    state
        .db
        .get_certificate_store(caller.scope(), uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no certificate store with id {id:?}")))
}

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores", tag = "keyfactor-certificate-stores",
    request_body = CertificateStoreRequest,
    responses((status = 200, body = CertificateStoreView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<CertificateStoreView>> {
    let mut body = Body::new(body, "")?;
    body.ignore(&["Id"]);
    let mut store = CertificateStore::new(&caller.account, "", "", "", Utc::now());
    let schedule = read(&state, &mut store, body)?;
    check_schedule(&state, &store, schedule.as_ref())?;
    let mut stored = state.db.insert_certificate_store(&store).await?;
    if let Some(schedule) = schedule {
        stored = store_schedule::apply(&state, &stored, &schedule, "InventorySchedule").await?;
    }
    Ok(Json(CertificateStoreView::of(&state, &stored).await?))
}

/// Replaces a store (Keyfactor's `PUT /CertificateStores`, the id in the body). The
/// inventory schedule is kept unless `InventorySchedule` is given.
#[utoipa::path(put, path = "/KeyfactorAPI/CertificateStores", tag = "keyfactor-certificate-stores",
    request_body = CertificateStoreRequest,
    responses((status = 200, body = CertificateStoreView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<CertificateStoreView>> {
    let mut body = Body::new(body, "")?;
    let id = body
        .uuid("Id")?
        .ok_or_else(|| ApiError::invalid("Id", "is required"))?;
    let before = load(&state, &caller, &id.to_string()).await?;
    let mut store = before.clone();
    let schedule = read(&state, &mut store, body)?;
    check_schedule(&state, &store, schedule.as_ref())?;
    let mut stored = state.db.update_certificate_store(&store).await?;
    let schedule = match schedule {
        Some(s) => Some(s),
        // Keep the schedule, but its jobs follow the store's new agent and type.
        None if before.agent_id != stored.agent_id || before.store_type != stored.store_type => {
            current_schedule(&state, &stored).await?
        }
        None => None,
    };
    if let Some(schedule) = schedule {
        stored = store_schedule::apply(&state, &stored, &schedule, "InventorySchedule").await?;
    }
    Ok(Json(CertificateStoreView::of(&state, &stored).await?))
}

/// Refuses a schedule that could not be applied, before the store is written.
fn check_schedule(
    state: &AppState,
    store: &CertificateStore,
    schedule: Option<&KfSchedule>,
) -> ApiResult<()> {
    match schedule {
        None | Some(KfSchedule::Off) => Ok(()),
        Some(schedule) => {
            schedule.check("InventorySchedule")?;
            store_schedule::check_schedulable(state, store, "InventorySchedule")
        }
    }
}

async fn current_schedule(
    state: &AppState,
    store: &CertificateStore,
) -> ApiResult<Option<KfSchedule>> {
    let Some(id) = store.inventory_config_id else {
        return Ok(None);
    };
    let Some(config) = state.db.get_config(Some(&store.account_id), id).await? else {
        return Ok(None);
    };
    Ok(store_schedule::render(&config)
        .and_then(|json| store_schedule::parse(json, "InventorySchedule").ok())
        .filter(|s| !matches!(s, KfSchedule::Immediate)))
}

#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/{id}", tag = "keyfactor-certificate-stores",
    params(("id" = String, Path, description = "Certificate store GUID")),
    responses((status = 200, body = CertificateStoreView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<CertificateStoreView>> {
    let store = load(&state, &caller, &id).await?;
    Ok(Json(CertificateStoreView::of(&state, &store).await?))
}

/// Deletes a store with its inventory and its inventory schedule; past jobs stay.
#[utoipa::path(delete, path = "/KeyfactorAPI/CertificateStores/{id}", tag = "keyfactor-certificate-stores",
    params(("id" = String, Path, description = "Certificate store GUID")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = extract::path_id(&id, "certificate store")?;
    if state
        .db
        .delete_certificate_store(caller.scope(), uuid)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no certificate store with id {id:?}"
        )))
    }
}

/// Query parameters of `GET /KeyfactorAPI/CertificateStores`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[into_params(rename_all = "PascalCase")]
pub struct StoreListQuery {
    /// 1-based page number (default 1).
    pub page_returned: Option<String>,
    /// Page size (default 50).
    pub return_limit: Option<String>,
    /// `ClientMachine`, `Storepath`, `CertStoreType`, `AgentId`, `Approved`, `ContainerId`,
    /// `CreatedAt`, `Id`.
    pub sort_field: Option<String>,
    /// 0 ascending (default), 1 descending.
    pub sort_ascending: Option<String>,
    pub client_machine: Option<String>,
    #[serde(alias = "StorePath")]
    pub storepath: Option<String>,
    /// Store type id or name.
    pub cert_store_type: Option<String>,
    pub agent_id: Option<String>,
    pub approved: Option<String>,
    pub container_id: Option<String>,
}

fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "clientmachine" => "client_machine",
        "storepath" => "store_path",
        "certstoretype" | "certstoretypename" => "store_type",
        "agentid" => "agent_id",
        "approved" => "approved",
        "containerid" => "container_id",
        "createdat" => "created_at",
        "updatedat" => "updated_at",
        "id" => "id",
        _ => return None,
    })
}

/// The account's stores (every account's for admins); the total is in `x-total-count`.
#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores", tag = "keyfactor-certificate-stores",
    params(StoreListQuery),
    responses((status = 200, body = Vec<CertificateStoreView>,
        headers(("x-total-count" = i64, description = "Stores matching the filters"))),
        (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<StoreListQuery>,
) -> ApiResult<Response> {
    let paging = kf_body::paging(
        q.page_returned.as_deref(),
        q.return_limit.as_deref(),
        q.sort_field.as_deref(),
        q.sort_ascending.as_deref(),
        sort_column,
    )?;
    let store_type = match text(q.cert_store_type) {
        None => None,
        Some(t) => Some(store_types::resolve(
            &state.registry,
            "CertStoreType",
            &Value::String(t),
        )?),
    };
    let container_id = match text(q.container_id) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            ApiError::invalid("ContainerId", format!("expected an integer, got {s:?}"))
        })?),
    };
    let filter = CertificateStoreFilter {
        account_id: caller.scope().map(str::to_owned),
        client_machine: text(q.client_machine),
        store_path: text(q.storepath),
        store_type,
        agent_id: text(q.agent_id),
        approved: extract::boolean("Approved", q.approved.as_deref())?,
        container_id,
    };
    let (total, rows) = state
        .db
        .list_certificate_stores(&filter, &paging.sort, paging.skip, paging.limit)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(CertificateStoreView::of(&state, row).await?);
    }
    Ok(kf_body::counted(total, views))
}

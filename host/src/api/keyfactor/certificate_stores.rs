//! `/KeyfactorAPI/CertificateStores`: certificate stores as resources, in Keyfactor's
//! field names (`docs/keyfactor.md` lists them).
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
use keywarden_db::{CertificateStore, CertificateStoreFilter, Sort};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names, Params};
use super::store_types;
use crate::api::AppState;
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, ApiResult};
use crate::domain::Caller;
use crate::domain::certificate_stores::StoreSpec;

/// How these endpoints name the model's fields.
const NAMES: Names = Names {
    schedule: "InventorySchedule",
    ..Names::DEFAULT
};

/// Response fields a client may send back unchanged from a GET; not editable.
pub const READ_ONLY: &[&str] = &[
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
    async fn of(state: &AppState, s: &CertificateStore) -> KeyfactorResult<Self> {
        let schedule = state.service.inventory_schedule(s).await?;
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
            inventory_schedule: schedule.as_ref().map(|r| kit::schedule::render(Some(r))),
            password: s
                .password_secret
                .as_ref()
                .map(|name| serde_json::json!({"SecretName": name})),
            created_at: kit::time(s.created_at),
            updated_at: kit::time(s.updated_at),
        })
    }
}

/// What a create/replace body asks for: the store, and its inventory schedule when the
/// body has one (`Some(None)`: `Off`).
type StoreRequest = (StoreSpec, Option<Option<keywarden_db::Recurrence>>);

/// Reads a create/replace body.
fn read(mut body: Body) -> ApiResult<StoreRequest> {
    body.ignore(READ_ONLY);
    let client_machine = body.required_text("ClientMachine")?;
    let store_path = body
        .text_any(&["Storepath", "StorePath"])?
        .ok_or_else(|| ApiError::invalid("Storepath", "is required"))?;
    let store_type = body
        .take("CertStoreType")
        .ok_or_else(|| ApiError::invalid("CertStoreType", "is required"))?;
    let spec = StoreSpec {
        client_machine,
        store_path,
        store_type: store_types::name_of("CertStoreType", &store_type)?,
        container_id: body.integer("ContainerId", 0, crate::api::json::MAX_SAFE_INTEGER)?,
        approved: body.boolean("Approved")?.unwrap_or(true),
        create_if_missing: body.boolean("CreateIfMissing")?.unwrap_or(false),
        properties: properties(body.take("Properties"))?,
        agent_id: body.text("AgentId")?,
        password_secret: password(body.take("Password"))?,
    };
    let schedule = body
        .take("InventorySchedule")
        .map(|v| kit::schedule::parse(v, "InventorySchedule"))
        .transpose()?;
    body.finish()?;
    Ok((spec, schedule))
}

/// `Properties`: a JSON object, or one serialised into a string.
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
    Ok(value)
}

/// The secret name of a `Password` field. A value is refused: it would be stored.
fn password(value: Option<Value>) -> ApiResult<Option<String>> {
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
    Ok(name)
}

fn store_id(raw: &str) -> KeyfactorResult<Uuid> {
    Ok(crate::api::ciphertrust::extract::path_id(
        raw,
        "certificate store",
    )?)
}

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = CertificateStoreView), (status = 400, body = KeyfactorErrorBody),
        (status = 409, body = KeyfactorErrorBody), (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<CertificateStoreView>> {
    let mut body = Body::new(body, "")?;
    body.ignore(&["Id"]);
    let (spec, schedule) = read(body)?;
    let stored = state
        .service
        .create_certificate_store(&caller, spec, schedule)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(CertificateStoreView::of(&state, &stored).await?))
}

/// Replaces a store (Keyfactor's `PUT /CertificateStores`, the id in the body). The
/// inventory schedule is kept unless `InventorySchedule` is given.
#[utoipa::path(put, path = "/KeyfactorAPI/CertificateStores", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = CertificateStoreView), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody), (status = 409, body = KeyfactorErrorBody),
        (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<CertificateStoreView>> {
    let mut body = Body::new(body, "")?;
    let id = body
        .uuid("Id")?
        .ok_or_else(|| ApiError::invalid("Id", "is required"))?;
    let (spec, schedule) = read(body)?;
    let stored = state
        .service
        .replace_certificate_store(&caller, id, spec, schedule)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(CertificateStoreView::of(&state, &stored).await?))
}

#[utoipa::path(get, path = "/KeyfactorAPI/CertificateStores/{id}", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = CertificateStoreView), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<CertificateStoreView>> {
    let store = state
        .service
        .certificate_store(&caller, store_id(&id)?)
        .await?;
    Ok(Json(CertificateStoreView::of(&state, &store).await?))
}

/// Deletes a store with its inventory and its inventory schedule; past jobs stay.
#[utoipa::path(delete, path = "/KeyfactorAPI/CertificateStores/{id}", tag = "keyfactor-certificate-stores",
    responses((status = 204), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<StatusCode> {
    state
        .service
        .delete_certificate_store(&caller, store_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

const SORTABLE: &str = "ClientMachine, Storepath, CertStoreType, AgentId, Approved, ContainerId, CreatedAt, UpdatedAt, Id";

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
    responses((status = 200, body = Vec<CertificateStoreView>,
        headers(("x-total-count" = i64, description = "Stores matching the filters"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(sort_column, SORTABLE)?;
    let store_type = q
        .take("CertStoreType")
        .map(|t| store_types::name_of("CertStoreType", &Value::String(t)))
        .transpose()?;
    let filter = CertificateStoreFilter {
        account_id: None,
        client_machine: q.take("ClientMachine"),
        store_path: q.take("Storepath").or_else(|| q.take("StorePath")),
        store_type,
        agent_id: q.take("AgentId"),
        approved: q.boolean("Approved")?,
        container_id: q.integer("ContainerId", i64::MIN, i64::MAX)?,
    };
    q.finish()?;
    let sort = paging
        .sort
        .map_or_else(Sort::default, |column| Sort::by(column, paging.descending));
    let (total, rows) = state
        .service
        .certificate_stores(&caller, filter, &sort, paging.skip, paging.limit)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(CertificateStoreView::of(&state, row).await?);
    }
    Ok(kit::counted(total, views))
}

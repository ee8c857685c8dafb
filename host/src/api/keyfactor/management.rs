//! Management jobs: `POST /KeyfactorAPI/CertificateStores/Certificates/Add` and
//! `.../Remove` queue one Management job per listed store and answer the job GUIDs.
//!
//! Keyfactor's Add names a certificate of its own database (`CertificateId`); Keywarden
//! has no certificate database, so the certificate comes in the request as PEM
//! (`Certificate`), and its private key, if any, as the name of a secret holding a
//! PKCS#8 PEM key (`PrivateKeySecret`) that the store type's plugin is granted. Jobs run
//! at once (`Schedule` absent or `{"Immediate": true}`) or at `{"ExactlyOnce": {"Time"}}`.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use keywarden_db::{CertificateStore, NewJob};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::kf_body::Body;
use super::store_schedule::{self, KfSchedule, store_job};
use super::store_types;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::ApiJson;
use crate::certificates::job_params::{Management, StoreJobParams, operation};
use crate::certificates::parse;

/// One target store of a management request.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only.
#[serde(rename_all = "PascalCase")]
pub struct ManagementTarget {
    pub certificate_store_id: String,
    pub alias: String,
    /// Add only: replace an existing entry of that alias.
    pub overwrite: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub job_properties: Option<Value>,
}

/// Body of `.../Certificates/Add`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
#[serde(rename_all = "PascalCase")]
pub struct AddRequest {
    /// PEM certificates, leaf first.
    pub certificate: String,
    /// Name of a secret holding the PKCS#8 PEM private key.
    pub private_key_secret: Option<String>,
    pub certificate_stores: Vec<ManagementTarget>,
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
}

/// Body of `.../Certificates/Remove`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: the body is read field by field.
#[serde(rename_all = "PascalCase")]
pub struct RemoveRequest {
    pub certificate_stores: Vec<ManagementTarget>,
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
}

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Certificates/Add", tag = "keyfactor-certificate-stores",
    request_body = AddRequest,
    responses((status = 200, body = Vec<String>, description = "The queued jobs' GUIDs"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Vec<String>>> {
    let mut body = Body::new(body, "")?;
    let certificate = body.required_text("Certificate")?;
    parse::certificate_chain(&certificate).map_err(|e| ApiError::invalid("Certificate", e))?;
    let key_secret = body.text("PrivateKeySecret")?;
    if let Some(name) = &key_secret
        && !state.registry.runtime().config().secrets.contains_key(name)
    {
        return Err(ApiError::unprocessable(
            "PrivateKeySecret",
            format!("no secret named {name:?} is configured on the server"),
        ));
    }
    queue(&state, &caller, body, |target, store| {
        if let Some(name) = &key_secret {
            let plugin =
                store_types::plugin_for(&state.registry, operation::MANAGEMENT, &store.store_type);
            if plugin
                .as_ref()
                .is_some_and(|p| !p.grants.secrets.contains(name))
            {
                return Err(ApiError::unprocessable(
                    "PrivateKeySecret",
                    format!(
                        "secret {name:?} is not granted to the plugin serving {} stores",
                        store.store_type
                    ),
                ));
            }
        }
        Ok(Management::Add {
            alias: target.alias.clone(),
            certificate: certificate.clone(),
            private_key_secret: key_secret.clone(),
            overwrite: target.overwrite,
        })
    })
    .await
}

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Certificates/Remove", tag = "keyfactor-certificate-stores",
    request_body = RemoveRequest,
    responses((status = 200, body = Vec<String>, description = "The queued jobs' GUIDs"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Vec<String>>> {
    let body = Body::new(body, "")?;
    queue(&state, &caller, body, |target, _| {
        Ok(Management::Remove {
            alias: target.alias.clone(),
        })
    })
    .await
}

/// A target as read from the request.
struct Target {
    store: CertificateStore,
    alias: String,
    overwrite: bool,
    job_properties: serde_json::Map<String, Value>,
}

/// Reads `CertificateStores` and `Schedule`, checks every store, then queues the jobs in
/// one transaction.
async fn queue(
    state: &AppState,
    caller: &Caller,
    mut body: Body,
    action: impl Fn(&Target, &CertificateStore) -> ApiResult<Management>,
) -> ApiResult<Json<Vec<String>>> {
    let now = Utc::now();
    let at = due(body.take("Schedule"), now)?;
    let items = match body.take("CertificateStores") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ApiError::invalid(
                "CertificateStores",
                "expected a non-empty array of {CertificateStoreId, Alias}",
            ));
        }
    };
    body.finish()?;
    let mut jobs: Vec<NewJob> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("CertificateStores[{i}].");
        let mut entry = Body::new(item, &prefix)?;
        let id = entry.uuid("CertificateStoreId")?.ok_or_else(|| {
            ApiError::invalid(&format!("{prefix}CertificateStoreId"), "is required")
        })?;
        let alias = entry.required_text("Alias")?;
        let overwrite = entry.boolean("Overwrite")?.unwrap_or(false);
        let job_properties = match entry.take("JobProperties") {
            None => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ApiError::invalid(
                    &format!("{prefix}JobProperties"),
                    "must be an object",
                ));
            }
        };
        entry.ignore(&["EntryPassword"]);
        entry.finish()?;
        let store = state
            .db
            .get_certificate_store(caller.scope(), id)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("no certificate store with id {id}"))
                    .with_field(format!("{prefix}CertificateStoreId"))
            })?;
        let field = format!("{prefix}CertificateStoreId");
        if !store.approved {
            return Err(ApiError::unprocessable(
                &field,
                format!("certificate store {id} is not approved"),
            ));
        }
        if store_types::plugin_for(&state.registry, operation::MANAGEMENT, &store.store_type)
            .is_none()
        {
            return Err(ApiError::unprocessable(
                &field,
                format!(
                    "no loaded plugin provides Management for store type {}",
                    store.store_type
                ),
            ));
        }
        let target = Target {
            store,
            alias,
            overwrite,
            job_properties,
        };
        let management = action(&target, &target.store)?;
        let params = StoreJobParams {
            certificate_store_id: Some(target.store.id.to_string()),
            management: Some(management),
            job_properties: target.job_properties.clone(),
            ..Default::default()
        };
        jobs.push(store_job(
            &target.store,
            operation::MANAGEMENT,
            &params,
            None,
            at,
            now,
        ));
    }
    state.db.insert_jobs(&jobs).await?;
    Ok(Json(jobs.iter().map(|j| j.id.to_string()).collect()))
}

/// When the jobs are due: now, or an ExactlyOnce time.
fn due(schedule: Option<Value>, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    match schedule
        .map(|s| store_schedule::parse(s, "Schedule"))
        .transpose()?
    {
        None | Some(KfSchedule::Immediate) => Ok(now),
        Some(KfSchedule::ExactlyOnce(at)) => Ok(at.max(now)),
        Some(_) => Err(ApiError::unprocessable(
            "Schedule",
            "management jobs run once: give Immediate or ExactlyOnce",
        )),
    }
}

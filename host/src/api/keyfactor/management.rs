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
use serde_json::Value;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names};
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, ApiResult, AppState};
use crate::domain::Caller;
use crate::domain::certificate_stores::{ManagementAction, ManagementTarget as Target};

const NAMES: Names = Names {
    selection: "CertificateStores",
    ..Names::DEFAULT
};

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Certificates/Add", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = Vec<String>, description = "The queued jobs' GUIDs"),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody),
        (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<Vec<String>>> {
    let mut body = Body::new(body, "")?;
    let certificate = body.required_text("Certificate")?;
    let private_key_secret = body.text("PrivateKeySecret")?;
    let action = ManagementAction::Add {
        certificate,
        private_key_secret,
    };
    queue(&state, &caller, body, action).await
}

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Certificates/Remove", tag = "keyfactor-certificate-stores",
    responses((status = 200, body = Vec<String>, description = "The queued jobs' GUIDs"),
        (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody),
        (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<Vec<String>>> {
    let body = Body::new(body, "")?;
    queue(&state, &caller, body, ManagementAction::Remove).await
}

/// Reads `CertificateStores` and `Schedule`, and has the domain service queue the jobs.
async fn queue(
    state: &AppState,
    caller: &Caller,
    mut body: Body,
    action: ManagementAction,
) -> KeyfactorResult<Json<Vec<String>>> {
    let schedule = body
        .take("Schedule")
        .map(|s| kit::schedule::parse(s, "Schedule"))
        .transpose()?;
    let items = match body.take("CertificateStores") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ApiError::invalid(
                "CertificateStores",
                "expected a non-empty array of {CertificateStoreId, Alias}",
            )
            .into());
        }
    };
    body.finish()?;
    let targets = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| target(i, item))
        .collect::<ApiResult<Vec<_>>>()?;
    let schedule = match schedule {
        Some(None) => {
            return Err(ApiError::unprocessable(
                "Schedule",
                "management jobs run once: give Immediate or ExactlyOnce",
            )
            .into());
        }
        Some(Some(s)) => Some(s),
        None => None,
    };
    let ids = state
        .service
        .manage_certificates(caller, action, targets, schedule)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(ids.iter().map(|id| id.to_string()).collect()))
}

/// One item of `CertificateStores`.
fn target(index: usize, item: Value) -> ApiResult<Target> {
    let prefix = format!("CertificateStores[{index}].");
    let mut entry = Body::new(item, &prefix)?;
    let store_id = entry
        .uuid("CertificateStoreId")?
        .ok_or_else(|| ApiError::invalid(&format!("{prefix}CertificateStoreId"), "is required"))?;
    let alias = entry.required_text("Alias")?;
    let overwrite = entry.boolean("Overwrite")?.unwrap_or(false);
    let job_properties = entry.json_object("JobProperties")?.unwrap_or_default();
    entry.ignore(&["EntryPassword"]);
    entry.finish()?;
    Ok(Target {
        store_id,
        alias,
        overwrite,
        job_properties,
    })
}

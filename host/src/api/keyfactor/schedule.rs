//! `POST /KeyfactorAPI/CertificateStores/Schedule`: sets the inventory schedule of stores.
//! Keyfactor has no cron; the domain service turns the schedule into the one job config
//! each store owns (`domain/schedule.rs` says how).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names};
use crate::api::ApiError;
use crate::api::AppState;
use crate::api::ciphertrust::extract::ApiJson;
use crate::domain::Caller;

const NAMES: Names = Names {
    items: "StoreIds",
    item_is_store: true,
    ..Names::DEFAULT
};

/// Sets the inventory schedule of every listed store (all are checked before any changes).
#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Schedule", tag = "keyfactor-certificate-stores",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody), (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn schedule(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let mut body = Body::new(body, "")?;
    let ids = match body.take("StoreIds") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids,
        _ => {
            return Err(
                ApiError::invalid("StoreIds", "expected a non-empty array of store GUIDs").into(),
            );
        }
    };
    let schedule = kit::schedule::parse(
        body.take("Schedule")
            .ok_or_else(|| ApiError::invalid("Schedule", "is required"))?,
        "Schedule",
    )?;
    body.finish()?;
    let mut store_ids = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let uuid = id
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    &format!("StoreIds[{i}]"),
                    format!("expected a GUID, got {id}"),
                )
            })?;
        store_ids.push(uuid);
    }
    state
        .service
        .schedule_inventory(&caller, &store_ids, schedule)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(StatusCode::NO_CONTENT)
}

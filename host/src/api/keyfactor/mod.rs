//! The Keyfactor Command dialect of the API, under `/KeyfactorAPI`: Keyfactor's field
//! names, numeric codes and query language as a view of Keywarden's one model
//! (`/work/shared/DOMAIN.md`). Same bearer tokens and account scoping as `/api/v1`.

pub mod certificate_stores;
pub mod discovery;
pub mod error;
pub mod inventory;
pub mod jobs;
mod kf_body;
pub mod management;
pub mod query;
pub mod reenrollment;
pub mod store_schedule;
mod store_types;

use axum::Router;
use axum::routing::{get, post, put};
use utoipa::OpenApi;

use super::AppState;

/// The OpenAPI paths of the Keyfactor job endpoints, merged into the main document.
#[derive(OpenApi)]
#[openapi(paths(
    jobs::history::job_history,
    jobs::reschedule::reschedule,
    jobs::acknowledge::acknowledge,
    jobs::custom::custom
))]
pub struct KeyfactorDoc;

/// Every `/KeyfactorAPI` route (authentication is added by the caller).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(jobs::routes())
        .merge(certificate_store_routes())
}

/// Certificate store routes (relative to `/KeyfactorAPI`).
pub fn certificate_store_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/CertificateStores",
            post(certificate_stores::create)
                .get(certificate_stores::list)
                .put(certificate_stores::replace),
        )
        .route(
            "/CertificateStores/{id}",
            get(certificate_stores::get).delete(certificate_stores::delete),
        )
        .route(
            "/CertificateStores/Schedule",
            post(store_schedule::schedule),
        )
        .route(
            "/CertificateStores/Reenrollment",
            post(reenrollment::reenroll),
        )
        .route(
            "/CertificateStores/Inventory",
            get(inventory::all_inventory),
        )
        .route(
            "/CertificateStores/{id}/Inventory",
            get(inventory::store_inventory),
        )
        .route("/CertificateStores/Certificates/Add", post(management::add))
        .route(
            "/CertificateStores/Certificates/Remove",
            post(management::remove),
        )
        .route(
            "/CertificateStores/DiscoveryJob",
            put(discovery::discovery_job),
        )
        .route(
            "/CertificateStores/DiscoveredPaths",
            get(discovery::discovered_paths),
        )
}

//! The Keyfactor Command dialect under `/KeyfactorAPI`: the same model as the scheduler
//! API, in Keyfactor's field names. Mounted behind the same bearer-token middleware.

pub mod certificate_stores;
pub mod discovery;
pub mod inventory;
mod kf_body;
pub mod management;
pub mod reenrollment;
pub mod store_schedule;
mod store_types;

use axum::Router;
use axum::routing::{get, post, put};

use super::AppState;

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

//! The Keyfactor Command dialect of the API, under `/KeyfactorAPI`: Keyfactor's field
//! names, numeric codes and query language as a view of Keywarden's one model
//! (`docs/DOMAIN.md`). Same bearer tokens and account scoping as `/api/v1`. Every endpoint
//! reads and answers through the [`kit`]: one body reader, one paging reader, one schedule
//! reader, one error body.

pub mod agents;
pub mod certificate_stores;
pub mod discovery;
pub mod inventory;
pub mod jobs;
pub mod kit;
pub mod management;
pub mod query;
pub mod reenrollment;
pub mod schedule;
pub mod ssl;
pub mod ssl_endpoints;
pub mod ssl_scans;
pub mod store_types;

use axum::Router;
use axum::routing::{get, post, put};
use utoipa::OpenApi;

use super::{ApiError, AppState};

/// The OpenAPI paths of the Keyfactor dialect, merged into the main document.
#[derive(OpenApi)]
#[openapi(paths(
    jobs::history::job_history,
    jobs::reschedule::reschedule,
    jobs::acknowledge::acknowledge,
    jobs::custom::custom,
    certificate_stores::create,
    certificate_stores::list,
    certificate_stores::get,
    certificate_stores::replace,
    certificate_stores::delete,
    schedule::schedule,
    reenrollment::reenroll,
    inventory::store_inventory,
    inventory::all_inventory,
    management::add,
    management::remove,
    discovery::discovery_job,
    discovery::discovered_paths,
    agents::list,
    agents::get_one,
    agents::approve,
    agents::disapprove,
    agents::reset_many,
    agents::reset_one,
    agents::fetch_logs,
    agents::set_certificate_renewal,
    ssl::create,
    ssl::replace,
    ssl::list,
    ssl::get_one,
    ssl::delete,
    ssl::network_ranges,
    ssl::add_ranges,
    ssl::replace_ranges,
    ssl::delete_ranges,
    ssl::validate_ranges,
    ssl_scans::scan,
    ssl_scans::parts,
    ssl_scans::part,
    ssl_endpoints::results,
    ssl_endpoints::endpoint,
    ssl_endpoints::history,
    ssl_endpoints::monitor_status,
    ssl_endpoints::review_status,
    ssl_endpoints::monitor_all,
    ssl_endpoints::review_all,
))]
pub struct KeyfactorDoc;

/// The answer of an unknown `/KeyfactorAPI` path.
pub async fn not_found() -> kit::KeyfactorError {
    ApiError::not_found("no such endpoint").into()
}

/// Every `/KeyfactorAPI` route (authentication is added by the caller).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(jobs::routes())
        .merge(certificate_store_routes())
        .merge(agents::routes())
        .merge(ssl::routes())
        .merge(ssl_scans::routes())
        .merge(ssl_endpoints::routes())
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
        .route("/CertificateStores/Schedule", post(schedule::schedule))
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

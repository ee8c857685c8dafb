//! The HTTP API: CipherTrust-style scheduler endpoints over the one storage model, plus
//! plugin listing, token issuing, health and the generated OpenAPI document.

pub mod auth;
mod config_check;
mod config_input;
pub mod configs;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod keyfactor;
pub mod keys;
pub mod misc;
pub mod views;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use keywarden_db::Database;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::plugins::PluginRegistry;
pub use error::{ApiError, ApiResult};

/// What every handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<dyn Database>,
    pub registry: Arc<PluginRegistry>,
    /// This node's id, reported by `/healthz`.
    pub node_id: String,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db.backend())
            .field("registry", &self.registry)
            .field("node_id", &self.node_id)
            .finish()
    }
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keywarden", description = "Schedules key- and certificate-lifecycle jobs and runs each operation as a sandboxed WebAssembly plugin."),
    paths(
        configs::create, configs::list, configs::get, configs::patch, configs::delete,
        configs::run_now, jobs::list, jobs::get, jobs::delete, keys::list, misc::healthz,
        misc::plugins, misc::create_token,
        keyfactor::certificate_stores::create, keyfactor::certificate_stores::list,
        keyfactor::certificate_stores::get, keyfactor::certificate_stores::replace,
        keyfactor::certificate_stores::delete, keyfactor::store_schedule::schedule,
        keyfactor::reenrollment::reenroll, keyfactor::inventory::store_inventory,
        keyfactor::inventory::all_inventory, keyfactor::management::add,
        keyfactor::management::remove, keyfactor::discovery::discovery_job,
        keyfactor::discovery::discovered_paths
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole document: the scheduler API plus the Keyfactor dialect.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(keyfactor::KeyfactorDoc::openapi());
    doc
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// The whole HTTP application. `/healthz` and `/openapi.json` are open; everything under
/// `/api` requires a bearer token.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/scheduler/job-configs",
            post(configs::create).get(configs::list),
        )
        .route(
            "/scheduler/job-configs/{id}",
            get(configs::get)
                .patch(configs::patch)
                .delete(configs::delete),
        )
        .route(
            "/scheduler/job-configs/{id}/run-now",
            post(configs::run_now),
        )
        .route("/scheduler/jobs", get(jobs::list))
        .route("/scheduler/jobs/{id}", get(jobs::get).delete(jobs::delete))
        .route("/cckm/keys", get(keys::list))
        .route("/plugins", get(misc::plugins))
        .route("/tokens", post(misc::create_token))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let keyfactor =
        keyfactor::routes()
            .fallback(not_found)
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require_token,
            ));
    Router::new()
        .route("/healthz", get(misc::healthz))
        .route("/openapi.json", get(openapi_json))
        .nest("/api/v1", api)
        .nest("/KeyfactorAPI", keyfactor)
        .fallback(not_found)
        .with_state(state)
}

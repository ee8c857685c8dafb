//! The HTTP API: two dialects over one domain service.
//!
//! - [`ciphertrust`]: the CipherTrust Manager scheduler (`/api/v1/scheduler/...`) and
//!   Keywarden's own endpoints in its style (`/api/v1/...`, `/healthz`);
//! - [`keyfactor`]: Keyfactor Command (`/KeyfactorAPI/...`).
//!
//! Handlers parse a request, call [`crate::domain::Service`] and render the answer in
//! their dialect; they never reach the database. `/healthz` is open, every other route
//! (`/openapi.json` too) needs a bearer token (checked in [`auth`]).

pub mod agent_protocol;
pub mod auth;
pub mod body;
pub mod ciphertrust;
pub mod contract;
pub mod json;
pub mod keyfactor;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::domain::Service;
pub use ciphertrust::error::{ApiError, ApiResult};

/// What every handler needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub service: Service,
}

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

/// The document's header and security scheme; the dialects add their paths.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keywarden", description = "Schedules key- and certificate-lifecycle jobs and runs each operation as a sandboxed WebAssembly plugin."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The paths and response bodies of both dialects, from the handlers' annotations; the
/// [`contract`] completes them into the document `/openapi.json` serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(ciphertrust::CipherTrustDoc::openapi());
    doc.merge(keyfactor::KeyfactorDoc::openapi());
    doc
}

/// The OpenAPI 3.1 document of this server as it is now, for the caller: it names the
/// secrets, directories and operations the caller's account may use (an admin's names
/// every one), the nodes and the plugins' params schemas, so it needs a token like the
/// rest of the API.
async fn openapi_json(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::domain::Caller>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(contract::document(&state.service, &caller).await?))
}

/// The node's metrics (Prometheus text format), for tokens of the admin account.
async fn metrics(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::domain::Caller>,
) -> ApiResult<axum::response::Response> {
    Ok(metrics_text(state.service.metrics_for(&caller).await?))
}

/// The same without a token, for the operator's separate metrics address.
async fn open_metrics(State(state): State<AppState>) -> axum::response::Response {
    metrics_text(state.service.metrics_unchecked().await)
}

fn metrics_text(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// What `[server] metrics_listen` serves: `/metrics` only, without tokens.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(open_metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let ciphertrust = ciphertrust::routes().fallback(not_found).route_layer(
        axum::middleware::from_fn_with_state(state.clone(), auth::require::<ApiError>),
    );
    let keyfactor = keyfactor::routes()
        .fallback(keyfactor::not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require::<keyfactor::kit::KeyfactorError>,
        ));
    let counted = state.service.metrics().clone();
    Router::new()
        .route("/healthz", get(ciphertrust::misc::healthz))
        .route(
            "/metrics",
            get(metrics).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require::<ApiError>,
            )),
        )
        .route(
            "/openapi.json",
            get(openapi_json).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require::<ApiError>,
            )),
        )
        .nest("/api/v1", ciphertrust)
        .nest("/KeyfactorAPI", keyfactor)
        .nest("/KeyfactorAgents", agent_protocol::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            counted,
            crate::metrics::track_requests,
        ))
        .with_state(state)
}

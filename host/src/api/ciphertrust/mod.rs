//! The CipherTrust Manager dialect, under `/api/v1`: the scheduler's job configs and jobs
//! in CipherTrust's field names, plus Keywarden's own endpoints in the same style (cloud
//! keys, plugins, tokens, health). Handlers parse, call the domain service, render.

pub mod agents;
pub mod alerts;
pub(crate) mod config_input;
pub mod configs;
pub mod error;
pub mod events;
pub mod extract;
pub mod jobs;
pub mod keys;
pub mod misc;
pub mod nodes;
pub mod tokens;
pub mod views;

use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;

use super::AppState;

/// The OpenAPI paths of this dialect.
#[derive(OpenApi)]
#[openapi(paths(
    configs::create,
    configs::list,
    configs::get,
    configs::patch,
    configs::delete,
    configs::run_now,
    jobs::list,
    jobs::counts,
    jobs::get,
    jobs::delete,
    jobs::retry,
    events::job,
    events::jobs,
    keys::list,
    misc::healthz,
    misc::plugins,
    nodes::list,
    tokens::create,
    tokens::list,
    tokens::revoke,
    tokens::audit,
    alerts::list,
    agents::create_credential,
    agents::delete_credential,
))]
pub struct CipherTrustDoc;

/// The `/api/v1` routes (authentication is added by the caller).
pub fn routes() -> Router<AppState> {
    Router::new()
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
        .route("/scheduler/jobs/counts", get(jobs::counts))
        .route("/scheduler/jobs/{id}", get(jobs::get).delete(jobs::delete))
        .route("/scheduler/jobs/{id}/retry", post(jobs::retry))
        .route("/scheduler/jobs/{id}/events", get(events::job))
        .route("/scheduler/events", get(events::jobs))
        .route("/cckm/keys", get(keys::list))
        .route("/plugins", get(misc::plugins))
        .route("/nodes", get(nodes::list))
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit", get(tokens::audit))
        .route("/alerts", get(alerts::list))
        .route(
            "/agents/registration-credentials",
            post(agents::create_credential),
        )
        .route(
            "/agents/registration-credentials/{username}",
            axum::routing::delete(agents::delete_credential),
        )
}

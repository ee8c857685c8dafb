//! Keyfactor's orchestrator job endpoints (`/KeyfactorAPI/OrchestratorJobs/*`) over
//! Keywarden's one job model: job history with the query language, reschedule,
//! acknowledge and custom jobs.

pub mod acknowledge;
pub mod batch;
pub mod codes;
pub mod custom;
pub mod fields;
pub mod history;
pub mod reschedule;

use axum::Router;
use axum::routing::{get, post};

use crate::api::AppState;

/// The `/OrchestratorJobs` routes, relative to `/KeyfactorAPI`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/OrchestratorJobs/JobHistory", get(history::job_history))
        .route("/OrchestratorJobs/Reschedule", post(reschedule::reschedule))
        .route(
            "/OrchestratorJobs/Acknowledge",
            post(acknowledge::acknowledge),
        )
        .route("/OrchestratorJobs/Custom", post(custom::custom))
}

//! The Keyfactor Command dialect of the API, under `/KeyfactorAPI`: Keyfactor's field
//! names, numeric codes and query language as a view of Keywarden's one model
//! (`/work/shared/DOMAIN.md`). Same bearer tokens and account scoping as `/api/v1`.

pub mod error;
pub mod jobs;
pub mod query;

use axum::Router;
use utoipa::OpenApi;

use super::AppState;

/// The OpenAPI paths of the Keyfactor endpoints, merged into the main document.
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
    Router::new().merge(jobs::routes())
}

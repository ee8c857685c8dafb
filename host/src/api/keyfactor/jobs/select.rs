//! Turns a query string into a store condition for one caller: parse, load what derived
//! fields need (plugin operations, config schedule types), translate. Shared by
//! JobHistory, Reschedule and Acknowledge.

use keywarden_db::JobCondition;

use super::codes;
use super::fields::{self, Context};
use super::schedule;
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::keyfactor::error::{KeyfactorError, KeyfactorResult};
use crate::api::keyfactor::query;

/// The condition `text` (given as the request's `parameter`) selects; `True` when blank.
pub async fn condition(
    state: &AppState,
    caller: &Caller,
    parameter: &str,
    text: &str,
) -> KeyfactorResult<JobCondition> {
    let fault = |e| KeyfactorError::query(parameter, e);
    let Some(expr) = query::parse(text).map_err(fault)? else {
        return Ok(JobCondition::True);
    };
    let mut ctx = Context {
        operations: codes::known_operations(&state.registry),
        schedules: None,
    };
    if fields::uses_schedule_type(&expr) {
        ctx.schedules = Some(schedule::config_schedule_types(&*state.db, caller.scope()).await?);
    }
    fields::translate(&expr, &ctx).map_err(fault)
}

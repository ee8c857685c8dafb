//! Alerts as callers see them: their own account's (every account's for admins).

use keywarden_db::{Alert, AlertFilter};

use super::{Caller, DomainResult, Service};

impl Service {
    /// A page of the caller's alerts, newest first.
    pub async fn alerts(
        &self,
        caller: &Caller,
        mut filter: AlertFilter,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<Alert>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self.db.list_alerts(&filter, skip, limit).await?)
    }
}

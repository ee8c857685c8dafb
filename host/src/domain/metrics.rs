//! Who may read the node's metrics: they count every account's jobs and name every
//! plugin and route, so only callers of the admin account (a read-only token of it is
//! enough, which is what a Prometheus scraper should hold).

use super::{Caller, DomainError, DomainResult, Service};
use crate::tenancy::access::ADMIN_ACCOUNT;

impl Service {
    /// The metrics in Prometheus's text format, for a caller of the admin account.
    pub async fn metrics_for(&self, caller: &Caller) -> DomainResult<String> {
        if caller.account != ADMIN_ACCOUNT {
            return Err(DomainError::Forbidden(format!(
                "metrics count every account's jobs: only tokens of the {ADMIN_ACCOUNT} \
                 account may read them (a read-only one is enough)"
            )));
        }
        Ok(self.metrics_unchecked().await)
    }

    /// The metrics for the operator's separate metrics address (`[server]
    /// metrics_listen`), which has no tokens: the operator chose who reaches it.
    pub async fn metrics_unchecked(&self) -> String {
        crate::metrics::render(&self.metrics, self.db.as_ref()).await
    }
}

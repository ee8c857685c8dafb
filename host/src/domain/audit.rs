//! The audit log: every mutating request (written by the API's audit layer through
//! [`Service::audit_request`]) and every job outcome (written by the executor), each
//! entry chained to the one before by its hash. Only admins read it.

use keywarden_db::{AUDIT_GENESIS, AuditEntry, AuditFilter};

use super::{Caller, DomainError, DomainResult, Service};

impl Service {
    /// A page of the audit log in chain order, its total, and whether the page's chain
    /// holds (every entry's hash matches its fields; consecutive entries link; the first
    /// entry starts from the genesis hash).
    pub async fn audit_log(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        limit: i64,
    ) -> DomainResult<(i64, Vec<AuditEntry>, bool)> {
        if !caller.admin {
            return Err(DomainError::Forbidden(
                "only admin tokens may read the audit log".to_owned(),
            ));
        }
        let (total, entries) = self.db.list_audit(&filter, limit).await?;
        let intact = chain_holds(&entries);
        if !intact {
            tracing::error!(
                "the audit log's hash chain is broken: an entry was changed or removed"
            );
        }
        Ok((total, entries, intact))
    }

    /// Records a request that changed (or tried to change) something: who, what route,
    /// which path, how it ended. Never the body, so never a secret.
    pub async fn audit_request(
        &self,
        caller: &Caller,
        method: &str,
        route: &str,
        path: &str,
        status: u16,
    ) -> DomainResult<()> {
        self.audit(
            caller,
            &format!("{method} {route}"),
            path,
            &status.to_string(),
            serde_json::json!({"role": caller.role}),
        )
        .await
    }
}

/// Whether `entries` (in chain order) hold their hashes and link where consecutive.
pub fn chain_holds(entries: &[AuditEntry]) -> bool {
    let mut previous: Option<&AuditEntry> = None;
    for entry in entries {
        if !entry.hash_holds() {
            return false;
        }
        if entry.seq == 1 && entry.prev_hash != AUDIT_GENESIS {
            return false;
        }
        if let Some(p) = previous
            && p.seq + 1 == entry.seq
            && entry.prev_hash != p.hash
        {
            return false;
        }
        previous = Some(entry);
    }
    true
}

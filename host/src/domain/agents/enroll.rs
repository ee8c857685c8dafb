//! Certificates for agents' CSRs: a Reenrollment job handed to an agent ends with the
//! agent's CSR signed by the authority the job names, once, within the account's issuance
//! policy and only for the names the job asked for. Every answer is audited.

use serde_json::json;
use uuid::Uuid;

use super::super::{DomainError, DomainResult, Field, Service};
use super::jobs::job_fault;
use super::session::AgentCaller;
use crate::runtime::capabilities::enrollment::AuthorityError;

impl Service {
    /// Signs the CSR an agent made for a Reenrollment job with the authority the job
    /// names (or the default one); returns the DER certificates, leaf first. Audited,
    /// issued or refused.
    pub async fn agent_enroll(
        &self,
        caller: &AgentCaller,
        id: Uuid,
        csr: &[u8],
    ) -> DomainResult<Vec<Vec<u8>>> {
        let signed = self.sign_for_agent(caller, id, csr).await;
        let (result, detail) = match &signed {
            Ok(_) => ("issued", json!({})),
            Err(e) => ("refused", json!({"refusal": e.kind()})),
        };
        self.audit_agent(caller, "agent enroll", id, result, detail)
            .await;
        signed
    }

    async fn sign_for_agent(
        &self,
        caller: &AgentCaller,
        id: Uuid,
        csr: &[u8],
    ) -> DomainResult<Vec<Vec<u8>>> {
        let job = self.handed_job(caller, id).await?;
        let (_, params) = self.store_and_params(&job).await?;
        let Some(request) = params.reenrollment else {
            return Err(job_fault(format!("job {id} is not a reenrollment job")));
        };
        let verified =
            crate::authority::csr::verify(csr).map_err(|e| DomainError::invalid(Field::Csr, e))?;
        check_requested(&verified, &request)?;
        // One certificate per job: an agent cannot turn a reenrollment into a stream of
        // certificates from a CA every account shares.
        let (plugin, scope) = ("keywarden:agent-enrollment", job.id.to_string());
        if self.db.state_get(plugin, &scope, "issued").await?.is_some() {
            return Err(DomainError::conflict(
                Field::Csr,
                format!("job {id} already had its certificate issued"),
            ));
        }
        self.db
            .state_set(plugin, &scope, "issued", Some("1"))
            .await?;
        let authority = self.agents()?.authority.clone().ok_or_else(|| {
            DomainError::conflict(
                Field::Csr,
                "no certificate authority is configured on this server",
            )
        })?;
        // The account's issuance policy applies to its agents' CSRs as to its jobs'.
        let policy = self.account_issuance(&job.account_id);
        crate::tenancy::issuance::sign(
            authority.as_ref(),
            policy.as_ref(),
            csr,
            request.authority.as_deref(),
        )
        .await
        .map_err(|e| match e {
            AuthorityError::Rejected(why) => DomainError::unprocessable(Field::Csr, why),
            AuthorityError::Unavailable(why) => {
                DomainError::internal("asking the certificate authority", why)
            }
        })
    }
}

/// The CSR asks for what the job asked for: the same common name, and no name beyond the
/// requested SANs.
fn check_requested(
    csr: &crate::authority::csr::VerifiedCsr,
    request: &crate::certificates::job_params::Reenrollment,
) -> DomainResult<()> {
    const COMMON_NAME: [u64; 4] = [2, 5, 4, 3];
    // Every common name, read the way the issuance policy reads them.
    let wanted: Vec<String> = crate::tenancy::issuance::common_names(&request.subject)
        .into_iter()
        .map(|cn| cn.trim_matches('"').to_owned())
        .collect();
    let got: Vec<String> = csr
        .subject
        .iter()
        .filter(|a| a.oid == COMMON_NAME)
        .map(|a| a.value.clone())
        .collect();
    if wanted != got {
        return Err(DomainError::invalid(
            Field::Csr,
            format!(
                "the CSR's common name {:?} is not the job's {:?}",
                got.join(", "),
                wanted.join(", ")
            ),
        ));
    }
    let allowed: std::collections::HashSet<String> = request
        .sans
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let asked = csr
        .dns_names
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .chain(csr.ip_addresses.iter().map(ToString::to_string));
    for name in asked {
        if !allowed.contains(&name) {
            return Err(DomainError::invalid(
                Field::Csr,
                format!("the CSR names {name:?}, which the job did not ask for"),
            ));
        }
    }
    if !csr.emails.is_empty() || !csr.uris.is_empty() {
        return Err(DomainError::invalid(
            Field::Csr,
            "the CSR names e-mail addresses or URIs the job did not ask for",
        ));
    }
    Ok(())
}

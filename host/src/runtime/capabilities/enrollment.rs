//! `keywarden:plugin/enrollment`: CSRs signed by a CA the host is configured with.
//!
//! What the plugin should handle comes back as the WIT error: enrollment not granted, no
//! CA configured here (`unavailable`), the CA refused this CSR (`rejected`). A CA that is
//! down or does not answer is the host's failure, not an answer about the CSR: it traps
//! with a [`HostFault`], the job ends as a host failure and is retried under its config's
//! retry policy.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::HostFault;
use crate::runtime::bindings::enrollment::{self, EnrollmentError};
use crate::runtime::sandbox::Sandbox;
use crate::tenancy::issuance::{self, AccountIssuance};

/// Why a certificate authority issued nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    /// It refused this request (the CSR, its names, the order): asking again will not
    /// change that.
    #[error("{0}")]
    Rejected(String),
    /// It could not be reached, failed on its side or did not answer in time: worth
    /// asking again later.
    #[error("{0}")]
    Unavailable(String),
}

/// A certificate authority the host can submit CSRs to (ACME, a local lab CA...).
#[async_trait::async_trait]
pub trait CertificateAuthority: Send + Sync {
    /// Signs a DER CSR and returns DER certificates, leaf first.
    async fn sign(
        &self,
        csr_der: &[u8],
        authority: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError>;

    /// The authority a CSR naming none goes to, when there is one.
    fn default_authority(&self) -> Option<String> {
        None
    }

    /// [`sign`](Self::sign), the certificate valid for at most `max_validity` from now:
    /// an authority that can choose issues no longer; otherwise a longer certificate is
    /// refused (and not handed to the plugin).
    async fn sign_capped(
        &self,
        csr_der: &[u8],
        authority: Option<&str>,
        max_validity: Option<chrono::Duration>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let chain = self.sign(csr_der, authority).await?;
        if let Some(max) = max_validity {
            check_validity(&chain, max)?;
        }
        Ok(chain)
    }
}

/// Slack for clocks and for the minutes authorities back-date certificates by.
const VALIDITY_SLACK_MINUTES: i64 = 10;

/// The leaf of `chain` expires within `max` from now.
pub fn check_validity(chain: &[Vec<u8>], max: chrono::Duration) -> Result<(), AuthorityError> {
    use x509_parser::prelude::FromDer;
    let leaf = chain
        .first()
        .ok_or_else(|| AuthorityError::Rejected("the authority returned no certificate".into()))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(leaf).map_err(|e| {
        AuthorityError::Rejected(format!(
            "the authority returned an unreadable certificate: {e}"
        ))
    })?;
    let not_after = cert.validity().not_after.timestamp();
    let limit =
        (chrono::Utc::now() + max + chrono::Duration::minutes(VALIDITY_SLACK_MINUTES)).timestamp();
    if not_after > limit {
        return Err(AuthorityError::Rejected(format!(
            "the authority issued a certificate valid until {}, longer than the issuance policy's max_validity_days ({} days)",
            cert.validity().not_after,
            max.num_days()
        )));
    }
    Ok(())
}

pub struct EnrollmentCtx {
    granted: bool,
    authority: Option<Arc<dyn CertificateAuthority>>,
    /// The job's account's authorities and policies (`None`: unrestricted).
    issuance: Option<Arc<AccountIssuance>>,
    /// A dry run has no certificate issued: `submit-csr` answers `not-granted`.
    dry_run: bool,
}

impl EnrollmentCtx {
    pub fn new(
        granted: bool,
        authority: Option<Arc<dyn CertificateAuthority>>,
        issuance: Option<Arc<AccountIssuance>>,
        dry_run: bool,
    ) -> Self {
        Self {
            granted,
            authority,
            issuance,
            dry_run,
        }
    }
}

impl enrollment::Host for EnrollmentCtx {
    async fn submit_csr(
        &mut self,
        csr: Vec<u8>,
        authority: Option<String>,
    ) -> wasmtime::Result<Result<Vec<Vec<u8>>, EnrollmentError>> {
        if self.dry_run {
            return Ok(Err(EnrollmentError::NotGranted(
                "this is a dry run: no certificate is issued".into(),
            )));
        }
        if !self.granted {
            return Ok(Err(EnrollmentError::NotGranted(
                "CSR enrollment is not granted to this plugin".into(),
            )));
        }
        let Some(ca) = self.authority.as_ref() else {
            return Ok(Err(EnrollmentError::Unavailable(
                "no certificate authority is configured on this host".into(),
            )));
        };
        match issuance::sign(
            ca.as_ref(),
            self.issuance.as_deref(),
            &csr,
            authority.as_deref(),
        )
        .await
        {
            Ok(chain) => Ok(Ok(chain)),
            Err(AuthorityError::Rejected(why)) => Ok(Err(EnrollmentError::Rejected(why))),
            Err(AuthorityError::Unavailable(why)) => Err(HostFault::new(
                "enrollment",
                format!("the certificate authority is unavailable: {why}"),
            )
            .into()),
        }
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    enrollment::add_to_linker::<Sandbox, HasSelf<EnrollmentCtx>>(linker, |s| &mut s.enrollment)
}

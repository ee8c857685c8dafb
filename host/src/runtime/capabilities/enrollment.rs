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
}

pub struct EnrollmentCtx {
    granted: bool,
    authority: Option<Arc<dyn CertificateAuthority>>,
}

impl EnrollmentCtx {
    pub fn new(granted: bool, authority: Option<Arc<dyn CertificateAuthority>>) -> Self {
        Self { granted, authority }
    }
}

impl enrollment::Host for EnrollmentCtx {
    async fn submit_csr(
        &mut self,
        csr: Vec<u8>,
        authority: Option<String>,
    ) -> wasmtime::Result<Result<Vec<Vec<u8>>, EnrollmentError>> {
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
        match ca.sign(&csr, authority.as_deref()).await {
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

//! `keywarden:plugin/enrollment`: CSRs signed by a CA the host is configured with.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::runtime::bindings::enrollment::{self, EnrollmentError};
use crate::runtime::sandbox::Sandbox;

/// A certificate authority the host can submit CSRs to (ACME, a local lab CA...).
#[async_trait::async_trait]
pub trait CertificateAuthority: Send + Sync {
    /// Signs a DER CSR and returns DER certificates, leaf first.
    async fn sign(&self, csr_der: &[u8], authority: Option<&str>) -> Result<Vec<Vec<u8>>, String>;
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
    ) -> Result<Vec<Vec<u8>>, EnrollmentError> {
        if !self.granted {
            return Err(EnrollmentError::NotGranted(
                "CSR enrollment is not granted to this plugin".into(),
            ));
        }
        let ca = self.authority.as_ref().ok_or_else(|| {
            EnrollmentError::Unavailable(
                "no certificate authority is configured on this host".into(),
            )
        })?;
        ca.sign(&csr, authority.as_deref())
            .await
            .map_err(EnrollmentError::Rejected)
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    enrollment::add_to_linker::<Sandbox, HasSelf<EnrollmentCtx>>(linker, |s| &mut s.enrollment)
}

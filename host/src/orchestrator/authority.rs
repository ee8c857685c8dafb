//! The certificate authority plugins see on `keywarden agent`: the server's. A
//! reenrollment's CSR, made by the store plugin, goes to the server with the job's
//! session, which signs it with the job's authority.

use std::sync::{Arc, Mutex};

use super::client::ProtocolClient;
use crate::runtime::capabilities::enrollment::{AuthorityError, CertificateAuthority};

/// The job a CSR belongs to (the agent runs one job at a time).
#[derive(Debug, Default)]
pub struct CurrentJob {
    pub session: Option<(ProtocolClient, String, String)>,
}

/// Forwards CSRs to the server under the current job's session.
#[derive(Debug, Clone, Default)]
pub struct ServerAuthority {
    pub current: Arc<Mutex<CurrentJob>>,
}

#[async_trait::async_trait]
impl CertificateAuthority for ServerAuthority {
    async fn sign(
        &self,
        csr_der: &[u8],
        _authority: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let session = self
            .current
            .lock()
            .map_err(|_| AuthorityError::Unavailable("the agent's job state is poisoned".into()))?
            .session
            .clone();
        let Some((client, token, job)) = session else {
            return Err(AuthorityError::Rejected(
                "no job of the server is running".into(),
            ));
        };
        client
            .enroll(&token, &job, csr_der)
            .await
            .map(|der| vec![der])
            .map_err(|e| AuthorityError::Unavailable(format!("{e:#}")))
    }
}

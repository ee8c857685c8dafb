//! The host's certificate authorities by name: what `HostServices.authority` holds.

use std::collections::BTreeMap;

use super::acme::AcmeCa;
use super::csr;
use super::local::LocalCa;
use crate::runtime::capabilities::enrollment::{
    AuthorityError, CertificateAuthority, check_validity,
};

/// One configured CA.
pub enum Authority {
    Local(Box<LocalCa>),
    Acme(Box<AcmeCa>),
}

impl Authority {
    /// Issues for `csr`, valid for at most `max_validity` when given: the local CA issues
    /// no longer, an ACME CA's longer certificate is refused.
    async fn issue(
        &self,
        csr: &csr::VerifiedCsr,
        max_validity: Option<chrono::Duration>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        match self {
            // The local CA only refuses what is in the CSR.
            Self::Local(ca) => ca
                .issue_within(csr, max_validity)
                .map_err(AuthorityError::Rejected),
            Self::Acme(ca) => {
                let chain = ca.issue(csr).await?;
                if let Some(max) = max_validity {
                    check_validity(&chain, max)?;
                }
                Ok(chain)
            }
        }
    }
}

/// The configured CAs; a CSR goes to the one a plugin names, else to the default.
pub struct AuthorityRegistry {
    authorities: BTreeMap<String, Authority>,
    default: Option<String>,
}

impl AuthorityRegistry {
    /// `default` must name one of `authorities` (checked here so a typo fails at startup).
    /// Without it, a single configured CA is the default.
    pub fn new(
        authorities: BTreeMap<String, Authority>,
        default: Option<String>,
    ) -> anyhow::Result<Self> {
        let default = match default {
            Some(name) if !authorities.contains_key(&name) => anyhow::bail!(
                "default_authority {name:?} is not among the configured authorities ({})",
                names(&authorities)
            ),
            Some(name) => Some(name),
            None if authorities.len() == 1 => authorities.keys().next().cloned(),
            None => None,
        };
        Ok(Self {
            authorities,
            default,
        })
    }

    /// The CA called `name`.
    pub fn get(&self, name: &str) -> Option<&Authority> {
        self.authorities.get(name)
    }

    /// The name CSRs go to when a plugin names none.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }

    fn pick(&self, requested: Option<&str>) -> Result<(&str, &Authority), String> {
        let name = match requested.or(self.default.as_deref()) {
            Some(name) => name,
            None => {
                return Err(format!(
                    "no certificate authority was named and no default_authority is configured (configured: {})",
                    names(&self.authorities)
                ));
            }
        };
        self.authorities
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
            .ok_or_else(|| {
                format!(
                    "unknown certificate authority {name:?} (configured: {})",
                    names(&self.authorities)
                )
            })
    }
}

fn names(authorities: &BTreeMap<String, Authority>) -> String {
    if authorities.is_empty() {
        return "none".into();
    }
    authorities.keys().cloned().collect::<Vec<_>>().join(", ")
}

#[async_trait::async_trait]
impl CertificateAuthority for AuthorityRegistry {
    async fn sign(
        &self,
        csr_der: &[u8],
        authority: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        self.sign_capped(csr_der, authority, None).await
    }

    fn default_authority(&self) -> Option<String> {
        self.default.clone()
    }

    async fn sign_capped(
        &self,
        csr_der: &[u8],
        authority: Option<&str>,
        max_validity: Option<chrono::Duration>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let (name, ca) = self.pick(authority).map_err(AuthorityError::Rejected)?;
        let csr = csr::verify(csr_der).map_err(AuthorityError::Rejected)?;
        match ca.issue(&csr, max_validity).await {
            Ok(chain) => {
                tracing::info!(authority = name, subject = %csr.subject_text, "certificate issued");
                Ok(chain)
            }
            Err(e) => {
                tracing::warn!(authority = name, subject = %csr.subject_text, error = %e, "certificate not issued");
                Err(match e {
                    AuthorityError::Rejected(why) => {
                        AuthorityError::Rejected(format!("certificate authority {name:?}: {why}"))
                    }
                    AuthorityError::Unavailable(why) => AuthorityError::Unavailable(format!(
                        "certificate authority {name:?}: {why}"
                    )),
                })
            }
        }
    }
}

//! The agent CA: issues the client-authentication certificates agents present (mTLS) and
//! tells whether a presented certificate is one of its own.
//!
//! Kept apart from the `[authorities.*]` that sign store certificates: an agent
//! certificate opens the agent protocol, so only this CA's certificates do. Its root lives
//! in `<data-dir>/agent-ca/` (owner-only) unless the operator names one.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::config::LocalCaConfig;
use super::csr;
use super::local::LocalCa;

/// Folder of the generated root under the data dir.
pub const AGENT_CA_DIR: &str = "agent-ca";

/// A certificate issued to an agent.
#[derive(Debug, Clone)]
pub struct IssuedAgentCertificate {
    /// The leaf, DER.
    pub der: Vec<u8>,
    /// Upper-case hex SHA-1 of `der`.
    pub thumbprint: String,
    pub not_after: DateTime<Utc>,
}

/// Why a presented client certificate is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresentedCertificateError {
    #[error("the client certificate does not parse: {0}")]
    Malformed(String),
    #[error("the client certificate was not issued by this server's agent CA")]
    ForeignIssuer,
    #[error("the client certificate is not valid now (valid {not_before} to {not_after})")]
    OutOfValidity {
        not_before: String,
        not_after: String,
    },
}

/// The agent CA.
pub struct AgentCa {
    ca: LocalCa,
}

impl std::fmt::Debug for AgentCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCa").finish_non_exhaustive()
    }
}

impl AgentCa {
    /// Opens the operator's CA files, or the root kept in `<data_dir>/agent-ca/`,
    /// generating it the first time.
    pub fn open(config: &LocalCaConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let mut config = config.clone();
        if config.common_name.is_none() {
            config.common_name = Some("Keywarden agent CA".to_owned());
        }
        let ca = LocalCa::open("agent-ca", &config, &data_dir.join(AGENT_CA_DIR))
            .context("cannot open the agent CA")?;
        Ok(Self { ca })
    }

    /// The CA certificate (DER).
    pub fn certificate(&self) -> &[u8] {
        self.ca.ca_certificate()
    }

    /// Signs an agent's CSR (its signature checked first) for client authentication only,
    /// naming the agent (`CN=<agent id>`, no alternative names) whatever the CSR asks:
    /// a system that trusts this CA learns who the agent is, never a name it chose.
    pub fn issue(&self, csr_der: &[u8], agent_id: &str) -> Result<IssuedAgentCertificate, String> {
        let mut verified = csr::verify(csr_der)?;
        verified.usages = csr::RequestedUsages {
            client_auth: true,
            ..Default::default()
        };
        verified.subject = vec![csr::NameAttribute {
            oid: vec![2, 5, 4, 3],
            value: agent_id.to_owned(),
            printable: false,
        }];
        verified.dns_names.clear();
        verified.ip_addresses.clear();
        verified.emails.clear();
        verified.uris.clear();
        let chain = self.ca.issue(&verified)?;
        let der = chain
            .into_iter()
            .next()
            .ok_or_else(|| "the agent CA returned no certificate".to_owned())?;
        let not_after = not_after(&der).map_err(|e| format!("the issued certificate: {e}"))?;
        Ok(IssuedAgentCertificate {
            thumbprint: thumbprint(&der),
            der,
            not_after,
        })
    }

    /// Checks that `der` was issued by this CA and is valid at `now`; returns its
    /// thumbprint.
    pub fn check_presented(
        &self,
        der: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, PresentedCertificateError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| PresentedCertificateError::Malformed(e.to_string()))?;
        let (_, ca) = X509Certificate::from_der(self.ca.ca_certificate())
            .map_err(|e| PresentedCertificateError::Malformed(format!("agent CA: {e}")))?;
        if cert.issuer() != ca.subject() || cert.verify_signature(Some(ca.public_key())).is_err() {
            return Err(PresentedCertificateError::ForeignIssuer);
        }
        let validity = cert.validity();
        let ts = now.timestamp();
        if ts < validity.not_before.timestamp() || ts > validity.not_after.timestamp() {
            return Err(PresentedCertificateError::OutOfValidity {
                not_before: validity.not_before.to_string(),
                not_after: validity.not_after.to_string(),
            });
        }
        Ok(thumbprint(der))
    }
}

/// Upper-case hex SHA-1 of a DER certificate (Keyfactor's thumbprint).
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(der))
}

fn not_after(der: &[u8]) -> Result<DateTime<Utc>, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| "its notAfter is out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn config() -> LocalCaConfig {
        toml::from_str("").expect("defaults")
    }

    fn csr(key: &KeyPair, cn: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.serialize_request(key).unwrap().der().to_vec()
    }

    #[test]
    fn issues_client_certificates_it_then_recognises() {
        let dir = tempfile::tempdir().unwrap();
        let ca = AgentCa::open(&config(), dir.path()).unwrap();
        let key = KeyPair::generate().unwrap();
        let issued = ca.issue(&csr(&key, "agent-1"), "id-1").unwrap();
        assert_eq!(issued.thumbprint.len(), 40);
        let (_, cert) = X509Certificate::from_der(&issued.der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(
            eku.client_auth && !eku.server_auth,
            "client authentication only"
        );
        assert_eq!(
            ca.check_presented(&issued.der, Utc::now()).unwrap(),
            issued.thumbprint
        );
        assert!(matches!(
            ca.check_presented(&issued.der, issued.not_after + chrono::Duration::days(1)),
            Err(PresentedCertificateError::OutOfValidity { .. })
        ));
        // The root is kept: a reopened CA recognises what the first one issued.
        let again = AgentCa::open(&config(), dir.path()).unwrap();
        assert!(again.check_presented(&issued.der, Utc::now()).is_ok());
    }

    #[test]
    fn a_root_missing_one_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        AgentCa::open(&config(), dir.path()).unwrap();
        let root = dir.path().join(AGENT_CA_DIR);
        let cert = std::fs::read(root.join("ca-cert.pem")).unwrap();
        std::fs::remove_file(root.join("ca-key.pem")).unwrap();
        let err = AgentCa::open(&config(), dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("is missing"), "{err:#}");
        assert_eq!(
            std::fs::read(root.join("ca-cert.pem")).unwrap(),
            cert,
            "kept"
        );
        assert!(!root.join("ca-key.pem").exists(), "no new key made");
    }

    #[test]
    fn refuses_foreign_certificates_and_bad_csrs() {
        let ours = AgentCa::open(&config(), tempfile::tempdir().unwrap().path()).unwrap();
        let other = AgentCa::open(&config(), tempfile::tempdir().unwrap().path()).unwrap();
        let key = KeyPair::generate().unwrap();
        let foreign = other.issue(&csr(&key, "agent-x"), "x").unwrap();
        assert_eq!(
            ours.check_presented(&foreign.der, Utc::now()),
            Err(PresentedCertificateError::ForeignIssuer)
        );
        assert!(matches!(
            ours.check_presented(b"not a certificate", Utc::now()),
            Err(PresentedCertificateError::Malformed(_))
        ));
        let mut tampered = csr(&key, "agent-y");
        let last = tampered.len() - 1;
        tampered[last] ^= 0x55;
        assert!(
            ours.issue(&tampered, "y").is_err(),
            "a CSR whose signature does not verify"
        );
    }
}

//! The agent's identity on disk: its key, its client certificate and the AgentId the
//! server gave it, in its data dir, readable by its user only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData as _};
use serde::{Deserialize, Serialize};

use crate::authority::files::write_private;

const KEY_FILE: &str = "agent-key.pem";
const CERT_FILE: &str = "agent-cert.pem";
const ID_FILE: &str = "agent.json";

/// What the agent keeps between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Identity {
    pub agent_id: Option<String>,
}

/// The identity files of one agent.
#[derive(Debug, Clone)]
pub struct IdentityFiles {
    dir: PathBuf,
}

/// A new key and a CSR for it.
pub struct KeyAndCsr {
    pub key_pem: String,
    pub csr_der: Vec<u8>,
}

impl IdentityFiles {
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the agent data dir {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", dir.display()))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    /// The saved AgentId, if any.
    pub fn load(&self) -> Identity {
        std::fs::read(self.dir.join(ID_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Key and certificate (PEM, key first) when both are saved and belong together (a
    /// crash between replacing one and the other must not leave an unusable pair).
    pub fn client_pem(&self) -> Option<Vec<u8>> {
        let key = std::fs::read(self.key_path()).ok()?;
        let cert = std::fs::read(self.cert_path()).ok()?;
        let pair = KeyPair::from_pem(std::str::from_utf8(&key).ok()?).ok()?;
        let (_, block) = x509_parser::pem::parse_x509_pem(&cert).ok()?;
        let parsed = block.parse_x509().ok()?;
        if parsed.public_key().raw != pair.subject_public_key_info().as_slice() {
            return None;
        }
        let mut pem = key;
        pem.extend_from_slice(&cert);
        Some(pem)
    }

    /// Whether the saved certificate is missing or outside its validity at `now`: then
    /// the agent must enroll again (as a new agent, like Keyfactor's orchestrators).
    pub fn certificate_expired(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let Ok(pem) = std::fs::read(self.cert_path()) else {
            return true;
        };
        let Ok((_, block)) = x509_parser::pem::parse_x509_pem(&pem) else {
            return true;
        };
        let Ok(cert) = block.parse_x509() else {
            return true;
        };
        let v = cert.validity();
        let t = now.timestamp();
        t < v.not_before.timestamp() || t > v.not_after.timestamp()
    }

    /// Forgets the identity (key, certificate, id), so the next cycle enrolls afresh.
    pub fn forget(&self) {
        for f in [KEY_FILE, CERT_FILE, ID_FILE] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
    }

    /// Saves a certificate the server issued for `key_pem`, and the AgentId. The key is
    /// written first and replaced only with its certificate, so a crash between the two
    /// leaves the old pair usable.
    pub fn save(&self, key_pem: &str, cert_der: &[u8], agent_id: &str) -> anyhow::Result<()> {
        let cert_pem = crate::certificates::parse::pem_certificate(cert_der);
        let tmp_key = self.dir.join(format!("{KEY_FILE}.new"));
        let tmp_cert = self.dir.join(format!("{CERT_FILE}.new"));
        write_private(&tmp_key, key_pem)?;
        write_private(&tmp_cert, &cert_pem)?;
        std::fs::rename(&tmp_key, self.key_path())?;
        std::fs::rename(&tmp_cert, self.cert_path())?;
        let id = serde_json::to_string(&Identity {
            agent_id: Some(agent_id.to_owned()),
        })?;
        write_private(&self.dir.join(ID_FILE), &id)?;
        Ok(())
    }
}

/// A fresh P-256 key and a CSR naming `client_machine`.
pub fn new_key_and_csr(client_machine: &str) -> anyhow::Result<KeyAndCsr> {
    let key = KeyPair::generate().context("cannot generate the agent key")?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, client_machine);
    let csr = params.serialize_request(&key)?;
    Ok(KeyAndCsr {
        key_pem: key.serialize_pem(),
        csr_der: csr.der().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn certificate(days_from_now: i64) -> (String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["agent".to_owned()]).unwrap();
        let end = time::OffsetDateTime::now_utc() + time::Duration::days(days_from_now);
        params.not_before = end - time::Duration::days(30);
        params.not_after = end;
        let cert = params.self_signed(&key).unwrap();
        (key.serialize_pem(), cert.der().to_vec())
    }

    #[test]
    fn identity_is_kept_owner_only_and_an_expired_one_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let files = IdentityFiles::new(&dir.path().join("agent")).unwrap();
        assert!(files.client_pem().is_none() && files.certificate_expired(Utc::now()));
        let (key, der) = certificate(10);
        files.save(&key, &der, "agent-1").unwrap();
        assert_eq!(files.load().agent_id.as_deref(), Some("agent-1"));
        assert!(!files.certificate_expired(Utc::now()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(files.key_path()), 0o600);
            assert_eq!(mode(files.cert_path()), 0o600);
            assert_eq!(mode(dir.path().join("agent")), 0o700);
        }
        let (key, der) = certificate(-1);
        files.save(&key, &der, "agent-1").unwrap();
        assert!(files.certificate_expired(Utc::now()));
        files.forget();
        assert!(files.client_pem().is_none());
        assert_eq!(files.load().agent_id, None);
    }
}

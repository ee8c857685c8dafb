//! A CA inside the host for labs: signs CSRs with its own root, keeping the request's
//! subject and subject alternative names.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::string::{Ia5String, PrintableString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber, SubjectPublicKeyInfo,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use super::config::LocalCaConfig;
use super::csr::VerifiedCsr;
use super::files::write_private;

/// File names of a generated root in `<data-dir>/authorities/NAME/`.
pub const ROOT_CERT_FILE: &str = "ca-cert.pem";
pub const ROOT_KEY_FILE: &str = "ca-key.pem";

/// A local CA: its issuer (name + key) and its certificate, appended to every chain.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    ca_der: Vec<u8>,
    ca_not_after: OffsetDateTime,
    validity: Duration,
}

impl LocalCa {
    /// Loads the configured CA files, or the root kept in `state_dir`, or generates and
    /// keeps a new root there.
    pub fn open(name: &str, config: &LocalCaConfig, state_dir: &Path) -> anyhow::Result<Self> {
        let (cert_file, key_file) = match (&config.cert_file, &config.key_file) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            (None, None) => {
                let cert = state_dir.join(ROOT_CERT_FILE);
                let key = state_dir.join(ROOT_KEY_FILE);
                match (cert.exists(), key.exists()) {
                    (false, false) => generate_root(name, config, &cert, &key)?,
                    (true, true) => {}
                    // A root is never replaced because one of its files went missing: the
                    // certificates it issued would stop chaining, silently.
                    (has_cert, _) => anyhow::bail!(
                        "authority {name}: {} exists but {} is missing; restore it, or remove \
                         both to make a new root",
                        if has_cert {
                            cert.display()
                        } else {
                            key.display()
                        },
                        if has_cert {
                            key.display()
                        } else {
                            cert.display()
                        },
                    ),
                }
                (cert, key)
            }
            _ => anyhow::bail!(
                "authority {name}: cert_file and key_file must be given together (or neither, for a generated root)"
            ),
        };
        Self::load(config, &cert_file, &key_file)
            .with_context(|| format!("authority {name}: cannot load its CA"))
    }

    fn load(
        config: &LocalCaConfig,
        cert_file: &PathBuf,
        key_file: &PathBuf,
    ) -> anyhow::Result<Self> {
        let cert_pem = std::fs::read_to_string(cert_file)
            .with_context(|| format!("cannot read {}", cert_file.display()))?;
        let key_pem = std::fs::read_to_string(key_file)
            .with_context(|| format!("cannot read {}", key_file.display()))?;
        let ca_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .with_context(|| format!("{} holds no PEM certificate", cert_file.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{} holds no usable PKCS#8 PEM key", key_file.display()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca_der).map_err(|e| {
            anyhow::anyhow!("{} is not an X.509 certificate: {e}", cert_file.display())
        })?;
        let ca_not_after = parsed.validity().not_after.to_datetime();
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            anyhow::bail!(
                "{} is not the key of {}",
                key_file.display(),
                cert_file.display()
            );
        }
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .with_context(|| format!("{} cannot be used as an issuer", cert_file.display()))?;
        Ok(Self {
            issuer,
            ca_der: ca_der.to_vec(),
            ca_not_after,
            validity: Duration::days(i64::from(config.validity_days.max(1))),
        })
    }

    /// The CA certificate (DER) chains end with.
    pub fn ca_certificate(&self) -> &[u8] {
        &self.ca_der
    }

    /// Issues a certificate for a verified CSR: its subject, SANs and asked-for extended key
    /// usages; never a CA certificate, whatever the request asks. Returns leaf and CA (DER).
    pub fn issue(&self, csr: &VerifiedCsr) -> Result<Vec<Vec<u8>>, String> {
        self.issue_within(csr, None)
    }

    /// [`issue`](Self::issue), valid for at most `max_validity` (an account's issuance
    /// policy) when that is shorter than the CA's own validity.
    pub fn issue_within(
        &self,
        csr: &VerifiedCsr,
        max_validity: Option<chrono::Duration>,
    ) -> Result<Vec<Vec<u8>>, String> {
        let validity = match max_validity {
            Some(max) => self
                .validity
                .min(Duration::seconds(max.num_seconds().max(60))),
            None => self.validity,
        };
        let public_key = SubjectPublicKeyInfo::from_der(&csr.public_key_der).map_err(|e| {
            format!("the CSR's public key is of a kind this CA cannot certify: {e}")
        })?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = subject_name(csr)?;
        params.subject_alt_names = alt_names(csr)?;
        // A little back-dating absorbs clock skew between this host and the relying party.
        params.not_before = now - Duration::minutes(5);
        params.not_after = (now + validity).min(self.ca_not_after);
        params.serial_number = Some(random_serial());
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = if csr.rsa_key {
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        params.extended_key_usages = extended_usages(csr);
        let leaf = params
            .signed_by(&public_key, &self.issuer)
            .map_err(|e| format!("the local CA could not sign the certificate: {e}"))?;
        Ok(vec![leaf.der().to_vec(), self.ca_der.clone()])
    }
}

fn generate_root(
    name: &str,
    config: &LocalCaConfig,
    cert_file: &Path,
    key_file: &Path,
) -> anyhow::Result<()> {
    let key = KeyPair::generate().context("cannot generate the root key")?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let common_name = config
        .common_name
        .clone()
        .unwrap_or_else(|| format!("Keywarden lab CA {name}"));
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Keywarden");
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(i64::from(config.root_validity_days.max(1)));
    params.serial_number = Some(random_serial());
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).context("cannot sign the root")?;
    if let Some(dir) = cert_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Key first: a cert without its key would make the next start generate another root.
    write_private(key_file, &key.serialize_pem())?;
    write_private(cert_file, &cert.pem())?;
    tracing::info!(authority = name, cert = %cert_file.display(), "generated a local CA root");
    Ok(())
}

/// The CSR's subject, attribute by attribute (rcgen keeps one value per attribute type:
/// a second OU replaces the first).
fn subject_name(csr: &VerifiedCsr) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for attr in &csr.subject {
        let value = if attr.printable {
            PrintableString::try_from(attr.value.as_str())
                .map(DnValue::PrintableString)
                .map_err(|e| format!("the CSR's subject value {:?}: {e}", attr.value))?
        } else {
            DnValue::Utf8String(attr.value.clone())
        };
        dn.push(DnType::from_oid(&attr.oid), value);
    }
    Ok(dn)
}

fn alt_names(csr: &VerifiedCsr) -> Result<Vec<SanType>, String> {
    let ia5 = |s: &String| {
        Ia5String::try_from(s.as_str()).map_err(|e| format!("the CSR's SAN {s:?}: {e}"))
    };
    let mut sans = Vec::new();
    for dns in &csr.dns_names {
        sans.push(SanType::DnsName(ia5(dns)?));
    }
    sans.extend(csr.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
    for email in &csr.emails {
        sans.push(SanType::Rfc822Name(ia5(email)?));
    }
    for uri in &csr.uris {
        sans.push(SanType::URI(ia5(uri)?));
    }
    Ok(sans)
}

/// The usages the CSR asks for; a CSR that asks for none gets TLS server and client.
fn extended_usages(csr: &VerifiedCsr) -> Vec<ExtendedKeyUsagePurpose> {
    let u = csr.usages;
    let mut out = Vec::new();
    if u.server_auth {
        out.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if u.client_auth {
        out.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if u.code_signing {
        out.push(ExtendedKeyUsagePurpose::CodeSigning);
    }
    if u.email_protection {
        out.push(ExtendedKeyUsagePurpose::EmailProtection);
    }
    if out.is_empty() {
        out = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
    }
    out
}

/// 16 random bytes, positive and without a leading zero byte.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from(bytes.to_vec())
}

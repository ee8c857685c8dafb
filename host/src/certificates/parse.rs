//! Reading certificates on the host: what an inventory shows about each entry, and the
//! PEM a management request carries. Parsed here rather than in plugins so every store
//! type reports thumbprints, names and dates the same way.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What the API shows about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Upper-case hex SHA-1 of the DER, Keyfactor's thumbprint.
    pub thumbprint: String,
    /// Upper-case hex serial number.
    pub serial_number: String,
    /// Subject, RFC 4514-style (`CN=..., O=...`).
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// Subject alternative names as `dns:`, `ip4:`, `ip6:`, `email:`, `uri:` prefixed
    /// strings (Keyfactor's SAN kinds).
    pub sans: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Parses a DER certificate.
pub fn summarize(der: &[u8]) -> Result<CertificateSummary, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| "the certificate has a validity date out of range".to_owned())
    };
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(format!("dns:{d}")),
                GeneralName::RFC822Name(e) => sans.push(format!("email:{e}")),
                GeneralName::URI(u) => sans.push(format!("uri:{u}")),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        sans.push(format!("ip4:{}", std::net::Ipv4Addr::from(v4)));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        sans.push(format!("ip6:{}", std::net::Ipv6Addr::from(v6)));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertificateSummary {
        thumbprint: hex::encode_upper(Sha1::digest(der)),
        serial_number: hex::encode_upper(cert.raw_serial()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
    })
}

/// Standard base64 of DER, as stored and shown.
/// A DER certificate as one PEM block (64-character lines).
pub fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

pub fn base64_der(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The most certificates a chain given to a Management job may hold.
pub const MAX_CHAIN: usize = 32;

/// The certificates of a PEM text (`CERTIFICATE` blocks, leaf first as given), or of a
/// bare base64 DER certificate. Each must parse as X.509; at most [`MAX_CHAIN`].
pub fn certificate_chain(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let chain: Vec<Vec<u8>> = if text.contains("-----BEGIN") {
        let mut chain = Vec::new();
        for block in Pem::iter_from_buffer(text.as_bytes()) {
            let block = block.map_err(|e| format!("malformed PEM: {e}"))?;
            if block.label == "CERTIFICATE" {
                chain.push(block.contents);
            } else if block.label.contains("PRIVATE KEY") {
                return Err(
                    "carries a private key; give the key as a secret name instead".to_owned(),
                );
            }
        }
        chain
    } else {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| "expected PEM certificates or a base64 DER certificate".to_owned())?;
        vec![der]
    };
    if chain.is_empty() {
        return Err("holds no CERTIFICATE block".to_owned());
    }
    if chain.len() > MAX_CHAIN {
        // Real chains have a handful; thousands only cost every job that reads them.
        return Err(format!(
            "holds {} certificates; a chain holds at most {MAX_CHAIN}",
            chain.len()
        ));
    }
    for der in &chain {
        summarize(der)?;
    }
    Ok(chain)
}

/// The PKCS#8 DER of a `PRIVATE KEY` PEM block (what a private-key secret holds).
pub fn pkcs8_private_key(pem: &str) -> Result<Vec<u8>, String> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|_| "is not PEM".to_owned())?;
        if block.label == "PRIVATE KEY" {
            return Ok(block.contents);
        }
    }
    Err("holds no PKCS#8 PRIVATE KEY block".to_owned())
}

//! Reading a PKCS#10 CSR once, up front, for every kind of CA: a request that does not
//! parse or whose signature does not verify is refused with a reason before any CA sees it.

use std::net::IpAddr;

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519};
use x509_parser::prelude::FromDer;

/// One attribute of the subject name, in the order the CSR lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAttribute {
    /// OID components (`[2, 5, 4, 3]` is commonName).
    pub oid: Vec<u64>,
    pub value: String,
    /// The value was a PrintableString (kept as such: countryName must be one).
    pub printable: bool,
}

/// Extended key usages the CSR asks for (the ones a CA may sensibly grant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedUsages {
    pub server_auth: bool,
    pub client_auth: bool,
    pub code_signing: bool,
    pub email_protection: bool,
}

/// The algorithm and size of a CSR's key, for issuance policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrKey {
    /// Modulus bits.
    Rsa(u32),
    /// Field size in bits (256 for P-256).
    Ec(u32),
    Ed25519,
    /// Anything else (DSA, GOST, Ed448...).
    Other,
}

impl std::fmt::Display for CsrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsrKey::Rsa(bits) => write!(f, "RSA {bits} bits"),
            CsrKey::Ec(bits) => write!(f, "EC {bits} bits"),
            CsrKey::Ed25519 => f.write_str("Ed25519"),
            CsrKey::Other => f.write_str("a key type other than RSA, EC and Ed25519"),
        }
    }
}

/// What a CA needs from a verified CSR.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// The request as received (ACME finalizes with it unchanged).
    pub der: Vec<u8>,
    pub subject: Vec<NameAttribute>,
    /// The subject in RFC 4514 form, for logs and messages.
    pub subject_text: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    /// DER SubjectPublicKeyInfo of the requested key.
    pub public_key_der: Vec<u8>,
    pub rsa_key: bool,
    /// The requested key's algorithm and size.
    pub key: CsrKey,
    pub usages: RequestedUsages,
}

/// Parses a DER CSR and checks its self-signature (proof that the requester holds the key).
pub fn verify(der: &[u8]) -> Result<VerifiedCsr, String> {
    if der.is_empty() {
        return Err("the CSR is empty".into());
    }
    let (rest, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| format!("the CSR is not a DER PKCS#10 certification request: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "the CSR has {} bytes of trailing data after the request",
            rest.len()
        ));
    }
    csr.verify_signature().map_err(|e| {
        format!("the CSR's signature does not verify against its own public key ({e})")
    })?;
    let info = &csr.certification_request_info;
    let mut subject = Vec::new();
    for attr in info.subject.iter_attributes() {
        let oid = attr
            .attr_type()
            .iter()
            .map(Iterator::collect)
            .ok_or_else(|| format!("the CSR's subject has an unusable OID {}", attr.attr_type()))?;
        let value = attr
            .as_str()
            .map_err(|_| {
                format!(
                    "the CSR's subject attribute {} is not a string",
                    attr.attr_type()
                )
            })?
            .to_owned();
        subject.push(NameAttribute {
            oid,
            value,
            printable: attr.attr_value().tag() == Tag::PrintableString,
        });
    }
    let mut out = VerifiedCsr {
        der: der.to_vec(),
        subject,
        subject_text: info.subject.to_string(),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        emails: Vec::new(),
        uris: Vec::new(),
        public_key_der: info.subject_pki.raw.to_vec(),
        rsa_key: info.subject_pki.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION,
        key: key_of(&info.subject_pki),
        usages: RequestedUsages::default(),
    };
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    add_san(&mut out, name)?;
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                out.usages = RequestedUsages {
                    server_auth: eku.server_auth,
                    client_auth: eku.client_auth,
                    code_signing: eku.code_signing,
                    email_protection: eku.email_protection,
                };
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The key's algorithm and size. RSA modulus bits are counted here (x509-parser's
/// `key_size` miscounts a modulus whose DER has no leading zero byte).
fn key_of(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> CsrKey {
    use x509_parser::public_key::PublicKey;
    if spki.algorithm.algorithm == OID_SIG_ED25519 {
        return CsrKey::Ed25519;
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let modulus: &[u8] = rsa.modulus;
            let start = modulus
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(modulus.len());
            let digits = &modulus[start..];
            let bits = match digits.first() {
                Some(first) => (digits.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
                None => 0,
            };
            CsrKey::Rsa(bits)
        }
        Ok(PublicKey::EC(point)) => CsrKey::Ec(u32::try_from(point.key_size()).unwrap_or(0)),
        _ => CsrKey::Other,
    }
}

fn add_san(out: &mut VerifiedCsr, name: &GeneralName<'_>) -> Result<(), String> {
    match name {
        GeneralName::DNSName(dns) => out.dns_names.push((*dns).to_owned()),
        GeneralName::RFC822Name(email) => out.emails.push((*email).to_owned()),
        GeneralName::URI(uri) => out.uris.push((*uri).to_owned()),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("length checked")),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("length checked")),
                n => return Err(format!("the CSR names an IP address of {n} bytes")),
            };
            out.ip_addresses.push(ip);
        }
        other => {
            return Err(format!(
                "the CSR asks for a subject alternative name of a kind this host does not issue: {other}"
            ));
        }
    }
    Ok(())
}

//! Issuance policies: what an account may ask each certificate authority for, checked
//! against the CSR before any CA sees it (Vault PKI roles are the model). [`sign`] is the
//! one way a CSR of an account's job reaches a CA: the `enrollment` import and the agent
//! protocol's enrollment both go through it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::config::{ExtendedKeyUsage, IssuancePolicy, KeyType};
use crate::authority::csr::{self, CsrKey, VerifiedCsr};
use crate::runtime::capabilities::enrollment::{AuthorityError, CertificateAuthority};

/// OID of the subject's commonName.
const COMMON_NAME: [u64; 4] = [2, 5, 4, 3];

/// The authorities one account may use, each with its policy.
#[derive(Debug, Clone)]
pub struct AccountIssuance {
    account: String,
    authorities: BTreeMap<String, IssuancePolicy>,
}

/// What a CSR asks for, as far as a policy judges it before a CSR exists (the certificate
/// store APIs' reenrollment requests) or once it does.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// Every common name of the subject (a subject may carry several; each is judged,
    /// and more than one is refused).
    pub common_names: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    pub usages: Vec<ExtendedKeyUsage>,
    /// `None` when not known yet (the plugin picks the key).
    pub key: Option<CsrKey>,
}

impl Requested {
    /// What a verified CSR asks for.
    pub fn of(csr: &VerifiedCsr) -> Self {
        let mut usages = Vec::new();
        for (asked, usage) in [
            (csr.usages.server_auth, ExtendedKeyUsage::ServerAuth),
            (csr.usages.client_auth, ExtendedKeyUsage::ClientAuth),
            (csr.usages.code_signing, ExtendedKeyUsage::CodeSigning),
            (
                csr.usages.email_protection,
                ExtendedKeyUsage::EmailProtection,
            ),
        ] {
            if asked {
                usages.push(usage);
            }
        }
        Self {
            common_names: csr
                .subject
                .iter()
                .filter(|a| a.oid == COMMON_NAME)
                .map(|a| a.value.clone())
                .collect(),
            dns_names: csr.dns_names.clone(),
            ip_addresses: csr.ip_addresses.clone(),
            emails: csr.emails.clone(),
            uris: csr.uris.clone(),
            usages,
            key: Some(csr.key),
        }
    }
}

impl AccountIssuance {
    pub fn new(account: &str, authorities: BTreeMap<String, IssuancePolicy>) -> Self {
        Self {
            account: account.to_owned(),
            authorities,
        }
    }

    /// The policy of `authority` for this account, or why the account may not use it.
    pub fn policy(&self, authority: &str) -> Result<&IssuancePolicy, String> {
        self.authorities.get(authority).ok_or_else(|| {
            format!(
                "account {:?} may not use certificate authority {authority:?} \
                 (no [accounts.{}.authorities.{authority}] policy; granted: {})",
                self.account,
                self.account,
                if self.authorities.is_empty() {
                    "none".to_owned()
                } else {
                    self.authorities
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )
        })
    }

    /// Checks `requested` against the account's policy for `authority`; returns the
    /// longest validity the certificate may have. The error names the rule broken.
    pub fn check(
        &self,
        authority: &str,
        requested: &Requested,
    ) -> Result<Option<chrono::Duration>, String> {
        let policy = self.policy(authority)?;
        let broke = |what: String| {
            format!(
                "the issuance policy of account {:?} for authority {authority:?} refuses this request: {what}",
                self.account
            )
        };
        if requested.common_names.len() > 1 {
            // A CA may keep any one of them (the local CA keeps the last): one only.
            return Err(broke(format!(
                "the subject names {} common names ({}); give one",
                requested.common_names.len(),
                requested.common_names.join(", ")
            )));
        }
        for cn in &requested.common_names {
            let allowed = if let Ok(ip) = cn.parse::<IpAddr>() {
                ip_allowed(policy, ip)
            } else if cn.contains('@') {
                email_allowed(policy, cn)
            } else {
                dns_allowed(policy, cn)
            };
            allowed.map_err(|why| broke(format!("common name {cn:?} {why}")))?;
        }
        for name in &requested.dns_names {
            dns_allowed(policy, name).map_err(|why| broke(format!("DNS name {name:?} {why}")))?;
        }
        for ip in &requested.ip_addresses {
            ip_allowed(policy, *ip).map_err(|why| broke(format!("IP address {ip} {why}")))?;
        }
        for email in &requested.emails {
            email_allowed(policy, email)
                .map_err(|why| broke(format!("email address {email:?} {why}")))?;
        }
        if let Some(uri) = requested.uris.first() {
            return Err(broke(format!(
                "URI name {uri:?}: issuance policies allow no URI names"
            )));
        }
        for usage in &requested.usages {
            if !policy.allowed_extended_key_usages.contains(usage) {
                return Err(broke(format!(
                    "extended key usage {usage} is not in allowed_extended_key_usages ({})",
                    list(&policy.allowed_extended_key_usages)
                )));
            }
        }
        if let Some(key) = requested.key {
            key_allowed(policy, key).map_err(broke)?;
        }
        Ok(policy
            .max_validity_days
            .map(|days| chrono::Duration::days(i64::from(days))))
    }
}

/// A DNS name (or common name) under the policy's domain rules.
fn dns_allowed(policy: &IssuancePolicy, name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let (wildcard, name) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest.to_owned()),
        None => (false, name),
    };
    if name.is_empty() || name.contains('*') {
        return Err(
            "is not a name this server issues (a '*' only as the whole first label)".into(),
        );
    }
    if wildcard && !policy.allow_wildcards {
        return Err("is a wildcard and allow_wildcards is false".into());
    }
    let domains: Vec<String> = policy
        .allowed_domains
        .iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let bare = domains.contains(&name);
    let under = domains.iter().any(|d| name.ends_with(&format!(".{d}")));
    // `*.D` names D's subdomains.
    let fits = if wildcard {
        policy.allow_subdomains && (bare || under)
    } else {
        (bare && policy.allow_bare_domains) || (under && policy.allow_subdomains)
    };
    if fits {
        return Ok(());
    }
    Err(format!(
        "is not allowed (allowed_domains: {}; allow_bare_domains = {}, allow_subdomains = {})",
        if domains.is_empty() {
            "none".to_owned()
        } else {
            domains.join(", ")
        },
        policy.allow_bare_domains,
        policy.allow_subdomains
    ))
}

fn ip_allowed(policy: &IssuancePolicy, ip: IpAddr) -> Result<(), String> {
    if policy.allowed_ip_ranges.iter().any(|net| net.contains(&ip)) {
        return Ok(());
    }
    Err(format!(
        "is not in allowed_ip_ranges ({})",
        list(&policy.allowed_ip_ranges)
    ))
}

fn email_allowed(policy: &IssuancePolicy, email: &str) -> Result<(), String> {
    if !policy.allow_email_addresses {
        return Err("is an email address and allow_email_addresses is false".into());
    }
    let Some((_, domain)) = email.rsplit_once('@') else {
        return Err("is not an email address".into());
    };
    dns_allowed(policy, domain).map_err(|why| format!("has a domain that {why}"))
}

fn key_allowed(policy: &IssuancePolicy, key: CsrKey) -> Result<(), String> {
    let kind = match key {
        CsrKey::Rsa(_) => Some(KeyType::Rsa),
        CsrKey::Ec(_) => Some(KeyType::Ec),
        CsrKey::Ed25519 => Some(KeyType::Ed25519),
        CsrKey::Other => None,
    };
    if !kind.is_some_and(|k| policy.allowed_key_types.contains(&k)) {
        return Err(format!(
            "the key is {key}, not one of allowed_key_types ({})",
            list(&policy.allowed_key_types)
        ));
    }
    if let CsrKey::Rsa(bits) = key
        && bits < policy.min_rsa_bits
    {
        return Err(format!(
            "the key is {key}, shorter than min_rsa_bits = {}",
            policy.min_rsa_bits
        ));
    }
    Ok(())
}

/// Every common name of an RFC 4514 subject (`CN=a.example,O=Example`), by name or by
/// OID (`2.5.4.3=`), unescaped.
pub fn common_names(subject: &str) -> Vec<String> {
    let mut attributes = Vec::new();
    let (mut current, mut escaped) = (String::new(), false);
    for c in subject.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            ',' | '+' => attributes.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    attributes.push(current);
    attributes
        .into_iter()
        .filter_map(|a| {
            let (kind, value) = a.split_once('=')?;
            let kind = kind.trim();
            (kind.eq_ignore_ascii_case("CN") || kind == "2.5.4.3").then(|| value.trim().to_owned())
        })
        .collect()
}

/// The key a store plugin makes for a reenrollment key type (`ec-p256`, `rsa-2048`...).
pub fn key_of_type(key_type: &str) -> Option<CsrKey> {
    let key_type = key_type.to_ascii_lowercase();
    if let Some(curve) = key_type.strip_prefix("ec-p") {
        return curve.parse().ok().map(CsrKey::Ec);
    }
    if let Some(bits) = key_type.strip_prefix("rsa-") {
        return bits.parse().ok().map(CsrKey::Rsa);
    }
    (key_type == "ed25519").then_some(CsrKey::Ed25519)
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Submits a CSR of an account's job to `ca`: with `policy` (every account but admin), the
/// authority must be granted and the CSR within its policy, checked before the CA sees
/// it, and the certificate no longer than the policy's validity.
pub async fn sign(
    ca: &dyn CertificateAuthority,
    policy: Option<&AccountIssuance>,
    csr_der: &[u8],
    authority: Option<&str>,
) -> Result<Vec<Vec<u8>>, AuthorityError> {
    let Some(policy) = policy else {
        return ca.sign(csr_der, authority).await;
    };
    let name = authority
        .map(str::to_owned)
        .or_else(|| ca.default_authority())
        .ok_or_else(|| {
            AuthorityError::Rejected(
                "no certificate authority was named and the server has no default one".into(),
            )
        })?;
    let verified = csr::verify(csr_der).map_err(AuthorityError::Rejected)?;
    let max_validity = policy
        .check(&name, &Requested::of(&verified))
        .map_err(AuthorityError::Rejected)?;
    ca.sign_capped(csr_der, Some(&name), max_validity).await
}

#[cfg(test)]
mod tests;

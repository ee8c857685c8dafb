//! OCI's HTTP Signature (its version of the draft-cavage scheme): every request carries
//! `Authorization: Signature ...` made with the user's API key, RSASSA-PKCS1-v1_5 over
//! SHA-256, over the lines `name: value` of the headers it names. GET signs `date
//! (request-target) host`; POST and PUT add `content-length content-type
//! x-content-sha256`, so the body cannot be changed in flight either.
//!
//! The private key lives only in this value, for one job; nothing here formats it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use keywarden_sdk::http::Method;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use sha2::{Digest, Sha256};

pub struct Signer {
    /// `<tenancy OCID>/<user OCID>/<fingerprint>`.
    key_id: String,
    key: SigningKey<Sha256>,
}

impl Signer {
    /// From the API key in PEM (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY` as
    /// older OCI consoles download it). The error never quotes the key.
    pub fn new(tenancy: &str, user: &str, fingerprint: &str, pem: &str) -> Result<Self, String> {
        if pem.contains("ENCRYPTED") {
            return Err("the API private key is encrypted; store it without a passphrase".into());
        }
        let key = RsaPrivateKey::from_pkcs8_pem(pem.trim())
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem.trim()))
            .map_err(|e| format!("the API private key is not an RSA key in PEM: {e}"))?;
        Ok(Self {
            key_id: format!("{tenancy}/{user}/{fingerprint}"),
            key: SigningKey::new(key),
        })
    }

    /// The headers to add to `method https://{authority}{path_and_query}` with `body`
    /// (the exact bytes sent; POST and PUT always carry one, possibly empty).
    pub fn headers(
        &self,
        method: &Method,
        authority: &str,
        path_and_query: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        let mut headers = vec![
            ("date".to_owned(), http_date(now)),
            (
                "(request-target)".to_owned(),
                format!("{} {path_and_query}", method.to_string().to_lowercase()),
            ),
            ("host".to_owned(), authority.to_owned()),
        ];
        if matches!(method, Method::Post | Method::Put | Method::Patch) {
            headers.push(("content-length".into(), body.len().to_string()));
            headers.push(("content-type".into(), "application/json".into()));
            headers.push((
                "x-content-sha256".into(),
                STANDARD.encode(Sha256::digest(body)),
            ));
        }
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        let signing_string = headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join("\n");
        let signature = STANDARD.encode(self.key.sign(signing_string.as_bytes()).to_bytes());
        let authorization = format!(
            r#"Signature version="1",keyId="{}",algorithm="rsa-sha256",headers="{}",signature="{signature}""#,
            self.key_id,
            names.join(" ")
        );
        // `(request-target)` is not a header, and the host sets `host` from the URL.
        headers.retain(|(n, _)| n != "(request-target)" && n != "host");
        headers.push(("authorization".into(), authorization));
        headers
    }
}

/// The HTTP date (RFC 7231) in GMT: `Tue, 01 Dec 2026 06:00:00 GMT`.
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

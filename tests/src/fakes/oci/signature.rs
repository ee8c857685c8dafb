//! The OCI fake's side of OCI's HTTP Signature: test API keys made with the `openssl`
//! CLI, and the check every request passes before the fake answers it. The check is
//! real: the signing string is rebuilt from the request's own headers and verified with
//! the API key's public key, as OCI's identity service does.
//!
//! Two kinds of refusal: a request that does not follow the scheme (a header it must
//! sign left out, a body hash that does not match, a stale date) is the plugin's bug and
//! is also recorded as a violation; a well-formed request signed by another key is
//! what a wrong credential looks like, and only gets OCI's 401.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use sha2::{Digest, Sha256};

/// OCI refuses a request whose date is further than this from its clock.
const MAX_SKEW_SECS: i64 = 300;

/// An RSA API signing key as a user uploads it to OCI.
#[derive(Clone)]
pub struct ApiKey {
    /// PKCS#8 PEM, what the plugin gets as its secret.
    pub private_pem: String,
    pub public: RsaPublicKey,
    /// MD5 of the DER public key, colon-separated hex, as the OCI console shows it.
    pub fingerprint: String,
}

/// `openssl args...` with `input` on stdin; its stdout. Panics with its stderr.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl ApiKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> Self {
        let pem = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            b"",
        );
        let der = openssl(&["pkey", "-pubout", "-outform", "DER"], &pem);
        let md5 = String::from_utf8(openssl(&["dgst", "-md5", "-c"], &der)).unwrap();
        let fingerprint = md5
            .trim()
            .rsplit(' ')
            .next()
            .expect("openssl prints the digest last")
            .to_owned();
        Self {
            private_pem: String::from_utf8(pem).unwrap(),
            public: RsaPublicKey::from_public_key_der(&der).expect("a DER public key"),
            fingerprint,
        }
    }

    /// A line from the middle of the private key: it must never show anywhere.
    pub fn secret_line(&self) -> &str {
        let lines: Vec<&str> = self.private_pem.lines().collect();
        lines[lines.len() / 2]
    }
}

/// Why a request was refused with 401.
#[derive(Debug)]
pub enum Refusal {
    /// Outside the signing scheme: a plugin bug.
    Malformed(String),
    /// Signed, but not by the key the fake knows.
    WrongKey(String),
}

/// Checks `Authorization: Signature ...` for a request to this fake, signed as
/// `key_id` (`tenancy/user/fingerprint`) with `key`.
pub fn verify(
    key_id: &str,
    key: &RsaPublicKey,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    let bad = |m: String| Refusal::Malformed(format!("{method} {}: {m}", uri.path()));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let auth = header("authorization")
        .and_then(|a| a.strip_prefix("Signature "))
        .ok_or_else(|| bad("no `Authorization: Signature ...` header".into()))?;
    let params: std::collections::BTreeMap<&str, &str> = auth
        .split(',')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            Some((k, v.strip_prefix('"')?.strip_suffix('"')?))
        })
        .collect();
    if params.get("version") != Some(&"1") || params.get("algorithm") != Some(&"rsa-sha256") {
        return Err(bad(format!(
            "signature version/algorithm must be \"1\"/\"rsa-sha256\": {auth}"
        )));
    }
    let signed: Vec<&str> = params
        .get("headers")
        .map(|h| h.split(' ').collect())
        .unwrap_or_default();
    let mut required = vec!["date", "(request-target)", "host"];
    let has_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if has_body {
        required.extend(["content-length", "content-type", "x-content-sha256"]);
    }
    if let Some(missing) = required.iter().find(|r| !signed.contains(r)) {
        return Err(bad(format!("the signature does not cover {missing}")));
    }
    let target = format!(
        "{} {}",
        method.as_str().to_lowercase(),
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    );
    let mut lines = Vec::new();
    for name in &signed {
        let value = if *name == "(request-target)" {
            target.as_str()
        } else {
            header(name).ok_or_else(|| bad(format!("signed header {name} is not sent")))?
        };
        lines.push(format!("{name}: {value}"));
    }
    let date = header("date").unwrap_or_default();
    let sent = chrono::DateTime::parse_from_rfc2822(date)
        .map_err(|e| bad(format!("date {date:?} is not an HTTP date: {e}")))?;
    let skew = (chrono::Utc::now().timestamp() - sent.timestamp()).abs();
    if skew > MAX_SKEW_SECS {
        return Err(bad(format!("date {date:?} is {skew}s from now")));
    }
    if has_body {
        let hash = STANDARD.encode(Sha256::digest(body));
        if header("x-content-sha256") != Some(hash.as_str()) {
            return Err(bad(format!(
                "x-content-sha256 {:?} is not the body's SHA-256 {hash:?}",
                header("x-content-sha256")
            )));
        }
        if header("content-length") != Some(body.len().to_string().as_str()) {
            return Err(bad("content-length is not the body's length".into()));
        }
    }
    let named = params.get("keyId").copied().unwrap_or_default();
    if named.split('/').count() != 3 {
        return Err(bad(format!(
            "keyId {named:?} is not tenancy/user/fingerprint"
        )));
    }
    if named != key_id {
        return Err(Refusal::WrongKey(format!("unknown keyId {named}")));
    }
    let signature = params
        .get("signature")
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|s| Signature::try_from(s.as_slice()).ok())
        .ok_or_else(|| bad("the signature is not base64".into()))?;
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(lines.join("\n").as_bytes(), &signature)
        .map_err(|_| Refusal::WrongKey("the signature does not verify".into()))
}

#[cfg(test)]
mod tests {
    use rsa::RsaPrivateKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    use super::*;

    /// A POST signed the way OCI's SDKs sign it.
    fn signed_post(key: &ApiKey, key_id: &str, body: &[u8]) -> (Method, Uri, HeaderMap) {
        let uri: Uri = "/20180608/keys/k1/keyVersions".parse().unwrap();
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let hash = STANDARD.encode(Sha256::digest(body));
        let lines = [
            format!("date: {date}"),
            "(request-target): post /20180608/keys/k1/keyVersions".to_owned(),
            "host: 127.0.0.1:9".to_owned(),
            format!("content-length: {}", body.len()),
            "content-type: application/json".to_owned(),
            format!("x-content-sha256: {hash}"),
        ];
        let private = RsaPrivateKey::from_pkcs8_pem(&key.private_pem).unwrap();
        let signature = SigningKey::<Sha256>::new(private).sign(lines.join("\n").as_bytes());
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("date", date),
            ("host", "127.0.0.1:9".to_owned()),
            ("content-length", body.len().to_string()),
            ("content-type", "application/json".to_owned()),
            ("x-content-sha256", hash),
            (
                "authorization",
                format!(
                    r#"Signature version="1",keyId="{key_id}",algorithm="rsa-sha256",headers="date (request-target) host content-length content-type x-content-sha256",signature="{}""#,
                    STANDARD.encode(signature.to_bytes())
                ),
            ),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        (Method::POST, uri, headers)
    }

    #[test]
    fn fake_oci_verifies_signatures_for_real() {
        let key = ApiKey::generate();
        let parts: Vec<&str> = key.fingerprint.split(':').collect();
        assert_eq!(parts.len(), 16, "{}", key.fingerprint);
        let id = format!("t/u/{}", key.fingerprint);
        let (m, u, h) = signed_post(&key, &id, b"{}");
        verify(&id, &key.public, &m, &u, &h, b"{}").unwrap();
        // The body changed in flight: the hash no longer matches (a scheme violation).
        let e = verify(&id, &key.public, &m, &u, &h, b"{\"a\":1}").unwrap_err();
        assert!(
            matches!(&e, Refusal::Malformed(w) if w.contains("x-content-sha256")),
            "{e:?}"
        );
        // Another key under the same keyId: a wrong credential, not a violation.
        let other = ApiKey::generate();
        let (m, u, h) = signed_post(&other, &id, b"{}");
        let e = verify(&id, &key.public, &m, &u, &h, b"{}").unwrap_err();
        assert!(
            matches!(&e, Refusal::WrongKey(w) if w.contains("does not verify")),
            "{e:?}"
        );
        // A GET that leaves the date out of what it signs.
        let mut h = HeaderMap::new();
        h.insert("authorization", r#"Signature version="1",keyId="t/u/f",algorithm="rsa-sha256",headers="(request-target) host",signature="AA==""#.parse().unwrap());
        let e = verify(&id, &key.public, &Method::GET, &u, &h, b"").unwrap_err();
        assert!(
            matches!(&e, Refusal::Malformed(w) if w.contains("does not cover date")),
            "{e:?}"
        );
    }
}

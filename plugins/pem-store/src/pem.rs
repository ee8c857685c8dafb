//! Reading and writing PEM text: blocks with the `friendlyName` attribute that may
//! precede them (as in `openssl pkcs12` output), certificates and private keys.

use keywarden_sdk::JobError;

/// One `-----BEGIN ...-----` block.
pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
    /// The `friendlyName:` attribute written above the block, if any.
    pub friendly_name: Option<String>,
}

/// Every block of `text`; text between blocks is scanned for `friendlyName:` only.
pub fn parse(text: &[u8], path: &str) -> Result<Vec<Block>, JobError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| JobError::failed(format!("`{path}` is not a PEM text file")))?;
    let mut blocks = Vec::new();
    let mut friendly_name = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("friendlyName:") {
            friendly_name = Some(name.trim().to_owned());
            continue;
        }
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            let inner = inner.trim();
            if inner == end {
                closed = true;
                break;
            }
            if inner.contains(':') {
                return Err(JobError::failed(format!(
                    "`{path}` has a {label} with PEM headers (legacy OpenSSL encryption); \
                     convert it to PKCS#8 (`openssl pkcs8 -topk8`)"
                )));
            }
            body.push_str(inner);
        }
        if !closed {
            return Err(JobError::failed(format!(
                "`{path}`: the {label} block is not closed"
            )));
        }
        let der = base64_decode(&body).ok_or_else(|| {
            JobError::failed(format!("`{path}`: the {label} block is not valid base64"))
        })?;
        blocks.push(Block {
            label: label.to_owned(),
            der,
            friendly_name: friendly_name.take(),
        });
    }
    Ok(blocks)
}

/// A CERTIFICATE block, with a `friendlyName` attribute above it when `name` is given.
pub fn certificate(der: &[u8], name: Option<&str>) -> Result<String, JobError> {
    let mut out = String::new();
    if let Some(name) = name {
        if name.contains(['\n', '\r']) {
            return Err(JobError::invalid_param(
                "alias",
                "an alias cannot contain line breaks",
            ));
        }
        out.push_str(&format!("Bag Attributes\n    friendlyName: {name}\n"));
    }
    out.push_str(&encode("CERTIFICATE", der)?);
    Ok(out)
}

/// A PRIVATE KEY block, or ENCRYPTED PRIVATE KEY when a password is given.
pub fn private_key(pkcs8: &[u8], password: Option<&str>) -> Result<String, JobError> {
    match password {
        Some(password) => encode(
            "ENCRYPTED PRIVATE KEY",
            &store_common::encrypt_pkcs8(pkcs8, password)?,
        ),
        None => encode("PRIVATE KEY", pkcs8),
    }
}

fn encode(label: &str, der: &[u8]) -> Result<String, JobError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der)
        .map_err(|e| JobError::failed(format!("PEM encoding failed: {e}")))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    // Validate through the strict RFC 7468 decoder by rebuilding a minimal block.
    let block = format!("-----BEGIN X-----\n{}\n-----END X-----\n", wrap(text));
    der::pem::decode_vec(block.as_bytes())
        .ok()
        .map(|(_, der)| der)
}

fn wrap(text: &str) -> String {
    text.as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

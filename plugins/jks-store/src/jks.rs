//! The JKS keystore format (Sun's `JavaKeyStore`), read and written without Java.
//!
//! ```text
//! u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 count, then count entries:
//!   u32 tag: 1 = private key, 2 = trusted certificate
//!   UTF alias, u64 creation time (ms)
//!   tag 1: u32 length, EncryptedPrivateKeyInfo (Sun's KeyProtector), u32 chain length,
//!          per certificate: [UTF type, version 2 only] u32 length, DER
//!   tag 2: [UTF type, version 2 only] u32 length, DER
//! 20 bytes: SHA-1(password as UTF-16BE || "Mighty Aphrodite" || everything before)
//! ```
//!
//! UTF strings are Java's modified UTF-8 with a u16 length. Private keys are protected
//! with Sun's KeyProtector (OID 1.3.6.1.4.1.42.2.17.1.1): a 20-byte random salt, the
//! PKCS#8 key XORed with the SHA-1 chain `d1 = SHA-1(pw || salt)`,
//! `d(i+1) = SHA-1(pw || d(i))`, and `SHA-1(pw || plain key)` appended as a check.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Encode, Sequence};
use rand_core::{OsRng, RngCore};
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifier;

/// Sun's proprietary key protection algorithm.
const KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
const MAGIC: u32 = 0xFEED_FEED;
const JCEKS_MAGIC: u32 = 0xCECE_CECE;
const WHITENER: &[u8] = b"Mighty Aphrodite";
const DIGEST_LEN: usize = 20;
const SALT_LEN: usize = 20;

/// One JKS entry.
#[derive(Clone, PartialEq, Eq)]
pub enum JksEntry {
    /// A private key (still protected: the EncryptedPrivateKeyInfo DER) with its chain.
    PrivateKey {
        alias: String,
        created_ms: u64,
        protected_key: Vec<u8>,
        chain: Vec<Vec<u8>>,
    },
    /// A trusted certificate.
    Certificate {
        alias: String,
        created_ms: u64,
        cert: Vec<u8>,
    },
}

impl std::fmt::Debug for JksEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Aliases only: even protected key bytes stay out of logs.
        match self {
            JksEntry::PrivateKey { alias, chain, .. } => {
                write!(f, "PrivateKey({alias}, {} certificates)", chain.len())
            }
            JksEntry::Certificate { alias, .. } => write!(f, "Certificate({alias})"),
        }
    }
}

/// Why a keystore could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JksError {
    /// Not a JKS file (the text says what it looks like instead).
    NotJks(String),
    /// Truncated or malformed.
    Malformed(String),
    /// The integrity digest does not match: wrong password or a tampered file.
    WrongPassword,
}

impl std::fmt::Display for JksError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JksError::NotJks(what) => write!(f, "not a JKS keystore: {what}"),
            JksError::Malformed(what) => write!(f, "the JKS keystore is malformed: {what}"),
            JksError::WrongPassword => f.write_str(
                "the keystore password is wrong (or the file was tampered with): \
                 its integrity check failed",
            ),
        }
    }
}

/// The password as Java hands it to the digests: UTF-16BE code units.
fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn integrity_digest(password: &str, data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut sha = Sha1::new();
    sha.update(password_bytes(password));
    sha.update(WHITENER);
    sha.update(data);
    sha.finalize().into()
}

/// Parse a keystore, verifying its integrity digest with `password` first.
pub fn read(bytes: &[u8], password: &str) -> Result<Vec<JksEntry>, JksError> {
    let mut r = Reader { bytes, pos: 0 };
    let magic = r.u32()?;
    if magic != MAGIC {
        return Err(JksError::NotJks(match magic {
            JCEKS_MAGIC => "this is a JCEKS keystore, which this plugin does not handle".into(),
            _ if bytes.first() == Some(&0x30) => "it looks like a PKCS#12 file".into(),
            _ => "the file does not start with the JKS magic number".into(),
        }));
    }
    if bytes.len() < 12 + DIGEST_LEN {
        return Err(JksError::Malformed("the file is too short".into()));
    }
    let (data, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
    if integrity_digest(password, data) != digest {
        return Err(JksError::WrongPassword);
    }
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(JksError::Malformed(format!("unknown version {version}")));
    }
    let count = r.u32()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let tag = r.u32()?;
        let alias = r.utf()?;
        let created_ms = r.u64()?;
        match tag {
            1 => {
                let len = r.u32()? as usize;
                let protected_key = r.take(len)?.to_vec();
                let chain_len = r.u32()?;
                let mut chain = Vec::new();
                for _ in 0..chain_len {
                    chain.push(r.certificate(version)?);
                }
                entries.push(JksEntry::PrivateKey {
                    alias,
                    created_ms,
                    protected_key,
                    chain,
                });
            }
            2 => entries.push(JksEntry::Certificate {
                alias,
                created_ms,
                cert: r.certificate(version)?,
            }),
            other => {
                return Err(JksError::Malformed(format!(
                    "entry `{alias}` has the unknown tag {other}"
                )));
            }
        }
    }
    if r.pos != data.len() {
        return Err(JksError::Malformed(
            "trailing bytes after the last entry".into(),
        ));
    }
    Ok(entries)
}

/// Encode a version-2 keystore with its integrity digest for `password`.
pub fn write(entries: &[JksEntry], password: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC.to_be_bytes());
    out.extend(2u32.to_be_bytes());
    out.extend((entries.len() as u32).to_be_bytes());
    for entry in entries {
        match entry {
            JksEntry::PrivateKey {
                alias,
                created_ms,
                protected_key,
                chain,
            } => {
                out.extend(1u32.to_be_bytes());
                write_utf(&mut out, alias);
                out.extend(created_ms.to_be_bytes());
                out.extend((protected_key.len() as u32).to_be_bytes());
                out.extend(protected_key);
                out.extend((chain.len() as u32).to_be_bytes());
                for cert in chain {
                    write_certificate(&mut out, cert);
                }
            }
            JksEntry::Certificate {
                alias,
                created_ms,
                cert,
            } => {
                out.extend(2u32.to_be_bytes());
                write_utf(&mut out, alias);
                out.extend(created_ms.to_be_bytes());
                write_certificate(&mut out, cert);
            }
        }
    }
    let digest = integrity_digest(password, &out);
    out.extend(digest);
    out
}

/// `EncryptedPrivateKeyInfo` as JKS stores it.
#[derive(Sequence)]
struct EncryptedPrivateKeyInfo {
    algorithm: AlgorithmIdentifier<Any>,
    encrypted_data: OctetString,
}

/// The SHA-1 keystream of Sun's KeyProtector, as long as `len`.
fn keystream(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut stream = Vec::with_capacity(len + DIGEST_LEN);
    let mut digest = salt.to_vec();
    while stream.len() < len {
        let mut sha = Sha1::new();
        sha.update(password);
        sha.update(&digest);
        digest = sha.finalize().to_vec();
        stream.extend(&digest);
    }
    stream.truncate(len);
    stream
}

/// Protect a PKCS#8 key with `password` (Sun's KeyProtector); returns the DER
/// EncryptedPrivateKeyInfo.
pub fn protect_key(pkcs8: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let pw = password_bytes(password);
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let stream = keystream(&pw, &salt, pkcs8.len());
    let mut sealed = salt.to_vec();
    sealed.extend(pkcs8.iter().zip(&stream).map(|(p, k)| p ^ k));
    let mut sha = Sha1::new();
    sha.update(&pw);
    sha.update(pkcs8);
    sealed.extend(sha.finalize());
    let info = EncryptedPrivateKeyInfo {
        algorithm: AlgorithmIdentifier {
            oid: KEY_PROTECTOR,
            parameters: Some(Any::null()),
        },
        encrypted_data: OctetString::new(sealed).map_err(|e| e.to_string())?,
    };
    info.to_der().map_err(|e| e.to_string())
}

/// Recover the PKCS#8 key protected with `password`. The plugin never needs to: keys
/// already in a store are carried over sealed, so this is the check of [`protect_key`].
#[cfg(test)]
fn recover_key(protected: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let info = <EncryptedPrivateKeyInfo as der::Decode>::from_der(protected)
        .map_err(|e| format!("the protected key does not parse: {e}"))?;
    if info.algorithm.oid != KEY_PROTECTOR {
        return Err(format!(
            "the key is protected with {}, not Sun's JKS key protector",
            info.algorithm.oid
        ));
    }
    let sealed = info.encrypted_data.as_bytes();
    if sealed.len() < SALT_LEN + DIGEST_LEN {
        return Err("the protected key is too short".into());
    }
    let pw = password_bytes(password);
    let (salt, rest) = sealed.split_at(SALT_LEN);
    let (encrypted, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let stream = keystream(&pw, salt, encrypted.len());
    let plain: Vec<u8> = encrypted.iter().zip(&stream).map(|(c, k)| c ^ k).collect();
    let mut sha = Sha1::new();
    sha.update(&pw);
    sha.update(&plain);
    if sha.finalize().as_slice() != check {
        return Err("the key password is wrong".into());
    }
    Ok(plain)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], JksError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| JksError::Malformed("the file ends in the middle of an entry".into()))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, JksError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, JksError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn utf(&mut self) -> Result<String, JksError> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize;
        decode_modified_utf8(self.take(len)?)
            .ok_or_else(|| JksError::Malformed("an alias is not valid modified UTF-8".into()))
    }

    fn certificate(&mut self, version: u32) -> Result<Vec<u8>, JksError> {
        if version == 2 {
            let kind = self.utf()?;
            if kind != "X.509" {
                return Err(JksError::Malformed(format!(
                    "a certificate of type `{kind}` (only X.509 is supported)"
                )));
            }
        }
        let len = self.u32()? as usize;
        Ok(self.take(len)?.to_vec())
    }
}

fn write_certificate(out: &mut Vec<u8>, der: &[u8]) {
    write_utf(out, "X.509");
    out.extend((der.len() as u32).to_be_bytes());
    out.extend(der);
}

/// Java's `DataOutput.writeUTF`: NUL as C0 80, characters beyond the BMP as two
/// 3-byte surrogates.
fn write_utf(out: &mut Vec<u8>, text: &str) {
    let mut encoded = Vec::new();
    for unit in text.encode_utf16() {
        match unit {
            0x0001..=0x007F => encoded.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                encoded.push(0xC0 | (unit >> 6) as u8);
                encoded.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                encoded.push(0xE0 | (unit >> 12) as u8);
                encoded.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                encoded.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    out.extend((encoded.len() as u16).to_be_bytes());
    out.extend(encoded);
}

fn decode_modified_utf8(bytes: &[u8]) -> Option<String> {
    let mut units = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (unit, width) = if b & 0x80 == 0 {
            (u16::from(b), 1)
        } else if b & 0xE0 == 0xC0 {
            let b2 = *bytes.get(i + 1)?;
            ((u16::from(b & 0x1F) << 6) | u16::from(b2 & 0x3F), 2)
        } else if b & 0xF0 == 0xE0 {
            let (b2, b3) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
            (
                (u16::from(b & 0x0F) << 12) | (u16::from(b2 & 0x3F) << 6) | u16::from(b3 & 0x3F),
                3,
            )
        } else {
            return None;
        };
        units.push(unit);
        i += width;
    }
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_round_trips() {
        for text in ["server", "Ünïcødé", "nul\0in", "emoji 🔑"] {
            let mut out = Vec::new();
            write_utf(&mut out, text);
            assert_eq!(decode_modified_utf8(&out[2..]).as_deref(), Some(text));
        }
    }

    #[test]
    fn key_protection_round_trips_and_checks_the_password() {
        let key = vec![7u8; 77];
        let sealed = protect_key(&key, "changeit").unwrap();
        assert_eq!(recover_key(&sealed, "changeit").unwrap(), key);
        assert!(recover_key(&sealed, "wrong").is_err());
    }

    #[test]
    fn the_digest_catches_a_wrong_password() {
        let entries = vec![JksEntry::Certificate {
            alias: "ca".into(),
            created_ms: 1,
            cert: vec![0x30, 0],
        }];
        let bytes = write(&entries, "changeit");
        assert!(read(&bytes, "changeit").unwrap() == entries);
        assert_eq!(read(&bytes, "nope").unwrap_err(), JksError::WrongPassword);
    }
}

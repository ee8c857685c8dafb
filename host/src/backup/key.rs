//! The backup key: what encrypts a backup and what `keywarden restore` needs to read it.
//!
//! Backups are [age](https://age-encryption.org/v1) files: a header wrapping a random file
//! key for the key holder, then the payload in 64 KiB chunks, each sealed with
//! ChaCha20-Poly1305 (STREAM), the last one marked as last. So a wrong key fails at the
//! header, and an altered or truncated file fails at the chunk it touches or at the end,
//! and `age -d` (the reference CLI, a Debian package) reads a backup without Keywarden.
//! The `age` crate was chosen over hand-assembling `chacha20poly1305`'s `stream` feature
//! for that: the format, key wrapping and passphrase KDF (scrypt) are specified and
//! audited, and nothing here invents a file format for secrets.
//!
//! A key is either an age X25519 identity (`AGE-SECRET-KEY-1...`, from `age-keygen`: fast,
//! meant for machines) or a passphrase (scrypt, work factor tuned to about a second).

use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::SecretString;

/// Shortest passphrase accepted: a backup holds every account's data.
pub const MIN_PASSPHRASE_CHARS: usize = 16;

/// A backup key. Its `Debug` shows only the kind, never the value.
pub enum BackupKey {
    /// An age X25519 identity.
    Identity(Box<age::x25519::Identity>),
    /// A passphrase.
    Passphrase(SecretString),
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupKey::Identity(_) => "BackupKey::Identity(..)",
            BackupKey::Passphrase(_) => "BackupKey::Passphrase(..)",
        })
    }
}

/// Why a value cannot be a backup key (never quoting the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the backup key is empty")]
    Empty,
    #[error(
        "the backup key looks like an age identity (AGE-SECRET-KEY-1...) but does not parse as one"
    )]
    BadIdentity,
    /// The length is kept for tests but never shown: it would tell something of a secret.
    #[error(
        "the backup key is a passphrase shorter than {MIN_PASSPHRASE_CHARS} characters; use a longer one, or an age identity from age-keygen"
    )]
    ShortPassphrase(usize),
}

impl BackupKey {
    /// Reads a key from a secret's value (surrounding white space ignored; in a file,
    /// `age-keygen`'s comment lines too).
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        let lines: Vec<&str> = value
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let text = if lines.len() == 1 {
            lines[0]
        } else {
            value.trim()
        };
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
            return age::x25519::Identity::from_str(text)
                .map(|i| BackupKey::Identity(Box::new(i)))
                .map_err(|_| KeyError::BadIdentity);
        }
        let chars = text.chars().count();
        if chars < MIN_PASSPHRASE_CHARS {
            return Err(KeyError::ShortPassphrase(chars));
        }
        Ok(BackupKey::Passphrase(SecretString::from(text.to_owned())))
    }

    /// Wraps `out` so what is written to it is encrypted for this key; call
    /// `finish()` on the result to seal the last chunk.
    pub fn encrypt<W: Write>(&self, out: W) -> std::io::Result<age::stream::StreamWriter<W>> {
        let encryptor = match self {
            BackupKey::Identity(identity) => {
                let recipient = identity.to_public();
                age::Encryptor::with_recipients(std::iter::once(&recipient as _))
                    .map_err(std::io::Error::other)?
            }
            BackupKey::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
        };
        encryptor.wrap_output(out)
    }

    /// Opens `input` for reading with this key: fails at once for a wrong key or a file
    /// that is not an age file; the reader then fails on any chunk that was altered and
    /// at the end of a truncated file.
    pub fn decrypt<R: Read>(&self, input: R) -> Result<age::stream::StreamReader<R>, String> {
        let decryptor = age::Decryptor::new(input)
            .map_err(|e| format!("not a Keywarden backup (age file): {e}"))?;
        let wrong = |e: age::DecryptError| match e {
            age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                "the backup key does not open this backup (wrong key)".to_owned()
            }
            other => format!("the backup cannot be opened: {other}"),
        };
        match self {
            BackupKey::Identity(identity) => {
                if decryptor.is_scrypt() {
                    return Err(
                        "the backup is encrypted with a passphrase, not an age identity (wrong key)"
                            .to_owned(),
                    );
                }
                decryptor
                    .decrypt(std::iter::once(identity.as_ref() as &dyn age::Identity))
                    .map_err(wrong)
            }
            BackupKey::Passphrase(p) => {
                if !decryptor.is_scrypt() {
                    return Err(
                        "the backup is encrypted for an age identity, not a passphrase (wrong key)"
                            .to_owned(),
                    );
                }
                let identity = age::scrypt::Identity::new(p.clone());
                decryptor
                    .decrypt(std::iter::once(&identity as &dyn age::Identity))
                    .map_err(wrong)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_identities_or_long_passphrases_and_never_shown() {
        let identity = age::x25519::Identity::generate();
        let text = {
            use age::secrecy::ExposeSecret;
            identity.to_string().expose_secret().to_owned()
        };
        let file = format!("# created: today\n# public key: age1...\n{text}\n");
        let key = BackupKey::parse(&file).unwrap();
        assert!(matches!(key, BackupKey::Identity(_)));
        assert!(!format!("{key:?}").contains("AGE-SECRET"));
        assert_eq!(
            BackupKey::parse("AGE-SECRET-KEY-1NOPE").unwrap_err(),
            KeyError::BadIdentity
        );
        assert_eq!(
            BackupKey::parse("short").unwrap_err(),
            KeyError::ShortPassphrase(5)
        );
        assert_eq!(BackupKey::parse(" \n").unwrap_err(), KeyError::Empty);
        let pass = BackupKey::parse("correct horse battery staple").unwrap();
        assert_eq!(format!("{pass:?}"), "BackupKey::Passphrase(..)");

        let mut sealed = Vec::new();
        let mut w = key.encrypt(&mut sealed).unwrap();
        w.write_all(b"every table").unwrap();
        w.finish().unwrap();
        let mut plain = String::new();
        key.decrypt(&sealed[..])
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "every table");
        let other = BackupKey::parse(&{
            use age::secrecy::ExposeSecret;
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
                .to_owned()
        })
        .unwrap();
        let err = other.decrypt(&sealed[..]).map(|_| ()).unwrap_err();
        assert!(err.contains("wrong key"), "{err}");
        let err = pass.decrypt(&sealed[..]).map(|_| ()).unwrap_err();
        assert!(err.contains("wrong key"), "{err}");
        // Truncated: the reader fails at the end.
        let mut plain = Vec::new();
        let cut = &sealed[..sealed.len() - 1];
        assert!(key.decrypt(cut).unwrap().read_to_end(&mut plain).is_err());
    }
}

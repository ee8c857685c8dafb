//! API tokens: who a bearer token is, and issuing new ones (admins only).
//!
//! Tokens are 32 random bytes from the OS, shown to the caller once; the database keeps
//! only their SHA-256, so a database leak yields no usable token.

use base64::Engine as _;
use keywarden_db::ApiToken;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Caller, DomainError, DomainResult, Field, Service};

/// A fresh token secret: `kw_` + 32 random bytes in base64url (no padding).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "kw_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Lower-case hex SHA-256 of a token secret, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Account names are part of resource URIs, so they are kept to a safe alphabet.
pub fn valid_account(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Service {
    /// The caller a bearer token stands for, or `None` for an unknown token.
    pub async fn authenticate(&self, token: &str) -> DomainResult<Option<Caller>> {
        Ok(self
            .db
            .find_token_by_hash(&hash_token(token))
            .await?
            .map(|t| Caller {
                account: t.account_id,
                admin: t.is_admin,
            }))
    }

    /// Issues a token for `account` (created on first use); only admins may. Returns the
    /// stored record and the secret, which is not kept.
    pub async fn issue_token(
        &self,
        caller: &Caller,
        account: &str,
        label: &str,
        admin: bool,
    ) -> DomainResult<(ApiToken, String)> {
        if !caller.admin {
            return Err(DomainError::Forbidden(
                "only admin tokens may issue tokens".to_owned(),
            ));
        }
        let account = account.trim();
        if !valid_account(account) {
            return Err(DomainError::invalid(
                Field::Account,
                "expected 1-64 characters from A-Z, a-z, 0-9, '-', '_' and '.'",
            ));
        }
        if label.contains('\0') {
            return Err(DomainError::invalid(
                Field::Label,
                "must not contain the NUL character (U+0000)",
            ));
        }
        let token = generate_token();
        let stored = self
            .db
            .create_token(account, &hash_token(&token), admin, label.trim())
            .await?;
        tracing::info!(account, admin, id = %stored.id, "token issued");
        Ok((stored, token))
    }
}

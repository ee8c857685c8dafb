//! API tokens: who a bearer token is; issuing, listing and revoking them (admins only).
//!
//! Tokens are 32 random bytes from the OS, shown to the caller once; the database keeps
//! only their SHA-256, so a database leak yields no usable token. Each has a role
//! (read-only, operator, admin), may expire, and may be revoked; issuing and revoking are
//! written to the audit log with who did it.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use keywarden_db::{ApiToken, NewAuditEntry, NewToken, TokenRole};
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

/// A token to issue.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub account: String,
    pub label: String,
    pub role: TokenRole,
    /// Unusable from this instant; `None`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Service {
    /// The caller a bearer token stands for, or `None` for an unknown, revoked or expired
    /// token.
    pub async fn authenticate(&self, token: &str) -> DomainResult<Option<Caller>> {
        Ok(self
            .db
            .find_token_by_hash(&hash_token(token))
            .await?
            .filter(|t| t.usable_at(Utc::now()))
            .map(|t| Caller::new(&t.account_id, t.role, &t.id)))
    }

    /// Issues a token (its account created on first use); only admins may. Returns the
    /// stored record and the secret, which is not kept. Audited, with the issuer.
    pub async fn issue_token(
        &self,
        caller: &Caller,
        spec: TokenSpec,
    ) -> DomainResult<(ApiToken, String)> {
        require_admin(caller, "issue tokens")?;
        let account = spec.account.trim();
        if !valid_account(account) {
            return Err(DomainError::invalid(
                Field::Account,
                "expected 1-64 characters from A-Z, a-z, 0-9, '-', '_' and '.'",
            ));
        }
        if spec.label.contains('\0') {
            return Err(DomainError::invalid(
                Field::Label,
                "must not contain the NUL character (U+0000)",
            ));
        }
        let token = generate_token();
        let stored = self
            .db
            .create_token(&NewToken {
                account_id: account,
                token_hash: &hash_token(&token),
                role: spec.role,
                label: spec.label.trim(),
                expires_at: spec.expires_at,
            })
            .await?;
        self.audit(
            caller,
            "token issued",
            &stored.id,
            "issued",
            serde_json::json!({
                "account": stored.account_id,
                "role": stored.role,
                "label": stored.label,
                "expires_at": stored.expires_at,
            }),
        )
        .await?;
        tracing::info!(account, role = %stored.role, id = %stored.id, by = %caller.token_id, "token issued");
        Ok((stored, token))
    }

    /// Every token (of `account` when given), without secrets; only admins may.
    pub async fn tokens(
        &self,
        caller: &Caller,
        account: Option<&str>,
    ) -> DomainResult<Vec<ApiToken>> {
        require_admin(caller, "list tokens")?;
        Ok(self.db.list_tokens(account).await?)
    }

    /// Revokes a token from now on; only admins may. Audited.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> DomainResult<ApiToken> {
        require_admin(caller, "revoke tokens")?;
        if id == caller.token_id {
            // An admin locking itself out by mistake is worse than asking another token.
            return Err(DomainError::conflict(
                Field::Token,
                "a token does not revoke itself: revoke it with another admin token",
            ));
        }
        let revoked = self
            .db
            .revoke_token(None, id, Utc::now())
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no token with id {id}")))?;
        self.audit(
            caller,
            "token revoked",
            id,
            "revoked",
            serde_json::json!({"account": revoked.account_id, "role": revoked.role}),
        )
        .await?;
        Ok(revoked)
    }

    /// Appends one entry to the audit log for what `caller` did.
    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        result: &str,
        detail: serde_json::Value,
    ) -> DomainResult<()> {
        self.db
            .append_audit(&[NewAuditEntry {
                at: Utc::now(),
                account_id: caller.account.clone(),
                token_id: (!caller.token_id.is_empty()).then(|| caller.token_id.clone()),
                action: action.to_owned(),
                target: target.to_owned(),
                result: result.to_owned(),
                detail,
            }])
            .await?;
        Ok(())
    }
}

fn require_admin(caller: &Caller, what: &str) -> DomainResult<()> {
    if caller.admin {
        return Ok(());
    }
    Err(DomainError::Forbidden(format!(
        "only admin tokens may {what}"
    )))
}

//! Registration credentials: what an agent presents (HTTP basic auth) at its first
//! registration, before it holds a client certificate. Created by admins for an account;
//! the secret is shown once and only its SHA-256 is kept, like API tokens.

use chrono::Utc;
use keywarden_db::RegistrationCredential;

use super::super::tokens::{generate_token, hash_token, valid_account};
use super::super::{Caller, DomainError, DomainResult, Field, Service};

/// A credential as created: its username and the secret, shown once.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub username: String,
    pub account: String,
    pub client_machine: Option<String>,
    pub password: String,
}

/// Usernames travel in HTTP basic auth (`user:password`), so no colon, and are shown in
/// agent listings, so a printable, bounded alphabet.
fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '\\'))
}

impl Service {
    /// Creates a registration credential for `account` (the caller's by default); admins
    /// only. `Conflict` when the username is taken.
    pub async fn create_registration_credential(
        &self,
        caller: &Caller,
        username: &str,
        account: Option<&str>,
        client_machine: Option<&str>,
    ) -> DomainResult<NewCredential> {
        if !caller.admin {
            return Err(DomainError::Forbidden(
                "only admin tokens may create registration credentials".to_owned(),
            ));
        }
        let account = account.map(str::trim).unwrap_or(&caller.account);
        if !valid_account(account) {
            return Err(DomainError::invalid(
                Field::Account,
                "expected 1-64 characters from A-Z, a-z, 0-9, '-', '_' and '.'",
            ));
        }
        if !valid_username(username) {
            return Err(DomainError::invalid(
                Field::Username,
                "expected 1-128 characters from A-Z, a-z, 0-9, '-', '_', '.', '@' and '\\'",
            ));
        }
        let client_machine = client_machine.map(str::trim).filter(|m| !m.is_empty());
        if client_machine
            .is_some_and(|m| m.chars().count() > 255 || m.chars().any(char::is_control))
        {
            return Err(DomainError::invalid(
                Field::ClientMachine,
                "expected at most 255 printable characters",
            ));
        }
        let password = generate_token();
        self.db.ensure_account(account).await?;
        self.db
            .insert_registration_credential(&RegistrationCredential {
                username: username.to_owned(),
                account_id: account.to_owned(),
                secret_hash: hash_token(&password),
                client_machine: client_machine.map(str::to_owned),
                created_at: Utc::now(),
            })
            .await
            .map_err(|e| match DomainError::from(e) {
                DomainError::Conflict { reason, .. } => {
                    DomainError::conflict(Field::Username, reason)
                }
                other => other,
            })?;
        Ok(NewCredential {
            username: username.to_owned(),
            account: account.to_owned(),
            client_machine: client_machine.map(str::to_owned),
            password,
        })
    }

    /// Revokes a registration credential (admins only): no agent registers with it any
    /// more; agents it registered keep their certificates.
    pub async fn delete_registration_credential(
        &self,
        caller: &Caller,
        username: &str,
    ) -> DomainResult<()> {
        if !caller.admin {
            return Err(DomainError::Forbidden(
                "only admin tokens may revoke registration credentials".to_owned(),
            ));
        }
        if self
            .db
            .delete_registration_credential(None, username)
            .await?
        {
            Ok(())
        } else {
            Err(DomainError::not_found_at(
                Field::Username,
                format!("no registration credential {username:?}"),
            ))
        }
    }

    /// The account a username and password register agents into, or `None` when they
    /// do not match a credential. Compares hashes in constant time.
    pub(crate) async fn check_registration_credential(
        &self,
        username: &str,
        password: &str,
    ) -> DomainResult<Option<RegistrationCredential>> {
        let Some(stored) = self.db.find_registration_credential(username).await? else {
            return Ok(None);
        };
        let presented = hash_token(password);
        let same = presented.len() == stored.secret_hash.len()
            && presented
                .bytes()
                .zip(stored.secret_hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        Ok(same.then_some(stored))
    }
}

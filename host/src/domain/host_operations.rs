//! Host operations: operations built into the server instead of served by a plugin
//! (today only CipherTrust's `database_backup`, `crate::backup`). The domain offers them
//! beside the plugins' operations and checks their rules here, where every other
//! operation's are checked:
//!
//! - **Admin only.** A backup reads every account's data, so only the `admin` account
//!   (the operator's) may hold configs or jobs of it, and only its callers may create,
//!   change, delete, run or rerun them (`check_host_caller`); `[accounts.*]` tables
//!   cannot grant it. A team gets 403 naming the rule, whatever its token's role.
//! - **Params that can run.** The schema (with the configured secrets and connections),
//!   then what a schema cannot say: the key secret's value is a usable backup key.

use serde_json::Value;

use super::caller::Caller;
use super::catalog::OfferedOperation;
use super::configs::check_schema;
use super::{DomainError, DomainResult, Field, Service};
use crate::backup::key::BackupKey;
use crate::backup::operation::{self, BackupParams, DATABASE_BACKUP};
use crate::plugins::Family;
use crate::tenancy::access::ADMIN_ACCOUNT;

/// Whether `operation` is built into the server.
pub fn is_host_operation(operation: &str) -> bool {
    operation == DATABASE_BACKUP
}

impl Service {
    fn configured_secrets(&self) -> Vec<String> {
        self.registry
            .runtime()
            .config()
            .secrets
            .keys()
            .cloned()
            .collect()
    }

    /// Whether secret `name`'s value can serve as a backup key: `Err` says why not
    /// (never quoting the value).
    fn usable_backup_key(&self, name: &str) -> Result<(), String> {
        let value = self
            .registry
            .runtime()
            .services()
            .secrets
            .resolve(name)
            .ok_or_else(|| format!("secret {name:?} has no value on this server"))?;
        BackupKey::parse(&value)
            .map(drop)
            .map_err(|e| format!("secret {name:?}: {e}"))
    }

    /// The configured secrets whose values are usable backup keys: what the offer lists
    /// for `backupKey`, so a request the contract calls valid is one the server takes.
    fn backup_key_secrets(&self) -> Vec<String> {
        self.configured_secrets()
            .into_iter()
            .filter(|s| self.usable_backup_key(s).is_ok())
            .collect()
    }

    /// The host operations as the API offers them (for admins; `offer_for` leaves
    /// them out for anyone else).
    pub(crate) fn host_offer(&self) -> Vec<OfferedOperation> {
        let config = self.registry.runtime().config();
        operation::params_schema(&self.backup_key_secrets(), &config.backup)
            .map(|params_schema| OfferedOperation {
                name: DATABASE_BACKUP.to_owned(),
                family: Family::Custom,
                target: None,
                params_schema,
                default_for_name: true,
                host: true,
            })
            .into_iter()
            .collect()
    }

    /// `account` may run host operations (403 naming the rule otherwise).
    pub(crate) fn check_host_account(&self, account: &str, operation: &str) -> DomainResult<()> {
        if account == ADMIN_ACCOUNT {
            return Ok(());
        }
        Err(DomainError::denied(
            Field::Operation,
            format!(
                "{operation} is reserved to the {ADMIN_ACCOUNT} account: it reads every \
                 account's data, and no [accounts.{account}] table can grant it"
            ),
        ))
    }

    /// The caller may touch a config or job of `operation` (create, change, delete, run,
    /// rerun): for a host operation, only callers of the admin account, whatever their
    /// role. An admin-role token of a team sees every account but is still the team's.
    pub(crate) fn check_host_caller(&self, caller: &Caller, operation: &str) -> DomainResult<()> {
        if is_host_operation(operation) {
            self.check_host_account(&caller.account, operation)
        } else {
            Ok(())
        }
    }

    /// Checks a config or job of host operation `operation` for `account`.
    pub(crate) fn check_host_operation(
        &self,
        account: &str,
        operation: &str,
        params: &Value,
    ) -> DomainResult<()> {
        self.check_host_account(account, operation)?;
        let config = self.registry.runtime().config();
        let secrets = self.configured_secrets();
        let key_field = || Field::param(&["backupKey"]);
        // Clearer words for the mistakes a schema would only call "not in the enum".
        if let Some(name) = params.get("backupKey").and_then(Value::as_str) {
            if !secrets.iter().any(|s| s == name) {
                let configured = if secrets.is_empty() {
                    "none".to_owned()
                } else {
                    secrets.join(", ")
                };
                return Err(DomainError::unprocessable(
                    key_field(),
                    format!(
                        "secret {name:?} is not configured ([secrets]); configured: {configured}"
                    ),
                ));
            }
            self.usable_backup_key(name)
                .map_err(|why| DomainError::unprocessable(key_field(), why))?;
        }
        let Some(schema) = operation::params_schema(&self.backup_key_secrets(), &config.backup)
        else {
            return Err(DomainError::unprocessable(
                key_field(),
                "no secret on this server holds a usable backup key ([secrets]: an age \
                 identity, or a passphrase of 16 or more characters)",
            ));
        };
        if let Some(name) = params.get("connection").and_then(Value::as_str)
            && !config.backup.connections.contains_key(name)
        {
            let known: Vec<&str> = config
                .backup
                .connections
                .keys()
                .map(String::as_str)
                .collect();
            return Err(DomainError::unprocessable(
                Field::param(&["connection"]),
                format!(
                    "connection {name:?} is not configured ([backup.connections]); configured: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        if params.get("do_scp") == Some(&Value::Bool(true))
            && params.get("connection").is_none_or(Value::is_null)
        {
            return Err(DomainError::unprocessable(
                Field::param(&["connection"]),
                "is required with do_scp: name a [backup.connections] entry",
            ));
        }
        check_schema(&schema, params, Field::Params)?;
        // The schema fits the params; they deserialize.
        serde_json::from_value::<BackupParams>(params.clone())
            .map_err(|e| DomainError::unprocessable(Field::Params(Vec::new()), e))?;
        Ok(())
    }
}

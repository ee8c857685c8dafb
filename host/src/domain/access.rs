//! The caller's account's grants, asked before anything is stored or queued (the
//! executor asks [`crate::tenancy::access`] again when the job runs). Refusals are 403s
//! naming the rule: the `[accounts.NAME...]` table an operator would change.

use serde_json::Value;

use super::{DomainError, DomainResult, Field, Service};
use crate::plugins::LoadedPlugin;
use crate::runtime::sandbox::PreparedGrants;
use crate::tenancy::access::{self, AccountGrants, Denied};
use crate::tenancy::issuance::{AccountIssuance, Requested};

impl Service {
    /// What `account`'s jobs of `operation` get from `plugin`, or 403 naming the rule.
    pub(crate) fn account_grants<'a>(
        &'a self,
        account: &str,
        plugin: &'a LoadedPlugin,
        operation: &str,
    ) -> DomainResult<AccountGrants<'a>> {
        access::effective_grants(
            self.registry.runtime().config(),
            account,
            &plugin.name,
            &plugin.grants,
            operation,
        )
        .map_err(|d| denied(Field::Operation, d))
    }

    /// [`account_grants`](Self::account_grants), owned, with pinned params set in
    /// `params` (refused when they hold another value).
    pub(crate) fn account_job_grants(
        &self,
        account: &str,
        plugin: &LoadedPlugin,
        operation: &str,
        params: Option<&mut Value>,
    ) -> DomainResult<PreparedGrants> {
        let granted = self.account_grants(account, plugin, operation)?;
        if let Some(params) = params {
            granted
                .apply_pinned(params)
                .map_err(|d| denied(Field::Params(Vec::new()), d))?;
        }
        Ok(granted.grants.into_owned())
    }

    /// The account may hand `secret` to `plugin`'s `operation` jobs (the plugin itself
    /// being granted it is checked apart, as a 422).
    pub(crate) fn check_account_secret(
        &self,
        account: &str,
        plugin: &LoadedPlugin,
        operation: &str,
        secret: &str,
        field: Field,
    ) -> DomainResult<()> {
        let granted = self.account_grants(account, plugin, operation)?;
        if granted.grant.is_none() || granted.grants.secrets.contains(secret) {
            return Ok(());
        }
        Err(DomainError::denied(
            field,
            format!(
                "account {account:?} may not use secret {secret:?} \
                 (not in [accounts.{account}.plugins.{}] secrets)",
                plugin.name
            ),
        ))
    }

    /// The account names `secret` in one of its plugin grants (the admin account may use
    /// any): for a request no loaded plugin serves yet, so there is no plugin to ask.
    pub(crate) fn check_account_secret_anywhere(
        &self,
        account: &str,
        secret: &str,
        field: Field,
    ) -> DomainResult<()> {
        if account == access::ADMIN_ACCOUNT {
            return Ok(());
        }
        let granted = access::account(self.registry.runtime().config(), account).is_some_and(|a| {
            a.plugins
                .values()
                .any(|g| g.secrets.iter().any(|s| s == secret))
        });
        if granted {
            return Ok(());
        }
        Err(DomainError::denied(
            field,
            format!(
                "account {account:?} may not use secret {secret:?} \
                 (not in any [accounts.{account}.plugins.*] secrets)"
            ),
        ))
    }

    /// `path` (as plugins see it) lies in a directory the account's grant of `plugin`
    /// names (the plugin's own directories are checked apart, as a 422).
    pub(crate) fn check_account_path(
        &self,
        account: &str,
        plugin: &LoadedPlugin,
        operation: &str,
        path: &str,
        field: Field,
    ) -> DomainResult<()> {
        let granted = self.account_grants(account, plugin, operation)?;
        if granted.grant.is_none() || access::path_granted(&granted.grants, path) {
            return Ok(());
        }
        let dirs: Vec<&str> = granted
            .grants
            .dirs
            .iter()
            .map(|d| d.guest.as_str())
            .collect();
        Err(DomainError::denied(
            field,
            format!(
                "{path} is outside the directories of account {account:?} for plugin {} ({}; \
                 [accounts.{account}.plugins.{}] dirs)",
                plugin.name,
                if dirs.is_empty() {
                    "none".to_owned()
                } else {
                    dirs.join(", ")
                },
                plugin.name
            ),
        ))
    }

    /// The account's authorities and issuance policies (`None`: unrestricted, the admin
    /// account).
    pub(crate) fn account_issuance(&self, account: &str) -> Option<AccountIssuance> {
        if account == access::ADMIN_ACCOUNT {
            return None;
        }
        let authorities = access::account(self.registry.runtime().config(), account)
            .map(|a| a.authorities.clone())
            .unwrap_or_default();
        Some(AccountIssuance::new(account, authorities))
    }

    /// A certificate request (before a CSR exists) within the account's issuance policy
    /// for `authority` (the default authority when `None`).
    pub(crate) fn check_issuance(
        &self,
        account: &str,
        authority: Option<&str>,
        requested: &Requested,
        field: Field,
    ) -> DomainResult<()> {
        let Some(issuance) = self.account_issuance(account) else {
            return Ok(());
        };
        let config = self.registry.runtime().config();
        let name = authority
            .map(str::to_owned)
            .or_else(|| config.default_authority.clone())
            .or_else(|| {
                (config.authorities.len() == 1)
                    .then(|| config.authorities.keys().next().cloned())
                    .flatten()
            })
            .ok_or_else(|| {
                DomainError::denied(
                    field.clone(),
                    "name a certificate authority: the server has no default one",
                )
            })?;
        issuance
            .check(&name, requested)
            .map(|_| ())
            .map_err(|why| DomainError::denied(field, why))
    }
}

/// A refusal of the account's grants as a 403: on the param it names, else on `field`.
pub(crate) fn denied(field: Field, d: Denied) -> DomainError {
    let field = match d.param {
        Some(path) => Field::Params(path),
        None => field,
    };
    DomainError::denied(field, d.reason)
}

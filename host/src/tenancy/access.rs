//! What one account's jobs may use of one plugin: the plugin's own grants for the `admin`
//! account, else the part the account's `[accounts.NAME.plugins.PLUGIN]` table names. The
//! domain service asks before anything is stored or queued, the executor again when the
//! job runs (the operator may have changed the grants since), and both get the same answer
//! from [`effective_grants`].

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use super::config::{AccountConfig, AccountPluginGrant};
use super::issuance::AccountIssuance;
use super::pinned;
use crate::discovery::scope::ProbeScope;
use crate::operator_config::{DirGrant, OperatorConfig};
use crate::runtime::capabilities::http::HostAllowlist;
use crate::runtime::sandbox::PreparedGrants;

/// The account whose jobs run with the plugins' own grants (the bootstrap token's).
pub const ADMIN_ACCOUNT: &str = "admin";

/// A request or job the account's grants do not allow; the message names the rule (the
/// TOML table an operator would change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Denied {
    /// Where in the request the refused value is (`["aws_param", "tags", "team"]`), when
    /// it is one value.
    pub param: Option<Vec<String>>,
    pub reason: String,
}

impl Denied {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            param: None,
            reason: reason.into(),
        }
    }
}

/// The grants of one account for one plugin, ready for a sandbox.
#[derive(Debug, Clone)]
pub struct AccountGrants<'a> {
    /// What the sandbox gets (the plugin's own for the admin account).
    pub grants: Cow<'a, PreparedGrants>,
    /// The account's table for the plugin; `None` for the admin account.
    pub grant: Option<&'a AccountPluginGrant>,
}

impl AccountGrants<'_> {
    /// Sets the pinned params the account's grant requires in `params` (see
    /// [`pinned::apply`]).
    pub fn apply_pinned(&self, params: &mut serde_json::Value) -> Result<(), Denied> {
        match self.grant {
            Some(grant) if !grant.pinned_params.is_empty() => {
                pinned::apply(&grant.pinned_params, params)
            }
            _ => Ok(()),
        }
    }
}

/// The account's table, if the operator wrote one.
pub fn account<'a>(config: &'a OperatorConfig, name: &str) -> Option<&'a AccountConfig> {
    config.accounts.get(name)
}

/// What `account` may use of `plugin` (loaded with `plugin_grants`) for `operation`, or
/// why it may not run it at all.
pub fn effective_grants<'a>(
    config: &'a OperatorConfig,
    account: &str,
    plugin: &str,
    plugin_grants: &'a PreparedGrants,
    operation: &str,
) -> Result<AccountGrants<'a>, Denied> {
    if account == ADMIN_ACCOUNT {
        return Ok(AccountGrants {
            grants: Cow::Borrowed(plugin_grants),
            grant: None,
        });
    }
    let Some(table) = config.accounts.get(account) else {
        return Err(Denied::new(format!(
            "account {account:?} is granted nothing on this server (no [accounts.{account}] table in the operator config)"
        )));
    };
    let Some(grant) = table.plugins.get(plugin) else {
        return Err(Denied::new(format!(
            "account {account:?} may not use plugin {plugin:?} (no [accounts.{account}.plugins.{plugin}] grant)"
        )));
    };
    if !grant.operations.is_empty() && !grant.operations.iter().any(|o| o == operation) {
        return Err(Denied::new(format!(
            "account {account:?} may not run operation {operation:?} of plugin {plugin:?} \
             ([accounts.{account}.plugins.{plugin}] operations: {})",
            grant.operations.join(", ")
        )));
    }
    Ok(AccountGrants {
        grants: Cow::Owned(narrow(plugin_grants, account, grant, table)),
        grant: Some(grant),
    })
}

/// The plugin's grants cut down to the account's part of them. The account's table was
/// checked against the plugin's at start-up ([`check_accounts`]); anything it names that
/// the plugin lacks is still dropped here.
fn narrow(
    plugin: &PreparedGrants,
    name: &str,
    grant: &AccountPluginGrant,
    account: &AccountConfig,
) -> PreparedGrants {
    let dirs = grant
        .dirs
        .iter()
        .filter_map(|dir| narrowed_dir(&plugin.dirs, dir))
        .collect();
    let secrets = grant
        .secrets
        .iter()
        .filter(|s| plugin.secrets.contains(*s))
        .cloned()
        .collect();
    let outbound: Vec<String> = grant
        .outbound_hosts
        .iter()
        .filter(|h| plugin_outbound_has(plugin, h))
        .cloned()
        .collect();
    let mut settings = (*plugin.settings).clone();
    settings.extend(grant.settings.clone());
    PreparedGrants {
        outbound: Arc::new(HostAllowlist::new(&outbound)),
        dirs,
        secrets: Arc::new(secrets),
        settings: Arc::new(settings),
        tls_probe: plugin.tls_probe && grant.tls_probe,
        probe_scope: narrowed_scope(plugin, grant),
        probe_limits: plugin.probe_limits,
        csr_enrollment: plugin.csr_enrollment && !account.authorities.is_empty(),
        limits: plugin.limits,
        issuance: Some(Arc::new(AccountIssuance::new(
            name,
            account.authorities.clone(),
        ))),
        outbound_entries: Arc::new(outbound),
    }
}

/// The account's networks and ports where it names them, else the plugin's; nothing when
/// they do not lie within the plugin's (refused at start-up by [`check_accounts`]).
fn narrowed_scope(plugin: &PreparedGrants, grant: &AccountPluginGrant) -> Arc<ProbeScope> {
    Arc::new(
        plugin
            .probe_scope
            .narrowed(&grant.tls_networks, &grant.tls_ports)
            .unwrap_or_default(),
    )
}

fn plugin_outbound_has(plugin: &PreparedGrants, host: &str) -> bool {
    plugin
        .outbound_entries
        .iter()
        .any(|h| h.trim().eq_ignore_ascii_case(host.trim()))
}

/// The plugin's directory grant holding `guest` (a path as plugins see it), narrowed to
/// it: the host directory under the grant's, seen at `guest`, as writable as the grant.
fn narrowed_dir(granted: &[DirGrant], guest: &str) -> Option<DirGrant> {
    granted.iter().find_map(|dir| {
        let rest = relative_to(&dir.guest, guest)?;
        let mut host = PathBuf::from(&dir.host);
        for part in rest {
            host.push(part);
        }
        Some(DirGrant {
            host,
            guest: guest.to_owned(),
            writable: dir.writable,
        })
    })
}

/// The components of `path` below `dir`, when `path` is `dir` or lies under it; both
/// must be absolute and free of `.` and `..` components.
pub fn relative_to<'p>(dir: &str, path: &'p str) -> Option<Vec<&'p str>> {
    fn parts(p: &str) -> Option<Vec<&str>> {
        if !p.starts_with('/') {
            return None;
        }
        let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        (!parts.iter().any(|s| *s == "." || *s == "..")).then_some(parts)
    }
    let base = parts(dir)?;
    let mut below = parts(path)?;
    if below.len() < base.len() || below[..base.len()] != base[..] {
        return None;
    }
    Some(below.split_off(base.len()))
}

/// Whether `path` (as plugins see it) lies in one of `grants`' directories.
pub fn path_granted(grants: &PreparedGrants, path: &str) -> bool {
    grants
        .dirs
        .iter()
        .any(|d| relative_to(&d.guest, path).is_some())
}

/// Checks every `[accounts.*]` table against the plugins' grants, the secrets and the
/// authorities, at start-up: a grant naming what the operator did not give the plugin is
/// a mistake to hear about, not something to ignore silently.
pub fn check_accounts(config: &OperatorConfig) -> anyhow::Result<()> {
    for (name, account) in &config.accounts {
        if !crate::domain::tokens::valid_account(name) {
            anyhow::bail!(
                "[accounts.{name}]: not a valid account name (1-64 of A-Z a-z 0-9 - _ .)"
            );
        }
        if name == ADMIN_ACCOUNT {
            anyhow::bail!(
                "[accounts.{ADMIN_ACCOUNT}]: the admin account always has the plugins' own grants; it takes no table"
            );
        }
        crate::scheduler::windows::Windows::of([&account.scheduling_policy()])
            .map_err(|e| anyhow::anyhow!("[accounts.{name}] {}: {}", e.path(), e.reason))?;
        for (plugin, grant) in &account.plugins {
            let here = format!("[accounts.{name}.plugins.{plugin}]");
            let Some(granted) = config.plugins.get(plugin) else {
                anyhow::bail!(
                    "{here}: the operator config grants plugin {plugin:?} nothing ([plugins.{plugin}] is missing)"
                );
            };
            for dir in &grant.dirs {
                if narrowed_dir(&granted.dirs, dir).is_none() {
                    let dirs: Vec<&str> = granted.dirs.iter().map(|d| d.guest.as_str()).collect();
                    anyhow::bail!(
                        "{here}: directory {dir:?} is not at or under one of the plugin's directories ({}); \
                         write it as the plugin sees it, absolute, without . or ..",
                        if dirs.is_empty() {
                            "none".to_owned()
                        } else {
                            dirs.join(", ")
                        }
                    );
                }
            }
            for secret in &grant.secrets {
                if !granted.secrets.contains(secret) {
                    anyhow::bail!("{here}: secret {secret:?} is not granted to plugin {plugin:?}");
                }
            }
            for host in &grant.outbound_hosts {
                if !granted
                    .outbound_hosts
                    .iter()
                    .any(|h| h.trim().eq_ignore_ascii_case(host.trim()))
                {
                    anyhow::bail!(
                        "{here}: outbound host {host:?} is not one of the plugin's outbound_hosts (written the same way)"
                    );
                }
            }
            if grant.tls_probe && !granted.tls_probe {
                anyhow::bail!("{here}: tls_probe is not granted to plugin {plugin:?}");
            }
            let plugin_scope = granted
                .probe_scope()
                .map_err(|e| anyhow::anyhow!("[plugins.{plugin}]: {e}"))?;
            plugin_scope
                .narrowed(&grant.tls_networks, &grant.tls_ports)
                .map_err(|e| anyhow::anyhow!("{here}: tls_networks / tls_ports: {e}"))?;
            pinned::check_table(&grant.pinned_params)
                .map_err(|e| anyhow::anyhow!("{here}: pinned_params: {e}"))?;
        }
        for authority in account.authorities.keys() {
            if !config.authorities.contains_key(authority) {
                anyhow::bail!(
                    "[accounts.{name}.authorities.{authority}]: no [authorities.{authority}] is configured"
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

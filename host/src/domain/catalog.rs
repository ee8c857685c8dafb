//! What the server offers and has gathered, read-only: the plugins folder, the operations
//! and certificate store types its plugins serve, and the cloud keys synchronization
//! jobs pulled in.

use keywarden_db::{KeyFilter, Sort, SyncedKey};

use super::kind::known_operations;
use super::{Caller, DomainResult, Service};
use crate::plugins::{Family, PluginListing};
use crate::tenancy::access;

impl Service {
    /// The plugins folder as the caller may see it: for admins every file, loaded ones
    /// with their manifest, failed ones with the reason; for an account, the loaded
    /// plugins its `[accounts.NAME.plugins]` names, by file name (where the folder is,
    /// and what failed to load, is the operator's business).
    pub fn plugins(&self, caller: &Caller) -> Vec<PluginListing> {
        let mut listing = self.registry.list();
        if caller.admin || caller.account == access::ADMIN_ACCOUNT {
            return listing;
        }
        let granted =
            access::account(self.registry.runtime().config(), &caller.account).map(|a| &a.plugins);
        listing.retain(|p| p.status == "ready" && granted.is_some_and(|g| g.contains_key(&p.name)));
        for p in &mut listing {
            if let Some(name) = p.file.file_name() {
                p.file = name.into();
            }
        }
        listing
    }

    /// How many plugins are loaded.
    pub fn loaded_plugins(&self) -> usize {
        self.registry.plugins().len()
    }

    /// Every (operation, family) the loaded plugins provide, without repeats.
    pub fn operations(&self) -> Vec<(String, Family)> {
        known_operations(&self.registry)
    }

    /// A page of the synchronized cloud keys of the caller's account.
    pub async fn cloud_keys(
        &self,
        caller: &Caller,
        mut filter: KeyFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<SyncedKey>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self.db.list_cloud_keys(&filter, sort, skip, limit).await?)
    }
}

/// What this server can serve right now, for the API contract: each dialect describes its
/// requests with it, so a request the contract calls valid is one the server can take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    /// Every operation a loaded plugin provides.
    pub operations: Vec<OfferedOperation>,
    /// Every certificate store type a loaded plugin serves.
    pub store_types: Vec<OfferedStoreType>,
    /// The secrets configured on the server (names only).
    pub secrets: Vec<String>,
    /// The nodes jobs may be pinned to: this one and every one that has run here.
    pub nodes: Vec<String>,
}

/// An operation and its params.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedOperation {
    pub name: String,
    pub family: Family,
    pub target: Option<String>,
    pub params_schema: serde_json::Value,
    /// Whether it serves requests of its name that name no target.
    pub default_for_name: bool,
    /// Built into the server (`host_operations.rs`), not a plugin's: only the CipherTrust
    /// job configs offer it.
    pub host: bool,
}

/// A store type and what the plugins serving it are granted.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedStoreType {
    /// Upper case.
    pub name: String,
    /// The certificate-store operations served for it (`Inventory`, `Management`, ...).
    pub operations: Vec<String>,
    /// The directories (as plugins see them) granted to the plugin serving Inventory.
    pub dirs: Vec<String>,
    /// Configured secrets granted to the plugin serving Inventory (store passwords).
    pub password_secrets: Vec<String>,
    /// Configured secrets granted to the plugin serving Management (private keys).
    pub key_secrets: Vec<String>,
    /// The `$defs.storeProperties` schema of its Inventory operation, if published.
    pub properties_schema: Option<serde_json::Value>,
}

impl Service {
    /// What this server can serve right now (see [`Offer`]).
    pub async fn offer(&self) -> DomainResult<Offer> {
        let secrets: Vec<String> = self
            .registry
            .runtime()
            .config()
            .secrets
            .keys()
            .cloned()
            .collect();
        let mut operations: Vec<OfferedOperation> = self
            .registry
            .plugins()
            .iter()
            .flat_map(|p| p.manifest.operations.iter())
            .map(|o| OfferedOperation {
                name: o.name.clone(),
                family: o.family,
                target: o.target.clone(),
                params_schema: o.params_schema.clone(),
                default_for_name: self
                    .registry
                    .resolve(&o.name, None)
                    .is_ok_and(|(_, d)| d.target == o.target),
                host: false,
            })
            .collect();
        operations.extend(self.host_offer());
        operations.sort_by(|a, b| (&a.name, &a.target).cmp(&(&b.name, &b.target)));
        operations.dedup_by(|a, b| a.name == b.name && a.target == b.target);
        let granted = |plugin: Option<std::sync::Arc<crate::plugins::LoadedPlugin>>| {
            plugin.map_or_else(Vec::new, |p| {
                secrets
                    .iter()
                    .filter(|s| p.grants.secrets.contains(*s))
                    .cloned()
                    .collect()
            })
        };
        let store_types = self
            .store_types()
            .into_iter()
            .map(|name| {
                use crate::certificates::job_params::operation as op;
                let inventory = self.store_plugin(op::INVENTORY, &name);
                let properties_schema = self
                    .registry
                    .resolve(op::INVENTORY, Some(&name))
                    .ok()
                    .and_then(|(_, o)| o.params_schema.pointer("/$defs/storeProperties").cloned());
                OfferedStoreType {
                    operations: [
                        op::INVENTORY,
                        op::MANAGEMENT,
                        op::DISCOVERY,
                        op::REENROLLMENT,
                    ]
                    .iter()
                    .filter(|o| self.store_plugin(o, &name).is_some())
                    .map(|o| (*o).to_owned())
                    .collect(),
                    dirs: inventory.as_ref().map_or_else(Vec::new, |p| {
                        p.grants.dirs.iter().map(|d| d.guest.clone()).collect()
                    }),
                    password_secrets: granted(inventory.clone()),
                    key_secrets: granted(self.store_plugin(op::MANAGEMENT, &name)),
                    properties_schema,
                    name,
                }
            })
            .collect();
        let mut nodes: Vec<String> = self
            .db
            .list_nodes()
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect();
        nodes.push(self.node_id.clone());
        nodes.sort();
        nodes.dedup();
        Ok(Offer {
            operations,
            store_types,
            secrets,
            nodes,
        })
    }
}

impl Service {
    /// What this server can serve for `caller`: an admin sees everything; any other
    /// caller only the operations, store types, directories and secrets its account is
    /// granted, so the contract tells one team nothing of another's.
    pub async fn offer_for(&self, caller: &Caller) -> DomainResult<Offer> {
        let mut offer = self.offer().await?;
        if caller.admin {
            // Host operations are the admin account's alone, whoever else holds an admin
            // token (`host_operations.rs`).
            if caller.account != access::ADMIN_ACCOUNT {
                offer.operations.retain(|o| !o.host);
            }
            return Ok(offer);
        }
        let account = caller.account.as_str();
        let granted = |op: &str, target: Option<&str>| {
            self.registry
                .resolve(op, target)
                .ok()
                .and_then(|(plugin, _)| {
                    self.account_grants(account, &plugin, op)
                        .ok()
                        .map(|g| g.grants.into_owned())
                })
        };
        offer
            .operations
            .retain(|o| !o.host && granted(&o.name, o.target.as_deref()).is_some());
        let mut secrets = std::collections::BTreeSet::new();
        offer.store_types.retain_mut(|t| {
            use crate::certificates::job_params::operation as op;
            let Some(inventory) = granted(op::INVENTORY, Some(&t.name)) else {
                return false;
            };
            t.operations.retain(|o| granted(o, Some(&t.name)).is_some());
            t.dirs = inventory.dirs.iter().map(|d| d.guest.clone()).collect();
            t.password_secrets.retain(|s| inventory.secrets.contains(s));
            let management = granted(op::MANAGEMENT, Some(&t.name));
            t.key_secrets
                .retain(|s| management.as_ref().is_some_and(|m| m.secrets.contains(s)));
            secrets.extend(t.password_secrets.iter().cloned());
            secrets.extend(t.key_secrets.iter().cloned());
            true
        });
        for o in &offer.operations {
            if let Some(g) = granted(&o.name, o.target.as_deref()) {
                secrets.extend(g.secrets.iter().cloned());
            }
        }
        offer.secrets.retain(|s| secrets.contains(s));
        Ok(offer)
    }
}

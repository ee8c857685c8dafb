//! What the server offers and has gathered, read-only: the plugins folder, the operations
//! and certificate store types its plugins serve, and the cloud keys synchronization
//! jobs pulled in.

use keywarden_db::{KeyFilter, Sort, SyncedKey};

use super::kind::known_operations;
use super::{Caller, DomainResult, Service};
use crate::plugins::{Family, PluginListing};

impl Service {
    /// Every file of the plugins folder: loaded ones with their manifest, failed ones
    /// with the reason.
    pub fn plugins(&self) -> Vec<PluginListing> {
        self.registry.list()
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

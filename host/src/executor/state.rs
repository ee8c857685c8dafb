//! Plugin state kept in the database, so what a plugin remembers between runs (a cursor,
//! the last rotation time) survives restarts and is shared by every node.

use std::sync::Arc;

use keywarden_db::Database;

use crate::runtime::capabilities::state::StateBackend;

/// [`StateBackend`] over the store's `state_*` methods. `serve` puts it into
/// `HostServices::state` in place of the runtime's in-memory default.
#[derive(Clone)]
pub struct StoreState(pub Arc<dyn Database>);

impl std::fmt::Debug for StoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreState")
            .field(&self.0.backend())
            .finish()
    }
}

#[async_trait::async_trait]
impl StateBackend for StoreState {
    async fn get(&self, plugin: &str, scope: &str, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self.0.state_get(plugin, scope, key).await?)
    }

    async fn set(
        &self,
        plugin: &str,
        scope: &str,
        key: &str,
        value: Option<&str>,
    ) -> anyhow::Result<()> {
        Ok(self.0.state_set(plugin, scope, key, value).await?)
    }

    async fn size(&self, plugin: &str, scope: &str) -> anyhow::Result<usize> {
        let bytes = self.0.state_size(plugin, scope).await?;
        Ok(usize::try_from(bytes).unwrap_or(0))
    }
}

//! Watches the plugins folder and rescans on change, with a periodic rescan as a safety
//! net for file systems where notifications are unreliable.

use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::registry::PluginRegistry;

/// Events closer together than this are handled by one rescan (a copy emits several).
const DEBOUNCE: Duration = Duration::from_millis(150);
/// Rescan this often even without events.
const POLL: Duration = Duration::from_secs(10);

/// Keeps the watch alive; dropping it stops watching.
pub struct FolderWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FolderWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatch").finish_non_exhaustive()
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `registry`'s folder. Call after the initial scan.
pub fn watch(registry: Arc<PluginRegistry>) -> anyhow::Result<FolderWatch> {
    watch_measured(registry, crate::metrics::Metrics::default())
}

/// [`watch`], counting each plugin loaded, failed or removed by a rescan into `metrics`.
pub fn watch_measured(
    registry: Arc<PluginRegistry>,
    metrics: crate::metrics::Metrics,
) -> anyhow::Result<FolderWatch> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already means "rescan pending".
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(registry.dir(), RecursiveMode::NonRecursive)?;
    let task = tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(POLL, rx.recv()).await;
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            let summary = registry.scan().await;
            if summary != Default::default() {
                tracing::info!(?summary, "plugins folder rescanned");
            }
            for (outcome, names) in [
                ("loaded", &summary.loaded),
                ("failed", &summary.failed),
                ("removed", &summary.removed),
            ] {
                for _ in names {
                    metrics.reloaded(outcome);
                }
            }
        }
    });
    Ok(FolderWatch {
        _watcher: watcher,
        task,
    })
}

//! The plugins folder: loading components, the registry of what is live, and the
//! watcher that keeps the registry in step with the folder.

pub mod dry_run;
pub mod loader;
pub mod manifest;
pub mod registry;
pub mod watcher;

pub use loader::LoadedPlugin;
pub use manifest::{CapabilitiesView, Family, ManifestView, OperationView};
pub use registry::{PluginListing, PluginRegistry, ScanSummary, Unresolved};

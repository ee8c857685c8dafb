//! Which jobs may be dry runs: rotation, Management and Reenrollment (the operations that
//! write), on a plugin whose contract tells it about dry runs (0.2.0 on) and whose
//! manifest says the operation honours them. The domain
//! refuses any other dry run before queueing it, and the executor asks again before it
//! runs one: the plugin file may have been replaced by a 0.1.0 build since, and that
//! plugin would not know to hold back.

use super::{Family, LoadedPlugin, OperationView};
use crate::certificates::job_params::operation;

/// The key-management operation that only reads (every other one rotates).
const SYNCHRONIZATION: &str = "cckm_synchronization";

/// Why a dry run of `op` on `plugin` cannot be made, or `None` when it can.
pub fn refusal(plugin: &LoadedPlugin, op: &OperationView) -> Option<String> {
    let writes = match op.family {
        Family::KeyManagement => op.name != SYNCHRONIZATION,
        Family::CertificateStore => {
            [operation::MANAGEMENT, operation::REENROLLMENT].contains(&op.name.as_str())
        }
        Family::NetworkDiscovery | Family::Custom => false,
    };
    if !writes {
        return Some(format!(
            "operation {} has no dry run: only rotation, Management and Reenrollment do",
            op.name
        ));
    }
    let version = plugin.wit_version();
    if !version.has_dry_run() {
        return Some(format!(
            "plugin {} implements {}, which has no dry run",
            plugin.name,
            version.package()
        ));
    }
    if !op.dry_run {
        return Some(format!(
            "plugin {} does not declare a dry run of {}",
            plugin.name, op.name
        ));
    }
    None
}

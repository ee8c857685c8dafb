//! What kind of job an operation makes, from the family of the plugin operation that serves
//! it: the rules that depend on it (which jobs may be rescheduled, which need a
//! certificate store) and Keyfactor's JobType read it from here.

use crate::certificates::job_params::operation;
use crate::plugins::{Family, PluginRegistry};

/// The kind of job an operation makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    StoreInventory,
    StoreManagement,
    StoreDiscovery,
    StoreReenrollment,
    /// Network (TLS) discovery: Keyfactor's SSL discovery and monitoring.
    SslDiscovery,
    /// Cloud key operations (CipherTrust's `cckm_*`).
    KeyManagement,
    Custom,
    /// No loaded plugin provides the operation and its name says nothing.
    Unknown,
}

impl JobKind {
    /// Whether jobs of this kind act on a certificate store.
    pub fn is_store_job(self) -> bool {
        matches!(
            self,
            JobKind::StoreInventory
                | JobKind::StoreManagement
                | JobKind::StoreDiscovery
                | JobKind::StoreReenrollment
        )
    }
}

/// The certificate-store job an operation name stands for, ignoring case: Keyfactor's
/// names and the `certificate-store` interface's function names.
fn store_kind(name: &str) -> Option<(JobKind, &'static str)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "inventory" => (JobKind::StoreInventory, operation::INVENTORY),
        "management" | "add" | "remove" | "create" => {
            (JobKind::StoreManagement, operation::MANAGEMENT)
        }
        "discovery" | "discover" => (JobKind::StoreDiscovery, operation::DISCOVERY),
        "reenrollment" | "reenroll" => (JobKind::StoreReenrollment, operation::REENROLLMENT),
        _ => return None,
    })
}

/// The kind of job `operation` makes, served by an operation of `family` (`None` when no
/// loaded plugin provides it: then only Keyfactor's four certificate-store job names,
/// which the certificate store APIs use, still count as store jobs).
pub fn kind_of(operation: &str, family: Option<Family>) -> JobKind {
    match family {
        Some(Family::CertificateStore) => store_kind(operation)
            .map(|(k, _)| k)
            .unwrap_or(JobKind::StoreManagement),
        Some(Family::NetworkDiscovery) => JobKind::SslDiscovery,
        Some(Family::KeyManagement) => JobKind::KeyManagement,
        Some(Family::Custom) => JobKind::Custom,
        None => match store_kind(operation) {
            Some((kind, name)) if name.eq_ignore_ascii_case(operation) => kind,
            _ => JobKind::Unknown,
        },
    }
}

/// The family of `operation` among the loaded plugins (for `target`, else any target).
pub fn family_of(
    registry: &PluginRegistry,
    operation: &str,
    target: Option<&str>,
) -> Option<Family> {
    let plugins = registry.plugins();
    let ops = || plugins.iter().flat_map(|p| p.manifest.operations.iter());
    ops()
        .find(|o| o.name == operation && o.target.as_deref() == target)
        .or_else(|| ops().find(|o| o.name == operation))
        .map(|o| o.family)
}

/// Every (operation name, family) the loaded plugins provide, without repeats.
pub fn known_operations(registry: &PluginRegistry) -> Vec<(String, Family)> {
    let mut ops: Vec<(String, Family)> = registry
        .plugins()
        .iter()
        .flat_map(|p| p.manifest.operations.iter())
        .map(|o| (o.name.clone(), o.family))
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_store_operations_by_name() {
        for (op, kind) in [
            ("Inventory", JobKind::StoreInventory),
            ("inventory", JobKind::StoreInventory),
            ("Management", JobKind::StoreManagement),
            ("add", JobKind::StoreManagement),
            ("remove", JobKind::StoreManagement),
            ("create", JobKind::StoreManagement),
            ("Discovery", JobKind::StoreDiscovery),
            ("discover", JobKind::StoreDiscovery),
            ("Reenrollment", JobKind::StoreReenrollment),
            ("reenroll", JobKind::StoreReenrollment),
        ] {
            assert_eq!(kind_of(op, Some(Family::CertificateStore)), kind, "{op}");
        }
        // Without a plugin, only Keyfactor's own names are recognised.
        assert_eq!(kind_of("Reenrollment", None), JobKind::StoreReenrollment);
        assert_eq!(kind_of("INVENTORY", None), JobKind::StoreInventory);
        assert_eq!(kind_of("reenroll", None), JobKind::Unknown);
    }

    #[test]
    fn other_families() {
        assert_eq!(
            kind_of("cckm_key_rotation", Some(Family::KeyManagement)),
            JobKind::KeyManagement
        );
        assert_eq!(kind_of("hello", Some(Family::Custom)), JobKind::Custom);
        assert_eq!(
            kind_of("tls_scan", Some(Family::NetworkDiscovery)),
            JobKind::SslDiscovery
        );
        assert_eq!(kind_of("gone", None), JobKind::Unknown);
    }
}

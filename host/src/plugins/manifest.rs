//! A plugin's manifest as the APIs and the CLI show it (serde), checked once at load.

use serde::Serialize;

use crate::runtime::bindings::types::{Capabilities, JobFamily, Manifest, Operation};

/// The manifest `describe()` returned, with schemas parsed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ManifestView {
    pub name: String,
    pub version: String,
    pub description: String,
    pub operations: Vec<OperationView>,
    pub capabilities: CapabilitiesView,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperationView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Which job family (WIT interface) serves it.
    pub family: Family,
    pub description: String,
    pub params_schema: serde_json::Value,
    /// The plugin says it honours dry runs of this operation.
    pub dry_run: bool,
}

/// What the plugin asks for (not what it was granted).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CapabilitiesView {
    pub outbound_hosts: Vec<String>,
    pub paths: Vec<PathRequestView>,
    pub secrets: Vec<String>,
    pub tls_probe: bool,
    pub csr_enrollment: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathRequestView {
    pub path: String,
    pub writable: bool,
    pub purpose: String,
}

/// A job family: which of the plugin's exported interfaces runs an operation, and so
/// which rules apply to its jobs. Shown as `key-management`, `certificate-store`,
/// `network-discovery` or `custom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Cloud keys: rotation and synchronization.
    KeyManagement,
    /// Certificate stores: inventory, management, discovery, reenrollment.
    CertificateStore,
    /// TLS endpoint discovery and monitoring.
    NetworkDiscovery,
    /// Anything else, run through `custom-job.run`.
    Custom,
}

impl Family {
    /// The name it is shown by.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::KeyManagement => "key-management",
            Family::CertificateStore => "certificate-store",
            Family::NetworkDiscovery => "network-discovery",
            Family::Custom => "custom",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobFamily> for Family {
    fn from(family: JobFamily) -> Self {
        match family {
            JobFamily::KeyManagement => Family::KeyManagement,
            JobFamily::CertificateStore => Family::CertificateStore,
            JobFamily::NetworkDiscovery => Family::NetworkDiscovery,
            JobFamily::Custom => Family::Custom,
        }
    }
}

impl ManifestView {
    /// Checks what the host relies on: a name, unique operations, JSON schemas.
    pub fn from_wit(manifest: Manifest) -> Result<Self, String> {
        if manifest.name.trim().is_empty() {
            return Err("the manifest has an empty name".into());
        }
        let mut operations: Vec<OperationView> = Vec::with_capacity(manifest.operations.len());
        for op in manifest.operations {
            let view = OperationView::from_wit(op)?;
            if operations
                .iter()
                .any(|o| o.name == view.name && o.target == view.target)
            {
                return Err(format!("operation `{}` is declared twice", view.name));
            }
            operations.push(view);
        }
        Ok(Self {
            name: manifest.name,
            version: manifest.version,
            description: manifest.description,
            operations,
            capabilities: CapabilitiesView::from_wit(manifest.capabilities),
        })
    }
}

impl OperationView {
    fn from_wit(op: Operation) -> Result<Self, String> {
        if op.name.trim().is_empty() {
            return Err("an operation has an empty name".into());
        }
        let params_schema = if op.params_schema.trim().is_empty() {
            serde_json::json!({"type": "object"})
        } else {
            serde_json::from_str(&op.params_schema).map_err(|e| {
                format!(
                    "operation `{}` has a params schema that is not JSON: {e}",
                    op.name
                )
            })?
        };
        Ok(Self {
            name: op.name,
            target: op.target,
            family: op.family.into(),
            description: op.description,
            params_schema,
            dry_run: op.dry_run,
        })
    }
}

impl CapabilitiesView {
    fn from_wit(c: Capabilities) -> Self {
        Self {
            outbound_hosts: c.outbound_hosts,
            paths: c
                .paths
                .into_iter()
                .map(|p| PathRequestView {
                    path: p.path,
                    writable: p.writable,
                    purpose: p.purpose,
                })
                .collect(),
            secrets: c.secrets,
            tls_probe: c.tls_probe,
            csr_enrollment: c.csr_enrollment,
        }
    }
}

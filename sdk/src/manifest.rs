//! What a plugin declares about itself: [`Manifest`], [`Operation`], [`Capabilities`].

use serde_json::{Value, json};

use crate::wit::keywarden::plugin::types as wit;

/// What `describe` returns: name, version, operations and requested capabilities.
///
/// The host reads it once when it loads the plugin, shows it in `plugins inspect`, and
/// only ever calls the operations listed here.
///
/// ```
/// use keywarden_sdk::{Capabilities, Manifest, Operation};
///
/// let manifest = Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
///     .describe("Says hello")
///     .operation(Operation::custom("hello").describe("Greets someone"))
///     .capabilities(Capabilities::new().secret("greeting-token"));
/// assert_eq!(manifest.operations.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Plugin name; usually `env!("CARGO_PKG_NAME")`.
    pub name: String,
    /// Plugin version; usually `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// One paragraph for operators.
    pub description: String,
    /// The operations the plugin provides.
    pub operations: Vec<Operation>,
    /// What the plugin asks the operator to grant.
    pub capabilities: Capabilities,
}

impl Manifest {
    /// A manifest with no operations and no requested capabilities.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            operations: Vec::new(),
            capabilities: Capabilities::default(),
        }
    }

    /// Set the description shown to operators.
    #[must_use]
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Add one operation.
    #[must_use]
    pub fn operation(mut self, operation: Operation) -> Self {
        self.operations.push(operation);
        self
    }

    /// Add several operations.
    #[must_use]
    pub fn operations(mut self, operations: impl IntoIterator<Item = Operation>) -> Self {
        self.operations.extend(operations);
        self
    }

    /// Set the requested capabilities.
    #[must_use]
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    pub(crate) fn into_wit(self) -> wit::Manifest {
        wit::Manifest {
            name: self.name,
            version: self.version,
            description: self.description,
            operations: self
                .operations
                .into_iter()
                .map(Operation::into_wit)
                .collect(),
            capabilities: self.capabilities.into_wit(),
        }
    }
}

/// The job family an operation belongs to; it decides which exported interface (and so
/// which [`Plugin`](crate::Plugin) method) the host calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Rotation and synchronization of cloud keys: [`Plugin::rotate_keys`](crate::Plugin::rotate_keys),
    /// [`Plugin::synchronize_keys`](crate::Plugin::synchronize_keys).
    KeyManagement,
    /// Certificate stores: inventory, add, remove, create, discover, reenroll.
    CertificateStore,
    /// Scanning endpoints for TLS certificates: [`Plugin::scan`](crate::Plugin::scan).
    NetworkDiscovery,
    /// Anything else: [`Plugin::run_custom`](crate::Plugin::run_custom).
    Custom,
}

impl Family {
    fn into_wit(self) -> wit::JobFamily {
        match self {
            Family::KeyManagement => wit::JobFamily::KeyManagement,
            Family::CertificateStore => wit::JobFamily::CertificateStore,
            Family::NetworkDiscovery => wit::JobFamily::NetworkDiscovery,
            Family::Custom => wit::JobFamily::Custom,
        }
    }
}

/// One operation a plugin provides, with the JSON Schema of its params.
///
/// The host validates params against the schema before the job starts, so declare it
/// as precisely as you can. Without [`Operation::params_schema`] the schema is
/// `{"type": "object"}` (any object).
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Name used by the APIs, e.g. `cckm_key_rotation`, `Inventory` or `hello`.
    pub name: String,
    /// What it applies to: a cloud (`aws`), a store type (`PEM`), or none.
    pub target: Option<String>,
    /// The job family.
    pub family: Family,
    /// One line for people.
    pub description: String,
    /// JSON Schema (draft 2020-12) for the params object.
    pub params_schema: Value,
    /// The plugin honours [`JobContext::dry_run`](crate::JobContext::dry_run) for this
    /// operation; the host refuses dry runs of operations that do not say so.
    pub dry_run: bool,
}

impl Operation {
    /// An operation of any family; prefer the family-specific constructors.
    pub fn new(family: Family, name: impl Into<String>, target: Option<String>) -> Self {
        Self {
            name: name.into(),
            target,
            family,
            description: String::new(),
            params_schema: json!({ "type": "object" }),
            dry_run: false,
        }
    }

    /// A custom operation, served by [`Plugin::run_custom`](crate::Plugin::run_custom).
    pub fn custom(name: impl Into<String>) -> Self {
        Self::new(Family::Custom, name, None)
    }

    /// A key-management operation (e.g. `cckm_key_rotation`) for a cloud (e.g. `aws`).
    pub fn key_management(name: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(Family::KeyManagement, name, Some(target.into()))
    }

    /// A certificate-store operation (e.g. `Inventory`) for a store type (e.g. `PEM`).
    pub fn certificate_store(name: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(Family::CertificateStore, name, Some(target.into()))
    }

    /// A network-discovery operation, served by [`Plugin::scan`](crate::Plugin::scan).
    pub fn network_discovery(name: impl Into<String>) -> Self {
        Self::new(Family::NetworkDiscovery, name, None)
    }

    /// Set the one-line description.
    #[must_use]
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Set the JSON Schema of the params object.
    #[must_use]
    pub fn params_schema(mut self, schema: Value) -> Self {
        self.params_schema = schema;
        self
    }

    /// Declare that the plugin honours dry runs of this operation: with
    /// [`JobContext::dry_run`](crate::JobContext::dry_run) set it writes nothing and says
    /// what it would have done. Only rotation, Management and Reenrollment can be run dry.
    #[must_use]
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Set (or replace) the target.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    fn into_wit(self) -> wit::Operation {
        wit::Operation {
            name: self.name,
            target: self.target,
            family: self.family.into_wit(),
            description: self.description,
            params_schema: self.params_schema.to_string(),
            dry_run: self.dry_run,
        }
    }
}

/// A filesystem path the plugin would like preopened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRequest {
    /// Path as the plugin will see it inside the sandbox, e.g. `/stores`.
    pub path: String,
    /// Whether the plugin needs to write there.
    pub writable: bool,
    /// Why, for the operator reading `plugins inspect`.
    pub purpose: String,
}

/// What a plugin asks for.
///
/// Asking grants nothing: the operator's config decides, and calls beyond the grant
/// fail at run time (e.g. [`HttpError::Denied`](crate::http::HttpError::Denied)). The
/// request exists so operators can see what a plugin needs before granting it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Hosts (optionally `host:port`) to reach over HTTP.
    pub outbound_hosts: Vec<String>,
    /// Directories to preopen.
    pub paths: Vec<PathRequest>,
    /// Secret names resolved through [`secrets::reveal`](crate::secrets::reveal).
    pub secrets: Vec<String>,
    /// Whether [`tls::probe`](crate::tls::probe) is used.
    pub tls_probe: bool,
    /// Whether [`enrollment::submit_csr`](crate::enrollment::submit_csr) is used.
    pub csr_enrollment: bool,
}

impl Capabilities {
    /// Nothing requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask to reach `host` (or `host:port`) over HTTP(S).
    #[must_use]
    pub fn outbound_host(mut self, host: impl Into<String>) -> Self {
        self.outbound_hosts.push(host.into());
        self
    }

    /// Ask for a read-only directory.
    #[must_use]
    pub fn read_path(mut self, path: impl Into<String>, purpose: impl Into<String>) -> Self {
        self.paths.push(PathRequest {
            path: path.into(),
            writable: false,
            purpose: purpose.into(),
        });
        self
    }

    /// Ask for a writable directory.
    #[must_use]
    pub fn write_path(mut self, path: impl Into<String>, purpose: impl Into<String>) -> Self {
        self.paths.push(PathRequest {
            path: path.into(),
            writable: true,
            purpose: purpose.into(),
        });
        self
    }

    /// Ask for a named secret.
    #[must_use]
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.secrets.push(name.into());
        self
    }

    /// Ask to use [`tls::probe`](crate::tls::probe).
    #[must_use]
    pub fn tls_probe(mut self) -> Self {
        self.tls_probe = true;
        self
    }

    /// Ask to use [`enrollment::submit_csr`](crate::enrollment::submit_csr).
    #[must_use]
    pub fn csr_enrollment(mut self) -> Self {
        self.csr_enrollment = true;
        self
    }

    fn into_wit(self) -> wit::Capabilities {
        wit::Capabilities {
            outbound_hosts: self.outbound_hosts,
            paths: self
                .paths
                .into_iter()
                .map(|p| wit::PathRequest {
                    path: p.path,
                    writable: p.writable,
                    purpose: p.purpose,
                })
                .collect(),
            secrets: self.secrets,
            tls_probe: self.tls_probe,
            csr_enrollment: self.csr_enrollment,
        }
    }
}

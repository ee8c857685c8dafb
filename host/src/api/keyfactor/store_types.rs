//! Certificate store types: the targets of the loaded plugins' certificate-store
//! operations, and Keyfactor's numeric `CertStoreType` ids for them.

use std::sync::Arc;

use serde_json::Value;

use crate::api::error::{ApiError, ApiResult};
use crate::certificates::canonical_store_type;
use crate::plugins::{LoadedPlugin, PluginRegistry};

/// Keyfactor's ids of the built-in types Keywarden's bundled plugins serve (0 Java
/// keystore, 2 PEM file) and the first custom id (102) for PKCS#12, which Keyfactor
/// serves through an extension. Other plugin types are addressed by name only.
const KEYFACTOR_IDS: &[(i64, &str)] = &[(0, "JKS"), (2, "PEM"), (102, "PKCS12")];

/// Keyfactor's numeric id of a store type, if it has one.
pub fn keyfactor_id(store_type: &str) -> Option<i64> {
    KEYFACTOR_IDS
        .iter()
        .find(|(_, name)| *name == store_type)
        .map(|(id, _)| *id)
}

/// Store types some loaded plugin serves, upper case, sorted.
pub fn available(registry: &PluginRegistry) -> Vec<String> {
    let mut types: Vec<String> = registry
        .plugins()
        .iter()
        .flat_map(|p| p.manifest.operations.iter())
        .filter(|o| o.family == "certificate-store")
        .filter_map(|o| o.target.as_deref().map(canonical_store_type))
        .collect();
    types.sort();
    types.dedup();
    types
}

/// The plugin serving `operation` for `store_type`.
pub fn plugin_for(
    registry: &PluginRegistry,
    operation: &str,
    store_type: &str,
) -> Option<Arc<LoadedPlugin>> {
    registry
        .resolve(operation, Some(store_type))
        .ok()
        .filter(|(_, op)| {
            op.family == "certificate-store"
                && op
                    .target
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(store_type))
        })
        .map(|(plugin, _)| plugin)
}

/// Reads a store type given as Keyfactor's integer id or by name, and checks that a
/// loaded plugin serves it (422 listing the types that are served).
pub fn resolve(registry: &PluginRegistry, field: &str, value: &Value) -> ApiResult<String> {
    let name = match value {
        Value::Number(n) => {
            let id = n.as_i64().ok_or_else(|| {
                ApiError::invalid(field, format!("expected a store type id or name, got {n}"))
            })?;
            KEYFACTOR_IDS
                .iter()
                .find(|(known, _)| *known == id)
                .map(|(_, name)| (*name).to_owned())
                .ok_or_else(|| unknown(registry, field, &id.to_string()))?
        }
        Value::String(s) if !s.trim().is_empty() => {
            if let Ok(id) = s.trim().parse::<i64>() {
                return resolve(registry, field, &Value::from(id));
            }
            canonical_store_type(s)
        }
        other => {
            return Err(ApiError::invalid(
                field,
                format!("expected a store type id or name, got {other}"),
            ));
        }
    };
    if available(registry).contains(&name) {
        Ok(name)
    } else {
        Err(unknown(registry, field, &name))
    }
}

fn unknown(registry: &PluginRegistry, field: &str, given: &str) -> ApiError {
    let served: Vec<String> = available(registry)
        .into_iter()
        .map(|t| match keyfactor_id(&t) {
            Some(id) => format!("{t} ({id})"),
            None => t,
        })
        .collect();
    let served = if served.is_empty() {
        "none (no loaded plugin serves certificate stores)".to_owned()
    } else {
        served.join(", ")
    };
    ApiError::unprocessable(
        field,
        format!("no loaded plugin serves store type {given}; available store types: {served}"),
    )
}

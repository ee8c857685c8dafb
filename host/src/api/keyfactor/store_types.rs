//! Keyfactor's numeric `CertStoreType` ids for the store types Keywarden's bundled plugins
//! serve. Other store types (any a plugin declares) are addressed by name; whether a
//! loaded plugin serves a type is the domain service's question.

use serde_json::Value;

use crate::api::{ApiError, ApiResult};
use crate::certificates::canonical_store_type;

/// Keyfactor's ids of the built-in types Keywarden's bundled plugins serve (0 Java
/// keystore, 2 PEM file) and the first custom id (102) for PKCS#12, which Keyfactor
/// serves through an extension.
pub const KEYFACTOR_IDS: &[(i64, &str)] = &[(0, "JKS"), (2, "PEM"), (102, "PKCS12")];

/// Keyfactor's numeric id of a store type, if it has one.
pub fn keyfactor_id(store_type: &str) -> Option<i64> {
    KEYFACTOR_IDS
        .iter()
        .find(|(_, name)| *name == store_type)
        .map(|(id, _)| *id)
}

/// A store type given as Keyfactor's integer id (a number, or a string of digits with an
/// optional sign) or by name (anything else), as its name (upper case).
pub fn name_of(field: &str, value: &Value) -> ApiResult<String> {
    let unknown = |id: &dyn std::fmt::Display| {
        let known: Vec<String> = KEYFACTOR_IDS
            .iter()
            .map(|(id, name)| format!("{name} ({id})"))
            .collect();
        ApiError::unprocessable(
            field,
            format!(
                "store type id {id} is not one Keywarden knows ({}); give other types by name",
                known.join(", ")
            ),
        )
    };
    let id = match value {
        Value::Number(n) => crate::api::json::whole_number(value).ok_or_else(|| {
            ApiError::invalid(field, format!("expected a store type id or name, got {n}"))
        })?,
        Value::String(s) if !s.trim().is_empty() => {
            crate::api::json::refuse_nul(field, s)?;
            let s = s.trim();
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(canonical_store_type(s));
            }
            s.parse::<i64>().map_err(|_| unknown(&s))?
        }
        other => {
            return Err(ApiError::invalid(
                field,
                format!("expected a store type id or name, got {other}"),
            ));
        }
    };
    KEYFACTOR_IDS
        .iter()
        .find(|(known, _)| *known == id)
        .map(|(_, name)| (*name).to_owned())
        .ok_or_else(|| unknown(&id))
}

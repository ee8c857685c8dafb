//! `POST /KeyfactorAPI/CertificateStores/Reenrollment`: schedule a store for
//! reenrollment (`docs/keyfactor.md`). The
//! request is checked (400 malformed, 404 unknown store, 422 store or request Keywarden
//! cannot serve, each naming the field), a Reenrollment job is queued for the store, and
//! the answer is 204; the job shows in the job history.
//!
//! The key type comes from `JobProperties.KeyType` (`ec-p256` by default; `ec-p384`,
//! `rsa-2048`, `rsa-3072`, `rsa-4096`). `CertificateTemplate`, `EnrollmentPatternId`,
//! `AdditionalEnrollmentFields`, `Metadata` and the owner role are recorded in the job
//! but do not change what Keywarden's CAs issue: they have no templates or patterns.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::kit::{Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names};
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::json::MAX_SAFE_INTEGER;
use crate::api::{ApiError, ApiResult, AppState};
use crate::certificates::job_params::Reenrollment;
use crate::domain::Caller;

const NAMES: Names = Names {
    store: "KeystoreId",
    run_on: "AgentGuid",
    ..Names::DEFAULT
};

/// Key types the store plugins generate.
pub const KEY_TYPES: &[&str] = &["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"];

#[utoipa::path(post, path = "/KeyfactorAPI/CertificateStores/Reenrollment", tag = "keyfactor-certificate-stores",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody), (status = 404, body = KeyfactorErrorBody),
        (status = 422, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn reenroll(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    let mut body = Body::new(body, "")?;
    let store_id = body
        .uuid("KeystoreId")?
        .ok_or_else(|| ApiError::invalid("KeystoreId", "is required"))?;
    let subject = rfc4514(&body.required_text("SubjectName")?)
        .map_err(|why| ApiError::invalid("SubjectName", why))?;
    let agent = body.required_text("AgentGuid")?;
    let alias = body.required_text("Alias")?;
    let mut job_properties = job_properties(body.take("JobProperties"))?;
    let key_type = match job_properties.remove("KeyType") {
        None | Some(Value::Null) => "ec-p256".to_owned(),
        Some(Value::String(k)) if KEY_TYPES.contains(&k.to_ascii_lowercase().as_str()) => {
            k.to_ascii_lowercase()
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "JobProperties.KeyType",
                format!("expected one of {}, got {other}", KEY_TYPES.join(", ")),
            )
            .into());
        }
    };
    let authority = body.text("CertificateAuthority")?;
    let certificate_template = body.text("CertificateTemplate")?;
    let enrollment_pattern_id = body.integer("EnrollmentPatternId", 0, MAX_SAFE_INTEGER)?;
    let sans = sans(body.take("SANs"))?;
    let additional_enrollment_fields = object(
        body.take("AdditionalEnrollmentFields"),
        "AdditionalEnrollmentFields",
    )?;
    let metadata = object(body.take("Metadata"), "Metadata")?;
    let owner_role_id = body.integer("OwnerRoleId", 0, MAX_SAFE_INTEGER)?;
    let owner_role_name = body.text("OwnerRoleName")?;
    if owner_role_id.is_some() && owner_role_name.is_some() {
        return Err(ApiError::invalid(
            "OwnerRoleName",
            "give one of OwnerRoleId or OwnerRoleName, not both",
        )
        .into());
    }
    body.finish()?;
    let reenrollment = Reenrollment {
        alias,
        subject,
        sans,
        key_type,
        authority,
        overwrite: true,
        certificate_template,
        enrollment_pattern_id,
        additional_enrollment_fields,
        metadata,
        owner_role_id,
        owner_role_name,
    };
    state
        .service
        .reenroll(&caller, store_id, &agent, reenrollment, job_properties)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `JobProperties` as an object, or Keyfactor's array of one-key objects, merged.
fn job_properties(value: Option<Value>) -> ApiResult<Map<String, Value>> {
    match value {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(Value::Array(items)) => {
            let mut merged = Map::new();
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(map) => merged.extend(map),
                    other => {
                        return Err(ApiError::invalid(
                            &format!("JobProperties[{i}]"),
                            format!("expected an object, got {other}"),
                        ));
                    }
                }
            }
            Ok(merged)
        }
        Some(other) => Err(ApiError::invalid(
            "JobProperties",
            format!("expected an object, got {other}"),
        )),
    }
}

fn object(value: Option<Value>, field: &str) -> ApiResult<Map<String, Value>> {
    match value {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ApiError::invalid(
            field,
            format!("expected an object, got {other}"),
        )),
    }
}

/// Keyfactor's SANs object into plain names and addresses, each checked.
fn sans(value: Option<Value>) -> ApiResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(ApiError::invalid(
            "SANs",
            "expected an object such as {\"dns\": [\"a.example.com\"], \"ip4\": [\"10.0.0.1\"]}",
        ));
    };
    let mut out = Vec::new();
    for (kind, values) in map {
        let field = format!("SANs.{kind}");
        let Value::Array(items) = values else {
            return Err(ApiError::invalid(&field, "expected an array of strings"));
        };
        let kind = kind.to_ascii_lowercase();
        for (i, item) in items.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            let text = item
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::invalid(&item_field, "expected a non-empty string"))?;
            let ok = match kind.as_str() {
                "dns" => valid_dns(text),
                "ip4" => text.parse::<Ipv4Addr>().is_ok(),
                "ip6" => text.parse::<Ipv6Addr>().is_ok(),
                "uri" | "email" | "upn" | "mail" => {
                    return Err(ApiError::unprocessable(
                        &field,
                        "Keywarden reenrollment issues DNS and IP address SANs only",
                    ));
                }
                _ => {
                    return Err(ApiError::invalid(
                        &field,
                        "unknown SAN kind; expected dns, ip4 or ip6",
                    ));
                }
            };
            if !ok {
                return Err(ApiError::invalid(
                    &item_field,
                    format!("{text:?} is not a valid {kind} value"),
                ));
            }
            out.push(text.to_owned());
        }
    }
    Ok(out)
}

fn valid_dns(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Attribute types a subject may use (RFC 4514 names, the common Windows ones, OIDs).
const ATTRIBUTES: &[&str] = &[
    "CN",
    "OU",
    "O",
    "L",
    "ST",
    "S",
    "C",
    "E",
    "EMAIL",
    "EMAILADDRESS",
    "STREET",
    "DC",
    "UID",
    "SERIALNUMBER",
    "T",
    "TITLE",
    "G",
    "GIVENNAME",
    "SN",
    "SURNAME",
    "POSTALCODE",
];

/// Reads an X.500 name `TYPE=value,TYPE=value` as Keyfactor takes it (values may be
/// quoted, as in `O="Key Example, Inc."`, or use `\,`) and returns it in RFC 4514 form
/// (no quotes; special characters escaped with `\`; Windows' `S` as `ST`), the form the
/// store plugins parse.
pub fn rfc4514(subject: &str) -> Result<String, String> {
    // Split into (attribute, separator-after) on unquoted, unescaped `,` and `+`.
    let mut parts: Vec<(String, Option<char>)> = Vec::new();
    let (mut current, mut quoted, mut escaped) = (String::new(), false, false);
    for c in subject.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                current.push(c);
                quoted = !quoted;
            }
            ',' | '+' if !quoted => parts.push((std::mem::take(&mut current), Some(c))),
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("has an unterminated quote".to_owned());
    }
    parts.push((current, None));
    let mut out = String::new();
    for (part, separator) in &parts {
        let Some((kind, value)) = part.split_once('=') else {
            return Err(format!(
                "{:?} is not TYPE=value (expected e.g. CN=web.example.com,O=Example,C=US)",
                part.trim()
            ));
        };
        let mut kind = kind.trim().to_ascii_uppercase();
        let oid = !kind.is_empty()
            && kind
                .split('.')
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !ATTRIBUTES.contains(&kind.as_str()) && !oid {
            return Err(format!("unknown attribute type {kind:?}"));
        }
        if kind == "S" {
            kind = "ST".to_owned();
        }
        let value = unescape(value.trim());
        if value.is_empty() {
            return Err(format!("{kind} has an empty value"));
        }
        if kind == "C" && !(value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic())) {
            return Err(format!(
                "C must be a two-letter country code, got {value:?}"
            ));
        }
        out.push_str(&kind);
        out.push('=');
        for (i, c) in value.chars().enumerate() {
            let edge =
                (i == 0 && (c == ' ' || c == '#')) || (i + 1 == value.chars().count() && c == ' ');
            if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
                out.push('\\');
            }
            out.push(c);
        }
        if let Some(sep) = separator {
            out.push(*sep);
        }
    }
    Ok(out)
}

/// A value without its surrounding quotes and escapes.
fn unescape(value: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x500_names_become_rfc4514() {
        assert_eq!(
            rfc4514(r#"CN=websrvr14.keyexample.com,OU=IT,O="Key Example, Inc.",L=Independence,S=OH,C=US"#).unwrap(),
            r"CN=websrvr14.keyexample.com,OU=IT,O=Key Example\, Inc.,L=Independence,ST=OH,C=US"
        );
        assert_eq!(rfc4514(r"cn=a\,b + uid=x").unwrap(), r"CN=a\,b+UID=x");
        assert_eq!(rfc4514("CN=a,2.5.4.10=Org").unwrap(), "CN=a,2.5.4.10=Org");
        assert!(rfc4514("websrvr14").unwrap_err().contains("TYPE=value"));
        assert!(rfc4514("CN=a,XX=b").unwrap_err().contains("XX"));
        assert!(rfc4514("CN=").unwrap_err().contains("empty"));
        assert!(rfc4514("CN=a,C=USA").unwrap_err().contains("two-letter"));
        assert!(rfc4514(r#"CN="a"#).unwrap_err().contains("quote"));
    }

    #[test]
    fn sans_are_checked_per_kind() {
        let ok = sans(Some(serde_json::json!({"dns": ["a.example.com", "*.b.example"], "ip4": ["10.0.0.1"], "ip6": ["::1"]}))).unwrap();
        assert_eq!(ok, ["a.example.com", "*.b.example", "10.0.0.1", "::1"]);
        let bad = sans(Some(serde_json::json!({"ip4": ["10.0.0.300"]}))).unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("SANs.ip4[0]"));
        let bad = sans(Some(serde_json::json!({"dns": ["bad name"]}))).unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("SANs.dns[0]"));
        let bad = sans(Some(serde_json::json!({"uri": ["https://x"]}))).unwrap_err();
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

//! `fake_oci`: OCI Vault's Key Management API (`/20180608`): one regional control plane
//! (vault listing) and one management endpoint per vault (keys, key versions), with
//! state, so a rotation can be checked afterwards.
//!
//! Oracle publishes no machine-readable spec, so every request is checked against the
//! Swagger 2.0 document Keywarden wrote from Oracle's SDK sources
//! (`oci-kms-20180608.json`, see `tests/fakes/specs/README.md`) and answered only with
//! bodies valid under it. What that document cannot say (the signed headers) is checked
//! by verifying each request's HTTP Signature for real ([`signature`]).

pub mod signature;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::openapi::{Matched, Swagger};
use super::{Violations, hex_id, listen, spec};
pub use signature::ApiKey;
use signature::Refusal;

pub const TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaakeywardentests";
pub const USER: &str = "ocid1.user.oc1..aaaaaaaakeywardenrotator";
/// The compartment the tests' vaults live in unless they say otherwise.
pub const COMPARTMENT: &str = "ocid1.compartment.oc1..aaaaaaaapayments";
/// The operations the regional control plane serves; the rest are the vaults'.
const CONTROL_PLANE: &[&str] = &["ListVaults", "GetVault"];

/// How a test describes a key to put in a vault.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: &'static str,
    /// `AES`, `RSA` or `ECDSA`, with its length in bytes and curve.
    pub algorithm: &'static str,
    pub length: u64,
    pub curve: Option<&'static str>,
    pub protection: &'static str,
    pub state: &'static str,
    pub tags: BTreeMap<String, String>,
    /// The (only) version was made this many days ago.
    pub age_days: i64,
}

impl KeySpec {
    pub fn aes(name: &'static str) -> Self {
        Self {
            name,
            algorithm: "AES",
            length: 32,
            curve: None,
            protection: "HSM",
            state: "ENABLED",
            tags: BTreeMap::new(),
            age_days: 0,
        }
    }

    pub fn rsa(name: &'static str) -> Self {
        Self {
            algorithm: "RSA",
            length: 256,
            protection: "SOFTWARE",
            ..Self::aes(name)
        }
    }

    pub fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.insert(k.to_owned(), v.to_owned());
        self
    }
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    created: DateTime<Utc>,
    state: String,
    deletion: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct Key {
    id: String,
    spec: KeySpec,
    state: String,
    created: DateTime<Utc>,
    versions: Vec<Version>,
    current: String,
}

struct Vault {
    id: String,
    name: String,
    compartment: String,
    endpoint: String,
    keys: Vec<Key>,
}

struct Shared {
    spec: Swagger,
    violations: Violations,
    key_id: String,
    key: ApiKey,
    vaults: Mutex<Vec<Vault>>,
    page_size: Mutex<usize>,
    /// `operationId` of every signed call that passed the checks, in order.
    calls: Mutex<Vec<String>>,
}

/// The fake: a control plane and one management endpoint per vault, each on its own
/// loopback port, accepting requests signed by [`FakeOci::api_key`] as [`USER`].
pub struct FakeOci {
    /// `http://127.0.0.1:PORT` of the control plane.
    pub control_plane: String,
    shared: Arc<Shared>,
}

fn ocid(kind: &str) -> String {
    format!("ocid1.{kind}.oc1.iad.{}", hex_id())
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl FakeOci {
    /// A fake with one vault per entry of `compartments`, in that compartment.
    pub async fn start(compartments: &[&str]) -> Self {
        let key = ApiKey::generate();
        let shared = Arc::new(Shared {
            spec: Swagger::new(&spec("oci-kms-20180608.json")),
            violations: Violations::default(),
            key_id: format!("{TENANCY}/{USER}/{}", key.fingerprint),
            key,
            vaults: Mutex::new(Vec::new()),
            page_size: Mutex::new(1000),
            calls: Mutex::new(Vec::new()),
        });
        let control = listen(
            Router::new()
                .fallback(endpoint)
                .with_state((shared.clone(), None)),
        )
        .await;
        for (index, compartment) in compartments.iter().enumerate() {
            let addr = listen(
                Router::new()
                    .fallback(endpoint)
                    .with_state((shared.clone(), Some(index))),
            )
            .await;
            shared.vaults.lock().unwrap().push(Vault {
                id: ocid("vault"),
                name: format!("vault-{index}"),
                compartment: (*compartment).to_owned(),
                endpoint: format!("http://{addr}"),
                keys: Vec::new(),
            });
        }
        Self {
            control_plane: format!("http://{control}"),
            shared,
        }
    }

    /// The API key OCI knows for [`USER`].
    pub fn api_key(&self) -> &ApiKey {
        &self.shared.key
    }

    pub fn violations(&self) -> &Violations {
        &self.shared.violations
    }

    /// The signed operations answered so far, by `operationId`.
    pub fn calls(&self) -> Vec<String> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Lists answer at most `n` items a page, whatever `limit` asks.
    pub fn set_page_size(&self, n: usize) {
        *self.shared.page_size.lock().unwrap() = n;
    }

    /// Vault `index`'s OCID and management endpoint.
    pub fn vault(&self, index: usize) -> (String, String) {
        let vaults = self.shared.vaults.lock().unwrap();
        (vaults[index].id.clone(), vaults[index].endpoint.clone())
    }

    /// Puts a key in vault `index`; its OCID.
    pub fn add_key(&self, index: usize, spec: KeySpec) -> String {
        let created = Utc::now() - Duration::days(spec.age_days);
        let version = Version {
            id: ocid("keyversion"),
            created,
            state: "ENABLED".into(),
            deletion: None,
        };
        let key = Key {
            id: ocid("key"),
            state: spec.state.to_owned(),
            spec,
            created,
            current: version.id.clone(),
            versions: vec![version],
        };
        let id = key.id.clone();
        self.shared.vaults.lock().unwrap()[index].keys.push(key);
        id
    }

    /// A key as the tests inspect it: `id`, `current` (version OCID), and its
    /// `versions` (oldest first) with `id`, `state`, `timeOfDeletion`.
    pub fn key(&self, index: usize, name: &str) -> Value {
        let vaults = self.shared.vaults.lock().unwrap();
        let key = vaults[index]
            .keys
            .iter()
            .find(|k| k.spec.name == name)
            .unwrap_or_else(|| panic!("no key {name} in vault {index}"));
        json!({
            "id": key.id,
            "current": key.current,
            "versions": key.versions.iter().map(|v| json!({
                "id": v.id, "state": v.state, "timeOfDeletion": v.deletion.map(time),
            })).collect::<Vec<_>>(),
        })
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"code": code, "message": message}))
}

const NOT_AUTHENTICATED: &str =
    "The required information to complete authentication was not provided or was incorrect.";

async fn endpoint(
    State((shared, vault)): State<(Arc<Shared>, Option<usize>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = hex_id();
    let reply = |(status, answer): (StatusCode, Value), next: Option<String>| {
        let mut response = (
            status,
            [("opc-request-id", request_id.clone())],
            axum::Json(answer),
        )
            .into_response();
        if let Some(next) = next {
            response
                .headers_mut()
                .insert("opc-next-page", next.parse().unwrap());
        }
        response
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let matched = match shared.spec.check_request(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        content_type,
        &body,
    ) {
        Ok(m) => m,
        Err(e) => {
            shared.violations.record(e.clone());
            return reply(error(StatusCode::BAD_REQUEST, "InvalidParameter", &e), None);
        }
    };
    let on_control_plane = CONTROL_PLANE.contains(&matched.operation.as_str());
    if on_control_plane != vault.is_none() {
        let what = format!(
            "{} sent to the {}",
            matched.operation,
            if vault.is_none() {
                "control plane, not a vault's management endpoint"
            } else {
                "management endpoint, not the control plane"
            }
        );
        shared.violations.record(what.clone());
        return reply(
            error(StatusCode::NOT_FOUND, "NotAuthorizedOrNotFound", &what),
            None,
        );
    }
    match signature::verify(
        &shared.key_id,
        &shared.key.public,
        &method,
        &uri,
        &headers,
        &body,
    ) {
        Ok(()) => {}
        Err(refusal) => {
            if let Refusal::Malformed(why) = refusal {
                shared.violations.record(format!("signature: {why}"));
            }
            return reply(
                error(
                    StatusCode::UNAUTHORIZED,
                    "NotAuthenticated",
                    NOT_AUTHENTICATED,
                ),
                None,
            );
        }
    }
    let page_size = *shared.page_size.lock().unwrap();
    let (answer, next) = {
        let mut vaults = shared.vaults.lock().unwrap();
        match vault {
            None => control_plane(&vaults, &matched, page_size),
            Some(index) => management(&mut vaults[index], &matched, page_size),
        }
    };
    if answer.0 == StatusCode::NOT_IMPLEMENTED {
        shared.violations.record(answer.1["message"].to_string());
    }
    if let Err(e) = shared
        .spec
        .check_response(&matched.operation, answer.0.as_u16(), &answer.1)
    {
        shared
            .violations
            .record(format!("the fake's own answer: {e}"));
    }
    shared.calls.lock().unwrap().push(matched.operation.clone());
    reply(answer, next)
}

type Answer = ((StatusCode, Value), Option<String>);

/// One page of `items` as `limit`/`page` ask, and the next page's token.
fn page(items: Vec<Value>, m: &Matched, page_size: usize) -> Answer {
    let limit = m
        .query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(page_size)
        .min(page_size);
    let start = m
        .query
        .get("page")
        .and_then(|p| STANDARD.decode(p).ok())
        .and_then(|p| String::from_utf8(p).ok())
        .and_then(|p| p.strip_prefix("from=")?.parse().ok())
        .unwrap_or(0);
    let next =
        (start + limit < items.len()).then(|| STANDARD.encode(format!("from={}", start + limit)));
    let shown = items.into_iter().skip(start).take(limit).collect();
    ((StatusCode::OK, Value::Array(shown)), next)
}

fn control_plane(vaults: &[Vault], m: &Matched, page_size: usize) -> Answer {
    let summary = |v: &Vault| {
        json!({
            "id": v.id, "compartmentId": v.compartment, "displayName": v.name,
            "lifecycleState": "ACTIVE", "vaultType": "DEFAULT",
            "timeCreated": "2026-01-05T10:00:00.000Z",
            "cryptoEndpoint": v.endpoint, "managementEndpoint": v.endpoint,
            "freeformTags": {}, "definedTags": {},
        })
    };
    match m.operation.as_str() {
        "ListVaults" => {
            let compartment = &m.query["compartmentId"];
            let listed = vaults
                .iter()
                .filter(|v| v.compartment == *compartment)
                .map(summary)
                .collect();
            page(listed, m, page_size)
        }
        "GetVault" => {
            let id = &m.path_params["vaultId"];
            let answer = match vaults.iter().find(|v| v.id == *id) {
                Some(v) => (StatusCode::OK, summary(v)),
                None => not_found(id),
            };
            (answer, None)
        }
        _ => (not_implemented(m), None),
    }
}

fn not_found(what: &str) -> (StatusCode, Value) {
    error(
        StatusCode::NOT_FOUND,
        "NotAuthorizedOrNotFound",
        &format!("{what} not found or not authorized"),
    )
}

/// A declared operation the fake keeps no state for (recorded as a violation).
fn not_implemented(m: &Matched) -> (StatusCode, Value) {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        &format!("the fake does not implement {}", m.operation),
    )
}

fn key_json(vault: &Vault, k: &Key) -> Value {
    let mut shape = json!({"algorithm": k.spec.algorithm, "length": k.spec.length});
    if let Some(curve) = k.spec.curve {
        shape["curveId"] = json!(curve);
    }
    json!({
        "id": k.id, "compartmentId": vault.compartment, "displayName": k.spec.name,
        "vaultId": vault.id, "currentKeyVersion": k.current, "keyShape": shape,
        "protectionMode": k.spec.protection, "lifecycleState": k.state,
        "timeCreated": time(k.created), "freeformTags": k.spec.tags, "definedTags": {},
        "isAutoRotationEnabled": false,
    })
}

fn version_json(vault: &Vault, k: &Key, v: &Version) -> Value {
    let mut out = json!({
        "id": v.id, "keyId": k.id, "compartmentId": vault.compartment, "vaultId": vault.id,
        "timeCreated": time(v.created), "lifecycleState": v.state, "origin": "INTERNAL",
    });
    if let Some(t) = v.deletion {
        out["timeOfDeletion"] = json!(time(t));
    }
    out
}

fn management(vault: &mut Vault, m: &Matched, page_size: usize) -> Answer {
    let key_id = m.path_params.get("keyId").cloned().unwrap_or_default();
    let version_id = m
        .path_params
        .get("keyVersionId")
        .cloned()
        .unwrap_or_default();
    if m.operation == "ListKeys" {
        let compartment = &m.query["compartmentId"];
        let listed = vault
            .keys
            .iter()
            .filter(|_| vault.compartment == *compartment)
            .map(|k| {
                let mut s = key_json(vault, k);
                let o = s.as_object_mut().unwrap();
                for field in ["currentKeyVersion", "keyShape"] {
                    o.remove(field);
                }
                o.insert("algorithm".into(), json!(k.spec.algorithm));
                s
            })
            .collect();
        return page(listed, m, page_size);
    }
    let Some(index) = vault.keys.iter().position(|k| k.id == key_id) else {
        return (not_found(&key_id), None);
    };
    let answer = match m.operation.as_str() {
        "GetKey" => (StatusCode::OK, key_json(vault, &vault.keys[index])),
        "ListKeyVersions" => {
            let k = &vault.keys[index];
            let listed = k
                .versions
                .iter()
                .map(|v| version_json(vault, k, v))
                .collect();
            return page(listed, m, page_size);
        }
        "GetKeyVersion" => {
            let k = &vault.keys[index];
            match k.versions.iter().find(|v| v.id == version_id) {
                Some(v) => (StatusCode::OK, version_json(vault, k, v)),
                None => not_found(&version_id),
            }
        }
        "CreateKeyVersion" => {
            let k = &mut vault.keys[index];
            if k.state != "ENABLED" {
                return (
                    error(
                        StatusCode::CONFLICT,
                        "IncorrectState",
                        &format!("Key {} is in state {}, not ENABLED", k.id, k.state),
                    ),
                    None,
                );
            }
            let v = Version {
                id: ocid("keyversion"),
                created: Utc::now(),
                state: "ENABLED".into(),
                deletion: None,
            };
            k.current = v.id.clone();
            k.versions.push(v.clone());
            let k = k.clone();
            (StatusCode::OK, version_json(vault, &k, &v))
        }
        "ScheduleKeyVersionDeletion" => schedule_deletion(vault, index, &version_id, m),
        _ => not_implemented(m),
    };
    (answer, None)
}

/// OCI keeps a version 7 to 30 days before deleting it, and never deletes the current one.
fn schedule_deletion(
    vault: &mut Vault,
    index: usize,
    version_id: &str,
    m: &Matched,
) -> (StatusCode, Value) {
    let when = m
        .body
        .as_ref()
        .and_then(|b| b["timeOfDeletion"].as_str())
        .map(|t| DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)));
    let when = match when {
        None => Utc::now() + Duration::days(30),
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                &format!("timeOfDeletion: {e}"),
            );
        }
    };
    let days = (when - Utc::now()).num_hours() as f64 / 24.0;
    if !(6.9..=30.1).contains(&days) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "timeOfDeletion must be between 7 and 30 days from now",
        );
    }
    let k = &mut vault.keys[index];
    if k.current == version_id {
        return error(
            StatusCode::CONFLICT,
            "IncorrectState",
            "The current key version cannot be scheduled for deletion",
        );
    }
    let Some(v) = k.versions.iter_mut().find(|v| v.id == version_id) else {
        return not_found(version_id);
    };
    v.state = "PENDING_DELETION".into();
    v.deletion = Some(when);
    let v = v.clone();
    let k = k.clone();
    (StatusCode::OK, version_json(vault, &k, &v))
}

/// Operator config (TOML) granting the `oci-kms` plugin the fake's control plane and
/// vaults, with `private_pem` as its API key; `extra` goes into the plugin's table.
pub fn plugin_grants(fake: &FakeOci, private_pem: &str, extra: &str) -> String {
    let vaults = fake.shared.vaults.lock().unwrap();
    let hosts: Vec<String> = std::iter::once(&fake.control_plane)
        .chain(vaults.iter().map(|v| &v.endpoint))
        .map(|h| format!("{h:?}"))
        .collect();
    format!(
        r#"
[secrets]
oci-api-key = {{ value = {private_pem:?} }}

[plugins.oci-kms]
outbound_hosts = [{hosts}]
secrets = ["oci-api-key"]
settings = {{ tenancy_ocid = "{TENANCY}", user_ocid = "{USER}", fingerprint = "{fingerprint}", endpoint = "{endpoint}", compartment_ids = "{COMPARTMENT}" }}
{extra}
"#,
        hosts = hosts.join(", "),
        fingerprint = fake.shared.key.fingerprint,
        endpoint = fake.control_plane,
    )
}

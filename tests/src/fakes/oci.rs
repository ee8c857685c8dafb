//! `fake_oci`: OCI Vault's Key Management API (`/20180608`): one regional control plane
//! (vault listing) and one management endpoint per vault (keys, key versions), with
//! state, so a rotation can be checked afterwards.
//!
//! Oracle publishes no machine-readable spec, so every request is checked against the
//! Swagger 2.0 document Keywarden wrote from Oracle's SDK sources
//! (`oci-kms-20180608.json`, see `tests/fakes/specs/README.md`) and answered only with
//! bodies valid under it. What that document cannot say (the signed headers) is checked
//! by verifying each request's HTTP Signature for real ([`signature`]).

mod api;
pub mod signature;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::openapi::Swagger;
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
            None => api::control_plane(&vaults, &matched, page_size),
            Some(index) => api::management(&mut vaults[index], &matched, page_size),
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

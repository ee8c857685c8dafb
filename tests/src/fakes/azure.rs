//! `fake_azure`: Microsoft Entra ID's token endpoint (client-credentials flow) and Key
//! Vault's keys API (7.6), with state, so a rotation can be checked afterwards.
//!
//! Every vault request is checked against Microsoft's published API document
//! (`azure-keyvault-keys-7.6.json`) and answered only with bodies valid under it. The
//! token endpoint follows Microsoft's documented form (no machine-readable spec is
//! published for it): `grant_type=client_credentials`, `client_id`, `client_secret`,
//! `scope=https://vault.azure.net/.default`, errors as `{error, error_description}` with
//! Entra's AADSTS codes. A vault accepts only tokens this endpoint issued, unexpired.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::api::{Api, Tokens};
use super::openapi::Swagger;
use super::{Violations, hex_id, listen, random_bytes, spec};

/// The tenant, client and secret the fake's Entra ID knows.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "0b6f3e0c-3a3d-4f5e-9a53-6c1e8a0b7d21";
pub const CLIENT_SECRET: &str = "keywarden-azure-test-secret";
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";

/// How a test describes a key to put in a vault.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: &'static str,
    /// `RSA`, `RSA-HSM`, `EC`, `EC-HSM`, `oct-HSM`.
    pub kty: &'static str,
    pub key_size: Option<u64>,
    pub crv: Option<&'static str>,
    pub key_ops: Vec<&'static str>,
    pub tags: BTreeMap<String, String>,
    /// Backs a certificate.
    pub managed: bool,
    pub enabled: bool,
    /// The (only) version was made this many days ago.
    pub age_days: i64,
    /// It expires this many days from now.
    pub expires_in_days: Option<i64>,
    /// How many versions it has (1 or more), the last one current.
    pub versions: usize,
}

impl KeySpec {
    pub fn rsa(name: &'static str) -> Self {
        Self {
            name,
            kty: "RSA",
            key_size: Some(2048),
            crv: None,
            key_ops: vec!["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            tags: BTreeMap::new(),
            managed: false,
            enabled: true,
            age_days: 0,
            expires_in_days: None,
            versions: 1,
        }
    }

    pub fn ec(name: &'static str) -> Self {
        Self {
            kty: "EC",
            key_size: None,
            crv: Some("P-256"),
            key_ops: vec!["sign", "verify"],
            ..Self::rsa(name)
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
    kty: String,
    key_size: Option<u64>,
    crv: Option<String>,
    key_ops: Vec<String>,
    enabled: bool,
    created: i64,
    updated: i64,
    exp: Option<i64>,
    nbf: Option<i64>,
    n: Option<String>,
    x: Option<String>,
    y: Option<String>,
    /// Key Vault keeps tags per version.
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Key {
    versions: Vec<Version>,
    managed: bool,
    policy: Option<Value>,
}

#[derive(Default)]
struct Vault {
    keys: BTreeMap<String, Key>,
}

struct Shared {
    /// Calls are remembered by `operationId`.
    api: Api,
    tokens: Tokens,
    token_lifetime: Mutex<Duration>,
    /// Answer every list with a `nextLink` to the same page (a broken service).
    repeat_next_link: std::sync::atomic::AtomicBool,
    vaults: Mutex<Vec<Vault>>,
    authority: Mutex<String>,
}

/// The fake: one Entra ID authority and `n` vaults, each on its own loopback port.
pub struct FakeAzure {
    /// `http://127.0.0.1:PORT` of the token endpoint's host.
    pub authority: String,
    /// `http://127.0.0.1:PORT` of each vault.
    pub vaults: Vec<String>,
    shared: Arc<Shared>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl FakeAzure {
    pub async fn start(vaults: usize) -> Self {
        let shared = Arc::new(Shared {
            api: Api::new(Swagger::new(&spec("azure-keyvault-keys-7.6.json"))),
            tokens: Tokens::default(),
            token_lifetime: Mutex::new(Duration::from_secs(3599)),
            repeat_next_link: Default::default(),
            vaults: Mutex::new((0..vaults).map(|_| Vault::default()).collect()),
            authority: Mutex::new(String::new()),
        });
        let authority = listen(
            Router::new()
                .fallback(token_endpoint)
                .with_state(shared.clone()),
        )
        .await;
        let authority = format!("http://{authority}");
        *shared.authority.lock().unwrap() = authority.clone();
        let mut urls = Vec::new();
        for index in 0..vaults {
            let addr = listen(
                Router::new()
                    .fallback(vault_endpoint)
                    .with_state((shared.clone(), index)),
            )
            .await;
            urls.push(format!("http://{addr}"));
        }
        Self {
            authority,
            vaults: urls,
            shared,
        }
    }

    pub fn violations(&self) -> &Violations {
        &self.shared.api.violations
    }

    /// How many tokens the endpoint issued.
    pub fn token_requests(&self) -> usize {
        self.shared.tokens.issued()
    }

    /// The bearer tokens issued so far (none may show in a job).
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.all()
    }

    /// Lifetime of the tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.shared.token_lifetime.lock().unwrap() = lifetime;
    }

    /// From now on, lists answer a `nextLink` to the page just given.
    pub fn repeat_next_link(&self) {
        self.shared
            .repeat_next_link
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The vault operations called so far, by `operationId`.
    pub fn calls(&self) -> Vec<String> {
        self.shared.api.calls()
    }

    pub fn add_key(&self, vault: usize, spec: KeySpec) {
        let t = now() - spec.age_days * 86_400;
        let versions = (0..spec.versions.max(1))
            .map(|_| {
                let mut v = new_version(
                    spec.kty,
                    spec.key_size,
                    spec.crv.map(str::to_owned),
                    spec.key_ops.iter().map(|s| s.to_string()).collect(),
                    t,
                );
                v.enabled = spec.enabled;
                v.exp = spec.expires_in_days.map(|d| now() + d * 86_400);
                v.tags = spec.tags.clone();
                v
            })
            .collect();
        self.shared.vaults.lock().unwrap()[vault].keys.insert(
            spec.name.to_owned(),
            Key {
                versions,
                managed: spec.managed,
                policy: None,
            },
        );
    }

    /// A key as the tests inspect it: its versions (oldest first) with `id`, `enabled`,
    /// `exp`, `created`, `kty`, `key_size`, `crv`, `key_ops`; its `tags` and `policy`.
    pub fn key(&self, vault: usize, name: &str) -> Value {
        let vaults = self.shared.vaults.lock().unwrap();
        let key = vaults[vault]
            .keys
            .get(name)
            .unwrap_or_else(|| panic!("no key {name} in vault {vault}"));
        json!({
            "versions": key.versions.iter().map(|v| json!({
                "id": v.id, "enabled": v.enabled, "exp": v.exp, "created": v.created,
                "kty": v.kty, "key_size": v.key_size, "crv": v.crv, "key_ops": v.key_ops,
                "tags": v.tags,
            })).collect::<Vec<_>>(),
            "tags": key.versions.last().map(|v| &v.tags),
            "policy": key.policy,
        })
    }
}

fn new_version(
    kty: &str,
    key_size: Option<u64>,
    crv: Option<String>,
    key_ops: Vec<String>,
    created: i64,
) -> Version {
    let b64 = |len: usize| {
        let mut bytes = random_bytes(len);
        bytes[0] |= 0x80;
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let rsa = kty.starts_with("RSA");
    let ec = kty.starts_with("EC");
    let coord = match crv.as_deref() {
        Some("P-384") => 48,
        Some("P-521") => 66,
        _ => 32,
    };
    Version {
        id: hex_id(),
        kty: kty.to_owned(),
        key_size: if rsa {
            Some(key_size.unwrap_or(2048))
        } else {
            key_size
        },
        crv: if ec {
            Some(crv.unwrap_or_else(|| "P-256".into()))
        } else {
            None
        },
        key_ops,
        enabled: true,
        created,
        updated: created,
        exp: None,
        nbf: None,
        n: rsa.then(|| b64(key_size.unwrap_or(2048) as usize / 8)),
        x: ec.then(|| b64(coord)),
        y: ec.then(|| b64(coord)),
        tags: BTreeMap::new(),
    }
}

fn attributes(v: &Version) -> Value {
    let mut a = json!({
        "enabled": v.enabled, "created": v.created, "updated": v.updated,
        "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
    });
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    a
}

fn bundle(base: &str, name: &str, key: &Key, v: &Version) -> Value {
    let mut jwk =
        json!({"kid": format!("{base}/keys/{name}/{}", v.id), "kty": v.kty, "key_ops": v.key_ops});
    if let Some(n) = &v.n {
        jwk["n"] = json!(n);
        jwk["e"] = json!("AQAB");
    }
    if let (Some(crv), Some(x), Some(y)) = (&v.crv, &v.x, &v.y) {
        jwk["crv"] = json!(crv);
        jwk["x"] = json!(x);
        jwk["y"] = json!(y);
    }
    let mut b = json!({"key": jwk, "attributes": attributes(v), "tags": v.tags});
    if key.managed {
        b["managed"] = json!(true);
    }
    b
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"code": code, "message": message}}))
}

async fn token_endpoint(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let entra_error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            axum::Json(json!({"error": code, "error_description": description, "error_codes": [], "timestamp": "", "trace_id": hex_id()})),
        )
            .into_response()
    };
    let expected_path = format!("/{TENANT}/oauth2/v2.0/token");
    if method != Method::POST || uri.path() != expected_path {
        shared.api.violations.record(format!(
            "token endpoint: {method} {} is not {expected_path}",
            uri.path()
        ));
        return entra_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "AADSTS900561: The endpoint only accepts POST requests.",
        );
    }
    let form_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        shared
            .api
            .violations
            .record("token endpoint: the body must be application/x-www-form-urlencoded".into());
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
        );
    }
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for field in form.keys() {
        if !["grant_type", "client_id", "client_secret", "scope"].contains(&field.as_str()) {
            shared
                .api
                .violations
                .record(format!("token endpoint: unexpected form field {field:?}"));
        }
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        shared.api.violations.record(format!(
            "token endpoint: grant_type {:?} is not client_credentials",
            form.get("grant_type")
        ));
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if form.get("scope").map(String::as_str) != Some(VAULT_SCOPE) {
        shared.api.violations.record(format!(
            "token endpoint: scope {:?} is not {VAULT_SCOPE}",
            form.get("scope")
        ));
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let lifetime = *shared.token_lifetime.lock().unwrap();
    let token = shared.tokens.issue("", lifetime);
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

async fn vault_endpoint(
    State((shared, index)): State<(Arc<Shared>, usize)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let matched = match shared.api.check(&method, &uri, &headers, &body) {
        Ok(m) => m,
        Err(e) => {
            let (s, b) = error(StatusCode::BAD_REQUEST, "BadParameter", &e);
            return (s, axum::Json(b)).into_response();
        }
    };
    // Only tokens this fake's Entra ID issued, unexpired.
    if !shared.tokens.accepts(&headers) {
        let authority = shared.authority.lock().unwrap().clone();
        let (s, b) = error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        return (
            s,
            [(
                "www-authenticate",
                format!("Bearer authorization=\"{authority}/{TENANT}\", resource=\"https://vault.azure.net\""),
            )],
            axum::Json(b),
        )
            .into_response();
    }
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    let (status, answer) = {
        let mut vaults = shared.vaults.lock().unwrap();
        let repeat = shared
            .repeat_next_link
            .load(std::sync::atomic::Ordering::SeqCst);
        handle(&mut vaults[index], &base, &matched, repeat)
    };
    let op = matched.operation.clone();
    shared
        .api
        .answer(&op, op.clone(), (status, answer), |what| {
            error(StatusCode::NOT_IMPLEMENTED, "NotImplemented", what)
        })
}

/// One allowed call against the vault's state.
/// A page of `items` by `maxresults` (25 when absent, as Key Vault does) and an offset
/// `$skiptoken`, with the `nextLink` to the next one (to this one, when `repeat`).
fn paged(items: Vec<Value>, m: &super::openapi::Matched, path: &str, repeat: bool) -> Value {
    let page: usize = m
        .query
        .get("maxresults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let skip: usize = m
        .query
        .get("$skiptoken")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let mut answer = json!({"value": items.into_iter().skip(skip).take(page).collect::<Vec<_>>()});
    let next = if repeat {
        Some(skip)
    } else {
        (skip + page < total).then_some(skip + page)
    };
    if let Some(next) = next {
        answer["nextLink"] = json!(format!(
            "{path}?api-version=7.6&$skiptoken={next}&maxresults={page}"
        ));
    }
    answer
}

fn handle(
    vault: &mut Vault,
    base: &str,
    m: &super::openapi::Matched,
    repeat: bool,
) -> (StatusCode, Value) {
    let name = m.path_params.get("key-name").cloned().unwrap_or_default();
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "KeyNotFound",
            &format!("A key with (name/id) {name} was not found in this key vault."),
        )
    };
    let t = now();
    match m.operation.as_str() {
        "GetKeys" => {
            let items = vault
                .keys
                .iter()
                .map(|(name, key)| {
                    let current = key.versions.last().unwrap();
                    let mut item = json!({"kid": format!("{base}/keys/{name}"), "attributes": attributes(current), "tags": current.tags});
                    if key.managed {
                        item["managed"] = json!(true);
                    }
                    item
                })
                .collect();
            (
                StatusCode::OK,
                paged(items, m, &format!("{base}/keys"), repeat),
            )
        }
        "GetKey" => {
            let Some(key) = vault.keys.get(&name) else {
                return not_found();
            };
            let wanted = m
                .path_params
                .get("key-version")
                .map(String::as_str)
                .unwrap_or("");
            let v = if wanted.is_empty() {
                key.versions.last()
            } else {
                key.versions.iter().find(|v| v.id == wanted)
            };
            match v {
                Some(v) => (StatusCode::OK, bundle(base, &name, key, v)),
                None => not_found(),
            }
        }
        "GetKeyVersions" => {
            let Some(key) = vault.keys.get(&name) else {
                return not_found();
            };
            let items = key
                .versions
                .iter()
                .map(|v| json!({"kid": format!("{base}/keys/{name}/{}", v.id), "attributes": attributes(v), "tags": v.tags}))
                .collect();
            let path = format!("{base}/keys/{name}/versions");
            (StatusCode::OK, paged(items, m, &path, repeat))
        }
        "RotateKey" => {
            let Some(key) = vault.keys.get_mut(&name) else {
                return not_found();
            };
            if key.managed {
                return error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "Operation rotate is not allowed on a key that backs a certificate.",
                );
            }
            let cur = key.versions.last().unwrap().clone();
            // Whether rotate carries a version's tags forward is not in the API document;
            // this fake does not, so a client that needs them kept must set them.
            let mut v = new_version(
                &cur.kty,
                cur.key_size,
                cur.crv.clone(),
                cur.key_ops.clone(),
                t,
            );
            // The policy's expiryTime (PnD) sets the new version's expiry.
            v.exp = key
                .policy
                .as_ref()
                .and_then(|p| p["attributes"]["expiryTime"].as_str())
                .and_then(|d| d.strip_prefix('P')?.strip_suffix('D')?.parse::<i64>().ok())
                .map(|days| t + days * 86_400);
            key.versions.push(v.clone());
            (StatusCode::OK, bundle(base, &name, key, &v))
        }
        "CreateKey" => {
            let body = m.body.clone().unwrap_or(Value::Null);
            let kty = body["kty"].as_str().unwrap_or("RSA").to_owned();
            let ops: Vec<String> = body["key_ops"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_else(|| vec!["encrypt".into(), "decrypt".into()]);
            let mut v = new_version(
                &kty,
                body["key_size"].as_u64(),
                body["crv"].as_str().map(str::to_owned),
                ops,
                t,
            );
            v.exp = body["attributes"]["exp"].as_i64();
            v.nbf = body["attributes"]["nbf"].as_i64();
            if let Some(false) = body["attributes"]["enabled"].as_bool() {
                v.enabled = false;
            }
            let tags: BTreeMap<String, String> = body["tags"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            let key = vault.keys.entry(name.clone()).or_insert_with(|| Key {
                versions: Vec::new(),
                managed: false,
                policy: None,
            });
            v.tags = tags;
            key.versions.push(v.clone());
            let key = key.clone();
            (StatusCode::OK, bundle(base, &name, &key, &v))
        }
        "UpdateKey" => {
            let Some(key) = vault.keys.get_mut(&name) else {
                return not_found();
            };
            let wanted = m
                .path_params
                .get("key-version")
                .cloned()
                .unwrap_or_default();
            let body = m.body.clone().unwrap_or(Value::Null);
            let index = if wanted.is_empty() {
                Some(key.versions.len() - 1)
            } else {
                key.versions.iter().position(|v| v.id == wanted)
            };
            let Some(index) = index else {
                return not_found();
            };
            let v = &mut key.versions[index];
            if let Some(tags) = body["tags"].as_object() {
                v.tags = tags
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect();
            }
            if let Some(e) = body["attributes"]["enabled"].as_bool() {
                v.enabled = e;
            }
            if let Some(exp) = body["attributes"]["exp"].as_i64() {
                v.exp = Some(exp);
            }
            if let Some(ops) = body["key_ops"].as_array() {
                v.key_ops = ops
                    .iter()
                    .filter_map(|o| o.as_str().map(str::to_owned))
                    .collect();
            }
            v.updated = t;
            let v = v.clone();
            (StatusCode::OK, bundle(base, &name, key, &v))
        }
        "GetKeyRotationPolicy" => {
            let Some(key) = vault.keys.get(&name) else {
                return not_found();
            };
            let mut policy = key.policy.clone().unwrap_or_else(|| {
                json!({"lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
                       "attributes": {}})
            });
            policy["id"] = json!(format!("{base}/keys/{name}/rotationpolicy"));
            (StatusCode::OK, policy)
        }
        "UpdateKeyRotationPolicy" => {
            let Some(key) = vault.keys.get_mut(&name) else {
                return not_found();
            };
            let mut policy = m.body.clone().unwrap_or(json!({}));
            policy["id"] = json!(format!("{base}/keys/{name}/rotationpolicy"));
            let attrs = policy["attributes"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut attrs = Value::Object(attrs);
            attrs["created"] = json!(t);
            attrs["updated"] = json!(t);
            policy["attributes"] = attrs;
            key.policy = Some(policy.clone());
            (StatusCode::OK, policy)
        }
        _ => (StatusCode::NOT_IMPLEMENTED, Value::Null),
    }
}

/// Operator config (TOML) granting the `azure-keyvault` plugin the fake's authority and
/// vaults (all of them its `vault_urls`) and the client secret (`secret` as its value); `extra` goes into the plugin's
/// table.
pub fn plugin_grants(fake: &FakeAzure, secret: &str, extra: &str) -> String {
    let hosts: Vec<String> = std::iter::once(&fake.authority)
        .chain(&fake.vaults)
        .map(|h| format!("{h:?}"))
        .collect();
    format!(
        r#"
[secrets]
azure-client-secret = {{ value = "{secret}" }}

[plugins.azure-keyvault]
outbound_hosts = [{hosts}]
secrets = ["azure-client-secret"]
settings = {{ tenant_id = "{TENANT}", client_id = "{CLIENT_ID}", authority_host = "{authority}", vault_urls = "{vault}" }}
{extra}
"#,
        hosts = hosts.join(", "),
        authority = fake.authority,
        vault = fake.vaults.join(","),
    )
}

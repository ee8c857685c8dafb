//! `fake_gcp`: Google's OAuth token endpoint for service accounts and Cloud KMS v1 (key
//! rings, crypto keys, versions), with state, so a rotation can be checked afterwards.
//!
//! Every Cloud KMS request is checked against Google's published Discovery document
//! (`gcp-cloudkms-v1-discovery.json`, read as Swagger by [`super::discovery`]) and
//! answered only with bodies valid under it; `updateMask` must name fields the body
//! sets. The token endpoint follows Google's documented JWT-bearer flow: the assertion's
//! RS256 signature is verified with the service account's public key, and its claims
//! (`iss`, `aud` = the token URI, `scope`, `iat`, `exp` at most an hour later) checked.
//! Cloud KMS accepts only unexpired tokens this endpoint issued.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use super::api::{Api, Tokens};
use super::openapi::{Matched, Swagger};
use super::{Violations, discovery, hex_id, listen, spec};

pub const PROJECT: &str = "keywarden-test";
pub const EMAIL: &str = "rotator@keywarden-test.iam.gserviceaccount.com";
const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloudkms",
    "https://www.googleapis.com/auth/cloud-platform",
];

/// A new RSA private key, PKCS#8 PEM, from `openssl genpkey`.
pub fn new_private_key() -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl genpkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM is text")
}

/// How a test describes a key to put in a ring.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub id: &'static str,
    /// `ENCRYPT_DECRYPT`, `ASYMMETRIC_SIGN`, ...
    pub purpose: &'static str,
    pub algorithm: &'static str,
    /// `SOFTWARE`, `HSM`, `EXTERNAL`.
    pub protection: &'static str,
    pub labels: BTreeMap<String, String>,
    pub import_only: bool,
    /// Its (only) version was disabled: someone retired the key.
    pub retired: bool,
    /// The first version was made this many days ago.
    pub age_days: i64,
}

impl KeySpec {
    pub fn symmetric(id: &'static str) -> Self {
        Self {
            id,
            purpose: "ENCRYPT_DECRYPT",
            algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION",
            protection: "SOFTWARE",
            labels: BTreeMap::new(),
            import_only: false,
            retired: false,
            age_days: 0,
        }
    }

    pub fn signing(id: &'static str) -> Self {
        Self {
            purpose: "ASYMMETRIC_SIGN",
            algorithm: "EC_SIGN_P256_SHA256",
            ..Self::symmetric(id)
        }
    }

    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.insert(k.to_owned(), v.to_owned());
        self
    }
}

#[derive(Debug, Clone)]
struct Version {
    id: u32,
    state: String,
    created: DateTime<Utc>,
    destroy_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct Key {
    purpose: String,
    algorithm: String,
    protection: String,
    labels: BTreeMap<String, String>,
    import_only: bool,
    created: DateTime<Utc>,
    versions: Vec<Version>,
    primary: Option<u32>,
    rotation_period: Option<String>,
    next_rotation_time: Option<String>,
}

#[derive(Default)]
struct Data {
    rings: BTreeMap<String, DateTime<Utc>>,
    keys: BTreeMap<String, Key>,
}

struct Shared {
    /// Calls are remembered by the method id's end (`cryptoKeys.list`).
    api: Api,
    public_key: RsaPublicKey,
    key_id: String,
    token_uri: Mutex<String>,
    tokens: Tokens,
    data: Mutex<Data>,
}

/// The fake: a token endpoint and a Cloud KMS endpoint on loopback ports, and the
/// service account they know.
pub struct FakeGcp {
    /// `http://127.0.0.1:PORT`, the Cloud KMS endpoint.
    pub url: String,
    /// `http://127.0.0.1:PORT`, the token endpoint's host.
    pub auth_host: String,
    /// `http://127.0.0.1:PORT/token`.
    pub token_uri: String,
    private_key: String,
    shared: Arc<Shared>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

impl FakeGcp {
    pub async fn start() -> Self {
        let private_key = new_private_key();
        let public_key = RsaPrivateKey::from_pkcs8_pem(&private_key)
            .expect("openssl's key parses")
            .to_public_key();
        let shared = Arc::new(Shared {
            api: Api::new(Swagger::new(&discovery::to_swagger(&spec(
                "gcp-cloudkms-v1-discovery.json",
            )))),
            public_key,
            key_id: hex_id(),
            token_uri: Mutex::new(String::new()),
            tokens: Tokens::default(),
            data: Mutex::new(Data::default()),
        });
        let auth = listen(
            Router::new()
                .fallback(token_endpoint)
                .with_state(shared.clone()),
        )
        .await;
        let kms = listen(
            Router::new()
                .fallback(kms_endpoint)
                .with_state(shared.clone()),
        )
        .await;
        let token_uri = format!("http://{auth}/token");
        *shared.token_uri.lock().unwrap() = token_uri.clone();
        Self {
            url: format!("http://{kms}"),
            auth_host: format!("http://{auth}"),
            token_uri,
            private_key,
            shared,
        }
    }

    /// The service account's JSON key file, as Google's console hands it out.
    pub fn key_json(&self) -> String {
        self.key_json_with(&self.private_key)
    }

    /// The key file with another private key (one Google does not know).
    pub fn key_json_with(&self, private_key: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": self.shared.key_id,
            "private_key": private_key,
            "client_email": EMAIL,
            "client_id": "104857600000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        })
        .to_string()
    }

    pub fn violations(&self) -> &Violations {
        &self.shared.api.violations
    }

    pub fn token_requests(&self) -> usize {
        self.shared.tokens.issued()
    }

    /// The bearer tokens issued so far (none may show in a job).
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.all()
    }

    /// The Cloud KMS methods called so far (Discovery method ids, short: `cryptoKeys.list`).
    pub fn calls(&self) -> Vec<String> {
        self.shared.api.calls()
    }

    pub fn add_key(&self, location: &str, ring: &str, spec: KeySpec) {
        let ring = format!("projects/{PROJECT}/locations/{location}/keyRings/{ring}");
        let created = Utc::now() - chrono::Duration::days(spec.age_days);
        let mut data = self.shared.data.lock().unwrap();
        data.rings.entry(ring.clone()).or_insert(created);
        let symmetric = spec.purpose == "ENCRYPT_DECRYPT";
        data.keys.insert(
            format!("{ring}/cryptoKeys/{}", spec.id),
            Key {
                purpose: spec.purpose.into(),
                algorithm: spec.algorithm.into(),
                protection: spec.protection.into(),
                labels: spec.labels,
                import_only: spec.import_only,
                created,
                versions: if spec.import_only {
                    Vec::new()
                } else {
                    vec![Version {
                        id: 1,
                        state: if spec.retired { "DISABLED" } else { "ENABLED" }.into(),
                        created,
                        destroy_time: None,
                    }]
                },
                primary: (symmetric && !spec.import_only).then_some(1),
                rotation_period: None,
                next_rotation_time: None,
            },
        );
    }

    /// A key as the tests inspect it: `primary` (version id), `versions` ([{id, state}]),
    /// `rotationPeriod`, `nextRotationTime`.
    pub fn key(&self, location: &str, ring: &str, id: &str) -> Value {
        let name =
            format!("projects/{PROJECT}/locations/{location}/keyRings/{ring}/cryptoKeys/{id}");
        let data = self.shared.data.lock().unwrap();
        let key = data
            .keys
            .get(&name)
            .unwrap_or_else(|| panic!("no key {name}"));
        json!({
            "primary": key.primary,
            "versions": key.versions.iter().map(|v| json!({"id": v.id, "state": v.state})).collect::<Vec<_>>(),
            "rotationPeriod": key.rotation_period,
            "nextRotationTime": key.next_rotation_time,
        })
    }
}

fn google_error(status: StatusCode, grpc: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"error": {"code": status.as_u16(), "message": message, "status": grpc}}),
    )
}

async fn token_endpoint(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let oauth_error = |code: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": code, "error_description": description})),
        )
            .into_response()
    };
    if method != Method::POST || uri.path() != "/token" {
        shared.api.violations.record(format!(
            "token endpoint: {method} {} is not POST /token",
            uri.path()
        ));
        return oauth_error("invalid_request", "Not Found");
    }
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let grant = form.get("grant_type").map(String::as_str);
    if !is_form || grant != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") || form.len() != 2 {
        shared.api.violations.record(format!(
            "token endpoint: expected a form with grant_type=jwt-bearer and assertion, got {:?} (form: {is_form})",
            form.keys().collect::<Vec<_>>()
        ));
        return oauth_error("unsupported_grant_type", "Invalid grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).ok();
    let (Some(header), Some(claims), Some(signature)) = (
        parts
            .first()
            .and_then(|p| decode(p))
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
        parts
            .get(1)
            .and_then(|p| decode(p))
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
        parts.get(2).and_then(|p| decode(p)),
    ) else {
        shared
            .api
            .violations
            .record("token endpoint: the assertion is not a JWT".into());
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe",
        );
    };
    if parts.len() != 3 || header["alg"] != "RS256" || header["typ"] != "JWT" {
        shared.api.violations.record(format!(
            "token endpoint: JWT header {header} is not RS256/JWT"
        ));
        return oauth_error("invalid_grant", "Invalid JWT header");
    }
    let signed = format!("{}.{}", parts[0], parts[1]);
    let verifies = Signature::try_from(signature.as_slice())
        .ok()
        .is_some_and(|sig| {
            VerifyingKey::<Sha256>::new(shared.public_key.clone())
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        });
    if !verifies {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    let now = Utc::now().timestamp();
    let iat = claims["iat"].as_i64().unwrap_or(0);
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let token_uri = shared.token_uri.lock().unwrap().clone();
    let scopes_ok = claims["scope"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|s| SCOPES.contains(&s)));
    let problem = if claims["iss"] != EMAIL {
        Some("Invalid JWT: iss is not the service account")
    } else if claims["aud"] != token_uri.as_str() {
        Some("Invalid JWT: aud is not the token URI")
    } else if !scopes_ok {
        Some("Invalid OAuth scope or ID token audience provided.")
    } else if (iat - now).abs() > 300 || exp <= now || exp - iat > 3600 {
        Some(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        shared
            .api
            .violations
            .record(format!("token endpoint: {problem} ({claims})"));
        return oauth_error("invalid_grant", problem);
    }
    if header["kid"] != shared.key_id.as_str() {
        shared.api.violations.record(format!(
            "token endpoint: kid {} is not the key's id",
            header["kid"]
        ));
    }
    let token = shared.tokens.issue("ya29.", Duration::from_secs(3599));
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

async fn kms_endpoint(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let matched = match shared.api.check(&method, &uri, &headers, &body) {
        Ok(m) => m,
        Err(e) => {
            let (s, b) = google_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &e);
            return (s, axum::Json(b)).into_response();
        }
    };
    if !shared.tokens.accepts(&headers) {
        let (s, b) = google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        );
        return (s, axum::Json(b)).into_response();
    }
    // The resource name: the path after /v1/, without a custom method.
    let resource = uri.path().trim_start_matches("/v1/");
    let resource = resource.split(':').next().unwrap_or(resource).to_owned();
    let short = matched
        .operation
        .trim_start_matches("cloudkms.projects.locations.keyRings.")
        .to_owned();
    let (status, answer) = {
        let mut data = shared.data.lock().unwrap();
        handle(&mut data, &short, &resource, &matched)
    };
    // A request the API refuses as malformed (an updateMask naming nothing sent) is
    // the plugin's fault: a violation, answered as Cloud KMS would.
    let (status, answer) = if status == StatusCode::UNPROCESSABLE_ENTITY {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        shared
            .api
            .violations
            .record(format!("{}: {message}", matched.operation));
        google_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &message)
    } else {
        (status, answer)
    };
    shared
        .api
        .answer(&matched.operation, short, (status, answer), |what| {
            google_error(StatusCode::NOT_IMPLEMENTED, "UNIMPLEMENTED", what)
        })
}

fn version_json(key_name: &str, key: &Key, v: &Version) -> Value {
    version_json_parts(key_name, &key.protection, &key.algorithm, v)
}

fn version_json_parts(key_name: &str, protection: &str, algorithm: &str, v: &Version) -> Value {
    let mut out = json!({
        "name": format!("{key_name}/cryptoKeyVersions/{}", v.id),
        "state": v.state,
        "protectionLevel": protection,
        "algorithm": algorithm,
        "createTime": rfc3339(v.created),
        "generateTime": rfc3339(v.created),
    });
    if let Some(t) = v.destroy_time {
        out["destroyTime"] = json!(rfc3339(t));
    }
    out
}

fn key_json(name: &str, key: &Key) -> Value {
    let mut out = json!({
        "name": name,
        "purpose": key.purpose,
        "createTime": rfc3339(key.created),
        "versionTemplate": {"algorithm": key.algorithm, "protectionLevel": key.protection},
        "destroyScheduledDuration": "2592000s",
    });
    if !key.labels.is_empty() {
        out["labels"] = json!(key.labels);
    }
    if key.import_only {
        out["importOnly"] = json!(true);
    }
    if let Some(p) = key
        .primary
        .and_then(|id| key.versions.iter().find(|v| v.id == id))
    {
        out["primary"] = version_json(name, key, p);
    }
    if let Some(p) = &key.rotation_period {
        out["rotationPeriod"] = json!(p);
    }
    if let Some(t) = &key.next_rotation_time {
        out["nextRotationTime"] = json!(t);
    }
    out
}

/// A page of `items` under `field`, by `pageSize` and an offset `pageToken`.
fn page(items: Vec<Value>, field: &str, m: &Matched) -> Value {
    let size: usize = m
        .query
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let skip: usize = m
        .query
        .get("pageToken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let mut out = json!({field: items.into_iter().skip(skip).take(size).collect::<Vec<_>>(), "totalSize": total});
    if skip + size < total {
        out["nextPageToken"] = json!((skip + size).to_string());
    }
    out
}

/// `updateMask` paths that are not set in `body`, or are not among `mutable`.
fn mask_problem(m: &Matched, body: &Value, mutable: &[&str]) -> Option<String> {
    let Some(mask) = m.query.get("updateMask") else {
        return Some("updateMask is required".into());
    };
    for path in mask.split(',') {
        if !mutable.contains(&path) {
            return Some(format!(
                "updateMask names {path:?}, which cannot be updated"
            ));
        }
        if body
            .pointer(&format!("/{}", path.replace('.', "/")))
            .is_none()
        {
            return Some(format!(
                "updateMask names {path:?}, which the body does not set"
            ));
        }
    }
    None
}

fn handle(data: &mut Data, op: &str, resource: &str, m: &Matched) -> (StatusCode, Value) {
    let not_found = || {
        google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("{resource} not found."),
        )
    };
    let malformed = |message: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": {"message": message}}),
        )
    };
    let body = m.body.clone().unwrap_or(json!({}));
    let now = Utc::now();
    match op {
        "list" => {
            // keyRings.list: the resource is `projects/P/locations/L/keyRings`.
            let parent = resource.trim_end_matches("/keyRings");
            let rings = data
                .rings
                .iter()
                .filter(|(name, _)| name.starts_with(&format!("{parent}/keyRings/")))
                .map(|(name, t)| json!({"name": name, "createTime": rfc3339(*t)}))
                .collect();
            (StatusCode::OK, page(rings, "keyRings", m))
        }
        "cryptoKeys.list" => {
            let ring = resource.trim_end_matches("/cryptoKeys");
            if !data.rings.contains_key(ring) {
                return not_found();
            }
            let keys = data
                .keys
                .iter()
                .filter(|(name, _)| name.starts_with(&format!("{ring}/cryptoKeys/")))
                .map(|(name, key)| key_json(name, key))
                .collect();
            (StatusCode::OK, page(keys, "cryptoKeys", m))
        }
        "cryptoKeys.cryptoKeyVersions.get" => {
            let Some((name, id)) = resource.rsplit_once("/cryptoKeyVersions/") else {
                return not_found();
            };
            let Some(key) = data.keys.get_mut(name) else {
                return not_found();
            };
            let Some(v) = key.versions.iter_mut().find(|v| v.id.to_string() == id) else {
                return not_found();
            };
            let answer = version_json_parts(name, &key.protection, &key.algorithm, v);
            if v.state == "PENDING_GENERATION" {
                v.state = "ENABLED".into();
            }
            (StatusCode::OK, answer)
        }
        "cryptoKeys.get" => match data.keys.get(resource) {
            Some(key) => (StatusCode::OK, key_json(resource, key)),
            None => not_found(),
        },
        "cryptoKeys.cryptoKeyVersions.list" => {
            let name = resource.trim_end_matches("/cryptoKeyVersions");
            let Some(key) = data.keys.get(name) else {
                return not_found();
            };
            let versions = key
                .versions
                .iter()
                .map(|v| version_json(name, key, v))
                .collect();
            (StatusCode::OK, page(versions, "cryptoKeyVersions", m))
        }
        "cryptoKeys.cryptoKeyVersions.create" => {
            let name = resource.trim_end_matches("/cryptoKeyVersions");
            let Some(key) = data.keys.get_mut(name) else {
                return not_found();
            };
            if key.import_only {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    "CryptoKey is import-only; create versions by importing.",
                );
            }
            let id = key.versions.iter().map(|v| v.id).max().unwrap_or(0) + 1;
            // Asymmetric and HSM versions are generated asynchronously: they are enabled
            // once someone reads them again.
            let pending = key.purpose != "ENCRYPT_DECRYPT" || key.protection == "HSM";
            let v = Version {
                id,
                state: if pending {
                    "PENDING_GENERATION"
                } else {
                    "ENABLED"
                }
                .into(),
                created: now,
                destroy_time: None,
            };
            key.versions.push(v.clone());
            let key = key.clone();
            (StatusCode::OK, version_json(name, &key, &v))
        }
        "cryptoKeys.updatePrimaryVersion" => {
            let Some(key) = data.keys.get_mut(resource) else {
                return not_found();
            };
            let Some(id) = body["cryptoKeyVersionId"].as_str() else {
                return malformed("cryptoKeyVersionId is required".into());
            };
            if key.purpose != "ENCRYPT_DECRYPT" {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    "Only ENCRYPT_DECRYPT keys have a primary version.",
                );
            }
            match key.versions.iter().find(|v| v.id.to_string() == id) {
                Some(v) if v.state == "ENABLED" => key.primary = Some(v.id),
                Some(_) => {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "FAILED_PRECONDITION",
                        "The version is not enabled.",
                    );
                }
                None => return not_found(),
            }
            let key = key.clone();
            (StatusCode::OK, key_json(resource, &key))
        }
        "cryptoKeys.patch" => {
            let Some(key) = data.keys.get_mut(resource) else {
                return not_found();
            };
            if let Some(p) = mask_problem(
                m,
                &body,
                &[
                    "rotationPeriod",
                    "nextRotationTime",
                    "labels",
                    "versionTemplate.algorithm",
                ],
            ) {
                return malformed(p);
            }
            let mask = m.query.get("updateMask").cloned().unwrap_or_default();
            if mask.contains("rotationPeriod") {
                if key.purpose != "ENCRYPT_DECRYPT" {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_ARGUMENT",
                        "Automatic rotation applies only to ENCRYPT_DECRYPT keys.",
                    );
                }
                let secs = body["rotationPeriod"]
                    .as_str()
                    .and_then(|p| p.strip_suffix('s'))
                    .and_then(|p| p.parse::<u64>().ok());
                let next_in_future = body["nextRotationTime"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t > now);
                // Cloud KMS: at least a day, at most 876,000 hours, the next time ahead.
                if secs.is_none_or(|s| !(86_400..=876_000 * 3_600).contains(&s))
                    || !mask.contains("nextRotationTime")
                    || !next_in_future
                {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_ARGUMENT",
                        "rotationPeriod must be at least 1 day, with nextRotationTime.",
                    );
                }
                key.rotation_period = body["rotationPeriod"].as_str().map(str::to_owned);
                key.next_rotation_time = body["nextRotationTime"].as_str().map(str::to_owned);
            }
            if mask.contains("labels") {
                key.labels = body["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect();
            }
            let key = key.clone();
            (StatusCode::OK, key_json(resource, &key))
        }
        "cryptoKeys.cryptoKeyVersions.patch" | "cryptoKeys.cryptoKeyVersions.destroy" => {
            let Some((name, id)) = resource.rsplit_once("/cryptoKeyVersions/") else {
                return not_found();
            };
            let Some(key) = data.keys.get_mut(name) else {
                return not_found();
            };
            let primary = key.primary;
            let Some(v) = key.versions.iter_mut().find(|v| v.id.to_string() == id) else {
                return not_found();
            };
            if op.ends_with("destroy") {
                if v.state != "ENABLED" && v.state != "DISABLED" {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "FAILED_PRECONDITION",
                        "The version is not enabled or disabled.",
                    );
                }
                v.state = "DESTROY_SCHEDULED".into();
                v.destroy_time = Some(now + chrono::Duration::days(30));
            } else {
                if let Some(p) = mask_problem(m, &body, &["state"]) {
                    return malformed(p);
                }
                let state = body["state"].as_str().unwrap_or_default();
                if state != "ENABLED" && state != "DISABLED" {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_ARGUMENT",
                        "state may be ENABLED or DISABLED.",
                    );
                }
                if state == "DISABLED" && primary == Some(v.id) {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "FAILED_PRECONDITION",
                        "The primary version cannot be disabled.",
                    );
                }
                v.state = state.into();
            }
            let v = v.clone();
            let key = key.clone();
            (StatusCode::OK, version_json(name, &key, &v))
        }
        _ => (StatusCode::NOT_IMPLEMENTED, Value::Null),
    }
}

/// Operator config (TOML) granting the `gcp-kms` plugin the fake's hosts and the
/// service-account key (`key_json` as its value); `extra` goes into the plugin's table.
pub fn plugin_grants(fake: &FakeGcp, key_json: &str, extra: &str) -> String {
    format!(
        r#"
[secrets]
gcp-service-account = {{ value = {key} }}

[plugins.gcp-kms]
outbound_hosts = ["{kms}", "{auth}"]
secrets = ["gcp-service-account"]
settings = {{ endpoint = "{kms}", locations = "us-east1,global" }}
{extra}
"#,
        key = toml::Value::String(key_json.to_owned()),
        kms = fake.url,
        auth = fake.auth_host,
    )
}

//! The agent protocol (`/KeyfactorAgents`) and the agents API (`/KeyfactorAPI/Agents`,
//! `/api/v1/agents/registration-credentials`) as a client sees them over HTTPS on
//! loopback, against the real server: what opens a registration or a session (a
//! registration credential, a client certificate of the agent CA, a session token bound
//! to it) and what is refused. Every refusal is a 4xx with a JSON body naming the reason,
//! never a 500 or a dropped connection, and stores nothing.
//!
//! Agents' keys, CSRs and certificates are made with rcgen; a client certificate is
//! presented with a reqwest client built with `reqwest::Identity::from_pem`.

use base64::Engine as _;
use keywarden::authority::agent_ca::AGENT_CA_DIR;
use keywarden::authority::local::ROOT_CERT_FILE;
use keywarden::operator_config::OperatorConfig;
use keywarden::server::tls::{SERVER_CERT_FILE, SERVER_KEY_FILE, TLS_DIR};
use keywarden_tests::server::TestServer;
use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;

const REGISTER: &str = "/KeyfactorAgents/Session/Register";
const INVENTORY_CONFIGURATION: &str = "/KeyfactorAgents/Inventory/Configuration";
const FETCH_LOGS_CONFIGURATION: &str = "/KeyfactorAgents/FetchLogs/Configuration";
const FETCH_LOGS_COMPLETE: &str = "/KeyfactorAgents/FetchLogs/Complete";
/// Every job call of the protocol: each names a session token and a job.
const JOB_CALLS: &[&str] = &[
    INVENTORY_CONFIGURATION,
    "/KeyfactorAgents/Inventory/Update",
    "/KeyfactorAgents/Inventory/Complete",
    FETCH_LOGS_CONFIGURATION,
    FETCH_LOGS_COMPLETE,
];
/// The registration credential every test creates.
const FLEET: &str = "fleet";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `Authorization` value of HTTP basic auth.
fn basic(username: &str, password: &str) -> String {
    format!("Basic {}", b64(format!("{username}:{password}")))
}

/// Upper-case hex SHA-1, Keyfactor's thumbprint.
fn sha1_hex(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = b64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER of the first certificate of a PEM file.
fn first_pem_certificate(text: &str) -> Vec<u8> {
    let body: String = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
        .expect("a PEM certificate")
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

/// A DER PKCS#10 request for `key`, CN `machine`.
fn csr(key: &KeyPair, machine: &str) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, machine);
    params.serialize_request(key).unwrap().der().to_vec()
}

/// An HTTPS client trusting only the server's CA, presenting `certificate` (DER) with
/// `key` as its client certificate.
fn client_presenting(server: &TestServer, certificate: &[u8], key: &KeyPair) -> reqwest::Client {
    let ca = std::fs::read(server.ca_cert.as_ref().expect("a TLS server")).unwrap();
    let identity = format!("{}{}", pem("CERTIFICATE", certificate), key.serialize_pem());
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).expect("PEM identity"))
        .build()
        .expect("HTTPS client with a client certificate")
}

/// POSTs `body` as it is to an agent-protocol path; the answer's status and JSON body
/// (`Null` when empty, a string saying so when not JSON). A dropped connection fails the
/// test.
async fn post_agent(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    authorization: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = client
        .post(format!("{}{path}", server.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer (connection dropped?): {e:?}"));
    let status = response.status();
    let bytes = response.bytes().await.expect("body read");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    // A body that is not JSON is kept as text, for the assertions to show.
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        Value::String(format!("(not JSON) {}", String::from_utf8_lossy(&bytes)))
    });
    (status, value)
}

/// A registration body as Keyfactor's agents send it.
fn registration(machine: &str, csr: Option<&[u8]>) -> Value {
    json!({
        "ClientMachine": machine,
        "AgentId": "",
        "AgentPlatform": 5,
        // 2.19.0.0, packed as Keyfactor packs it.
        "AgentVersion": (2u64 << 48) | (19u64 << 32),
        "Capabilities": ["CertStores.PEM.Inventory", "Custom.FetchLogs"],
        "CSR": csr.map(b64),
    })
}

/// Registers with HTTP basic auth on a client presenting no certificate.
async fn register_basic(
    server: &TestServer,
    authorization: &str,
    body: &Value,
) -> (StatusCode, Value) {
    post_agent(
        server.client(),
        server,
        REGISTER,
        Some(authorization),
        &body.to_string(),
    )
    .await
}

/// What is wrong with an answer that should be the agent dialect's refusal: `expected`,
/// with `Result.Status` 3 and an `Error` giving the code, a message and, when `field` is
/// given, that field as the agent spells it (case aside: `CSR`, `csr`).
fn agent_refusal_fault(
    what: &str,
    (status, body): &(StatusCode, Value),
    expected: StatusCode,
    field: Option<&str>,
) -> Option<String> {
    let error = &body["Result"]["Error"];
    let fault = if *status != expected {
        format!("{status}, expected {expected}")
    } else if body["Result"]["Status"] != 3 || error["Code"] != expected.as_u16() {
        "not a Result with Status 3 and the code".to_owned()
    } else if error["Message"]
        .as_str()
        .is_none_or(|m| m.trim().is_empty())
    {
        "no reason in words".to_owned()
    } else if let Some(field) = field
        && !error["Field"]
            .as_str()
            .is_some_and(|f| f.eq_ignore_ascii_case(field))
    {
        format!("does not name the field {field}")
    } else {
        return None;
    };
    Some(format!("{what}: {fault}: {body}"))
}

#[track_caller]
fn assert_agent_refusal(
    what: &str,
    answer: &(StatusCode, Value),
    expected: StatusCode,
    field: Option<&str>,
) {
    if let Some(fault) = agent_refusal_fault(what, answer, expected, field) {
        panic!("{fault}");
    }
}

/// Fails listing every fault at once.
#[track_caller]
fn assert_no_faults(faults: &[String]) {
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

/// The API's error body (`/KeyfactorAPI` and `/api/v1`): `expected`, its code repeated,
/// a message and, when `field` is given, a field starting with it.
#[track_caller]
fn assert_api_refusal(
    what: &str,
    (status, body): &(StatusCode, Value),
    expected: StatusCode,
    field: Option<&str>,
) {
    assert_eq!(*status, expected, "{what}: {body}");
    assert_eq!(body["code"], expected.as_u16(), "{what}: {body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{what}: a reason in words: {body}"
    );
    if let Some(field) = field {
        assert!(
            body["field"].as_str().is_some_and(|f| f.starts_with(field)),
            "{what}: names {field}: {body}"
        );
    }
}

/// What the admin sees of every agent: ids, machines, statuses and certificates.
async fn agents(server: &TestServer) -> Vec<Value> {
    let (status, body, total) = server
        .get_counted(&server.admin, "/KeyfactorAPI/Agents?ReturnLimit=1000")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body.as_array().expect("an array of agents");
    assert_eq!(total, Some(list.len() as i64), "{body}");
    list.iter()
        .map(|a| {
            json!({
                "AgentId": a["AgentId"],
                "ClientMachine": a["ClientMachine"],
                "Status": a["Status"],
                "Thumbprint": a["Thumbprint"],
                "LegacyThumbprint": a["LegacyThumbprint"],
                "AuthCertificateReenrollment": a["AuthCertificateReenrollment"],
            })
        })
        .collect()
}

async fn agent_view(server: &TestServer, id: &str) -> Value {
    let (status, body) = server
        .get(&server.admin, &format!("/KeyfactorAPI/Agents/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The id of the one agent of `machine`.
async fn agent_id_of(server: &TestServer, machine: &str) -> String {
    let matching: Vec<Value> = agents(server)
        .await
        .into_iter()
        .filter(|a| a["ClientMachine"] == machine)
        .collect();
    assert_eq!(matching.len(), 1, "one agent of {machine}: {matching:?}");
    matching[0]["AgentId"].as_str().unwrap().to_owned()
}

async fn approve(server: &TestServer, id: &str) {
    let (status, body) = server
        .post(&server.admin, "/KeyfactorAPI/Agents/Approve", &json!([id]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// A server over HTTPS and the password of the registration credential `fleet`.
async fn start() -> (TestServer, String) {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    let (status, body) = server
        .post(
            &server.admin,
            "/api/v1/agents/registration-credentials",
            &json!({"username": FLEET}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let password = body["password"].as_str().expect("password").to_owned();
    (server, password)
}

/// An enrolled agent: its id, key and the client certificate the agent CA issued.
struct EnrolledAgent {
    id: String,
    machine: String,
    key: KeyPair,
    certificate: Vec<u8>,
    /// The token of the enrollment answer (a session opened with the credential).
    enrollment_token: String,
}

impl EnrolledAgent {
    fn client(&self, server: &TestServer) -> reqwest::Client {
        client_presenting(server, &self.certificate, &self.key)
    }

    /// Registers over mTLS with its certificate; returns the session.
    async fn open_session(&self, server: &TestServer) -> Value {
        let mut body = registration(&self.machine, None);
        body["AgentId"] = json!(self.id);
        let (status, answer) = post_agent(
            &self.client(server),
            server,
            REGISTER,
            None,
            &body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["Result"]["Status"], 1, "{answer}");
        let session = answer["Session"].clone();
        assert_eq!(session["AgentId"], self.id.as_str(), "{answer}");
        assert!(session["Token"].is_string(), "{answer}");
        session
    }
}

/// Registers `machine` with the credential (New), approves it, and enrolls its client
/// certificate with a CSR.
async fn enroll(server: &TestServer, password: &str, machine: &str) -> EnrolledAgent {
    let auth = basic(FLEET, password);
    let (status, body) = register_basic(server, &auth, &registration(machine, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["Error"]["CodeString"], "PENDING", "{body}");
    let id = agent_id_of(server, machine).await;
    approve(server, &id).await;
    let key = KeyPair::generate().unwrap();
    let (status, body) = register_basic(
        server,
        &auth,
        &registration(machine, Some(&csr(&key, machine))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = &body["Session"];
    assert_eq!(session["AgentId"], id.as_str(), "{body}");
    let certificate = base64::engine::general_purpose::STANDARD
        .decode(session["Certificate"].as_str().expect("a certificate"))
        .expect("base64 DER");
    EnrolledAgent {
        id,
        machine: machine.to_owned(),
        key,
        certificate,
        enrollment_token: session["Token"].as_str().unwrap().to_owned(),
    }
}

/// A job call's body.
fn job_call(token: &str, job_id: &str) -> String {
    json!({"SessionToken": token, "JobId": job_id}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_without_a_registration_credential_is_refused_with_401_and_creates_no_agent() {
    let (server, password) = start().await;
    let api_token = server.token("admin", false).await;
    let key = KeyPair::generate().unwrap();
    let body = registration("intruder", Some(&csr(&key, "intruder"))).to_string();
    let bearer = format!("Bearer {}", server.admin);
    let token_as_password = basic(FLEET, &api_token);
    let admin_as_password = basic(FLEET, &server.admin);
    let wrong_password = basic(FLEET, &format!("{password}x"));
    let unknown_user = basic("nobody", &password);
    let cases: &[(&str, Option<&str>)] = &[
        ("no credentials", None),
        ("the admin API token as a bearer token", Some(&bearer)),
        ("an API token as the password", Some(&token_as_password)),
        ("the admin token as the password", Some(&admin_as_password)),
        ("a wrong password", Some(&wrong_password)),
        ("an unknown username", Some(&unknown_user)),
        ("basic auth that is not base64", Some("Basic !!!")),
        (
            "basic auth without ':'",
            Some(&format!("Basic {}", b64(FLEET))),
        ),
    ];
    for (what, authorization) in cases {
        let answer = post_agent(server.client(), &server, REGISTER, *authorization, &body).await;
        assert_agent_refusal(what, &answer, StatusCode::UNAUTHORIZED, None);
        assert_eq!(agents(&server).await, Vec::<Value>::new(), "{what}");
    }
    // The right credential registers the same request.
    let (status, answer) = register_basic(
        &server,
        &basic(FLEET, &password),
        &serde_json::from_str(&body).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(agents(&server).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_registrations_get_400_naming_the_field_and_create_no_agent() {
    let (server, password) = start().await;
    let auth = basic(FLEET, &password);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = registration("host-1", None);
        change(&mut body);
        body.to_string()
    };
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("not JSON", "{\"ClientMachine\": ".to_owned(), None),
        ("a JSON array", "[]".to_owned(), None),
        ("a JSON string", "\"host-1\"".to_owned(), None),
        (
            "no ClientMachine",
            with(&|b| {
                b.as_object_mut().unwrap().remove("ClientMachine");
            }),
            Some("ClientMachine"),
        ),
        (
            "ClientMachine a number",
            with(&|b| b["ClientMachine"] = json!(7)),
            Some("ClientMachine"),
        ),
        (
            "ClientMachine blank",
            with(&|b| b["ClientMachine"] = json!("   ")),
            Some("ClientMachine"),
        ),
        (
            "ClientMachine with a control character",
            with(&|b| b["ClientMachine"] = json!("host\u{7}1")),
            Some("ClientMachine"),
        ),
        (
            "ClientMachine with a line break",
            with(&|b| b["ClientMachine"] = json!("host-1\nforged log line")),
            Some("ClientMachine"),
        ),
        (
            "ClientMachine of 300 characters",
            with(&|b| b["ClientMachine"] = json!("h".repeat(300))),
            Some("ClientMachine"),
        ),
        (
            "AgentId not a GUID",
            with(&|b| b["AgentId"] = json!("not-a-guid")),
            Some("AgentId"),
        ),
        (
            "AgentPlatform 99",
            with(&|b| b["AgentPlatform"] = json!(99)),
            Some("AgentPlatform"),
        ),
        (
            "Capabilities not an array",
            with(&|b| b["Capabilities"] = json!("CertStores.PEM.Inventory")),
            Some("Capabilities"),
        ),
        (
            "Capabilities holding a number",
            with(&|b| b["Capabilities"] = json!([1])),
            Some("Capabilities"),
        ),
        (
            "300 Capabilities",
            with(&|b| b["Capabilities"] = json!(vec!["Custom.Thing"; 300])),
            Some("Capabilities"),
        ),
        (
            "a capability of 300 characters",
            with(&|b| b["Capabilities"] = json!(["c".repeat(300)])),
            Some("Capabilities"),
        ),
        (
            "AgentVersion of 65 characters",
            with(&|b| b["AgentVersion"] = json!("1".repeat(65))),
            Some("AgentVersion"),
        ),
        (
            "AgentVersion negative",
            with(&|b| b["AgentVersion"] = json!(-1)),
            Some("AgentVersion"),
        ),
        (
            "CSR not base64",
            with(&|b| b["CSR"] = json!("!!!notbase64")),
            Some("CSR"),
        ),
        ("CSR a number", with(&|b| b["CSR"] = json!(12)), Some("CSR")),
    ];
    let mut faults = Vec::new();
    for (what, body, field) in &cases {
        let answer = post_agent(server.client(), &server, REGISTER, Some(&auth), body).await;
        faults.extend(agent_refusal_fault(
            what,
            &answer,
            StatusCode::BAD_REQUEST,
            *field,
        ));
        assert_eq!(agents(&server).await, Vec::<Value>::new(), "{what}");
    }
    // Too large for any agent: refused before it is read, in the agent's terms.
    let huge = registration(&"h".repeat(3 << 20), None).to_string();
    let (status, body) = post_agent(server.client(), &server, REGISTER, Some(&auth), &huge).await;
    let expected = if status == StatusCode::BAD_REQUEST {
        status
    } else {
        StatusCode::PAYLOAD_TOO_LARGE
    };
    faults.extend(agent_refusal_fault(
        "a body of 3 MiB",
        &(status, body),
        expected,
        None,
    ));
    assert_eq!(
        agents(&server).await,
        Vec::<Value>::new(),
        "a body of 3 MiB"
    );
    assert_no_faults(&faults);
    // The same body, well formed, registers.
    let (status, answer) = register_basic(&server, &auth, &registration("host-1", None)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(agents(&server).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_agent_sending_a_garbage_or_tampered_csr_gets_400_naming_csr_and_no_certificate()
 {
    let (server, password) = start().await;
    let auth = basic(FLEET, &password);
    let (status, body) = register_basic(&server, &auth, &registration("csr-host", None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = agent_id_of(&server, "csr-host").await;
    approve(&server, &id).await;
    let before = agents(&server).await;
    assert_eq!(before[0]["Status"], 2);
    assert!(before[0]["Thumbprint"].is_null());

    let key = KeyPair::generate().unwrap();
    let mut tampered = csr(&key, "csr-host");
    // The signature is the request's last member: flip a byte of it.
    let last = tampered.len() - 1;
    tampered[last] ^= 0x55;
    let mut other_subject = csr(&key, "csr-host");
    // A byte of the signed part (the subject name) changed after signing.
    let cn = other_subject
        .windows(8)
        .position(|w| w == b"csr-host")
        .expect("the CN in the DER");
    other_subject[cn] = b'x';
    let certificate = CertificateParams::new(vec!["csr-host".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec();
    let cases: &[(&str, &[u8])] = &[
        (
            "valid base64 of garbage bytes",
            b"this is not a certificate request",
        ),
        ("an empty DER sequence", &[0x30, 0x00]),
        ("a CSR whose signature was tampered", &tampered),
        (
            "a CSR whose subject was changed after signing",
            &other_subject,
        ),
        ("a certificate instead of a CSR", &certificate),
    ];
    let mut faults = Vec::new();
    for (what, der) in cases {
        let answer = register_basic(&server, &auth, &registration("csr-host", Some(der))).await;
        faults.extend(agent_refusal_fault(
            what,
            &answer,
            StatusCode::BAD_REQUEST,
            Some("CSR"),
        ));
        assert!(
            answer.1["Session"].is_null(),
            "{what}: no session: {}",
            answer.1
        );
        assert_eq!(agents(&server).await, before, "{what}: nothing stored");
    }
    assert_no_faults(&faults);
    // A sound CSR from the same key is signed.
    let (status, body) = register_basic(
        &server,
        &auth,
        &registration("csr-host", Some(&csr(&key, "csr-host"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["Session"]["Certificate"].is_string(), "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_machine_waits_for_approval_then_gets_a_certificate_whose_sha1_is_its_thumbprint() {
    let (server, password) = start().await;
    let auth = basic(FLEET, &password);
    let key = KeyPair::generate().unwrap();

    // First registration, with a CSR: a New agent, no session, no certificate.
    let (status, body) = register_basic(
        &server,
        &auth,
        &registration("machine-m", Some(&csr(&key, "machine-m"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["Session"].is_null(), "{body}");
    assert_eq!(body["Result"]["Status"], 3, "{body}");
    assert_eq!(body["Result"]["Error"]["CodeString"], "PENDING", "{body}");
    let list = agents(&server).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["ClientMachine"], "machine-m");
    assert_eq!(list[0]["Status"], 1, "New");
    assert!(list[0]["Thumbprint"].is_null());
    let id = list[0]["AgentId"].as_str().unwrap().to_owned();
    let view = agent_view(&server, &id).await;
    assert_eq!(view["Username"], FLEET, "{view}");
    assert_eq!(view["AgentPlatform"], 5, "{view}");
    assert_eq!(view["Version"], "2.19.0.0", "{view}");

    // Registering again before approval: still pending, still one agent.
    let (status, body) = register_basic(
        &server,
        &auth,
        &registration("machine-m", Some(&csr(&key, "machine-m"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["Error"]["CodeString"], "PENDING", "{body}");
    assert_eq!(agents(&server).await, list);

    approve(&server, &id).await;
    let (status, body) = register_basic(
        &server,
        &auth,
        &registration("machine-m", Some(&csr(&key, "machine-m"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["Status"], 1, "{body}");
    let session = &body["Session"];
    assert_eq!(session["Token"].as_str().map(str::len), Some(36), "{body}");
    assert_eq!(session["AgentId"], id.as_str(), "{body}");
    let certificate = session["Certificate"].as_str().expect("a certificate");
    assert!(
        !certificate.contains("-----") && !certificate.contains('\n'),
        "bare base64 DER: {certificate}"
    );
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate)
        .expect("base64");
    assert_eq!(der[0], 0x30, "DER");
    let view = agent_view(&server, &id).await;
    assert_eq!(
        view["Thumbprint"].as_str(),
        Some(sha1_hex(&der).as_str()),
        "{view}"
    );
    assert_eq!(view["Status"], 2, "{view}");
    assert_eq!(agents(&server).await.len(), 1, "still one agent");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_current_certificate_of_the_agent_ca_opens_a_session_and_reset_revokes_it() {
    let (server, password) = start().await;
    let agent = enroll(&server, &password, "mtls-host").await;
    let before = agents(&server).await;
    let mut body = registration("mtls-host", None);
    body["AgentId"] = json!(agent.id);
    let body = body.to_string();

    // A self-signed certificate, and one from a look-alike CA named like the agent CA.
    let stranger = KeyPair::generate().unwrap();
    let self_signed = CertificateParams::new(vec!["mtls-host".to_owned()])
        .unwrap()
        .self_signed(&stranger)
        .unwrap();
    let agent_ca_pem = std::fs::read_to_string(
        server
            .data_dir
            .path()
            .join(AGENT_CA_DIR)
            .join(ROOT_CERT_FILE),
    )
    .expect("the agent CA certificate");
    let look_alike = Issuer::from_ca_cert_pem(&agent_ca_pem, KeyPair::generate().unwrap())
        .expect("the agent CA's name");
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "mtls-host");
    let forged = leaf.signed_by(&agent.key, &look_alike).unwrap();
    // The server's own TLS certificate, from the server's other CA, is no agent's either.
    let tls = server.data_dir.path().join(TLS_DIR);
    let server_key =
        KeyPair::from_pem(&std::fs::read_to_string(tls.join(SERVER_KEY_FILE)).unwrap()).unwrap();
    let server_certificate =
        first_pem_certificate(&std::fs::read_to_string(tls.join(SERVER_CERT_FILE)).unwrap());
    for (what, certificate, key) in [
        (
            "a self-signed certificate",
            self_signed.der().to_vec(),
            &stranger,
        ),
        (
            "a certificate from a CA named like the agent CA",
            forged.der().to_vec(),
            &agent.key,
        ),
        (
            "the server's own TLS certificate",
            server_certificate,
            &server_key,
        ),
    ] {
        let client = client_presenting(&server, &certificate, key);
        let answer = post_agent(&client, &server, REGISTER, None, &body).await;
        assert_agent_refusal(what, &answer, StatusCode::UNAUTHORIZED, None);
        // With the fleet credential as well: the certificate decides, and it is refused.
        let answer = post_agent(
            &client,
            &server,
            REGISTER,
            Some(&basic(FLEET, &password)),
            &body,
        )
        .await;
        assert_agent_refusal(what, &answer, StatusCode::UNAUTHORIZED, None);
        assert_eq!(agents(&server).await, before, "{what}: nothing stored");
    }

    // The issued certificate, with the agent's key: a session.
    let session = agent.open_session(&server).await;
    assert_eq!(session["Token"].as_str().map(str::len), Some(36));
    assert!(
        session["Certificate"].is_null(),
        "no CSR, no new certificate"
    );
    let view = agent_view(&server, &agent.id).await;
    assert_eq!(view["LastThumbprintUsed"], view["Thumbprint"], "{view}");
    assert_eq!(
        view["Thumbprint"].as_str(),
        Some(sha1_hex(&agent.certificate).as_str())
    );

    // A renewal over mTLS whose CSR does not verify keeps the current certificate.
    let mut tampered = csr(&agent.key, "mtls-host");
    let last = tampered.len() - 1;
    tampered[last] ^= 0x55;
    let mut renewal = registration("mtls-host", Some(&tampered));
    renewal["AgentId"] = json!(agent.id);
    let kept = agents(&server).await;
    let answer = post_agent(
        &agent.client(&server),
        &server,
        REGISTER,
        None,
        &renewal.to_string(),
    )
    .await;
    assert_agent_refusal(
        "a renewal CSR whose signature was tampered",
        &answer,
        StatusCode::BAD_REQUEST,
        Some("CSR"),
    );
    assert_eq!(agents(&server).await, kept, "the certificate is kept");

    // Reset: back to New without certificate; the same certificate opens nothing.
    let (status, answer) = server
        .post(
            &server.admin,
            &format!("/KeyfactorAPI/Agents/{}/Reset", agent.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let view = agent_view(&server, &agent.id).await;
    assert_eq!(view["Status"], 1, "{view}");
    assert!(view["Thumbprint"].is_null(), "{view}");
    let after_reset = agents(&server).await;
    let answer = post_agent(&agent.client(&server), &server, REGISTER, None, &body).await;
    assert_agent_refusal(
        "the certificate of a reset agent",
        &answer,
        StatusCode::UNAUTHORIZED,
        None,
    );
    assert_eq!(agents(&server).await, after_reset);
    // And the session it opened before the reset is gone.
    let token = session["Token"].as_str().unwrap();
    let answer = post_agent(
        &agent.client(&server),
        &server,
        INVENTORY_CONFIGURATION,
        None,
        &job_call(token, &Uuid::new_v4().to_string()),
    )
    .await;
    assert_agent_refusal(
        "a session of a reset agent",
        &answer,
        StatusCode::UNAUTHORIZED,
        None,
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_calls_need_the_session_token_with_its_agents_certificate() {
    let (server, password) = start().await;
    let a = enroll(&server, &password, "agent-a").await;
    let b = enroll(&server, &password, "agent-b").await;
    let token = a.open_session(&server).await["Token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_token = b.open_session(&server).await["Token"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = Uuid::new_v4().to_string();
    let with_a = a.client(&server);
    let with_b = b.client(&server);
    let unknown = Uuid::new_v4().to_string();
    for path in JOB_CALLS {
        let cases: [(&str, &reqwest::Client, String); 5] = [
            ("an unknown token", &with_a, job_call(&unknown, &job)),
            (
                "a token of an mTLS session without its certificate",
                server.client(),
                job_call(&token, &job),
            ),
            (
                "a token of an mTLS session with another agent's certificate",
                &with_b,
                job_call(&token, &job),
            ),
            (
                "the other agent's token with this agent's certificate",
                &with_a,
                job_call(&other_token, &job),
            ),
            ("no token", &with_a, json!({"JobId": job}).to_string()),
        ];
        for (what, client, body) in cases {
            let answer = post_agent(client, &server, path, None, &body).await;
            assert_agent_refusal(
                &format!("{path}: {what}"),
                &answer,
                StatusCode::UNAUTHORIZED,
                None,
            );
        }
        let answer = post_agent(&with_a, &server, path, None, &job_call(&token, "x")).await;
        assert_agent_refusal(
            &format!("{path}: JobId x"),
            &answer,
            StatusCode::BAD_REQUEST,
            Some("JobId"),
        );
    }
    // Token and certificate agree, but the job is not one running on this agent.
    for path in [INVENTORY_CONFIGURATION, FETCH_LOGS_CONFIGURATION] {
        let answer = post_agent(&with_a, &server, path, None, &job_call(&token, &job)).await;
        assert_agent_refusal(path, &answer, StatusCode::NOT_FOUND, None);
    }
    // A's certificate does not register as B.
    let before = agents(&server).await;
    let mut as_b = registration(&b.machine, None);
    as_b["AgentId"] = json!(b.id);
    let answer = post_agent(&with_a, &server, REGISTER, None, &as_b.to_string()).await;
    assert_agent_refusal(
        "A's certificate with B's AgentId",
        &answer,
        StatusCode::UNAUTHORIZED,
        None,
    );
    assert_eq!(agents(&server).await, before);
    // Disapproved, A's session answers nothing more.
    let (status, body) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/Agents/Disapprove",
            &json!([a.id]),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let answer = post_agent(
        &with_a,
        &server,
        INVENTORY_CONFIGURATION,
        None,
        &job_call(&token, &job),
    )
    .await;
    assert_agent_refusal(
        "the session of a disapproved agent",
        &answer,
        StatusCode::UNAUTHORIZED,
        None,
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_job_answers_only_its_agents_certificate_bound_session() {
    let (server, password) = start().await;
    let a = enroll(&server, &password, "logs-a").await;
    let b = enroll(&server, &password, "logs-b").await;
    let (status, body) = server
        .post(
            &server.admin,
            &format!("/KeyfactorAPI/Agents/{}/FetchLogs", a.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job = body["JobId"].as_str().expect("JobId").to_owned();
    let session = a.open_session(&server).await;
    assert!(
        session["Jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["JobId"] == job.as_str()),
        "the fetch-logs job is handed to agent A: {session}"
    );
    let token = session["Token"].as_str().unwrap();
    let other_token = b.open_session(&server).await["Token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Agent B, with its own session and certificate, cannot read or finish A's job.
    for (path, body) in [
        (FETCH_LOGS_CONFIGURATION, job_call(&other_token, &job)),
        (
            FETCH_LOGS_COMPLETE,
            json!({"SessionToken": other_token, "JobId": job, "Status": 2, "Log": "forged"})
                .to_string(),
        ),
    ] {
        let answer = post_agent(&b.client(&server), &server, path, None, &body).await;
        assert_agent_refusal(
            &format!("{path} by another agent"),
            &answer,
            StatusCode::NOT_FOUND,
            None,
        );
    }
    // The token of A's enrollment answer was opened with the registration credential,
    // not the certificate: replayed without the certificate, it acts on no job.
    let mut faults = Vec::new();
    for (path, body) in [
        (
            FETCH_LOGS_CONFIGURATION,
            job_call(&a.enrollment_token, &job),
        ),
        (
            FETCH_LOGS_COMPLETE,
            json!({"SessionToken": a.enrollment_token, "JobId": job, "Status": 2,
                   "Log": "forged"})
            .to_string(),
        ),
    ] {
        let answer = post_agent(server.client(), &server, path, None, &body).await;
        faults.extend(agent_refusal_fault(
            &format!("{path} with the enrollment token and no certificate"),
            &answer,
            StatusCode::UNAUTHORIZED,
            None,
        ));
    }
    let (status, state) = server
        .get(&server.admin, &format!("/api/v1/scheduler/jobs/{job}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    if state["status"] != "running" {
        faults.push(format!(
            "the job was finished by someone else than A: status {}, result {}, details {}",
            state["status"], state["result"], state["details"]["details"]
        ));
    }
    assert_no_faults(&faults);

    // A, with its token and certificate, is answered.
    let (status, body) = post_agent(
        &a.client(&server),
        &server,
        FETCH_LOGS_CONFIGURATION,
        None,
        &job_call(token, &job),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["Status"], 1, "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_api_refuses_bad_ids_bodies_and_queries_with_4xx_json() {
    let (server, password) = start().await;
    let (status, body) = register_basic(
        &server,
        &basic(FLEET, &password),
        &registration("api-host", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = agent_id_of(&server, "api-host").await;
    let before = agents(&server).await;
    let unknown = Uuid::new_v4().to_string();

    for path in [
        "/KeyfactorAPI/Agents/not-a-guid".to_owned(),
        format!("/KeyfactorAPI/Agents/{unknown}"),
    ] {
        let answer = server.get(&server.admin, &path).await;
        assert_api_refusal(&path, &answer, StatusCode::NOT_FOUND, None);
    }
    for path in [
        "/KeyfactorAPI/Agents/Approve",
        "/KeyfactorAPI/Agents/Disapprove",
    ] {
        for (what, body) in [
            ("an object", json!({})),
            ("an empty array", json!([])),
            ("a string", json!(id)),
        ] {
            let answer = server.post(&server.admin, path, &body).await;
            assert_api_refusal(
                &format!("{path}: {what}"),
                &answer,
                StatusCode::BAD_REQUEST,
                Some("AgentIds"),
            );
        }
        let answer = server.post(&server.admin, path, &json!(["x"])).await;
        assert_api_refusal(path, &answer, StatusCode::BAD_REQUEST, Some("AgentIds[0]"));
        // All or nothing: an unknown id refuses the known one too.
        let answer = server
            .post(&server.admin, path, &json!([id, unknown]))
            .await;
        assert_api_refusal(path, &answer, StatusCode::NOT_FOUND, None);
        assert_eq!(agents(&server).await, before, "{path}: nothing changed");
    }
    for path in [
        format!("/KeyfactorAPI/Agents/{unknown}/Reset"),
        format!("/KeyfactorAPI/Agents/{unknown}/FetchLogs"),
        "/KeyfactorAPI/Agents/not-a-guid/Reset".to_owned(),
    ] {
        let answer = server.post(&server.admin, &path, &json!({})).await;
        assert_api_refusal(&path, &answer, StatusCode::NOT_FOUND, None);
    }
    let answer = server
        .post(
            &server.admin,
            "/KeyfactorAPI/Agents/Reset",
            &json!([unknown]),
        )
        .await;
    assert_api_refusal("Reset", &answer, StatusCode::NOT_FOUND, None);

    const RENEWAL: &str = "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment";
    for (what, body, field) in [
        (
            "Status 3",
            json!({"OrchestratorIds": [id], "Status": 3}),
            "Status",
        ),
        (
            "Status a word",
            json!({"OrchestratorIds": [id], "Status": "Required"}),
            "Status",
        ),
        ("no Status", json!({"OrchestratorIds": [id]}), "Status"),
        (
            "no OrchestratorIds",
            json!({"Status": 1}),
            "OrchestratorIds",
        ),
        (
            "OrchestratorIds empty",
            json!({"OrchestratorIds": [], "Status": 1}),
            "OrchestratorIds",
        ),
        (
            "OrchestratorIds not GUIDs",
            json!({"OrchestratorIds": ["x"], "Status": 1}),
            "OrchestratorIds",
        ),
    ] {
        let answer = server.post(&server.admin, RENEWAL, &body).await;
        assert_api_refusal(what, &answer, StatusCode::BAD_REQUEST, Some(field));
    }
    let (status, body) = server
        .post(
            &server.admin,
            RENEWAL,
            &json!({"OrchestratorIds": [unknown], "Status": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["FailedOrchestratorIds"], json!([unknown]), "{body}");
    assert_eq!(agents(&server).await, before, "nothing changed");

    for (query, field) in [
        ("QueryString=Secret%20-eq%201", "QueryString"),
        ("QueryString=ClientMachine%20-eq", "QueryString"),
        ("SortField=Secret", "SortField"),
        ("SortAscending=sideways", "SortAscending"),
        ("ReturnLimit=0", "ReturnLimit"),
        ("Unknown=1", "Unknown"),
    ] {
        let path = format!("/KeyfactorAPI/Agents?{query}");
        let answer = server.get(&server.admin, &path).await;
        assert_api_refusal(&path, &answer, StatusCode::BAD_REQUEST, Some(field));
    }
    // Without a token, nothing.
    let answer = server
        .call(reqwest::Method::GET, "/KeyfactorAPI/Agents", None, None)
        .await;
    assert_api_refusal("no token", &answer, StatusCode::UNAUTHORIZED, None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_token_neither_sees_nor_changes_another_accounts_agents() {
    let (server, password) = start().await;
    let agent = enroll(&server, &password, "admin-host").await;
    let (status, body) = register_basic(
        &server,
        &basic(FLEET, &password),
        &registration("new-host", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_id = agent_id_of(&server, "new-host").await;
    let before = agents(&server).await;
    let other = server.token("other", false).await;

    let (status, list, total) = server.get_counted(&other, "/KeyfactorAPI/Agents").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!((list, total), (json!([]), Some(0)));
    for id in [&agent.id, &new_id] {
        let path = format!("/KeyfactorAPI/Agents/{id}");
        let answer = server.get(&other, &path).await;
        assert_api_refusal(&path, &answer, StatusCode::NOT_FOUND, None);
        for path in [
            "/KeyfactorAPI/Agents/Approve",
            "/KeyfactorAPI/Agents/Disapprove",
            "/KeyfactorAPI/Agents/Reset",
        ] {
            let answer = server.post(&other, path, &json!([id])).await;
            assert_api_refusal(path, &answer, StatusCode::NOT_FOUND, None);
        }
        for path in [
            format!("/KeyfactorAPI/Agents/{id}/Reset"),
            format!("/KeyfactorAPI/Agents/{id}/FetchLogs"),
        ] {
            let answer = server.post(&other, &path, &json!({})).await;
            assert_api_refusal(&path, &answer, StatusCode::NOT_FOUND, None);
        }
        let (status, body) = server
            .post(
                &other,
                "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment",
                &json!({"OrchestratorIds": [id], "Status": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["FailedOrchestratorIds"], json!([id]), "{body}");
    }
    assert_eq!(agents(&server).await, before, "nothing changed");
    // The agent still opens its session.
    agent.open_session(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_credentials_are_admin_only_unique_shown_once_and_register_agents() {
    let server = TestServer::sqlite_tls(OperatorConfig::default()).await;
    const PATH: &str = "/api/v1/agents/registration-credentials";
    let user = server.token("admin", false).await;
    let answer = server.post(&user, PATH, &json!({"username": FLEET})).await;
    assert_api_refusal("a non-admin token", &answer, StatusCode::FORBIDDEN, None);
    let answer = server
        .call(
            reqwest::Method::POST,
            PATH,
            None,
            Some(&json!({"username": FLEET})),
        )
        .await;
    assert_api_refusal("no token", &answer, StatusCode::UNAUTHORIZED, None);

    let (status, created) = server
        .post(&server.admin, PATH, &json!({"username": FLEET}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["username"], FLEET);
    assert_eq!(created["account"], "admin");
    let password = created["password"].as_str().expect("password").to_owned();
    assert!(password.len() >= 20, "a strong secret: {password}");

    let answer = server
        .post(&server.admin, PATH, &json!({"username": FLEET}))
        .await;
    assert_api_refusal(
        "a taken username",
        &answer,
        StatusCode::CONFLICT,
        Some("username"),
    );
    assert!(answer.1.get("password").is_none(), "{}", answer.1);
    for (what, username) in [
        ("a ':'", "fleet:2"),
        ("an empty name", ""),
        ("a space", "my fleet"),
        ("a control character", "fleet\u{1}"),
    ] {
        let answer = server
            .post(&server.admin, PATH, &json!({"username": username}))
            .await;
        assert_api_refusal(what, &answer, StatusCode::BAD_REQUEST, Some("username"));
    }
    let answer = server
        .post(
            &server.admin,
            PATH,
            &json!({"username": "fleet-2", "account": "no such/account"}),
        )
        .await;
    assert_api_refusal(
        "a bad account",
        &answer,
        StatusCode::BAD_REQUEST,
        Some("account"),
    );
    let answer = server
        .post(
            &server.admin,
            PATH,
            &json!({"username": "fleet-3", "extra": 1}),
        )
        .await;
    assert_api_refusal("an unknown member", &answer, StatusCode::BAD_REQUEST, None);

    // The password shown once registers agents into the credential's account.
    let (status, body) = register_basic(
        &server,
        &basic(FLEET, &password),
        &registration("cred-host", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Result"]["Error"]["CodeString"], "PENDING", "{body}");
    let id = agent_id_of(&server, "cred-host").await;
    assert_eq!(agent_view(&server, &id).await["Username"], FLEET);

    // A credential for another account registers into that account only.
    let (status, created) = server
        .post(
            &server.admin,
            PATH,
            &json!({"username": "other-fleet", "account": "other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["account"], "other");
    let other_password = created["password"].as_str().unwrap().to_owned();
    assert_ne!(other_password, password);
    let (status, body) = register_basic(
        &server,
        &basic("other-fleet", &other_password),
        &registration("other-host", None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = server.token("other", false).await;
    let (status, list, total) = server.get_counted(&other, "/KeyfactorAPI/Agents").await;
    assert_eq!((status, total), (StatusCode::OK, Some(1)), "{list}");
    assert_eq!(list[0]["ClientMachine"], "other-host", "{list}");
    // Each password is its own credential's.
    let answer = register_basic(
        &server,
        &basic(FLEET, &other_password),
        &registration("mixed-host", None),
    )
    .await;
    assert_agent_refusal(
        "another credential's password",
        &answer,
        StatusCode::UNAUTHORIZED,
        None,
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_away_certificate_opens_no_session_and_renews_nothing() {
    let (server, password) = start().await;
    let agent = enroll(&server, &password, "renewing").await;
    let (status, body) = server
        .post(
            &server.admin,
            "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment",
            &json!({"OrchestratorIds": [agent.id], "Status": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The agent renews with a new key over its current certificate.
    let new_key = KeyPair::generate().unwrap();
    let mut body = registration(&agent.machine, Some(&csr(&new_key, &agent.machine)));
    body["AgentId"] = json!(agent.id);
    let (status, answer) = post_agent(
        &agent.client(&server),
        &server,
        REGISTER,
        None,
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let renewed = base64::engine::general_purpose::STANDARD
        .decode(
            answer["Session"]["Certificate"]
                .as_str()
                .expect("a certificate"),
        )
        .unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&renewed).unwrap();
    assert_eq!(
        parsed.subject().to_string(),
        format!("CN={}", agent.id),
        "the certificate names the agent, not what its CSR asked for"
    );
    // The old certificate (a thief's copy) can neither open a session nor renew.
    let mut plain = registration(&agent.machine, None);
    plain["AgentId"] = json!(agent.id);
    let (status, answer) = post_agent(
        &agent.client(&server),
        &server,
        REGISTER,
        None,
        &plain.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let thief = KeyPair::generate().unwrap();
    let mut renew = registration(&agent.machine, Some(&csr(&thief, &agent.machine)));
    renew["AgentId"] = json!(agent.id);
    let before = agent_view(&server, &agent.id).await;
    let (status, answer) = post_agent(
        &agent.client(&server),
        &server,
        REGISTER,
        None,
        &renew.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(
        agent_view(&server, &agent.id).await["Thumbprint"],
        before["Thumbprint"],
        "nothing renewed"
    );
    // The new certificate works.
    let client = client_presenting(&server, &renewed, &new_key);
    let (status, answer) = post_agent(&client, &server, REGISTER, None, &plain.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["Session"]["Token"].is_string(), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_bind_machines_complete_only_their_own_enrollments_and_can_be_revoked() {
    let (server, fleet_password) = start().await;
    // A credential for one machine only.
    let (status, body) = server
        .post(
            &server.admin,
            "/api/v1/agents/registration-credentials",
            &json!({"username": "db01-only", "client_machine": "db01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["client_machine"], "db01");
    let db01 = basic("db01-only", body["password"].as_str().unwrap());
    let (status, answer) = register_basic(&server, &db01, &registration("web01", None)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another machine's name: {answer}"
    );
    let (status, answer) = register_basic(&server, &db01, &registration("db01", None)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = agent_id_of(&server, "db01").await;
    approve(&server, &id).await;

    // The fleet credential cannot complete the approved enrollment db01's credential began.
    let fleet = basic(FLEET, &fleet_password);
    let key = KeyPair::generate().unwrap();
    let (status, answer) = register_basic(
        &server,
        &fleet,
        &registration("db01", Some(&csr(&key, "db01"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["Session"].is_null(),
        "no certificate for the squatter: {answer}"
    );
    assert!(
        agent_view(&server, &id).await["Thumbprint"].is_null(),
        "the approved record is untouched"
    );
    // Its own credential completes it.
    let (status, answer) = register_basic(
        &server,
        &db01,
        &registration("db01", Some(&csr(&key, "db01"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Session"]["AgentId"], id.as_str(), "{answer}");

    // Revoked: it registers nothing any more; the agent keeps its certificate.
    let (status, _) = server
        .delete(
            &server.admin,
            "/api/v1/agents/registration-credentials/db01-only",
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .delete(
            &server.admin,
            "/api/v1/agents/registration-credentials/db01-only",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = register_basic(&server, &db01, &registration("db01", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(agent_view(&server, &id).await["Thumbprint"].is_string());
    let other = server.token("someone", false).await;
    let (status, _) = server
        .delete(&other, "/api/v1/agents/registration-credentials/fleet")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
    server.stop().await;
}

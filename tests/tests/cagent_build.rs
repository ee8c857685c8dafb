//! The harness for Keyfactor's reference C agent (`keywarden_tests::cagent`) builds the
//! agent from `tests/thirdparty/keyfactor-cagent`, runs it with a config it writes, and
//! kills it at a timeout.
//!
//! The server in these tests is not Keywarden. It is a stand-in that records what the
//! real agent sends and answers a registration as a server does for an agent that has
//! not been approved yet. This shows that the agent is built and talks HTTP to a server
//! in the test. The interop tests against Keywarden's own server are separate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use keywarden_tests::cagent::{AgentConfig, CAgent, agent_binary};
use serde_json::Value;

/// One request that the stand-in server received.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// What a server answers while an agent awaits approval (protocol notes §2.4).
const PENDING: &str = r#"{"Session":null,"Result":{"Status":3,"Error":{"Code":0,"CodeString":"PENDING","Message":"awaiting approval"}}}"#;

/// Records every request. `POST /KeyfactorAgents/Session/Register` gets [`PENDING`],
/// and anything else gets a 404.
async fn record(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (
    axum::http::StatusCode,
    [(&'static str, &'static str); 1],
    &'static str,
) {
    let path = uri.path().to_owned();
    let register = method == Method::POST && path == "/KeyfactorAgents/Session/Register";
    log.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body,
    });
    if register {
        (
            axum::http::StatusCode::OK,
            [("content-type", "application/json")],
            PENDING,
        )
    } else {
        (
            axum::http::StatusCode::NOT_FOUND,
            [("content-type", "text/plain")],
            "",
        )
    }
}

async fn stand_in_server() -> (SocketAddr, Log) {
    let log = Log::default();
    let app = Router::new().fallback(record).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, log)
}

/// Standard base64 with padding (RFC 4648 §4), enough for a Basic auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}

#[test]
fn the_agent_binary_is_built() {
    let binary = agent_binary();
    assert!(binary.is_file(), "{} is missing", binary.display());
    assert!(
        binary.ends_with("target/cagent/agent"),
        "{}",
        binary.display()
    );
    assert_eq!(agent_binary(), binary, "one build per process");
}

/// The simplest setup (plain HTTP, no agent certificate, no enrollment) makes a single
/// normal registration. The agent accepts the server's refusal and exits.
#[tokio::test]
async fn the_agent_registers_with_basic_auth_and_its_capabilities() {
    let (addr, recorded) = stand_in_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::plain_http(dir.path(), "TestAgent1", &addr.to_string());
    config.username = Some(r"DOMAIN\user".to_owned());
    config.password = Some("secret".to_owned());
    let agent = CAgent::new(dir, config);

    let timeout = Duration::from_secs(60);
    let out = agent.run_async(timeout).await;
    assert!(!out.timed_out(), "{out}");
    assert!(out.elapsed < timeout, "{out}");
    // The agent exits 0 even when the server refuses the registration.
    assert!(out.success(), "{out}");

    let requests = recorded.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        1,
        "one registration and nothing else: {requests:#?}\n{out}"
    );
    let register = &requests[0];
    assert_eq!(register.method, Method::POST);
    assert_eq!(register.path, "/KeyfactorAgents/Session/Register");
    let header = |name: &str| register.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header("authorization"),
        Some(format!("Basic {}", base64(br"DOMAIN\user:secret")).as_str())
    );
    assert_eq!(header("content-type"), Some("application/json"));

    let body: Value = serde_json::from_slice(&register.body).unwrap_or_else(|e| {
        panic!(
            "the body is not JSON ({e}): {}",
            String::from_utf8_lossy(&register.body)
        )
    });
    assert_eq!(body["AgentPlatform"], 5, "{body}");
    assert_eq!(body["ClientMachine"], "TestAgent1", "{body}");
    assert_eq!(body["AgentId"], "", "not enrolled: {body}");
    assert_eq!(
        body["CSR"],
        Value::Null,
        "a normal registration has no CSR: {body}"
    );
    let capabilities: Vec<&str> = body["Capabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("no Capabilities list: {body}"))
        .iter()
        .map(|c| c.as_str().expect("capabilities are strings"))
        .collect();
    assert!(
        capabilities.contains(&"CertStores.PEM.Inventory"),
        "{capabilities:?}"
    );

    // The refusal leaves the agent as it was. The agent rewrites config.json anyway,
    // with where its log ends.
    let config = agent.config();
    assert_eq!(config["AgentId"], "", "{config}");
    assert_eq!(config["EnrollOnStartup"], false, "{config}");
    assert!(
        config["LogFileIndex"].as_u64().is_some_and(|i| i > 0),
        "{config}"
    );
    assert!(
        out.log.contains("PENDING"),
        "the log names the refusal:\n{}",
        out.log
    );
    assert_eq!(agent.log(), out.log, "the first run wrote the whole log");

    // An edit to the config that the agent left behind is seen by the next run. That
    // run's log continues after the first run's log.
    agent.update_config(|c| {
        c.insert("AgentName".into(), "TestAgent2".into());
    });
    let second = agent.run_async(timeout).await;
    assert!(second.success(), "{second}");
    let requests = recorded.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body["ClientMachine"], "TestAgent2", "{body}");
    assert_eq!(agent.log(), format!("{}{}", out.log, second.log));
}

/// An agent that gets no answer waits indefinitely, because it has no transfer timeout.
/// The harness kills it at the timeout.
#[tokio::test]
async fn an_agent_without_an_answer_is_killed_at_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept connections and hold them open without answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig::plain_http(dir.path(), "Silent", &addr.to_string());
    let agent = CAgent::new(dir, config);
    let out = agent.run_async(Duration::from_secs(2)).await;
    assert!(out.timed_out(), "{out}");
    assert!(out.elapsed >= Duration::from_secs(2), "{out}");
    assert!(
        out.elapsed < Duration::from_secs(10),
        "killed promptly: {out}"
    );
}

//! `hostile`: each custom operation is an attack on the sandbox. The end-to-end tests
//! run them and check that the host contains them (timeouts, memory limits, no access
//! beyond the grants, panics reported as failed jobs).
//!
//! Operations that *attempt* something report what happened instead of erroring: an
//! `Outcome::failure` carrying the error text when the sandbox stopped them, a success
//! when it did not (which the tests treat as a sandbox hole).

use keywarden_sdk::prelude::*;
use keywarden_sdk::{http, secrets, tls};
use serde::Deserialize;

struct Hostile;

#[derive(Deserialize)]
struct PathParams {
    path: String,
}

#[derive(Deserialize)]
struct UrlParams {
    url: String,
}

#[derive(Deserialize)]
struct NameParams {
    name: String,
}

#[derive(Deserialize)]
struct ProbeParams {
    host: String,
    port: u16,
    server_name: Option<String>,
    #[serde(default = "one")]
    times: u32,
    timeout_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

fn schema(field: &str, description: &str) -> Value {
    json!({
        "type": "object",
        "properties": { field: {"type": "string", "description": description} },
        "required": [field]
    })
}

fn no_params() -> Value {
    json!({"type": "object"})
}

impl Plugin for Hostile {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe("Sandbox attacks for the test suite. Never grant it anything in production.")
            .operations([
                Operation::custom("spin")
                    .describe("Loop forever without calling the host (tests the job timeout)")
                    .params_schema(no_params()),
                Operation::custom("memory-bomb")
                    .describe("Allocate and touch 1 MiB chunks forever (tests the memory limit)")
                    .params_schema(no_params()),
                Operation::custom("read-outside")
                    .describe("Read a file, normally outside the granted paths")
                    .params_schema(schema("path", "File to read")),
                Operation::custom("write-readonly")
                    .describe("Write a file, normally in a read-only grant")
                    .params_schema(schema("path", "File to write")),
                Operation::custom("connect")
                    .describe("HTTP GET a URL, normally of a host that is not granted")
                    .params_schema(schema("url", "URL to fetch")),
                Operation::custom("steal-secret")
                    .describe("Reveal a secret, normally one that is not granted")
                    .params_schema(schema("name", "Secret name")),
                Operation::custom("log-flood")
                    .describe("Log empty lines forever (tests that the host caps a job's log)")
                    .params_schema(no_params()),
                Operation::custom("reveal-flood")
                    .describe("Reveal the hostile-demo secret forever (tests that the host keeps one copy)")
                    .params_schema(no_params()),
                Operation::custom("reveal-in-error")
                    .describe("Fail with the hostile-demo secret (escaped, base64) in a huge error text (tests scrubbing and the cap)")
                    .params_schema(no_params()),
                Operation::custom("probe")
                    .describe("TLS-probe an endpoint `times` times, normally one that is not granted; reports each result")
                    .params_schema(json!({
                        "type": "object",
                        "properties": {
                            "host": {"type": "string"},
                            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                            "server_name": {"type": "string"},
                            "times": {"type": "integer", "minimum": 1, "maximum": 10000},
                            "timeout_ms": {"type": "integer", "minimum": 1}
                        },
                        "required": ["host", "port"]
                    })),
                Operation::custom("panic")
                    .describe("Panic (tests that a trap becomes a failed job)")
                    .params_schema(no_params()),
            ])
            .capabilities(
                Capabilities::new()
                    .outbound_host("example.com")
                    .read_path("/data", "files the read-outside attack may read")
                    .secret("hostile-demo")
                    .tls_probe(),
            )
    }

    fn run_custom(ctx: JobContext) -> Result<Outcome, JobError> {
        match ctx.operation.as_str() {
            "spin" => spin(),
            "memory-bomb" => memory_bomb(),
            "read-outside" => {
                let PathParams { path } = ctx.params()?;
                Ok(match std::fs::read_to_string(&path) {
                    Ok(text) => Outcome::success(format!("read {path}"))
                        .with_details(json!({"bytes": text.len()})),
                    Err(e) => Outcome::failure(format!("read {path}: {e}")),
                })
            }
            "write-readonly" => {
                let PathParams { path } = ctx.params()?;
                let data = b"written by the hostile plugin\n";
                Ok(match std::fs::write(&path, data) {
                    Ok(()) => Outcome::success(format!("wrote {path}"))
                        .with_details(json!({"bytes": data.len()})),
                    Err(e) => Outcome::failure(format!("write {path}: {e}")),
                })
            }
            "connect" => {
                let UrlParams { url } = ctx.params()?;
                Ok(match http::get(&url).send() {
                    Ok(response) => Outcome::success(format!("GET {url}: {}", response.status))
                        .with_details(
                            json!({"status": response.status, "bytes": response.body.len()}),
                        ),
                    Err(e) => Outcome::failure(format!("GET {url}: {e}")),
                })
            }
            "steal-secret" => {
                let NameParams { name } = ctx.params()?;
                Ok(match secrets::reveal(&name) {
                    // Even here, only the length leaves the plugin.
                    Ok(value) => Outcome::success(format!("revealed {name}"))
                        .with_details(json!({"secret_length": value.len()})),
                    Err(e) => Outcome::failure(format!("reveal {name}: {e}")),
                })
            }
            "log-flood" => loop {
                keywarden_sdk::log::info("");
            },
            "reveal-flood" => loop {
                let _ = std::hint::black_box(secrets::reveal("hostile-demo"));
            },
            "reveal-in-error" => {
                let value = secrets::reveal("hostile-demo")
                    .map_err(|e| JobError::failed(format!("reveal: {e}")))?;
                let escaped = serde_json::to_string(&value).unwrap_or_default();
                Err(JobError::failed(format!(
                    "leaking {value} and {escaped} {}",
                    "x".repeat(1 << 20)
                )))
            }
            "probe" => {
                let p: ProbeParams = ctx.params()?;
                let timeout = p.timeout_ms.map(std::time::Duration::from_millis);
                let mut results = Vec::new();
                for _ in 0..p.times {
                    results.push(
                        match tls::probe(&p.host, p.port, p.server_name.as_deref(), timeout) {
                            Ok(peer) => json!({
                                "address": peer.address,
                                "protocol": peer.protocol,
                                "cipher_suite": peer.cipher_suite,
                                "chain_length": peer.chain.len(),
                                "trusted": peer.trusted,
                                "name_matches": peer.name_matches,
                                "expired": peer.expired,
                            }),
                            Err(e) => json!({"error": e.kind(), "message": e.to_string()}),
                        },
                    );
                }
                Ok(Outcome::success(format!("probed {}:{}", p.host, p.port))
                    .with_details(json!({ "results": results })))
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            _ => Err(ctx.unsupported()),
        }
    }
}

/// Burn CPU forever without touching the host.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Allocate 1 MiB chunks, touch every page, keep them all. Ends only when the host's
/// memory limit makes an allocation fail (which aborts the instance).
fn memory_bomb() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        for page in chunk.iter_mut().step_by(4096) {
            *page = 1;
        }
        hoard.push(std::hint::black_box(chunk));
    }
}

keywarden_sdk::export_plugin!(Hostile);

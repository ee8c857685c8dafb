//! Memory of the largest request: a `keywarden serve` process (SQLite) takes one
//! `Certificates/Add` as large as the body limit allows (the longest chain taken, 32
//! certificates; 500 different stores, the cap; each target's `JobProperties` filling the
//! rest of the 2 MiB) and runs its 500 Management jobs. The server's resident memory is
//! printed idle, at its peak while taking the request, and at its peak while the jobs
//! ran, beside what the jobs would have carried had each one held its own copy of the
//! certificate (as they did before payloads were stored once).
//!
//! `cargo bench -p keywarden-tests --bench request_memory`. The run fails when the peak
//! exceeds the stated bound: idle + 256 MiB.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the server may grow by, at most, over its idle memory.
const BOUND_MIB: u64 = 256;
const STORES: usize = 500;
/// axum's default body limit is 2 MiB; the request stays just under it.
const BODY_BYTES: usize = 2_000_000;
/// The longest chain a Management request may carry.
const CHAIN: usize = 32;

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let plugins = keywarden_tests::plugins_dir();
    let root = tempfile::tempdir().unwrap();
    let (data, stores) = (root.path().join("data"), root.path().join("stores"));
    std::fs::create_dir_all(&stores).unwrap();
    let only_store = root.path().join("plugins");
    std::fs::create_dir_all(&only_store).unwrap();
    std::fs::copy(
        plugins.join("pem-store.wasm"),
        only_store.join("pem-store.wasm"),
    )
    .unwrap();
    let config = root.path().join("keywarden.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.pem-store]\ndirs = [{{ host = {:?}, guest = \"/stores\", writable = true }}]\n",
            stores.display().to_string()
        ),
    )
    .unwrap();
    let mut server = Command::new(keywarden_tests::keywarden_binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--plugins-dir")
        .arg(&only_store)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("keywarden serve starts");
    let pid = server.id();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_owned();
        }
    };
    let token = std::fs::read_to_string(data.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<&Value>| {
        let mut r = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send()
    };

    // Idle: started, plugins loaded, one request served.
    call(reqwest::Method::GET, "/api/v1/plugins", None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = status_kib(pid, "VmRSS:");

    let mut ids = Vec::with_capacity(STORES);
    for i in 0..STORES {
        let body = json!({"ClientMachine": "bench", "Storepath": format!("/stores/s{i}.pem"),
            "CertStoreType": 2, "CreateIfMissing": true, "Properties": {"trust_store": true}});
        let store: Value = call(
            reqwest::Method::POST,
            "/KeyfactorAPI/CertificateStores",
            Some(&body),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        ids.push(store["Id"].as_str().unwrap().to_owned());
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["bench.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem();
    let chain = cert.repeat(CHAIN);
    let filler = (BODY_BYTES - chain.len()) / STORES - 200;
    let targets: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"CertificateStoreId": id, "Alias": "bench",
            "JobProperties": {"note": "n".repeat(filler)}})
        })
        .collect();
    let request = json!({"Certificate": chain, "CertificateStores": targets});
    let request_bytes = request.to_string().len();
    let before_request = status_kib(pid, "VmHWM:");
    let started = Instant::now();
    let answer = call(
        reqwest::Method::POST,
        "/KeyfactorAPI/CertificateStores/Certificates/Add",
        Some(&request),
    )
    .await
    .unwrap();
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
    let accepted = started.elapsed();
    let after_request = status_kib(pid, "VmHWM:");
    // Until every job has ended.
    loop {
        let mut open = 0;
        for status in ["queued", "running"] {
            let page: Value = call(
                reqwest::Method::GET,
                &format!("/api/v1/scheduler/jobs?operation=Management&status={status}&limit=0"),
                None,
            )
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            open += page["total"].as_u64().unwrap_or(1);
        }
        if open == 0 {
            break;
        }
        let page = json!({"open": open});
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "jobs did not finish: {page}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ran = started.elapsed();
    let peak = status_kib(pid, "VmHWM:");
    let db = std::fs::metadata(data.join("keywarden.db")).map_or(0, |m| m.len());
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "largest request: Certificates/Add, {request_bytes} bytes ({STORES} stores, a {}-byte chain of {CHAIN})",
        chain.len()
    );
    println!(
        "  server RSS idle                      {:>8.1} MiB",
        mib(idle)
    );
    println!(
        "  peak before the request              {:>8.1} MiB",
        mib(before_request)
    );
    println!(
        "  peak once it was accepted ({:>5.1} s)  {:>8.1} MiB",
        accepted.as_secs_f64(),
        mib(after_request)
    );
    println!(
        "  peak once its {STORES} jobs ran ({:>5.1} s) {:>8.1} MiB",
        ran.as_secs_f64(),
        mib(peak)
    );
    println!(
        "  database file                        {:>8.1} MiB",
        db as f64 / 1_048_576.0
    );
    println!(
        "  baseline: jobs each carrying the certificate would hold {:.1} MiB of params",
        (chain.len() * STORES) as f64 / 1_048_576.0
    );
    println!(
        "  bound: idle + {BOUND_MIB} MiB = {:.1} MiB",
        mib(idle) + BOUND_MIB as f64
    );
    assert!(
        peak <= idle + BOUND_MIB * 1024,
        "peak {:.1} MiB exceeds idle {:.1} MiB + {BOUND_MIB} MiB",
        mib(peak),
        mib(idle)
    );
}

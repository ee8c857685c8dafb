//! Cold start: how long `keywarden serve` takes from process start to serving requests
//! with 20 plugins in its folder, first with an empty compile cache (every component is
//! compiled: the baseline) and then again on the same data directory, the components
//! precompiled (what a restart costs). Ready means the listening line was printed and
//! `/healthz` counts all 20 plugins loaded.
//!
//! The 20 plugins are the bundled ones plus copies of some of them that carry an extra
//! custom section, so each is a different component to compile and cache. The server is
//! the binary built with the bench's profile.
//!
//! `cargo bench -p keywarden-tests --bench cold_start` (`KW_BENCH_RUNS`, default 3, runs of
//! each kind; the median is printed).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PLUGINS: usize = 20;

/// `bytes` with a custom section named `name` holding `payload` appended: still the same
/// component to the runtime, another one to the compile cache.
fn with_custom_section(bytes: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

/// Fills `dir` with 20 plugins.
fn plugins(dir: &Path) -> Vec<String> {
    let bundled = keywarden_tests::plugins_dir();
    let mut files: Vec<_> = std::fs::read_dir(&bundled)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    let mut names = Vec::new();
    for (i, source) in files.iter().cycle().take(PLUGINS).enumerate() {
        let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(source).unwrap();
        let (name, bytes) = if i < files.len() {
            (stem, bytes)
        } else {
            let name = format!("{stem}-copy{i}");
            let tagged = with_custom_section(&bytes, "keywarden-bench", name.as_bytes());
            (name, tagged)
        };
        std::fs::write(dir.join(format!("{name}.wasm")), bytes).unwrap();
        names.push(name);
    }
    names
}

/// Starts `serve` on `data`/`plugins` and returns the time until it is ready.
async fn start(data: &Path, plugins: &Path, config: &Path) -> Duration {
    let started = Instant::now();
    let mut server = Command::new(keywarden_tests::keywarden_bench_binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .arg("--plugins-dir")
        .arg(plugins)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("keywarden serve starts");
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
    let client = reqwest::Client::new();
    let ready = loop {
        let health: serde_json::Value = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let loaded = health["plugins"].as_u64().unwrap_or(0) as usize;
        if loaded >= PLUGINS {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {loaded} of {PLUGINS} plugins loaded: {health}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    ready
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("KW_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let names = plugins(&dir);
    let config = root.path().join("keywarden.toml");
    std::fs::write(&config, "").unwrap();
    println!(
        "cold start: {} plugins ({}), {} CPUs, {runs} runs each",
        names.len(),
        names.join(", "),
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let (mut compiled, mut cached) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let data = root.path().join(format!("data-{run}"));
        compiled.push(start(&data, &dir, &config).await);
        cached.push(start(&data, &dir, &config).await);
    }
    let (compiled, cached) = (median(compiled), median(cached));
    println!();
    println!("{:<44} {:>10}", "start -> ready (median)", "seconds");
    println!(
        "{:<44} {:>10.3}",
        "empty compile cache (every plugin compiled)",
        compiled.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.3}",
        "precompiled (restart on the same data dir)",
        cached.as_secs_f64()
    );
    println!(
        "precompiled start is {:.1}x faster than compiling",
        compiled.as_secs_f64() / cached.as_secs_f64()
    );
}

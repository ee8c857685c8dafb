//! SSL discovery speed: the `ssl-scan` plugin discovering a /20 of loopback addresses
//! (4,096 addresses on three ports, 12,288 endpoints) with 20 real `openssl s_server`
//! listeners among them, beside nmap's `ssl-cert` script (Debian's nmap) on the same
//! range and ports in the same run. Both must find the 20 listeners.
//!
//! `cargo bench -p keywarden-tests --bench ssl_scan` (needs `openssl` and `nmap`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keywarden::plugins::loader;
use keywarden::runtime::invoke::{JobCall, JobInput};
use keywarden_tests::{plugin_file, runtime_from_toml};
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::json;

/// The /20 scanned: 127.0.16.0 to 127.0.31.255.
const RANGE: &str = "127.0.16.0/20";
const LISTENERS: usize = 20;

fn free_port() -> u16 {
    TcpListener::bind("127.0.16.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Listeners(Vec<Child>);

impl Drop for Listeners {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `LISTENERS` s_servers on addresses spread over the /20, all on `port`.
fn start_listeners(dir: &std::path::Path, port: u16) -> (Listeners, Vec<String>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["bench.test".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "bench.test");
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let mut children = Vec::new();
    let mut addresses = Vec::new();
    for i in 0..LISTENERS {
        // Spread: every 200th address from 127.0.16.10 on.
        let n = 10 + i * 200;
        let ip = format!("127.0.{}.{}", 16 + n / 256, n % 256);
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept", &format!("{ip}:{port}")])
            .args(["-cert", "cert.pem", "-key", "key.pem"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        children.push(child);
        addresses.push(format!("{ip}:{port}"));
    }
    for a in &addresses {
        let addr = a.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "{a} never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    (Listeners(children), addresses)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let (_listeners, mut addresses) = start_listeners(dir.path(), ports[0]);
    addresses.sort();
    let port_list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let endpoints = 4096 * ports.len();

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, mut found) = tokio.block_on(async {
        let runtime = runtime_from_toml(
            r#"
            [tls_probing]
            system_roots = false
            [plugins.ssl-scan]
            tls_probe = true
            tls_networks = ["127.0.16.0/20"]
            tls_ports = ["1-65535"]
            tls_rate_per_sec = 1000000
            tls_concurrency = 64
            "#,
        );
        let plugin = loader::load_file(&runtime, &plugin_file("ssl-scan"))
            .await
            .unwrap_or_else(|f| panic!("ssl-scan did not load: {}", f.reason));
        let input = JobInput {
            job_id: "bench".into(),
            operation: "ssl_discovery".into(),
            target: None,
            params: json!({"ranges": [format!("{RANGE}:{port_list}")], "timeout_ms": 1000}),
            scope: "bench".into(),
            dry_run: false,
        };
        let start = Instant::now();
        let report = plugin.run(&runtime, input, JobCall::Scan, None).await;
        let elapsed = start.elapsed();
        let finished = report.outcome.expect("the scan runs");
        let found: Vec<String> = finished.details["found"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["address"].as_str().unwrap().to_owned())
            .collect();
        (elapsed, found)
    });
    found.sort();
    assert_eq!(found, addresses, "keywarden found the listeners");

    let start = Instant::now();
    let nmap = Command::new("nmap")
        .args([
            "-n", "-Pn", "-sT", "-T4", "--script", "ssl-cert", "-p", &port_list, RANGE,
        ])
        .output()
        .expect("nmap runs (apt-get install nmap)");
    let nmap_elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&nmap.stdout);
    let nmap_found = text
        .matches("ssl-cert: Subject: commonName=bench.test")
        .count();
    assert_eq!(nmap_found, LISTENERS, "nmap found the listeners:\n{text}");

    let rate = |d: Duration| endpoints as f64 / d.as_secs_f64();
    println!(
        "SSL discovery of {RANGE} on {} ports ({endpoints} endpoints, {LISTENERS} TLS listeners)",
        ports.len()
    );
    println!(
        "  keywarden ssl-scan (one job, sequential probes): {:>8.2} s  {:>9.0} endpoints/s  found {}",
        elapsed.as_secs_f64(),
        rate(elapsed),
        found.len()
    );
    println!(
        "  nmap -sT -T4 --script ssl-cert (baseline):      {:>8.2} s  {:>9.0} endpoints/s  found {}",
        nmap_elapsed.as_secs_f64(),
        rate(nmap_elapsed),
        nmap_found
    );
}

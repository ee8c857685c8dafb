//! Shared pieces of the end-to-end tests: runtimes from operator TOML, compiled plugin
//! files, and a real HTTP server to aim plugins at.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden::runtime::Runtime;
use keywarden::runtime::capabilities::secrets::ConfiguredSecrets;
use keywarden::runtime::capabilities::state::MemoryState;
use keywarden::runtime::sandbox::HostServices;

/// The compiled plugin `<name>.wasm` (built once per test process).
pub fn plugin_file(name: &str) -> PathBuf {
    let path = crate::plugins_dir().join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A runtime configured by `toml` (operator config syntax), with in-memory state and
/// the host's TLS prober.
pub fn runtime_from_toml(toml: &str) -> Arc<Runtime> {
    let config: OperatorConfig = toml::from_str(toml).expect("test config parses");
    let services = HostServices {
        secrets: Arc::new(ConfiguredSecrets::new(config.secrets.clone())),
        state: Arc::new(MemoryState::default()),
        authority: None,
        tls_prober: Some(keywarden::discovery::probing(&config).expect("probe roots load")),
    };
    Runtime::new(config, None, services).expect("runtime starts")
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `ready()`, checking every 50 ms for at most `within`; panics with
/// `log()` (the server's own log) when it never is.
pub fn wait_until(
    what: &str,
    within: Duration,
    ready: impl Fn() -> bool,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not start: {}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether 127.0.0.1:`port` accepts connections.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Python's `http.server` serving an empty folder on 127.0.0.1; killed on drop.
pub struct HttpServer {
    pub port: u16,
    child: Child,
    _root: tempfile::TempDir,
}

impl HttpServer {
    pub fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("index.html"), "<p>keywarden test</p>").unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        wait_until(
            "http.server",
            Duration::from_secs(10),
            || listening(port),
            String::new,
        );
        Self {
            port,
            child,
            _root: root,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate made by `openssl` in `dir`: an EC P-256 key in `key` (PEM,
/// unencrypted) and the certificate in `cert`, valid `days` days, for `subject`
/// (`/CN=...`).
pub fn self_signed_ec(dir: &std::path::Path, key: &str, cert: &str, days: u32, subject: &str) {
    let days = days.to_string();
    let args = [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        &days,
        "-subj",
        subject,
    ];
    openssl(dir, &args);
}

/// Runs `openssl` with `args` in `dir`; panics with its error output when it fails.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads the `listening on <address>` line a `keywarden serve` child prints on stdout
/// (which must be piped) and keeps draining its stdout on a thread so the pipe never
/// fills. `None` if the line does not come within `within` (the process died or hung).
pub fn announced_address(
    child: &mut std::process::Child,
    within: std::time::Duration,
) -> Option<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    rx.recv_timeout(within).ok()
}

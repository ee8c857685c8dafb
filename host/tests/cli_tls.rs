//! `keywarden serve` over HTTPS as a real process on loopback: the operator's own PEM files
//! (a chain through an intermediate, keys in PKCS#1, SEC1 and PKCS#8, made by `openssl`),
//! the internal CA chosen through the environment, and refusals before serving. Clients
//! are `curl` and `openssl s_client`. An empty plugins folder keeps each start quick.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Variables of the caller's environment that would change what the flags say.
const SERVE_VARS: [&str; 8] = [
    "KEYWARDEN_LISTEN",
    "KEYWARDEN_CONFIG",
    "KEYWARDEN_DATABASE_URL",
    "KEYWARDEN_NODE_ID",
    "KEYWARDEN_TLS_CERT",
    "KEYWARDEN_TLS_KEY",
    "KEYWARDEN_TLS_INTERNAL_CA",
    "KEYWARDEN_TLS_NAMES",
];

fn keywarden(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let plugins = data.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keywarden"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.join("data"))
        .arg("--plugins-dir")
        .arg(&plugins)
        .args(args);
    for var in SERVE_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .env("KEYWARDEN_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// A running `keywarden serve` and what it printed before `listening on`.
struct Server {
    child: Child,
    /// `https://127.0.0.1:PORT` or `http://...`.
    base: String,
    port: u16,
    printed: Vec<String>,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = data.join("server.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = keywarden(data, args, env)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("keywarden starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout so the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut printed = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => match line.strip_prefix("listening on ") {
                    Some(base) => {
                        let base = base.trim().to_owned();
                        let port = base.rsplit(':').next().unwrap().parse().unwrap();
                        return Server {
                            child,
                            base,
                            port,
                            printed,
                            log,
                        };
                    }
                    None => printed.push(line),
                },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "no `listening on` from keywarden ({e}); it printed {printed:?}; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
    }

    /// SIGTERM, and a clean exit within 30 s.
    fn stop(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{status}; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("keywarden did not stop within 30 s after SIGTERM");
    }
}

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run("openssl", args, dir);
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
}

/// `curl` to `https://NAME:PORT/healthz` (NAME resolved to 127.0.0.1) trusting `ca` only;
/// returns the HTTP status, or panics with curl's complaint.
fn healthz(ca: &Path, name: &str, port: u16) -> String {
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}/healthz");
    let out = run(
        "curl",
        &[
            "-sS",
            "--cacert",
            &ca.display().to_string(),
            "--resolve",
            &resolve,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url,
        ],
        Path::new("."),
    );
    assert!(out.status.success(), "curl {url}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A root, an intermediate it signed, and the extensions file for both; in `dir`.
fn make_ca(dir: &Path) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[intermediate]\n\
         basicConstraints = critical,CA:TRUE,pathlen:0\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         [leaf]\n\
         basicConstraints = CA:FALSE\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1\n\
         extendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    #[rustfmt::skip]
    openssl(dir, &[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root-key.pem",
        "-out", "root.pem", "-subj", "/CN=Test Root", "-days", "2",
    ]);
    #[rustfmt::skip]
    openssl(dir, &[
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "int-key.pem", "-out", "int.csr", "-subj", "/CN=Test Intermediate",
    ]);
    #[rustfmt::skip]
    openssl(dir, &[
        "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root-key.pem",
        "-CAcreateserial", "-out", "int.pem", "-days", "2",
        "-extfile", "ext.cnf", "-extensions", "intermediate",
    ]);
}

/// A leaf for `localhost` and `127.0.0.1` under the intermediate, with its key made by
/// `keygen` (openssl arguments writing `<kind>-key.pem`); returns the chain file (leaf,
/// then intermediate) and the key file.
fn make_leaf(dir: &Path, kind: &str, keygen: &[&str]) -> (PathBuf, PathBuf) {
    openssl(dir, keygen);
    let key = format!("{kind}-key.pem");
    let csr = format!("{kind}.csr");
    let leaf = format!("{kind}.pem");
    #[rustfmt::skip]
    openssl(dir, &[
        "req", "-new", "-key", &key, "-out", &csr, "-subj", "/CN=localhost",
    ]);
    #[rustfmt::skip]
    openssl(dir, &[
        "x509", "-req", "-in", &csr, "-CA", "int.pem", "-CAkey", "int-key.pem",
        "-CAcreateserial", "-out", &leaf, "-days", "2",
        "-extfile", "ext.cnf", "-extensions", "leaf",
    ]);
    let chain = dir.join(format!("{kind}-chain.pem"));
    let pem = std::fs::read_to_string(dir.join(&leaf)).unwrap()
        + &std::fs::read_to_string(dir.join("int.pem")).unwrap();
    std::fs::write(&chain, pem).unwrap();
    (chain, dir.join(key))
}

#[test]
fn serve_uses_the_operators_certificate_chain_and_key_in_each_pem_form() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    make_ca(pki);
    let kinds: [(&str, &[&str], &str); 3] = [
        (
            "pkcs1",
            &["genrsa", "-traditional", "-out", "pkcs1-key.pem", "2048"],
            "BEGIN RSA PRIVATE KEY",
        ),
        (
            "sec1",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sec1-key.pem",
            ],
            "BEGIN EC PRIVATE KEY",
        ),
        (
            "pkcs8",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "pkcs8-key.pem",
            ],
            "BEGIN PRIVATE KEY",
        ),
    ];
    for (kind, keygen, header) in kinds {
        let (chain, key) = make_leaf(pki, kind, keygen);
        assert!(
            std::fs::read_to_string(&key).unwrap().contains(header),
            "{kind}"
        );
        let data = tempfile::tempdir().unwrap();
        let server = Server::start(
            data.path(),
            &[
                "--tls-cert",
                chain.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            server.base.starts_with("https://127.0.0.1:"),
            "{}",
            server.base
        );
        assert!(
            server.printed.iter().all(|l| !l.contains("internal CA")),
            "{:?}",
            server.printed
        );
        // The client trusts the root only: the server must send the intermediate.
        assert_eq!(
            healthz(&pki.join("root.pem"), "localhost", server.port),
            "200"
        );
        let out = run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &format!("127.0.0.1:{}", server.port),
                "-verify_hostname",
                "localhost",
                "-CAfile",
                "root.pem",
                "-verify_return_error",
            ],
            pki,
        );
        assert!(out.status.success(), "{kind}: {}", text(&out));
        assert!(text(&out).contains("Verify return code: 0 (ok)"), "{kind}");
        assert!(
            !data.path().join("data/tls").exists(),
            "no internal CA with the operator's files"
        );
        server.stop();
    }
}

#[test]
fn serve_with_the_internal_ca_from_the_environment_names_its_certificate() {
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("KEYWARDEN_TLS_INTERNAL_CA", "1"),
        ("KEYWARDEN_TLS_NAMES", "keywarden.example,10.9.8.7"),
    ];
    let server = Server::start(data.path(), &[], &env);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let ca = data.path().join("data/tls/ca-cert.pem");
    assert_eq!(
        server.printed,
        [format!(
            "internal CA certificate (clients trust it): {}",
            ca.display()
        )]
    );
    assert_eq!(healthz(&ca, "localhost", server.port), "200");
    assert_eq!(healthz(&ca, "keywarden.example", server.port), "200");
    server.stop();

    // The next start keeps the certificate; other names get a new one from the same CA.
    let cert = data.path().join("data/tls/server-cert.pem");
    let first = std::fs::read(&cert).unwrap();
    let server = Server::start(data.path(), &[], &env);
    assert_eq!(std::fs::read(&cert).unwrap(), first);
    server.stop();
    let server = Server::start(
        data.path(),
        &["--tls-internal-ca", "--tls-name", "other.example"],
        &[],
    );
    assert_ne!(std::fs::read(&cert).unwrap(), first);
    assert_eq!(healthz(&ca, "other.example", server.port), "200");
    server.stop();
}

#[test]
fn contradictory_or_unusable_tls_options_stop_the_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path());
    let (chain, _) = make_leaf(
        dir.path(),
        "leaf",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "leaf-key.pem",
        ],
    );
    let chain = chain.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--tls-cert", chain], "--tls-key"),
        (
            &["--tls-cert", chain, "--tls-key", "int-key.pem"],
            "do they belong together?",
        ),
        (&["--tls-name", "a.example"], "internal CA"),
        (
            &[
                "--tls-cert",
                chain,
                "--tls-key",
                "leaf-key.pem",
                "--tls-internal-ca",
            ],
            "not both",
        ),
    ];
    for (args, reason) in cases {
        let out = keywarden(dir.path(), args, &[])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(reason), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("listening on"), "{args:?}");
    }
}

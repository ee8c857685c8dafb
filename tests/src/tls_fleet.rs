//! A fleet of TLS endpoints on loopback addresses: `openssl s_server` processes serving a
//! valid chain, an expired certificate, a self-signed one, one for another name, TLS 1.3
//! only and TLS 1.2 only; Python's HTTP server (answers, but not with TLS); a closed port;
//! a port that accepts and never answers. Certificates are made with rcgen under one test
//! CA, which the prober is told to trust.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType, date_time_ymd,
};

/// One running endpoint.
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The leaf it serves (PEM file), when it serves one.
    pub leaf: Option<PathBuf>,
}

pub struct Fleet {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub valid: Endpoint,
    pub expired: Endpoint,
    pub self_signed: Endpoint,
    pub mismatch: Endpoint,
    pub tls13_only: Endpoint,
    pub tls12_only: Endpoint,
    pub not_tls: Endpoint,
    pub closed: Endpoint,
    pub silent: Endpoint,
    children: Vec<Child>,
    _silent: TcpListener,
    issuer: Issuer<'static, KeyPair>,
    /// Index in `children` of the valid endpoint's server.
    valid_child: usize,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A port free on `ip` (bound then released).
fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A leaf for `names` (DNS names and IP addresses), signed by `issuer` (self-signed when
/// `None`), valid from `from` to `until` (years).
fn leaf(
    dir: &Path,
    file: &str,
    names: &[&str],
    issuer: Option<&Issuer<'_, KeyPair>>,
    years: (i32, i32),
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().unwrap()),
        })
        .collect();
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let cert = match issuer {
        Some(i) => params.signed_by(&key, i).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (
        write(dir, &format!("{file}.pem"), &cert.pem()),
        write(dir, &format!("{file}.key"), &key.serialize_pem()),
    )
}

fn s_server(
    dir: &Path,
    ip: &str,
    (cert, key): &(PathBuf, PathBuf),
    chain: Option<&Path>,
    extra: &[&str],
) -> (Child, SocketAddr) {
    let port = free_port(ip);
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-quiet", "-accept"])
        .arg(format!("{ip}:{port}"))
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(chain) = chain {
        cmd.arg("-cert_chain").arg(chain);
    }
    let child = cmd.spawn().expect("openssl s_server starts");
    let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    (child, addr)
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Fleet {
    /// The fleet on `127.0.<block>.11` to `.19` (each test its own block, so a scan of
    /// one never meets another's servers).
    pub fn start(block: u8) -> Fleet {
        let ip = |last: u8| format!("127.0.{block}.{last}");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Keywarden Probe Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.not_before = date_time_ymd(2020, 1, 1);
        ca_params.not_after = date_time_ymd(2099, 1, 1);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = write(d, "ca.pem", &ca_cert.pem());
        let issuer = Issuer::new(ca_params, ca_key);

        let mut children = Vec::new();
        let mut serve = |ip: &str, pair: &(PathBuf, PathBuf), chain: bool, extra: &[&str]| {
            let (child, addr) = s_server(d, ip, pair, chain.then_some(ca.as_path()), extra);
            children.push(child);
            Endpoint {
                addr,
                leaf: Some(pair.0.clone()),
            }
        };
        let valid_pair = leaf(
            d,
            "valid",
            &["valid.test", &ip(11)],
            Some(&issuer),
            (2024, 2098),
        );
        let valid = serve(&ip(11), &valid_pair, true, &[]);
        let valid_child = 0;
        let expired_pair = leaf(
            d,
            "expired",
            &["expired.test", &ip(12)],
            Some(&issuer),
            (2020, 2021),
        );
        let expired = serve(&ip(12), &expired_pair, true, &[]);
        let self_pair = leaf(d, "self", &["self.test", &ip(13)], None, (2024, 2098));
        let self_signed = serve(&ip(13), &self_pair, false, &[]);
        let other_pair = leaf(d, "other", &["other.test"], Some(&issuer), (2024, 2098));
        let mismatch = serve(&ip(14), &other_pair, true, &[]);
        let tls13_only = serve(&ip(15), &valid_pair, true, &["-tls1_3"]);
        let tls12_only = serve(&ip(16), &valid_pair, true, &["-tls1_2"]);

        // Answers, but not with TLS: an HTTP server (it answers a ClientHello with 400).
        let http_port = free_port(&ip(17));
        let http = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                &ip(17),
                &http_port.to_string(),
            ])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server starts");
        children.push(http);
        let not_tls = Endpoint {
            addr: format!("{}:{http_port}", ip(17)).parse().unwrap(),
            leaf: None,
        };
        let closed = Endpoint {
            addr: format!("{}:{}", ip(18), free_port(&ip(18)))
                .parse()
                .unwrap(),
            leaf: None,
        };
        // Accepts (the kernel completes the handshake) and never says a word.
        let silent_listener = TcpListener::bind((ip(19).as_str(), 0)).unwrap();
        let silent = Endpoint {
            addr: silent_listener.local_addr().unwrap(),
            leaf: None,
        };
        let fleet = Fleet {
            _dir: dir,
            ca,
            valid,
            expired,
            self_signed,
            mismatch,
            tls13_only,
            tls12_only,
            not_tls,
            closed,
            silent,
            children,
            _silent: silent_listener,
            issuer,
            valid_child,
        };
        for e in fleet.serving() {
            wait_listening(e.addr);
        }
        wait_listening(fleet.not_tls.addr);
        fleet
    }

    /// Replaces the valid endpoint's certificate with a new one (same names, same CA,
    /// same address and port), as a renewal would.
    pub fn reissue_valid(&mut self) {
        let d = self._dir.path();
        let pair = leaf(
            d,
            "valid-renewed",
            &["valid.test", &self.valid.addr.ip().to_string()],
            Some(&self.issuer),
            (2025, 2098),
        );
        let old = &mut self.children[self.valid_child];
        let _ = old.kill();
        let _ = old.wait();
        let ip = self.valid.addr.ip().to_string();
        let port = self.valid.addr.port();
        // The port was just freed; s_server binds it again.
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-quiet", "-accept"])
            .arg(format!("{ip}:{port}"))
            .arg("-cert")
            .arg(&pair.0)
            .arg("-key")
            .arg(&pair.1)
            .arg("-cert_chain")
            .arg(&self.ca)
            .current_dir(d)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.children[self.valid_child] = cmd.spawn().expect("openssl s_server starts");
        self.valid.leaf = Some(pair.0);
        wait_listening(self.valid.addr);
    }

    /// Every endpoint of the fleet, TLS or not.
    pub fn all(&self) -> [&Endpoint; 9] {
        [
            &self.valid,
            &self.expired,
            &self.self_signed,
            &self.mismatch,
            &self.tls13_only,
            &self.tls12_only,
            &self.not_tls,
            &self.closed,
            &self.silent,
        ]
    }

    /// The endpoints that speak TLS.
    pub fn serving(&self) -> [&Endpoint; 6] {
        [
            &self.valid,
            &self.expired,
            &self.self_signed,
            &self.mismatch,
            &self.tls13_only,
            &self.tls12_only,
        ]
    }

    /// The SHA-1 fingerprint openssl prints for the leaf an endpoint serves, as hex.
    pub fn openssl_sha1(&self, e: &Endpoint) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
            .arg(e.leaf.as_ref().expect("a TLS endpoint"))
            .output()
            .expect("openssl x509");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .rsplit('=')
            .next()
            .unwrap()
            .replace(':', "")
            .to_ascii_lowercase()
    }
}

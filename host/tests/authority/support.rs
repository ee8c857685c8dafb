//! CSRs, authorities from operator TOML, and `openssl` checks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use keywarden::authority::registry::AuthorityRegistry;
use keywarden::operator_config::OperatorConfig;
use keywarden::runtime::capabilities::enrollment::AuthorityError;

/// Runs a command, panicking with its stderr when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A DER CSR made by `openssl req` with a new key (`ec` or `rsa`), `subject` like
/// `/C=DE/O=Example/CN=app.example.test` and `sans` like `DNS:a.test,IP:127.0.0.1`.
pub fn openssl_csr(dir: &Path, key: &str, subject: &str, sans: Option<&str>) -> Vec<u8> {
    let out = dir.join("req.der");
    let mut cmd = Command::new("openssl");
    cmd.args(["req", "-new", "-nodes", "-subj", subject, "-outform", "DER"])
        .arg("-keyout")
        .arg(dir.join("req-key.pem"))
        .arg("-out")
        .arg(&out);
    match key {
        "ec" => cmd.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        "rsa" => cmd.args(["-newkey", "rsa:2048"]),
        other => panic!("no key kind {other}"),
    };
    if let Some(sans) = sans {
        cmd.args(["-addext", &format!("subjectAltName={sans}")]);
    }
    run(&mut cmd);
    std::fs::read(out).unwrap()
}

/// A DER CSR made by rcgen for `names` (DNS names, or IP addresses when they parse as one).
pub fn rcgen_csr(common_name: &str, names: &[&str]) -> Vec<u8> {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate().unwrap();
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// The authorities an operator config describes, with state in `data_dir`.
pub fn registry(toml: &str, data_dir: &Path) -> Arc<AuthorityRegistry> {
    let config: OperatorConfig = toml::from_str(toml).expect("test config parses");
    Arc::new(
        keywarden::authority::from_config(&config, data_dir)
            .expect("authorities open")
            .expect("authorities are configured"),
    )
}

/// The error of opening the authorities of `toml`.
pub fn open_error(toml: &str, data_dir: &Path) -> String {
    let config: OperatorConfig = toml::from_str(toml).expect("test config parses");
    match keywarden::authority::from_config(&config, data_dir) {
        Ok(_) => panic!("the configuration was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// `openssl verify` of `chain` (leaf first; the rest as untrusted intermediates) against
/// the root in `root_pem`; returns openssl's answer.
pub fn openssl_verify(dir: &Path, root_pem: &str, chain: &[Vec<u8>]) -> String {
    let root = dir.join("verify-root.pem");
    let leaf = dir.join("verify-leaf.pem");
    let inter = dir.join("verify-intermediates.pem");
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&leaf, pem(&chain[0])).unwrap();
    let intermediates: String = chain[1..].iter().map(|c| pem(c)).collect();
    std::fs::write(&inter, &intermediates).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.arg("verify").arg("-CAfile").arg(&root);
    if !intermediates.is_empty() {
        cmd.arg("-untrusted").arg(&inter);
    }
    let out = cmd.arg(&leaf).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `openssl x509 -noout -subject -ext subjectAltName,extendedKeyUsage,basicConstraints` of a DER
/// certificate.
pub fn openssl_describe(dir: &Path, der: &[u8]) -> String {
    let file = dir.join("describe.pem");
    std::fs::write(&file, pem(der)).unwrap();
    run(Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-enddate"])
        .args([
            "-nameopt",
            "esc_2253,esc_ctrl,esc_msb,utf8,sep_comma_plus_space,sname",
        ])
        .args([
            "-ext",
            "subjectAltName,extendedKeyUsage,basicConstraints,keyUsage",
        ])
        .arg("-in")
        .arg(&file))
}

/// A scratch folder.
pub fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// The reason of a refusal; panics on any other failure.
pub fn rejected(err: AuthorityError) -> String {
    match err {
        AuthorityError::Rejected(why) => why,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

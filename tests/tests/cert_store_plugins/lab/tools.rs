//! The real tools the tests check the plugins against: `openssl` and `keytool`.

use std::path::Path;
use std::process::Command;

/// Runs `openssl args` and returns stdout (panics with stderr on failure).
pub fn openssl(args: &[&str]) -> String {
    run("openssl", args)
}

/// Runs `openssl args`, which must fail; returns stderr.
pub fn openssl_fails(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(!out.status.success(), "openssl {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `keytool args` and returns stdout (panics with the output on failure).
pub fn keytool(args: &[&str]) -> String {
    run("keytool", args)
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} cannot be run ({e}); .ci/run installs it"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `keytool -list` (with `-v` when `verbose`) of a `store_type` keystore opened with the
/// lab password.
pub fn keytool_list(keystore: &str, store_type: &str, verbose: bool) -> String {
    let mut args = vec!["-list"];
    if verbose {
        args.push("-v");
    }
    args.extend([
        "-keystore",
        keystore,
        "-storetype",
        store_type,
        "-storepass",
        super::PASSWORD,
    ]);
    keytool(&args)
}

/// A lab PKI in `dir`: an EC P-256 CA (`ca.key`, `ca.pem`, `ca.der`) and an RSA leaf
/// it signed for `CN=leaf.example.com,O=Example` (`leaf.key` PKCS#8 PEM, `leaf.pk8`
/// PKCS#8 DER, `leaf.pem`, `leaf.der`), plus a second CA (`ca2.pem`, `ca2.der`).
pub fn make_pki(dir: &Path) {
    let f = |name: &str| dir.join(name).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &f("ca.key"),
        "-out",
        &f("ca.pem"),
        "-subj",
        "/CN=Keywarden Test CA",
        "-days",
        "30",
    ]);
    openssl(&[
        "x509",
        "-in",
        &f("ca.pem"),
        "-outform",
        "DER",
        "-out",
        &f("ca.der"),
    ]);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &f("ca2.key"),
        "-out",
        &f("ca2.pem"),
        "-subj",
        "/CN=Other Test CA",
        "-days",
        "30",
    ]);
    openssl(&[
        "x509",
        "-in",
        &f("ca2.pem"),
        "-outform",
        "DER",
        "-out",
        &f("ca2.der"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &f("leaf.key"),
        "-out",
        &f("leaf.csr"),
        "-subj",
        "/CN=leaf.example.com/O=Example",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &f("leaf.csr"),
        "-CA",
        &f("ca.pem"),
        "-CAkey",
        &f("ca.key"),
        "-set_serial",
        "7",
        "-days",
        "30",
        "-out",
        &f("leaf.pem"),
    ]);
    openssl(&[
        "x509",
        "-in",
        &f("leaf.pem"),
        "-outform",
        "DER",
        "-out",
        &f("leaf.der"),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &f("leaf.key"),
        "-outform",
        "DER",
        "-out",
        &f("leaf.pk8"),
    ]);
}

/// The public key (PEM) of a certificate file.
pub fn cert_pubkey(cert: &str, extra: &[&str]) -> String {
    let mut args = vec!["x509", "-in", cert, "-noout", "-pubkey"];
    args.extend_from_slice(extra);
    openssl(&args)
}

/// The public key (PEM) of a private key file.
pub fn key_pubkey(key: &str, extra: &[&str]) -> String {
    let mut args = vec!["pkey", "-in", key, "-pubout"];
    args.extend_from_slice(extra);
    openssl(&args)
}

/// `openssl x509 -noout -subject -nameopt RFC2253` of a PEM or DER file.
pub fn subject(cert: &str, inform: &str) -> String {
    openssl(&[
        "x509", "-in", cert, "-inform", inform, "-noout", "-subject", "-nameopt", "RFC2253",
    ])
    .trim()
    .to_owned()
}

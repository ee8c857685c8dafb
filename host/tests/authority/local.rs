//! The local lab CA.

use std::process::Command;

use keywarden::runtime::capabilities::enrollment::CertificateAuthority;

use crate::support::{
    open_error, openssl_csr, openssl_describe, openssl_verify, rcgen_csr, registry, rejected, run,
    tempdir,
};

const LAB: &str = r#"
[authorities.lab]
kind = "local"
validity_days = 7
"#;

#[tokio::test]
async fn local_ca_signs_openssl_csrs_keeping_subject_and_sans_and_the_chain_verifies() {
    let (_t, dir) = tempdir();
    let ca = registry(LAB, &dir.join("data"));
    let root = std::fs::read_to_string(dir.join("data/authorities/lab/ca-cert.pem"))
        .expect("the generated root is kept in the data dir");
    for key in ["ec", "rsa"] {
        let csr = openssl_csr(
            &dir,
            key,
            "/C=DE/O=Example Org/OU=Web/CN=app.example.test",
            Some("DNS:app.example.test,DNS:www.example.test,IP:192.0.2.7,IP:2001:db8::1"),
        );
        let chain = ca.sign(&csr, Some("lab")).await.expect("the lab CA signs");
        assert_eq!(chain.len(), 2, "leaf and the lab root");
        let verdict = openssl_verify(&dir, &root, &chain);
        assert!(verdict.contains("verify-leaf.pem: OK"), "{key}: {verdict}");

        let text = openssl_describe(&dir, &chain[0]);
        assert!(
            text.contains("subject=C=DE, O=Example Org, OU=Web, CN=app.example.test"),
            "{key}: {text}"
        );
        assert!(
            text.contains("DNS:app.example.test, DNS:www.example.test, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1"),
            "{key}: {text}"
        );
        assert!(text.contains("CA:FALSE"), "{key}: {text}");
        assert!(
            text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
            "{key}: {text}"
        );
        let expected_usage = if key == "rsa" {
            "Digital Signature, Key Encipherment"
        } else {
            "Digital Signature"
        };
        assert!(text.contains(expected_usage), "{key}: {text}");
    }
}

#[tokio::test]
async fn local_ca_signs_an_rcgen_csr_for_the_configured_validity() {
    let (_t, dir) = tempdir();
    let ca = registry(LAB, &dir.join("data"));
    let csr = rcgen_csr("svc.lab.test", &["svc.lab.test", "10.1.2.3"]);
    // The only authority is the default.
    let chain = ca.sign(&csr, None).await.expect("the lab CA signs");
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    let days = (leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp())
        as f64
        / 86_400.0;
    assert!((7.0..7.01).contains(&days), "validity of {days} days");
    let text = openssl_describe(&dir, &chain[0]);
    assert!(text.contains("subject=CN=svc.lab.test"), "{text}");
    assert!(
        text.contains("DNS:svc.lab.test, IP Address:10.1.2.3"),
        "{text}"
    );
    let root = std::fs::read_to_string(dir.join("data/authorities/lab/ca-cert.pem")).unwrap();
    assert!(openssl_verify(&dir, &root, &chain).contains("OK"));
}

#[tokio::test]
async fn the_generated_root_is_kept_across_restarts_with_a_private_key_file() {
    let (_t, dir) = tempdir();
    let data = dir.join("data");
    let first = registry(LAB, &data);
    let csr = rcgen_csr("a.test", &["a.test"]);
    let chain1 = first.sign(&csr, None).await.unwrap();
    drop(first);
    let second = registry(LAB, &data);
    let chain2 = second.sign(&csr, None).await.unwrap();
    assert_eq!(chain1[1], chain2[1], "the same root after a restart");
    assert_ne!(chain1[0], chain2[0], "a new leaf with a new serial");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("authorities/lab/ca-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the root key is not readable by others");
    }
}

#[tokio::test]
async fn a_local_ca_issues_under_a_ca_made_by_openssl() {
    let (_t, dir) = tempdir();
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=Operator Lab Root",
        ])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(dir.join("root-key.pem"))
        .arg("-out")
        .arg(dir.join("root.pem")));
    let toml = format!(
        "[authorities.ops]\nkind = \"local\"\ncert_file = {:?}\nkey_file = {:?}\n",
        dir.join("root.pem"),
        dir.join("root-key.pem")
    );
    let ca = registry(&toml, &dir.join("data"));
    let csr = openssl_csr(&dir, "ec", "/CN=db.ops.test", Some("DNS:db.ops.test"));
    let chain = ca.sign(&csr, Some("ops")).await.unwrap();
    let root = std::fs::read_to_string(dir.join("root.pem")).unwrap();
    let verdict = openssl_verify(&dir, &root, &chain);
    assert!(verdict.contains("verify-leaf.pem: OK"), "{verdict}");
    let text = openssl_describe(&dir, &chain[0]);
    // Never valid past its CA.
    let root_end = run(Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-in"])
        .arg(dir.join("root.pem")));
    assert!(text.contains(root_end.trim()), "{text} vs {root_end}");
    assert!(!dir.join("data/authorities/ops/ca-key.pem").exists());
}

#[tokio::test]
async fn bad_csrs_get_a_reason_not_a_panic() {
    let (_t, dir) = tempdir();
    let ca = registry(LAB, &dir.join("data"));

    let err = rejected(
        ca.sign(b"certainly not DER", Some("lab"))
            .await
            .unwrap_err(),
    );
    assert!(err.contains("not a DER PKCS#10"), "{err}");
    let err = rejected(ca.sign(b"", None).await.unwrap_err());
    assert!(err.contains("the CSR is empty"), "{err}");

    // A CSR altered after signing: same length, one letter of the subject changed.
    let mut csr = openssl_csr(
        &dir,
        "ec",
        "/CN=good.example.test",
        Some("DNS:good.example.test"),
    );
    let at = csr
        .windows(4)
        .position(|w| w == b"good")
        .expect("the CN is in the DER");
    csr[at] = b'b';
    let err = rejected(ca.sign(&csr, None).await.unwrap_err());
    assert!(err.contains("signature does not verify"), "{err}");

    // Truncated.
    let csr = openssl_csr(&dir, "ec", "/CN=t.test", None);
    let err = rejected(ca.sign(&csr[..csr.len() / 2], None).await.unwrap_err());
    assert!(err.contains("not a DER PKCS#10"), "{err}");

    // Trailing bytes after a good request.
    let mut csr = openssl_csr(&dir, "ec", "/CN=t.test", None);
    csr.extend_from_slice(b"extra");
    let err = rejected(ca.sign(&csr, None).await.unwrap_err());
    assert!(err.contains("trailing data"), "{err}");
}

#[tokio::test]
async fn authorities_are_picked_by_name_or_default_and_unknown_names_are_refused() {
    let (_t, dir) = tempdir();
    let two = r#"
default_authority = "b"
[authorities.a]
kind = "local"
common_name = "Root A"
[authorities.b]
kind = "local"
common_name = "Root B"
"#;
    let ca = registry(two, &dir.join("data"));
    let csr = rcgen_csr("x.test", &["x.test"]);
    let issuer = |chain: &[Vec<u8>]| {
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        leaf.issuer().to_string()
    };
    assert!(issuer(&ca.sign(&csr, Some("a")).await.unwrap()).contains("CN=Root A"));
    assert!(issuer(&ca.sign(&csr, None).await.unwrap()).contains("CN=Root B"));

    let err = rejected(ca.sign(&csr, Some("nope")).await.unwrap_err());
    assert_eq!(
        err,
        r#"unknown certificate authority "nope" (configured: a, b)"#
    );

    let no_default = two.replace("default_authority = \"b\"", "");
    let ca = registry(&no_default, &dir.join("data2"));
    let err = rejected(ca.sign(&csr, None).await.unwrap_err());
    assert!(
        err.contains("no certificate authority was named and no default_authority is configured (configured: a, b)"),
        "{err}"
    );
}

#[test]
fn bad_authority_configurations_fail_at_startup_with_a_reason() {
    let (_t, dir) = tempdir();
    let err = open_error(
        "default_authority = \"lba\"\n[authorities.lab]\nkind = \"local\"\n",
        &dir,
    );
    assert!(
        err.contains("default_authority \"lba\" is not among the configured authorities (lab)"),
        "{err}"
    );

    let err = open_error(
        "[authorities.lab]\nkind = \"local\"\ncert_file = \"/nonexistent.pem\"\n",
        &dir,
    );
    assert!(
        err.contains("cert_file and key_file must be given together"),
        "{err}"
    );

    let err = open_error(
        "[authorities.lab]\nkind = \"local\"\ncert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"\n",
        &dir,
    );
    assert!(err.contains("cannot read /nonexistent/c.pem"), "{err}");

    let err = open_error("default_authority = \"lab\"\n", &dir);
    assert!(err.contains("no [authorities.*] is configured"), "{err}");

    let err = open_error(
        "[authorities.le]\nkind = \"acme\"\ndirectory = \"http://acme.test/dir\"\n",
        &dir,
    );
    assert!(err.contains("must be an https:// URL"), "{err}");

    let bad = toml::from_str::<keywarden::operator_config::OperatorConfig>(
        "[authorities.x]\nkind = \"vault\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("unknown variant `vault`"), "{bad}");
    let bad = toml::from_str::<keywarden::operator_config::OperatorConfig>(
        "[authorities.x]\nkind = \"local\"\nvalidty_days = 3\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("unknown field `validty_days`"), "{bad}");
}

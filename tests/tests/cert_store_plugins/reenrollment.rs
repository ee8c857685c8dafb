//! Reenrollment: the key is made inside the sandbox and the issued chain installed.

use keywarden::runtime::bindings::certificate_store::ReenrollmentRequest;
use keywarden::runtime::invoke::{JobCall, JobFailure};
use serde_json::json;

use crate::lab::tools::{cert_pubkey, key_pubkey, subject};
use crate::lab::*;

fn reenrollment(alias: &str, key_type: &str, overwrite: bool) -> ReenrollmentRequest {
    ReenrollmentRequest {
        alias: alias.into(),
        subject: "CN=app.example.com,O=Example".into(),
        sans: vec![
            "app.example.com".into(),
            "www.example.com".into(),
            "10.0.0.7".into(),
        ],
        key_type: key_type.into(),
        authority: None,
        overwrite,
    }
}

/// The issued certificate (PEM file `cert`) has the requested subject and SANs.
fn assert_requested_names(cert: &str) {
    assert_eq!(subject(cert, "PEM"), "subject=CN=app.example.com,O=Example");
    let sans = openssl(&["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]);
    for want in [
        "DNS:app.example.com",
        "DNS:www.example.com",
        "IP Address:10.0.0.7",
    ] {
        assert!(sans.contains(want), "{want} missing in {sans}");
    }
    let issuer = openssl(&[
        "x509", "-in", cert, "-noout", "-issuer", "-nameopt", "RFC2253",
    ]);
    assert_eq!(issuer.trim(), "issuer=CN=Keywarden Test CA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reenrollment_generates_the_key_in_the_sandbox_and_installs_the_issued_chain() {
    let lab = Lab::new();

    // PKCS#12, EC P-256.
    let plugin = lab.plugin("pkcs12-store").await;
    let st = || store("PKCS12", "/stores/app.p12", Some("store_pw"), json!({}));
    let done = lab
        .run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), reenrollment("app", "ec-p256", false)),
        )
        .await;
    assert!(
        succeeded(&done).message.contains("reenrolled `app`"),
        "{:?}",
        done.outcome
    );
    let pem = p(&lab.root.path().join("app-p12.pem"));
    openssl(&[
        "pkcs12",
        "-in",
        &p(&lab.host("app.p12")),
        "-passin",
        "pass:changeit",
        "-nodes",
        "-out",
        &pem,
    ]);
    assert_requested_names(&pem);
    assert_eq!(key_pubkey(&pem, &[]), cert_pubkey(&pem, &[]));
    assert!(key_pubkey(&pem, &["-text", "-noout"]).contains("NIST CURVE: P-256"));
    let entries = lab.inventory(&plugin, st()).await;
    let app = entry(&entries, "app");
    assert!(app.has_private_key);
    assert_eq!(app.chain.len(), 2);
    assert_eq!(app.chain[1], lab.pki_bytes("ca.der"));

    // The alias is taken: refused before any certificate is issued; with overwrite, replaced.
    let issued = lab.ca.issued();
    let again = lab
        .run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), reenrollment("app", "ec-p256", false)),
        )
        .await;
    assert!(
        failed(&again).to_string().contains("set overwrite"),
        "{:?}",
        again.outcome
    );
    assert_eq!(
        lab.ca.issued(),
        issued,
        "a certificate was issued for nothing"
    );
    let old_leaf = app.chain[0].clone();
    succeeded(
        &lab.run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), reenrollment("app", "ec-p384", true)),
        )
        .await,
    );
    let entries = lab.inventory(&plugin, st()).await;
    assert_eq!(entries.len(), 1);
    assert_ne!(entry(&entries, "app").chain[0], old_leaf);

    // JKS, RSA 2048.
    let plugin = lab.plugin("jks-store").await;
    let st = || store("JKS", "/stores/app.jks", Some("store_pw"), json!({}));
    succeeded(
        &lab.run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), reenrollment("app", "rsa-2048", false)),
        )
        .await,
    );
    let jks = p(&lab.host("app.jks"));
    let listing = keytool_list(&jks, "JKS", true);
    assert!(
        listing.contains("Alias name: app") && listing.contains("PrivateKeyEntry"),
        "{listing}"
    );
    assert!(
        listing.contains("Owner: CN=app.example.com, O=Example"),
        "{listing}"
    );
    let exported = assert_jks_key_matches_cert(&lab, &jks, "app");
    assert_requested_names(&exported);
    assert!(key_pubkey(&exported, &["-text", "-noout"]).contains("Public-Key: (2048 bit)"));
    assert!(entry(&lab.inventory(&plugin, st()).await, "app").has_private_key);

    // PEM with a separate key file, EC P-384.
    let plugin = lab.plugin("pem-store").await;
    let st = || {
        store(
            "PEM",
            "/stores/app.crt",
            None,
            json!({"private_key_path": "/stores/app.key"}),
        )
    };
    succeeded(
        &lab.run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), reenrollment("app", "ec-p384", false)),
        )
        .await,
    );
    let (crt, key) = (p(&lab.host("app.crt")), p(&lab.host("app.key")));
    assert_requested_names(&crt);
    assert_eq!(key_pubkey(&key, &[]), cert_pubkey(&crt, &[]));
    assert!(key_pubkey(&key, &["-text", "-noout"]).contains("NIST CURVE: P-384"));
    let verified = openssl(&["verify", "-CAfile", &p(&lab.pki().join("ca.pem")), &crt]);
    assert!(verified.contains(": OK"), "{verified}");
    let entries = lab.inventory(&plugin, st()).await;
    assert!(entry(&entries, "app").has_private_key);

    // Bad requests name the field.
    let mut bad = reenrollment("x", "dsa-1024", false);
    let report = lab
        .run(
            &plugin,
            "Reenrollment",
            JobCall::Reenroll(st(), bad.clone()),
        )
        .await;
    assert!(
        matches!(failed(&report), JobFailure::InvalidParams { field, .. } if field == "request.key-type")
    );
    bad.key_type = "ec-p256".into();
    bad.sans = vec!["not a name!".into()];
    let report = lab
        .run(&plugin, "Reenrollment", JobCall::Reenroll(st(), bad))
        .await;
    assert!(
        matches!(failed(&report), JobFailure::InvalidParams { field, .. } if field == "request.sans[0]")
    );
}

//! PEM stores: combined, separate, chained, encrypted and bundle files read; what Add,
//! Remove and Create write is read back with openssl.

use keywarden::runtime::invoke::{JobCall, JobFailure};
use serde_json::json;

use crate::lab::tools::{cert_pubkey, key_pubkey, subject};
use crate::lab::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_inventory_reads_combined_separate_chained_encrypted_and_bundle_files() {
    let lab = Lab::new();
    let plugin = lab.plugin("pem-store").await;
    let read =
        |n: &str| std::fs::read_to_string(lab.pki().join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let (leaf, ca, key) = (read("leaf.pem"), read("ca.pem"), read("leaf.key"));
    std::fs::write(lab.host("combined.pem"), format!("{leaf}{ca}{key}")).unwrap();
    std::fs::write(lab.host("cert-only.pem"), format!("{leaf}{ca}")).unwrap();
    std::fs::write(lab.host("cert-only.key"), &key).unwrap();
    // A traditional (PKCS#1) RSA key, first in the file.
    let rsa = openssl(&[
        "rsa",
        "-in",
        &p(&lab.pki().join("leaf.key")),
        "-traditional",
    ]);
    std::fs::write(lab.host("traditional.pem"), format!("{rsa}{leaf}")).unwrap();
    // An encrypted PKCS#8 key, as openssl writes it.
    let encrypted = openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        &p(&lab.pki().join("leaf.key")),
        "-passout",
        "pass:changeit",
    ]);
    std::fs::write(lab.host("encrypted.pem"), format!("{leaf}{encrypted}")).unwrap();
    std::fs::write(lab.host("bundle.pem"), format!("{ca}{}", read("ca2.pem"))).unwrap();

    let leaf_der = lab.pki_bytes("leaf.der");
    let chain = vec![leaf_der.clone(), lab.pki_bytes("ca.der")];
    let thumbprint = openssl(&[
        "x509",
        "-in",
        &p(&lab.pki().join("leaf.pem")),
        "-noout",
        "-fingerprint",
        "-sha1",
    ])
    .trim()
    .rsplit('=')
    .next()
    .unwrap()
    .replace(':', "");

    for (path, secret, props, want_chain) in [
        ("/stores/combined.pem", None, json!({}), chain.clone()),
        (
            "/stores/cert-only.pem",
            None,
            json!({"private_key_path": "/stores/cert-only.key"}),
            chain.clone(),
        ),
        (
            "/stores/traditional.pem",
            None,
            json!({}),
            vec![leaf_der.clone()],
        ),
        (
            "/stores/encrypted.pem",
            Some("store_pw"),
            json!({}),
            vec![leaf_der.clone()],
        ),
    ] {
        let entries = lab
            .inventory(&plugin, store("PEM", path, secret, props))
            .await;
        assert_eq!(entries.len(), 1, "{path}");
        assert_eq!(entries[0].alias, thumbprint, "{path}");
        assert!(entries[0].has_private_key, "{path}");
        assert_eq!(entries[0].chain, want_chain, "{path}");
    }
    // Without the separate key file the same certificate file has no key.
    let entries = lab
        .inventory(
            &plugin,
            store("PEM", "/stores/cert-only.pem", None, json!({})),
        )
        .await;
    assert!(!entries[0].has_private_key);

    let bundle = lab
        .inventory(
            &plugin,
            store(
                "PEM",
                "/stores/bundle.pem",
                None,
                json!({"trust_store": true}),
            ),
        )
        .await;
    assert_eq!(bundle.len(), 2);
    assert!(
        bundle
            .iter()
            .all(|e| !e.has_private_key && e.chain.len() == 1)
    );
    assert_eq!(bundle[0].chain[0], lab.pki_bytes("ca.der"));

    // An encrypted key without the password secret is a clear error.
    let report = lab
        .run(
            &plugin,
            "Inventory",
            JobCall::Inventory(store("PEM", "/stores/encrypted.pem", None, json!({}))),
        )
        .await;
    assert!(
        failed(&report)
            .to_string()
            .contains("the private key is encrypted"),
        "{:?}",
        report.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_stores_written_by_add_remove_and_create_read_back_with_openssl() {
    let lab = Lab::new();
    let plugin = lab.plugin("pem-store").await;
    let leaf_pub = cert_pubkey(&p(&lab.pki().join("leaf.pem")), &[]);

    // Certificate, chain and key in one file.
    let combined = || store("PEM", "/stores/web.pem", None, json!({}));
    succeeded(
        &lab.run(&plugin, "Management", JobCall::Create(combined()))
            .await,
    );
    assert_eq!(std::fs::read(lab.host("web.pem")).unwrap(), b"");
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(combined(), new_entry(&lab, "web", true, false)),
        )
        .await,
    );
    let file = p(&lab.host("web.pem"));
    assert_eq!(
        subject(&file, "PEM"),
        "subject=O=Example,CN=leaf.example.com"
    );
    assert_eq!(key_pubkey(&file, &[]), leaf_pub);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{text}"
    );
    let entries = lab.inventory(&plugin, combined()).await;
    assert_eq!(entries[0].alias, "web");
    assert!(entries[0].has_private_key);

    // A single-certificate store refuses a second certificate without overwrite.
    let before = std::fs::read(&file).unwrap();
    let refused = lab
        .run(
            &plugin,
            "Management",
            JobCall::Add(combined(), new_entry(&lab, "api", true, false)),
        )
        .await;
    assert!(
        failed(&refused).to_string().contains("set overwrite"),
        "{:?}",
        refused.outcome
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Separate, encrypted key file.
    let props = json!({"private_key_path": "/stores/api.key"});
    let split = || store("PEM", "/stores/api.crt", Some("store_pw"), props.clone());
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(split(), new_entry(&lab, "api", true, false)),
        )
        .await,
    );
    let (crt, key) = (p(&lab.host("api.crt")), p(&lab.host("api.key")));
    assert!(
        !std::fs::read_to_string(&crt)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    assert_eq!(key_pubkey(&key, &["-passin", "pass:changeit"]), leaf_pub);
    openssl_fails(&["pkey", "-in", &key, "-passin", "pass:wrong"]);
    assert_eq!(
        subject(&crt, "PEM"),
        "subject=O=Example,CN=leaf.example.com"
    );

    // A trust store: two CAs, no keys allowed.
    let trust = || {
        store(
            "PEM",
            "/stores/trust.pem",
            None,
            json!({"trust_store": true}),
        )
    };
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(trust(), ca_entry(&lab, "ca-one", "ca")),
        )
        .await,
    );
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(trust(), ca_entry(&lab, "ca-two", "ca2")),
        )
        .await,
    );
    let keyed = lab
        .run(
            &plugin,
            "Management",
            JobCall::Add(trust(), new_entry(&lab, "web", true, false)),
        )
        .await;
    assert!(
        matches!(failed(&keyed), JobFailure::InvalidParams { field, .. } if field == "entry.private-key")
    );
    let trust_file = p(&lab.host("trust.pem"));
    // openssl reads the bundle as trust anchors: the leaf verifies against it.
    let verified = openssl(&[
        "verify",
        "-CAfile",
        &trust_file,
        &p(&lab.pki().join("leaf.pem")),
    ]);
    assert!(verified.contains(": OK"), "{verified}");
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Remove(trust(), "ca-one".into()),
        )
        .await,
    );
    let entries = lab.inventory(&plugin, trust()).await;
    assert_eq!(
        entries.iter().map(|e| e.alias.as_str()).collect::<Vec<_>>(),
        ["ca-two"]
    );
    let not_verified = openssl_fails(&[
        "verify",
        "-CAfile",
        &trust_file,
        &p(&lab.pki().join("leaf.pem")),
    ]);
    assert!(
        not_verified.contains("unable to get local issuer certificate"),
        "{not_verified}"
    );

    // Remove empties a single-certificate store and its key file.
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Remove(split(), "api".into()),
        )
        .await,
    );
    assert!(
        !std::fs::read_to_string(&crt)
            .unwrap()
            .contains("CERTIFICATE")
    );
    assert!(!lab.host("api.key").exists());
    assert!(lab.inventory(&plugin, split()).await.is_empty());
}

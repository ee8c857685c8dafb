//! The certificate-store plugins (`pem-store`, `pkcs12-store`, `jks-store`), compiled
//! and run through the host runtime, against stores made by `openssl` and `keytool`;
//! what they write is read back with the same tools. Reenrollment is signed by
//! `openssl x509 -req` behind the host's `CertificateAuthority`.

mod cert_stores;

use cert_stores::tools::{cert_pubkey, key_pubkey, subject};
use cert_stores::*;
use keywarden::runtime::bindings::certificate_store::{
    DiscoveryRequest, NewEntry, ReenrollmentRequest,
};
use keywarden::runtime::invoke::{FamilyData, JobCall, JobFailure};
use serde_json::json;

fn new_entry(lab: &Lab, alias: &str, with_key: bool, overwrite: bool) -> NewEntry {
    NewEntry {
        alias: alias.into(),
        chain: vec![lab.pki_bytes("leaf.der"), lab.pki_bytes("ca.der")],
        private_key: with_key.then(|| lab.pki_bytes("leaf.pk8")),
        overwrite,
        create_if_missing: true,
    }
}

/// A trusted-certificate entry (no key) with the certificate of `ca` (`ca` or `ca2`).
fn ca_entry(lab: &Lab, alias: &str, ca: &str) -> NewEntry {
    NewEntry {
        alias: alias.into(),
        chain: vec![lab.pki_bytes(&format!("{ca}.der"))],
        private_key: None,
        overwrite: false,
        create_if_missing: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugins_describe_the_four_operations_for_their_store_type() {
    let lab = Lab::new();
    for (name, ty) in [
        ("pem-store", "PEM"),
        ("pkcs12-store", "PKCS12"),
        ("jks-store", "JKS"),
    ] {
        let plugin = lab.plugin(name).await;
        assert_eq!(plugin.manifest.name, name);
        for op in ["Inventory", "Management", "Discovery", "Reenrollment"] {
            let found = plugin
                .operation(op, Some(ty))
                .unwrap_or_else(|| panic!("{name}: {op}"));
            assert_eq!(found.family, "certificate-store");
            assert_eq!(found.target.as_deref(), Some(ty));
        }
    }
    let pem = lab.plugin("pem-store").await;
    let schema = &pem
        .operation("Management", Some("PEM"))
        .unwrap()
        .params_schema;
    assert!(schema["$defs"]["storeProperties"]["properties"]["private_key_path"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs12_inventory_reads_openssl_modern_and_legacy_files() {
    let lab = Lab::new();
    let plugin = lab.plugin("pkcs12-store").await;
    let pki = |n: &str| p(&lab.pki().join(n));
    for (file, legacy) in [("modern.p12", false), ("legacy.p12", true)] {
        let out = p(&lab.host(file));
        let (key, leaf, ca) = (pki("leaf.key"), pki("leaf.pem"), pki("ca.pem"));
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &leaf,
            "-certfile",
            &ca,
            "-name",
            "web",
            "-passout",
            "pass:changeit",
            "-out",
            &out,
        ];
        if legacy {
            args.push("-legacy");
        }
        openssl(&args);
        let entries = lab
            .inventory(
                &plugin,
                store(
                    "PKCS12",
                    &format!("/stores/{file}"),
                    Some("store_pw"),
                    json!({}),
                ),
            )
            .await;
        assert_eq!(entries.len(), 1, "{file}: {entries:?}");
        let web = entry(&entries, "web");
        assert!(web.has_private_key, "{file}");
        assert_eq!(
            web.chain,
            vec![lab.pki_bytes("leaf.der"), lab.pki_bytes("ca.der")],
            "{file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs12_stores_written_by_add_remove_and_create_read_back_with_openssl_and_keytool() {
    let lab = Lab::new();
    let plugin = lab.plugin("pkcs12-store").await;
    let file = p(&lab.host("new.p12"));
    let st = || store("PKCS12", "/stores/new.p12", Some("store_pw"), json!({}));

    succeeded(&lab.run(&plugin, "Management", JobCall::Create(st())).await);
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file,
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD,
    ]);
    assert!(
        listing.contains("Your keystore contains 0 entries"),
        "{listing}"
    );

    let added = lab
        .run(
            &plugin,
            "Management",
            JobCall::Add(st(), new_entry(&lab, "web", true, false)),
        )
        .await;
    assert_eq!(succeeded(&added).details["alias"], "web");
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(st(), ca_entry(&lab, "other-ca", "ca2")),
        )
        .await,
    );

    let dump = openssl(&["pkcs12", "-in", &file, "-passin", "pass:changeit", "-nodes"]);
    assert!(dump.contains("friendlyName: web"), "{dump}");
    assert!(
        dump.contains("subject=CN = leaf.example.com, O = Example"),
        "{dump}"
    );
    assert!(dump.contains("subject=CN = Other Test CA"), "{dump}");
    assert!(dump.contains("-----BEGIN PRIVATE KEY-----"), "{dump}");
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file,
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD,
    ]);
    assert!(
        listing.contains("web,") && listing.contains("PrivateKeyEntry"),
        "{listing}"
    );
    assert!(
        listing.contains("other-ca,") && listing.contains("trustedCertEntry"),
        "{listing}"
    );

    // The same alias again without overwrite is refused and the file is untouched.
    let before = std::fs::read(&file).unwrap();
    let refused = lab
        .run(
            &plugin,
            "Management",
            JobCall::Add(st(), new_entry(&lab, "web", true, false)),
        )
        .await;
    let text = failed(&refused).to_string();
    assert!(
        text.contains("`web` already exists") && text.contains("overwrite"),
        "{text}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(st(), new_entry(&lab, "web", true, true)),
        )
        .await,
    );

    succeeded(
        &lab.run(&plugin, "Management", JobCall::Remove(st(), "web".into()))
            .await,
    );
    let listing = keytool(&[
        "-list",
        "-keystore",
        &file,
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD,
    ]);
    assert!(
        !listing.contains("web,") && listing.contains("other-ca,"),
        "{listing}"
    );
    let entries = lab.inventory(&plugin, st()).await;
    assert_eq!(entries.len(), 1);
    assert!(!entry(&entries, "other-ca").has_private_key);

    let missing = lab
        .run(&plugin, "Management", JobCall::Remove(st(), "web".into()))
        .await;
    assert!(
        failed(&missing).to_string().contains("`web` is not in"),
        "{:?}",
        missing.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jks_inventory_reads_keytool_files() {
    let lab = Lab::new();
    let plugin = lab.plugin("jks-store").await;
    let file = p(&lab.host("made.jks"));
    keytool(&[
        "-genkeypair",
        "-alias",
        "server",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=jks.example.com, O=Example",
        "-validity",
        "30",
        "-storetype",
        "JKS",
        "-keystore",
        &file,
        "-storepass",
        PASSWORD,
        "-keypass",
        PASSWORD,
    ]);
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "rootca",
        "-file",
        &p(&lab.pki().join("ca.pem")),
        "-storetype",
        "JKS",
        "-keystore",
        &file,
        "-storepass",
        PASSWORD,
    ]);
    let entries = lab
        .inventory(
            &plugin,
            store("JKS", "/stores/made.jks", Some("store_pw"), json!({})),
        )
        .await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let server = entry(&entries, "server");
    assert!(server.has_private_key);
    let leaf = lab.root.path().join("server.der");
    std::fs::write(&leaf, &server.chain[0]).unwrap();
    assert_eq!(
        subject(&p(&leaf), "DER"),
        "subject=CN=jks.example.com,O=Example"
    );
    let rootca = entry(&entries, "rootca");
    assert!(!rootca.has_private_key);
    assert_eq!(rootca.chain, vec![lab.pki_bytes("ca.der")]);
}

/// Moves the key entry `alias` of a JKS file into a PKCS#12 file with keytool, then
/// checks with openssl that its key belongs to its certificate: proof that keytool
/// could decrypt the key the plugin protected.
fn assert_jks_key_matches_cert(lab: &Lab, jks: &str, alias: &str) -> String {
    let out = p(&lab.root.path().join(format!("{alias}-export.p12")));
    let _ = std::fs::remove_file(&out);
    keytool(&[
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        jks,
        "-srcstoretype",
        "JKS",
        "-srcstorepass",
        PASSWORD,
        "-srcalias",
        alias,
        "-destkeystore",
        &out,
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        PASSWORD,
    ]);
    let pem = p(&lab.root.path().join(format!("{alias}-export.pem")));
    openssl(&[
        "pkcs12",
        "-in",
        &out,
        "-passin",
        "pass:changeit",
        "-nodes",
        "-out",
        &pem,
    ]);
    assert_eq!(
        key_pubkey(&pem, &[]),
        cert_pubkey(&pem, &[]),
        "the key is not the certificate's"
    );
    pem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jks_stores_written_by_add_remove_and_create_read_back_with_keytool() {
    let lab = Lab::new();
    let plugin = lab.plugin("jks-store").await;
    let file = p(&lab.host("new.jks"));
    let st = || store("JKS", "/stores/new.jks", Some("store_pw"), json!({}));
    let list = || {
        keytool(&[
            "-list",
            "-v",
            "-keystore",
            &file,
            "-storetype",
            "JKS",
            "-storepass",
            PASSWORD,
        ])
    };

    succeeded(&lab.run(&plugin, "Management", JobCall::Create(st())).await);
    assert!(list().contains("Your keystore contains 0 entries"));

    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(st(), new_entry(&lab, "Web", true, false)),
        )
        .await,
    );
    succeeded(
        &lab.run(
            &plugin,
            "Management",
            JobCall::Add(st(), ca_entry(&lab, "rootca", "ca")),
        )
        .await,
    );
    let listing = list();
    assert!(listing.contains("Alias name: web"), "{listing}");
    assert!(listing.contains("Entry type: PrivateKeyEntry"), "{listing}");
    assert!(listing.contains("Certificate chain length: 2"), "{listing}");
    assert!(
        listing.contains("Owner: O=Example, CN=leaf.example.com"),
        "{listing}"
    );
    assert!(
        listing.contains("Alias name: rootca") && listing.contains("trustedCertEntry"),
        "{listing}"
    );
    assert_jks_key_matches_cert(&lab, &file, "web");

    // Aliases are case-insensitive in JKS: `WEB` is the same entry.
    let refused = lab
        .run(
            &plugin,
            "Management",
            JobCall::Add(st(), new_entry(&lab, "WEB", true, false)),
        )
        .await;
    assert!(
        failed(&refused).to_string().contains("set overwrite"),
        "{:?}",
        refused.outcome
    );

    succeeded(
        &lab.run(&plugin, "Management", JobCall::Remove(st(), "web".into()))
            .await,
    );
    let listing = list();
    assert!(
        !listing.contains("Alias name: web") && listing.contains("Alias name: rootca"),
        "{listing}"
    );
    assert_eq!(lab.inventory(&plugin, st()).await.len(), 1);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_stores_by_directories_extensions_ignored_directories_and_patterns() {
    let lab = Lab::new();
    let pki = |n: &str| p(&lab.pki().join(n));
    let p12 = lab.root.path().join("sample.p12");
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        &pki("leaf.key"),
        "-in",
        &pki("leaf.pem"),
        "-passout",
        "pass:changeit",
        "-out",
        &p(&p12),
    ]);
    let jks = lab.root.path().join("sample.jks");
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-file",
        &pki("ca.pem"),
        "-storetype",
        "JKS",
        "-keystore",
        &p(&jks),
        "-storepass",
        PASSWORD,
    ]);
    let pem = std::fs::read(lab.pki().join("leaf.pem")).unwrap();
    let put = |rel: &str, bytes: &[u8]| {
        let path = lab.root.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    let p12_bytes = std::fs::read(&p12).unwrap();
    let jks_bytes = std::fs::read(&jks).unwrap();
    put("stores/app/web.p12", &p12_bytes);
    put("stores/app/API.PFX", &p12_bytes);
    put("stores/app/notes.txt", b"not a store");
    put("stores/app/junk.p12", b"not a PKCS#12 file");
    put("stores/backup/old.p12", &p12_bytes);
    put("stores/deep/a/b/prod-db.p12", &p12_bytes);
    put("stores/java/trust.jks", &jks_bytes);
    put("stores/java/app.keystore", &jks_bytes);
    put("stores/tls/server.crt", &pem);
    put("stores/tls/chain.pem", &pem);
    put("outside/secret.p12", &p12_bytes);

    let request =
        |dirs: &[&str], exts: &[&str], ignored: &[&str], patterns: &[&str]| DiscoveryRequest {
            directories: dirs.iter().map(|s| s.to_string()).collect(),
            extensions: exts.iter().map(|s| s.to_string()).collect(),
            ignored_directories: ignored.iter().map(|s| s.to_string()).collect(),
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
        };
    async fn found(lab: &Lab, plugin: &str, request: DiscoveryRequest) -> Vec<String> {
        let plugin = lab.plugin(plugin).await;
        let report = lab
            .run(&plugin, "Discovery", JobCall::Discover(request))
            .await;
        match report.outcome {
            Ok(f) => match f.data {
                FamilyData::Paths(paths) => paths,
                other => panic!("no paths: {other:?}"),
            },
            Err(e) => panic!("discovery failed: {e}"),
        }
    }

    let all = found(
        &lab,
        "pkcs12-store",
        request(&["/stores"], &["p12", ".pfx"], &[], &[]),
    )
    .await;
    assert_eq!(
        all,
        [
            "/stores/app/API.PFX",
            "/stores/app/web.p12",
            "/stores/backup/old.p12",
            "/stores/deep/a/b/prod-db.p12"
        ]
    );
    let ignored = found(
        &lab,
        "pkcs12-store",
        request(&["/stores"], &[], &["backup", "/stores/deep"], &[]),
    )
    .await;
    assert_eq!(ignored, ["/stores/app/API.PFX", "/stores/app/web.p12"]);
    let patterned = found(
        &lab,
        "pkcs12-store",
        request(&["/stores"], &["p12"], &[], &["prod", "old"]),
    )
    .await;
    assert_eq!(
        patterned,
        ["/stores/backup/old.p12", "/stores/deep/a/b/prod-db.p12"]
    );
    let one_dir = found(
        &lab,
        "pkcs12-store",
        request(&["/stores/deep"], &["p12"], &[], &[]),
    )
    .await;
    assert_eq!(one_dir, ["/stores/deep/a/b/prod-db.p12"]);
    let java = found(&lab, "jks-store", request(&["/stores"], &[], &[], &[])).await;
    assert_eq!(
        java,
        ["/stores/java/app.keystore", "/stores/java/trust.jks"]
    );
    let pems = found(&lab, "pem-store", request(&[], &[], &[], &[])).await;
    assert_eq!(pems, ["/stores/tls/chain.pem", "/stores/tls/server.crt"]);

    // A directory outside the grant is refused, naming the field.
    let plugin = lab.plugin("pkcs12-store").await;
    let outside = p(&lab.root.path().join("outside"));
    for dir in [outside.as_str(), "/", "/stores/../outside"] {
        let report = lab
            .run(
                &plugin,
                "Discovery",
                JobCall::Discover(request(&[dir], &[], &[], &[])),
            )
            .await;
        match failed(&report) {
            JobFailure::InvalidParams { field, reason } => {
                assert_eq!(field, "request.directories[0]");
                assert!(
                    reason.contains("outside the directories granted")
                        || reason.contains("without `..`"),
                    "{reason}"
                );
            }
            other => panic!("expected invalid params for {dir}, got {other}"),
        }
    }
}

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
    let listing = keytool(&[
        "-list",
        "-v",
        "-keystore",
        &jks,
        "-storetype",
        "JKS",
        "-storepass",
        PASSWORD,
    ]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_job_errors() {
    let lab = Lab::new();
    let pki = |n: &str| p(&lab.pki().join(n));
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        &pki("leaf.key"),
        "-in",
        &pki("leaf.pem"),
        "-passout",
        "pass:changeit",
        "-out",
        &p(&lab.host("a.p12")),
    ]);
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-file",
        &pki("ca.pem"),
        "-storetype",
        "JKS",
        "-keystore",
        &p(&lab.host("a.jks")),
        "-storepass",
        PASSWORD,
    ]);
    std::fs::copy(lab.host("a.p12"), lab.root.path().join("outside/b.p12")).unwrap();
    let outside = p(&lab.root.path().join("outside/b.p12"));

    for (plugin_name, ty, path) in [
        ("pkcs12-store", "PKCS12", "/stores/a.p12"),
        ("jks-store", "JKS", "/stores/a.jks"),
    ] {
        let plugin = lab.plugin(plugin_name).await;
        let inventory = |secret: Option<&str>, path: &str| {
            JobCall::Inventory(store(ty, path, secret, json!({})))
        };
        let text = |report: &keywarden::runtime::invoke::JobReport| failed(report).to_string();

        let wrong = lab
            .run(&plugin, "Inventory", inventory(Some("wrong_pw"), path))
            .await;
        assert!(
            text(&wrong).contains("password is wrong"),
            "{ty}: {}",
            text(&wrong)
        );
        assert!(
            !text(&wrong).contains("not-the-password"),
            "the password leaked"
        );

        let missing = lab
            .run(&plugin, "Inventory", inventory(Some("missing_pw"), path))
            .await;
        assert!(
            text(&missing).contains("the store password secret `missing_pw` cannot be read"),
            "{ty}: {}",
            text(&missing)
        );
        let ungranted = lab
            .run(&plugin, "Inventory", inventory(Some("ungranted_pw"), path))
            .await;
        assert!(
            text(&ungranted).contains("not granted"),
            "{ty}: {}",
            text(&ungranted)
        );

        let none = lab.run(&plugin, "Inventory", inventory(None, path)).await;
        assert!(
            matches!(failed(&none), JobFailure::InvalidParams { field, .. } if field == "store.password-secret"),
            "{ty}: {:?}",
            none.outcome
        );

        for bad_path in [
            outside.as_str(),
            "/stores/../outside/b.p12",
            "relative/a.p12",
        ] {
            let report = lab
                .run(&plugin, "Inventory", inventory(Some("store_pw"), bad_path))
                .await;
            match failed(&report) {
                JobFailure::InvalidParams { field, reason } => {
                    assert_eq!(field, "store.path");
                    assert!(reason.contains(bad_path), "{reason}");
                }
                other => panic!("{ty} {bad_path}: expected invalid params, got {other}"),
            }
        }

        let absent = lab
            .run(
                &plugin,
                "Inventory",
                inventory(Some("store_pw"), "/stores/none.p12"),
            )
            .await;
        assert!(
            text(&absent).contains("does not exist"),
            "{}",
            text(&absent)
        );

        let wrong_type = lab
            .run(
                &plugin,
                "Inventory",
                JobCall::Inventory(store("PEM", path, Some("store_pw"), json!({}))),
            )
            .await;
        assert!(
            matches!(failed(&wrong_type), JobFailure::InvalidParams { field, .. } if field == "store.store-type")
        );
    }

    // Add to a missing store without create-if-missing: refused, nothing created.
    let plugin = lab.plugin("pkcs12-store").await;
    let mut entry = new_entry(&lab, "web", true, false);
    entry.create_if_missing = false;
    let st = store("PKCS12", "/stores/missing.p12", Some("store_pw"), json!({}));
    let report = lab
        .run(&plugin, "Management", JobCall::Add(st, entry))
        .await;
    assert!(
        failed(&report).to_string().contains("create-if-missing"),
        "{:?}",
        report.outcome
    );
    assert!(!lab.host("missing.p12").exists());

    // A key that is not the leaf's is refused, naming the field.
    let mut entry = new_entry(&lab, "web", true, false);
    entry.chain = vec![lab.pki_bytes("ca.der")];
    let st = store("PKCS12", "/stores/a.p12", Some("store_pw"), json!({}));
    let report = lab
        .run(&plugin, "Management", JobCall::Add(st, entry))
        .await;
    assert!(
        matches!(failed(&report), JobFailure::InvalidParams { field, .. } if field == "entry.private-key")
    );
}

//! PKCS#12 stores: files from `openssl pkcs12 -export` read; what Add, Remove and
//! Create write is read back with openssl and keytool.

use keywarden::runtime::invoke::JobCall;
use serde_json::json;

use crate::lab::*;

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
    let listing = keytool_list(&file, "PKCS12", false);
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
    let listing = keytool_list(&file, "PKCS12", false);
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
    let listing = keytool_list(&file, "PKCS12", false);
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

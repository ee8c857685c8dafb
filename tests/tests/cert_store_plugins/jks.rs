//! JKS stores: keytool-made files read; what Add, Remove and Create write is read back
//! with keytool.

use keywarden::runtime::invoke::JobCall;
use serde_json::json;

use crate::lab::tools::subject;
use crate::lab::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jks_stores_written_by_add_remove_and_create_read_back_with_keytool() {
    let lab = Lab::new();
    let plugin = lab.plugin("jks-store").await;
    let file = p(&lab.host("new.jks"));
    let st = || store("JKS", "/stores/new.jks", Some("store_pw"), json!({}));
    let list = || keytool_list(&file, "JKS", true);

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

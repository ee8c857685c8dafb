//! Dry runs of Management (Add, Remove) and Reenrollment on stores made with openssl:
//! afterwards the store directory lists the same files with the same bytes (sha256) and
//! modification times (no journal, no temporary file, nothing rewritten), no certificate
//! was issued, and the outcome says what a real run would have changed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use keywarden::runtime::bindings::certificate_store::ReenrollmentRequest;
use keywarden::runtime::invoke::JobCall;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::lab::*;

/// Every file under `dir`: name, sha256 and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let sum = format!("{:x}", Sha256::digest(&bytes));
            let modified = e.metadata().unwrap().modified().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (sum, modified),
            )
        })
        .collect()
}

fn reenrollment(alias: &str, overwrite: bool) -> ReenrollmentRequest {
    ReenrollmentRequest {
        alias: alias.into(),
        subject: "CN=app.example.com,O=Example".into(),
        sans: vec!["app.example.com".into()],
        key_type: "ec-p256".into(),
        authority: None,
        overwrite,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_of_management_and_reenrollment_leave_pkcs12_and_pem_stores_as_they_were() {
    let lab = Lab::new();
    let stores = lab.root.path().join("stores");
    lab.export_leaf_p12(&lab.host("app.p12"));
    let pki = |n: &str| String::from_utf8(lab.pki_bytes(n)).unwrap();
    std::fs::write(
        lab.host("web.pem"),
        format!("{}{}", pki("leaf.pem"), pki("leaf.key")),
    )
    .unwrap();
    let before = snapshot(&stores);
    assert_eq!(before.len(), 2);

    let p12 = lab.plugin("pkcs12-store").await;
    let p12_store = || store("PKCS12", "/stores/app.p12", Some("store_pw"), json!({}));
    let alias = lab.inventory(&p12, p12_store()).await[0].alias.clone();
    let pem = lab.plugin("pem-store").await;
    let pem_store = || store("PEM", "/stores/web.pem", None, json!({}));

    // Add a new alias to the PKCS#12 store.
    let done = lab
        .run_dry(
            &p12,
            "Management",
            JobCall::Add(p12_store(), new_entry(&lab, "api", true, false)),
        )
        .await;
    let f = succeeded(&done);
    assert!(
        f.message.starts_with("dry run: would add `api`"),
        "{}",
        f.message
    );
    assert_eq!(f.details["dry_run"], true);
    assert_eq!(f.details["replaced"], json!([]));
    assert_eq!(f.details["store_created"], false);

    // Replace the existing entry, with overwrite; without it the dry run refuses as a
    // real run would.
    let done = lab
        .run_dry(
            &p12,
            "Management",
            JobCall::Add(p12_store(), new_entry(&lab, &alias, true, true)),
        )
        .await;
    let f = succeeded(&done);
    assert_eq!(f.details["replaced"], json!([alias]), "{}", f.message);
    let refused = lab
        .run_dry(
            &p12,
            "Management",
            JobCall::Add(p12_store(), new_entry(&lab, &alias, true, false)),
        )
        .await;
    assert!(failed(&refused).to_string().contains("set overwrite"));

    // Remove, and Reenrollment of a new alias (no key made, no CSR sent).
    let done = lab
        .run_dry(
            &p12,
            "Management",
            JobCall::Remove(p12_store(), alias.clone()),
        )
        .await;
    assert_eq!(succeeded(&done).details["remaining"], 0);
    let done = lab
        .run_dry(
            &p12,
            "Reenrollment",
            JobCall::Reenroll(p12_store(), reenrollment("fresh", false)),
        )
        .await;
    let f = succeeded(&done);
    assert!(
        f.message.starts_with("dry run: would enroll `fresh`"),
        "{}",
        f.message
    );
    assert_eq!(f.details["subject"], "CN=app.example.com,O=Example");
    assert_eq!(f.details["key_type"], "ec-p256");

    // The single-certificate PEM file: Add would replace what it holds; Reenrollment too.
    let done = lab
        .run_dry(
            &pem,
            "Management",
            JobCall::Add(pem_store(), new_entry(&lab, "api", true, true)),
        )
        .await;
    let f = succeeded(&done);
    assert!(
        f.message.starts_with("dry run: would replace `api`"),
        "{}",
        f.message
    );
    assert_eq!(f.details["replaced"].as_array().unwrap().len(), 1);
    let done = lab
        .run_dry(
            &pem,
            "Reenrollment",
            JobCall::Reenroll(pem_store(), reenrollment("web", true)),
        )
        .await;
    assert!(
        succeeded(&done)
            .message
            .starts_with("dry run: would reenroll")
    );

    assert_eq!(snapshot(&stores), before, "a dry run changed the stores");
    assert_eq!(lab.ca.issued(), 0, "a dry run had a certificate issued");

    // The same Add for real does change the file (the check above can fail).
    succeeded(
        &lab.run(
            &p12,
            "Management",
            JobCall::Add(p12_store(), new_entry(&lab, "api", true, false)),
        )
        .await,
    );
    assert_ne!(snapshot(&stores)["app.p12"].0, before["app.p12"].0);
}

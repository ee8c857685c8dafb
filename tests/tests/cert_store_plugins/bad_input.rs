//! Bad input gives clear job errors.

use keywarden::runtime::invoke::{JobCall, JobFailure};
use serde_json::json;

use crate::lab::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_job_errors() {
    let lab = Lab::new();
    lab.export_leaf_p12(&lab.host("a.p12"));
    lab.import_ca_jks(&lab.host("a.jks"));
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

//! Every store plugin describes the four operations for its store type.

use crate::lab::*;

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
            assert_eq!(found.family, keywarden::plugins::Family::CertificateStore);
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

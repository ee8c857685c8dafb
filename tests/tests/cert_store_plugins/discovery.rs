//! Discovery by directories, extensions, ignored directories and patterns.

use keywarden::runtime::bindings::certificate_store::DiscoveryRequest;
use keywarden::runtime::invoke::{FamilyData, JobCall, JobFailure};

use crate::lab::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_stores_by_directories_extensions_ignored_directories_and_patterns() {
    let lab = Lab::new();
    let p12 = lab.root.path().join("sample.p12");
    lab.export_leaf_p12(&p12);
    let jks = lab.root.path().join("sample.jks");
    lab.import_ca_jks(&jks);
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

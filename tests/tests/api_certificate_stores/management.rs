//! Management add and remove jobs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn management_adds_and_removes_through_jobs(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let mut body = pem_store("/stores/trust.pem");
    body["CreateIfMissing"] = json!(true);
    body["Properties"] = json!({"trust_store": true});
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": fx.pem("ca.pem"),
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "test-root"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = s.wait_job(t, ids[0].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (job["status"].as_str(), job["result"].as_str()),
        (Some("completed"), Some("success")),
        "{job}"
    );
    assert_eq!(job["operation"], "Management");
    let trust = Path::new(&fx.stores()).join("trust.pem");
    assert!(
        std::fs::read_to_string(&trust)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    // A store the job created is readable by the server's user only.
    assert_eq!(mode(&trust), 0o600, "mode of the created store");
    // The operator shares it with a group; later rewrites keep that mode.
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o640)).unwrap();
    let job = inventory_now(s, t, id).await;
    assert_eq!(job["result"], "success", "{job}");
    let (_, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(1), "{entries}");
    assert_eq!(entries[0]["Alias"], "test-root");
    assert_eq!(entries[0]["HasPrivateKey"], false);

    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Remove"),
            &json!({
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "test-root"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = s.wait_job(t, ids[0].as_str().unwrap(), WAIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        mode(&trust),
        0o640,
        "the rewritten store keeps the operator's mode"
    );
    inventory_now(s, t, id).await;
    let (_, _, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(total, Some(0));

    // Bad requests.
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": "not a certificate",
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Certificate");
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": format!("{}{}", fx.pem("ca.pem"), fx.pem("ca.key")),
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Certificate");
    let (status, err) = s
        .post(t, &format!("{STORES}/Certificates/Remove"), &json!({
            "CertificateStores": [{"CertificateStoreId": uuid::Uuid::now_v7().to_string(), "Alias": "x"}]}))
        .await;
    assert_error(
        status,
        &err,
        StatusCode::NOT_FOUND,
        "CertificateStores[0].CertificateStoreId",
    );
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({
            "Certificate": fx.pem("leaf.pem"), "PrivateKeySecret": "p12_password",
            "CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    // Settled on purpose: what refuses it is the listed store's state (its type's plugin
    // is not granted the secret), a conflict (409; it was a 422).
    assert_error(status, &err, StatusCode::CONFLICT, "PrivateKeySecret");

    // One request naming the same store thousands of times queues one job, not thousands
    // (each would carry the certificate); too many different targets are refused.
    let repeated: Vec<_> = (0..5000)
        .map(|_| json!({"CertificateStoreId": id, "Alias": "same"}))
        .collect();
    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": fx.pem("ca.pem"), "CertificateStores": repeated}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    assert_eq!(
        ids.as_array().map(Vec::len),
        Some(1),
        "one job for a repeated pair"
    );
    let many: Vec<_> = (0..501)
        .map(|i| json!({"CertificateStoreId": id, "Alias": format!("a{i}")}))
        .collect();
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": fx.pem("ca.pem"), "CertificateStores": many}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "CertificateStores");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_jobs() {
    on_each_backend(management_adds_and_removes_through_jobs).await;
}

/// A file's permission bits.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

//! `/DiscoveryJob`: discovery finds store files.

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn discovery_finds_store_files(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let (status, err) = s
        .put(
            t,
            &format!("{STORES}/DiscoveryJob"),
            &json!({"ClientMachine": "web01", "Type": 2, "Dirs": "/stores", "Extensions": "pem"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    let queued = jobs(s, t, "Discovery").await;
    let job = s.wait_job(t, queued[0]["id"].as_str().unwrap(), WAIT).await;
    assert_eq!(job["status"], "completed", "{job}");
    let (status, paths, total) = s
        .get_counted(t, &format!("{STORES}/DiscoveredPaths?CertStoreType=PEM"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total, Some(1), "{paths}");
    assert_eq!(paths[0]["Storepath"], "/stores/web.pem");
    assert_eq!(paths[0]["ClientMachine"], "web01");
    let (status, err) = s
        .put(
            t,
            &format!("{STORES}/DiscoveryJob"),
            &json!({"ClientMachine": "web01", "Type": 2}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Dirs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery() {
    on_each_backend(discovery_finds_store_files).await;
}

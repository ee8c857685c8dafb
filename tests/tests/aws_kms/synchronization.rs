//! cckm_synchronization and `GET /api/v1/cckm/keys` on both databases (moto).

use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// `cckm_synchronization` pulls the inventory in; `GET /api/v1/cckm/keys` lists it.
async fn synchronization(s: &TestServer, moto: &Moto) {
    let ids = setup(
        moto,
        json!([
            {"name": "a", "aliases": ["alias/sync-a"]},
            {"name": "b", "aliases": ["alias/sync-b", "alias/sync-b2"]},
            {"name": "c"},
        ]),
    );
    let config = create(s, "sync", "cckm_synchronization", json!({})).await;
    let job = run(s, &config).await;
    assert_eq!(job["result"], "success", "{job}");
    let list = |query: String| {
        let path = format!("/api/v1/cckm/keys?{query}");
        async move {
            let (status, page) = s.get(&s.admin, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let all = list("job_config_id=".to_owned() + &config).await;
    let n = all["total"].as_i64().unwrap();
    assert!(n >= 3, "{all}");
    let page = list(format!("alias=alias/sync-b2&job_config_id={config}")).await;
    assert_eq!(page["total"], 1, "{page}");
    let b = &page["resources"][0];
    assert_eq!(b["key_id"], ids["b"]);
    assert_eq!(b["aliases"], json!(["alias/sync-b", "alias/sync-b2"]));
    assert_eq!(b["state"], "Enabled");
    assert_eq!(b["cloud_name"], "aws");
    assert!(
        b["resource_name"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:")
    );
    assert!(b["created_at"].is_string(), "{b}");
    assert_eq!(b["attributes"]["key_spec"], "SYMMETRIC_DEFAULT");
    let page = list(format!("key_id={}", ids["c"].as_str().unwrap())).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["resources"][0]["aliases"], json!([]));

    // The cloud changes; the next sync replaces the snapshot.
    let rot = rotate(
        s,
        "rotate-a",
        json!({"aws_param": {"aliases": ["alias/sync-a"]}}),
    )
    .await;
    assert_eq!(details(&rot)["num_rotated"], 1, "{rot}");
    run(s, &config).await;
    let page = list(format!("key_id={}", ids["a"].as_str().unwrap())).await;
    assert_eq!(page["resources"][0]["state"], "Disabled", "{page}");
    assert_eq!(page["resources"][0]["aliases"], json!([]));
    let disabled = list("state=Disabled&cloud_name=aws".into()).await;
    assert!(
        disabled["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "Disabled")
    );
    let page = list("alias=alias/sync-a".into()).await;
    assert_eq!(page["total"], 1);
    assert_ne!(page["resources"][0]["key_id"], ids["a"], "the alias moved");
    let page = list("skip=1&limit=2&sort=key_id".into()).await;
    assert_eq!(
        (page["skip"].as_i64(), page["limit"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(page["total"].as_i64(), Some(n + 1));
    assert_eq!(page["resources"].as_array().unwrap().len(), 2);

    // Account-scoped: another account sees none of it.
    let other = s.token("team-b", false).await;
    let (_, page) = s.get(&other, "/api/v1/cckm/keys").await;
    assert_eq!(page["total"], 0, "{page}");
    let (status, err) = s.get(&s.admin, "/api/v1/cckm/keys?sort=attributes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["field"], "sort");
    let (status, err) = s
        .get(&s.admin, "/api/v1/cckm/keys?job_config_id=nope")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) = s.get(&s.admin, "/api/v1/cckm/keys?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (_, doc) = s
        .call(reqwest::Method::GET, "/openapi.json", Some(&s.admin), None)
        .await;
    let op = &doc["paths"]["/api/v1/cckm/keys"]["get"];
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .expect("documented")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "skip",
        "limit",
        "sort",
        "cloud_name",
        "key_id",
        "alias",
        "state",
        "job_config_id",
    ] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronization_sqlite() {
    let moto = Moto::start();
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    synchronization(&s, &moto).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronization_postgres() {
    let moto = Moto::start();
    let Some(s) = TestServer::postgres_with_toml(&grants(&moto)).await else {
        return;
    };
    synchronization(&s, &moto).await;
    s.stop().await;
}

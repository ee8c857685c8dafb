//! `gcp-kms` against `fake_gcp` (JWT-bearer token endpoint + Cloud KMS v1).

use keywarden_tests::cloud_jobs::{CONFIGS, create, details, run};
use keywarden_tests::fakes::gcp::{FakeGcp, KeySpec, new_private_key, plugin_grants};
use keywarden_tests::server::{TestServer, parse_config};
use serde_json::{Value, json};

const CLOUD: &str = "gcp";

async fn rotate(s: &TestServer, name: &str, params: Value, secret: &str) -> Value {
    let id = create(s, name, "cckm_key_rotation", CLOUD, params).await;
    run(s, &id, &[secret, "PRIVATE KEY"]).await
}

fn states(fake: &FakeGcp, location: &str, ring: &str, id: &str) -> Vec<String> {
    fake.key(location, ring, id)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcp_rotation_and_synchronization() {
    let fake = FakeGcp::start().await;
    fake.add_key(
        "us-east1",
        "pay",
        KeySpec::symmetric("app").label("team", "pay"),
    );
    fake.add_key(
        "us-east1",
        "pay",
        KeySpec::signing("signer").label("team", "pay"),
    );
    fake.add_key(
        "us-east1",
        "pay",
        KeySpec::symmetric("db").label("team", "data"),
    );
    fake.add_key(
        "global",
        "ops",
        KeySpec {
            import_only: true,
            ..KeySpec::symmetric("byok").label("team", "pay")
        },
    );
    let key = fake.key_json();
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, &key, "")).await;

    // 1. team=pay in both locations: new versions, old ones disabled, Cloud KMS's own
    //    schedule set on the symmetric key; the import-only key fails with the reason.
    let job = rotate(
        &s,
        "pay",
        json!({"gcp_param": {"labels": {"team": "pay"}, "old_versions": "disable", "rotation_period": "90d"}}),
        &key,
    )
    .await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["total_keys"], 3, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    assert_eq!(details(&job)["num_failed"], 1, "{job}");
    assert!(
        details(&job)["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("import-only"),
        "{job}"
    );
    assert_eq!(fake.token_requests(), 1, "one token for the whole job");
    let app = fake.key("us-east1", "pay", "app");
    assert_eq!(app["primary"], 2, "{app}");
    assert_eq!(
        states(&fake, "us-east1", "pay", "app"),
        ["DISABLED", "ENABLED"]
    );
    assert_eq!(app["rotationPeriod"], "7776000s");
    assert!(app["nextRotationTime"].is_string(), "{app}");
    let signer = fake.key("us-east1", "pay", "signer");
    assert_eq!(
        signer["primary"],
        Value::Null,
        "asymmetric keys have no primary"
    );
    assert_eq!(
        states(&fake, "us-east1", "pay", "signer"),
        ["DISABLED", "ENABLED"]
    );
    assert_eq!(
        signer["rotationPeriod"],
        Value::Null,
        "no automatic rotation for signing keys"
    );
    assert_eq!(
        states(&fake, "us-east1", "pay", "db"),
        ["ENABLED"],
        "out of scope"
    );
    let rotated = details(&job)["rotated"].as_array().unwrap();
    let app_entry = rotated.iter().find(|e| e["id"] == "app").unwrap();
    assert_eq!(
        app_entry["new_version"],
        "projects/keywarden-test/locations/us-east1/keyRings/pay/cryptoKeys/app/cryptoKeyVersions/2"
    );
    assert_eq!(app_entry["primary"], true);

    // 2. One key by id, the old version destroyed.
    let job = rotate(
        &s,
        "db",
        json!({"gcp_param": {"keys": ["db"], "old_versions": "destroy"}}),
        &key,
    )
    .await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    assert_eq!(fake.key("us-east1", "pay", "db")["primary"], 2);
    assert_eq!(
        states(&fake, "us-east1", "pay", "db"),
        ["DESTROY_SCHEDULED", "ENABLED"]
    );

    // 3. rotation_after: the versions were just made, so nothing is due.
    let job = rotate(
        &s,
        "pay-30d",
        json!({"rotation_after": "30d", "gcp_param": {"labels": {"team": "pay"}, "locations": ["us-east1"]}}),
        &key,
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(details(&job)["not_due"], 2, "{job}");

    // 4. expire_in and expiration mean nothing to Cloud KMS: refused when saved.
    for field in ["expire_in", "expiration"] {
        let (status, body) = s
            .post(
                &s.admin,
                CONFIGS,
                &json!({"name": format!("bad-{field}"), "operation": "cckm_key_rotation", "run_at": "@daily",
                        "cckm_key_rotation_params": {"cloud_name": "gcp", field: "6d"}}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains(field), "{body}");
    }

    // 5. Synchronization lists every key with its version in use.
    let id = create(&s, "sync", "cckm_synchronization", CLOUD, json!({})).await;
    let job = run(&s, &id, &[&key]).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 4, "{job}");
    let (status, listed) = s.get(&s.admin, "/api/v1/cckm/keys?cloud_name=gcp").await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["resources"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "{listed}");
    let app = keys
        .iter()
        .find(|k| k["aliases"] == json!(["app"]))
        .unwrap();
    assert_eq!(
        app["key_id"],
        "projects/keywarden-test/locations/us-east1/keyRings/pay/cryptoKeys/app"
    );
    assert!(
        app["resource_name"]
            .as_str()
            .unwrap()
            .ends_with("/cryptoKeyVersions/2"),
        "{app}"
    );
    assert_eq!(app["state"], "ENABLED");
    assert_eq!(app["attributes"]["rotation_period"], "7776000s");
    assert_eq!(app["attributes"]["labels"], json!({"team": "pay"}));
    let byok = keys
        .iter()
        .find(|k| k["aliases"] == json!(["byok"]))
        .unwrap();
    assert_eq!(byok["state"], "NO_ENABLED_VERSION");

    fake.violations().assert_none();
    let calls = fake.calls();
    for op in [
        "list",
        "cryptoKeys.list",
        "cryptoKeys.cryptoKeyVersions.list",
        "cryptoKeys.cryptoKeyVersions.create",
        "cryptoKeys.updatePrimaryVersion",
        "cryptoKeys.patch",
        "cryptoKeys.cryptoKeyVersions.patch",
        "cryptoKeys.cryptoKeyVersions.destroy",
    ] {
        assert!(
            calls.iter().any(|c| c == op),
            "{op} never called: {calls:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcp_wrong_key_fails_the_job_with_googles_reason() {
    let fake = FakeGcp::start().await;
    fake.add_key("us-east1", "pay", KeySpec::symmetric("app"));
    let wrong = fake.key_json_with(&new_private_key());
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, &wrong, "")).await;
    let job = rotate(&s, "wrong", json!({}), &wrong).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant: Invalid JWT Signature."),
        "{job}"
    );
    assert_eq!(states(&fake, "us-east1", "pay", "app"), ["ENABLED"]);
    assert!(fake.calls().is_empty(), "no Cloud KMS call without a token");
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcp_catches_a_request_outside_the_api() {
    // A test build that names the primary version in a field the API does not have.
    let plugins = keywarden_tests::plugin_variant("gcp-kms", "spec-break");
    let fake = FakeGcp::start().await;
    fake.add_key("us-east1", "pay", KeySpec::symmetric("app"));
    let key = fake.key_json();
    let config = parse_config(&plugin_grants(&fake, &key, ""));
    let s = TestServer::with_plugins(false, config, plugins)
        .await
        .expect("sqlite");
    let job = rotate(&s, "broken", json!({}), &key).await;
    assert_eq!(job["result"], "warning", "{job}");
    let violations = fake.violations().list();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("updatePrimaryVersion") && violations[0].contains("versionId"),
        "{violations:?}"
    );
    assert_eq!(
        fake.key("us-east1", "pay", "app")["primary"],
        1,
        "the primary did not move"
    );
}

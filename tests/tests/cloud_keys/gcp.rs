//! `gcp-kms` against `fake_gcp` (JWT-bearer token endpoint + Cloud KMS v1).

use keywarden_tests::cloud_jobs::{
    CONFIGS, assert_no_token_in_jobs, create, details, run, variant_server,
};
use keywarden_tests::fakes::assert_called;
use keywarden_tests::fakes::gcp::{FakeGcp, KeySpec, new_private_key, plugin_grants};
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

const PLUGIN: &str = "gcp-kms";
const CLOUD: &str = "gcp";

async fn rotate(s: &TestServer, name: &str, params: Value, key_json: &str) -> Value {
    let id = create(s, name, "cckm_key_rotation", CLOUD, params).await;
    run(s, &id, &secrets_of(key_json)).await
}

/// What must never show in a job: the key file, its private key's PEM lines.
fn secrets_of(key_json: &str) -> Vec<&str> {
    let pem = key_json.split("\\n").filter(|l| l.len() > 40);
    std::iter::once(key_json).chain(pem).collect()
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
    fake.add_key(
        "global",
        "ops",
        KeySpec {
            retired: true,
            ..KeySpec::symmetric("retired").label("team", "pay")
        },
    );
    let key = fake.key_json();
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, &key, "")).await;

    // 1. team=pay in both locations: new versions, old ones disabled, Cloud KMS's own
    //    schedule set on the symmetric key (the signing key's version is generated
    //    asynchronously: the plugin waits for it); the import-only key is named as one
    //    Cloud KMS cannot rotate; the retired key (its primary disabled) stays retired.
    let job = rotate(
        &s,
        "pay",
        json!({"gcp_param": {"labels": {"team": "pay"}, "old_versions": "disable", "rotation_period": "90d"}}),
        &key,
    )
    .await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    assert_eq!(details(&job)["num_failed"], 0, "{job}");
    let unrotatable = details(&job)["not_rotatable"].as_array().unwrap();
    assert_eq!(unrotatable.len(), 1, "{job}");
    assert!(
        unrotatable[0]["reason"]
            .as_str()
            .unwrap()
            .contains("import-only"),
        "{job}"
    );
    assert_eq!(
        states(&fake, "global", "ops", "retired"),
        ["DISABLED"],
        "not brought back"
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

    // 5. A job stays in its project: a full ring name elsewhere is refused.
    let job = rotate(
        &s,
        "elsewhere",
        json!({"gcp_param": {"key_rings": ["projects/someone-else/locations/us-east1/keyRings/pay"]}}),
        &key,
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("is not a key ring of project \"keywarden-test\""),
        "{job}"
    );

    // 6. Synchronization lists every key with its version in use.
    let id = create(&s, "sync", "cckm_synchronization", CLOUD, json!({})).await;
    let job = run(&s, &id, &secrets_of(&key)).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 5, "{job}");
    let (status, listed) = s.get(&s.admin, "/api/v1/cckm/keys?cloud_name=gcp").await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["resources"].as_array().unwrap();
    assert_eq!(keys.len(), 5, "{listed}");
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
    let retired = keys
        .iter()
        .find(|k| k["aliases"] == json!(["retired"]))
        .unwrap();
    assert_eq!(retired["state"], "DISABLED");

    assert_no_token_in_jobs(&s, &fake.tokens()).await;
    fake.violations().assert_none();
    assert_called(
        &fake.calls(),
        &[
            "list",
            "cryptoKeys.list",
            "cryptoKeys.cryptoKeyVersions.list",
            "cryptoKeys.cryptoKeyVersions.create",
            "cryptoKeys.cryptoKeyVersions.get",
            "cryptoKeys.updatePrimaryVersion",
            "cryptoKeys.patch",
            "cryptoKeys.cryptoKeyVersions.patch",
            "cryptoKeys.cryptoKeyVersions.destroy",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcp_wrong_key_fails_the_job_with_googles_reason() {
    let fake = FakeGcp::start().await;
    fake.add_key("us-east1", "pay", KeySpec::symmetric("app"));
    let wrong = fake.key_json_with(&new_private_key());
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, &wrong, "")).await;
    let job = rotate(&s, "wrong", json!({}), &wrong).await;
    assert!(!job.to_string().contains("BEGIN PRIVATE KEY"), "{job}");
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
    let fake = FakeGcp::start().await;
    fake.add_key("us-east1", "pay", KeySpec::symmetric("app"));
    let key = fake.key_json();
    let s = variant_server(PLUGIN, "spec-break", &plugin_grants(&fake, &key, "")).await;
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

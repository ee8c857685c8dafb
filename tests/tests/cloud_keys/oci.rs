//! `oci-kms` against `fake_oci` (OCI Key Management `/20180608`: control plane and
//! per-vault management endpoints, every request's HTTP Signature verified).

use keywarden_tests::cloud_jobs::{create, details, run, variant_server};
use keywarden_tests::fakes::assert_called;
use keywarden_tests::fakes::oci::{ApiKey, COMPARTMENT, FakeOci, KeySpec, plugin_grants};
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

const CLOUD: &str = "oci";
const OTHER_COMPARTMENT: &str = "ocid1.compartment.oc1..aaaaaaaaledger";

async fn server(fake: &FakeOci) -> TestServer {
    TestServer::sqlite_with_toml(&plugin_grants(fake, &fake.api_key().private_pem, "")).await
}

/// Runs a new rotation config `name` with `params`; the finished job (checked for the
/// private key).
async fn rotate(s: &TestServer, fake: &FakeOci, name: &str, params: Value) -> Value {
    let id = create(s, name, "cckm_key_rotation", CLOUD, params).await;
    run(s, &id, &[fake.api_key().secret_line()]).await
}

fn versions(fake: &FakeOci, vault: usize, name: &str) -> Vec<Value> {
    fake.key(vault, name)["versions"]
        .as_array()
        .unwrap()
        .clone()
}

fn entry<'a>(job: &'a Value, name: &str) -> &'a Value {
    details(job)["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not rotated in {job}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_rotation_by_scope_with_old_versions_scheduled_for_deletion() {
    let fake = FakeOci::start(&[COMPARTMENT, COMPARTMENT, OTHER_COMPARTMENT]).await;
    fake.add_key(0, KeySpec::aes("app").tag("team", "pay"));
    fake.add_key(0, KeySpec::rsa("signer").tag("team", "pay"));
    fake.add_key(0, KeySpec::aes("db").tag("team", "data"));
    fake.add_key(
        0,
        KeySpec {
            state: "DISABLED",
            ..KeySpec::aes("retired").tag("team", "pay")
        },
    );
    let ledger = fake.add_key(1, KeySpec::aes("ledger").tag("team", "pay"));
    fake.add_key(2, KeySpec::aes("far").tag("team", "pay"));
    let s = server(&fake).await;
    let (vault0, _) = fake.vault(0);

    // 1. One vault, by tag; the replaced versions scheduled for deletion in 10 days.
    let job = rotate(
        &s,
        &fake,
        "pay",
        json!({"oci_param": {"vaults": [vault0], "tags": {"team": "pay"},
                             "old_versions": "schedule_deletion", "deletion_days": 10}}),
    )
    .await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    for name in ["app", "signer"] {
        let key = fake.key(0, name);
        let v = versions(&fake, 0, name);
        assert_eq!(v.len(), 2, "{name}: {key}");
        assert_eq!(
            key["current"], v[1]["id"],
            "{name}: the new version is current"
        );
        assert_eq!(v[0]["state"], "PENDING_DELETION", "{name}: {key}");
        assert_eq!(v[1]["state"], "ENABLED");
        let deletion =
            chrono::DateTime::parse_from_rfc3339(v[0]["timeOfDeletion"].as_str().unwrap()).unwrap();
        let days = (deletion.timestamp() - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
        assert!(
            (9.9..=10.0).contains(&days),
            "{name}: deleted in {days} days"
        );
        let e = entry(&job, name);
        assert_eq!(e["key_id"], key["id"]);
        assert_eq!(e["old_version"], v[0]["id"]);
        assert_eq!(e["new_version"], v[1]["id"]);
        assert_eq!(e["deletion_scheduled"], json!([v[0]["id"]]));
    }
    for (vault, untouched) in [(0, "db"), (0, "retired"), (1, "ledger"), (2, "far")] {
        assert_eq!(
            versions(&fake, vault, untouched).len(),
            1,
            "{untouched} out of scope"
        );
    }

    // 2. By display name and by OCID over the operator's compartment (vaults 0 and 1);
    // old versions are kept unless asked.
    let job = rotate(
        &s,
        &fake,
        "named",
        json!({"oci_param": {"keys": ["db", ledger]}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    for (vault, name) in [(0, "db"), (1, "ledger")] {
        let v = versions(&fake, vault, name);
        assert_eq!(v.len(), 2, "{name}");
        assert_eq!(v[0]["state"], "ENABLED", "{name}: the old version kept");
    }
    assert_eq!(versions(&fake, 2, "far").len(), 1, "another compartment");

    // 3. Another compartment as the scope.
    let job = rotate(
        &s,
        &fake,
        "ledger-compartment",
        json!({"oci_param": {"compartments": [OTHER_COMPARTMENT]}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    assert_eq!(entry(&job, "far")["compartment"], OTHER_COMPARTMENT);
    assert_eq!(versions(&fake, 2, "far").len(), 2);

    fake.violations().assert_none();
    assert_called(
        &fake.calls(),
        &[
            "ListVaults",
            "ListKeys",
            "GetKey",
            "CreateKeyVersion",
            "ListKeyVersions",
            "ScheduleKeyVersionDeletion",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_rotation_after_is_not_due_on_the_second_run() {
    let fake = FakeOci::start(&[COMPARTMENT]).await;
    fake.add_key(
        0,
        KeySpec {
            age_days: 40,
            ..KeySpec::aes("old")
        },
    );
    fake.add_key(
        0,
        KeySpec {
            age_days: 5,
            ..KeySpec::aes("young")
        },
    );
    let s = server(&fake).await;
    let id = create(
        &s,
        "monthly",
        "cckm_key_rotation",
        CLOUD,
        json!({"rotation_after": "30d"}),
    )
    .await;
    let secret = [fake.api_key().secret_line()];
    let job = run(&s, &id, &secret).await;
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    assert_eq!(details(&job)["not_due"], 1, "{job}");
    assert_eq!(entry(&job, "old")["name"], "old");
    assert_eq!(versions(&fake, 0, "young").len(), 1);

    let job = run(&s, &id, &secret).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(details(&job)["not_due"], 2, "{job}");
    assert_eq!(versions(&fake, 0, "old").len(), 2, "rotated once only");
    assert_called(&fake.calls(), &["GetKeyVersion"]);
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_expire_in_and_expiration_are_refused_with_the_reason() {
    let fake = FakeOci::start(&[COMPARTMENT]).await;
    fake.add_key(0, KeySpec::aes("app"));
    let s = server(&fake).await;
    for (field, params) in [
        ("expire_in", json!({"expire_in": "7d"})),
        ("expiration", json!({"expiration": "30d"})),
    ] {
        let job = rotate(&s, &fake, field, params).await;
        assert_eq!(job["status"], "failed", "{job}");
        let wanted = format!(
            "invalid params: {field}: not valid for oci: OCI Vault key versions have no expiry date"
        );
        assert!(
            job["message"].as_str().unwrap().starts_with(&wanted),
            "{job}"
        );
    }
    assert_eq!(versions(&fake, 0, "app").len(), 1, "nothing rotated");
    assert!(fake.calls().is_empty(), "refused before any call");
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_synchronization_pages_through_vaults_keys_and_versions() {
    // Vault 2 stays empty: a page of its own in the vault list.
    let fake = FakeOci::start(&[COMPARTMENT; 3]).await;
    let app = fake.add_key(0, KeySpec::aes("app").tag("team", "pay"));
    fake.add_key(
        0,
        KeySpec {
            state: "DISABLED",
            ..KeySpec::rsa("retired")
        },
    );
    let names: Vec<&'static str> = (0..9)
        .map(|i| &*Box::leak(format!("bulk-{i}").into_boxed_str()))
        .collect();
    for name in &names {
        fake.add_key(1, KeySpec::aes(name));
    }
    let s = server(&fake).await;
    // Give app three versions, so its versions list takes two pages too.
    for run in ["first", "second"] {
        let job = rotate(&s, &fake, run, json!({"oci_param": {"keys": ["app"]}})).await;
        assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    }
    fake.set_page_size(2);
    let before = fake.calls().len();
    let id = create(&s, "sync", "cckm_synchronization", CLOUD, json!({})).await;
    let job = run(&s, &id, &[fake.api_key().secret_line()]).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 11, "{job}");
    let calls = fake.calls().split_off(before);
    let pages = |op: &str| calls.iter().filter(|c| *c == op).count();
    // Pages of two: 3 vaults; 2, 9 and 0 keys; 3 versions of app and 1 of the others.
    assert_eq!(pages("ListVaults"), 2, "{calls:?}");
    assert_eq!(pages("ListKeys"), 1 + 5 + 1, "{calls:?}");
    assert_eq!(pages("ListKeyVersions"), 2 + 10, "{calls:?}");

    let (status, listed) = s
        .get(&s.admin, "/api/v1/cckm/keys?cloud_name=oci&limit=100")
        .await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["resources"].as_array().unwrap();
    assert_eq!(keys.len(), 11, "{listed}");
    let listed_app = keys
        .iter()
        .find(|k| k["aliases"] == json!(["app"]))
        .expect("app");
    let fake_app = fake.key(0, "app");
    assert_eq!(listed_app["key_id"], app);
    assert_eq!(listed_app["resource_name"], fake_app["current"]);
    assert_eq!(listed_app["state"], "ENABLED");
    assert!(listed_app["rotated_at"].is_string(), "{listed_app}");
    let attributes = &listed_app["attributes"];
    assert_eq!(attributes["versions"], 3, "{listed_app}");
    assert_eq!(attributes["vault"], fake.vault(0).0);
    assert_eq!(attributes["compartment"], COMPARTMENT);
    assert_eq!(attributes["algorithm"], "AES");
    assert_eq!(attributes["length"], 32);
    assert_eq!(attributes["protection_mode"], "HSM");
    assert_eq!(attributes["tags"], json!({"team": "pay"}));
    let retired = keys
        .iter()
        .find(|k| k["aliases"] == json!(["retired"]))
        .unwrap();
    assert_eq!(retired["state"], "DISABLED");
    assert_eq!(retired["attributes"]["algorithm"], "RSA");
    assert!(
        retired["rotated_at"].is_null(),
        "one version: never rotated"
    );
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_wrong_api_key_fails_the_job_clearly() {
    let fake = FakeOci::start(&[COMPARTMENT]).await;
    fake.add_key(0, KeySpec::aes("app"));
    // The operator's settings name the registered key's fingerprint; the secret holds
    // another key.
    let wrong = ApiKey::generate();
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, &wrong.private_pem, "")).await;
    let id = create(&s, "wrong", "cckm_key_rotation", CLOUD, json!({})).await;
    let job = run(
        &s,
        &id,
        &[wrong.secret_line(), fake.api_key().secret_line()],
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(
        message.starts_with("OCI GET /20180608/vaults failed: 401 NotAuthenticated:")
            && message.contains("check tenancy_ocid, user_ocid and fingerprint"),
        "{job}"
    );
    let text = job.to_string();
    assert!(!text.contains("PRIVATE KEY"), "{job}");
    assert_eq!(versions(&fake, 0, "app").len(), 1, "nothing rotated");
    assert!(
        fake.calls().is_empty(),
        "no call answered without a valid signature"
    );
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_oci_catches_a_request_outside_the_api() {
    // A test build of the plugin that makes key versions with PUT, which OCI does not have.
    let fake = FakeOci::start(&[COMPARTMENT]).await;
    fake.add_key(0, KeySpec::aes("app"));
    let toml = plugin_grants(&fake, &fake.api_key().private_pem, "");
    let s = variant_server("oci-kms", "spec-break", &toml).await;
    let job = rotate(&s, &fake, "broken", json!({})).await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["num_failed"], 1, "{job}");
    let violations = fake.violations().list();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("PUT is not an operation of /20180608/keys/"),
        "{violations:?}"
    );
    assert_eq!(versions(&fake, 0, "app").len(), 1);
}

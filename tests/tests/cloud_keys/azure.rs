//! `azure-keyvault` against `fake_azure` (Entra ID token endpoint + Key Vault keys 7.6).

use std::time::Duration;

use keywarden_tests::cloud_jobs::{assert_no_token_in_jobs, create, details, run, variant_server};
use keywarden_tests::fakes::assert_called;
use keywarden_tests::fakes::azure::{CLIENT_SECRET, FakeAzure, KeySpec, plugin_grants};
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

const PLUGIN: &str = "azure-keyvault";
const CLOUD: &str = "AzureCloud";

async fn rotate(s: &TestServer, name: &str, params: Value) -> Value {
    let id = create(s, name, "cckm_key_rotation", CLOUD, params).await;
    run(s, &id, &[CLIENT_SECRET]).await
}

fn versions(fake: &FakeAzure, vault: usize, name: &str) -> Vec<Value> {
    fake.key(vault, name)["versions"]
        .as_array()
        .unwrap()
        .clone()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_azure_rotation_and_synchronization() {
    let fake = FakeAzure::start(2).await;
    fake.add_key(
        0,
        KeySpec {
            versions: 27,
            ..KeySpec::rsa("app").tag("team", "pay")
        },
    );
    fake.add_key(0, KeySpec::ec("signer").tag("team", "pay"));
    fake.add_key(0, KeySpec::rsa("db").tag("team", "data"));
    fake.add_key(
        0,
        KeySpec {
            managed: true,
            ..KeySpec::rsa("tls-cert").tag("team", "pay")
        },
    );
    fake.add_key(
        0,
        KeySpec {
            enabled: false,
            ..KeySpec::rsa("retired").tag("team", "pay")
        },
    );
    fake.add_key(
        0,
        KeySpec {
            expires_in_days: Some(3),
            ..KeySpec::rsa("soon").tag("team", "ops")
        },
    );
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, CLIENT_SECRET, "")).await;

    // 1. The vault's rotate call for team=pay, older versions disabled, a policy set.
    let policy = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}],
                        "attributes": {"expiryTime": "P120D"}});
    let job = rotate(
        &s,
        "pay",
        json!({"azure_param": {"tags": {"team": "pay"}, "disable_old_versions": true, "rotation_policy": policy}}),
    )
    .await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    assert_eq!(fake.token_requests(), 1, "one token for the whole job");
    for (name, old) in [("app", 27), ("signer", 1)] {
        let v = versions(&fake, 0, name);
        assert_eq!(v.len(), old + 1, "{name}: {v:#?}");
        let (new, olds) = v.split_last().unwrap();
        assert!(
            olds.iter().all(|o| o["enabled"] == false),
            "{name}: old versions disabled (over two pages)"
        );
        assert_eq!(new["enabled"], true);
        for field in ["kty", "key_size", "crv", "key_ops"] {
            assert_eq!(new[field], olds[0][field], "{name}: {field} kept");
        }
        assert_eq!(
            new["tags"],
            json!({"team": "pay"}),
            "{name}: the new version keeps the tags"
        );
        let entry = details(&job)["rotated"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {job}"))
            .clone();
        assert_eq!(entry["old_version"], olds[old - 1]["id"]);
        assert_eq!(entry["new_version"], new["id"]);
        assert_eq!(entry["disabled_versions"].as_array().unwrap().len(), old);
        assert_eq!(
            fake.key(0, name)["policy"]["attributes"]["expiryTime"],
            "P120D"
        );
    }
    for untouched in ["db", "tls-cert", "retired", "soon"] {
        assert_eq!(
            versions(&fake, 0, untouched).len(),
            1,
            "{untouched} out of scope"
        );
    }

    // 2. A version made by create, by name, with an expiry 30 days out.
    let job = rotate(
        &s,
        "db",
        json!({"expiration": "30d", "azure_param": {"keys": ["db"], "mode": "new_version"}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let v = versions(&fake, 0, "db");
    assert_eq!(v.len(), 2);
    assert_eq!(v[1]["kty"], "RSA");
    assert_eq!(v[1]["key_size"], 2048);
    assert_eq!(v[1]["key_ops"], v[0]["key_ops"]);
    let exp = v[1]["exp"].as_i64().expect("an expiry");
    assert!((exp - (now() + 30 * 86_400)).abs() < 120, "{exp}");
    assert_eq!(
        v[0]["enabled"], true,
        "old versions stay enabled unless asked"
    );

    // 3. rotation_after: the keys were just rotated, so none is due.
    let job = rotate(
        &s,
        "pay-30d",
        json!({"rotation_after": "30d", "azure_param": {"tags": {"team": "pay"}}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(details(&job)["not_due"], 2, "{job}");

    // 4. expire_in: only the key expiring within 7 days; the policy's expiry applies.
    let job = rotate(&s, "expiring", json!({"expire_in": "7d"})).await;
    assert_eq!(details(&job)["total_keys"], 1, "{job}");
    assert_eq!(details(&job)["rotated"][0]["name"], "soon", "{job}");

    // 5. Synchronization over both vaults (the second lists in pages of 25).
    let names: Vec<&'static str> = (0..30)
        .map(|i| &*Box::leak(format!("bulk-{i:02}").into_boxed_str()))
        .collect();
    for name in &names {
        fake.add_key(1, KeySpec::rsa(name));
    }
    let vaults = json!([fake.vaults[0], fake.vaults[1]]);
    let id = create(
        &s,
        "sync",
        "cckm_synchronization",
        CLOUD,
        json!({"azure_param": {"vaults": vaults}}),
    )
    .await;
    let job = run(&s, &id, &[CLIENT_SECRET]).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 36, "{job}");
    // A job may narrow the operator's vaults, not add one.
    let other = create(
        &s,
        "elsewhere",
        "cckm_synchronization",
        CLOUD,
        json!({"azure_param": {"vaults": [fake.authority]}}),
    )
    .await;
    let refused = run(&s, &other, &[CLIENT_SECRET]).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("not among the operator's vault_urls"),
        "{refused}"
    );
    let (status, listed) = s
        .get(
            &s.admin,
            "/api/v1/cckm/keys?cloud_name=AzureCloud&limit=100",
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["resources"].as_array().unwrap();
    assert_eq!(keys.len(), 36, "{listed}");
    let app = keys
        .iter()
        .find(|k| k["aliases"] == json!(["app"]))
        .expect("app listed");
    let app_versions = versions(&fake, 0, "app");
    assert_eq!(app["key_id"], format!("{}/keys/app", fake.vaults[0]));
    assert_eq!(
        app["resource_name"],
        format!(
            "{}/keys/app/{}",
            fake.vaults[0],
            app_versions[27]["id"].as_str().unwrap()
        )
    );
    assert_eq!(app["state"], "Enabled");
    assert!(app["rotated_at"].is_string(), "{app}");
    assert_eq!(app["attributes"]["versions"], 28);
    assert_eq!(
        app["attributes"]["rotation_policy"]["attributes"]["expiryTime"],
        "P120D"
    );
    let retired = keys
        .iter()
        .find(|k| k["aliases"] == json!(["retired"]))
        .unwrap();
    assert_eq!(retired["state"], "Disabled");

    assert_no_token_in_jobs(&s, &fake.tokens()).await;
    fake.violations().assert_none();
    assert_called(
        &fake.calls(),
        &[
            "GetKeys",
            "GetKey",
            "GetKeyVersions",
            "RotateKey",
            "CreateKey",
            "UpdateKey",
            "UpdateKeyRotationPolicy",
            "GetKeyRotationPolicy",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_azure_wrong_secret_fails_the_job_with_entra_reason() {
    let fake = FakeAzure::start(1).await;
    fake.add_key(0, KeySpec::rsa("app"));
    let wrong = "not-the-client-secret";
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, wrong, "")).await;
    let job = rotate(&s, "wrong", json!({})).await;
    assert_eq!(job["status"], "failed", "{job}");
    let text = job.to_string();
    assert!(
        text.contains("invalid_client") && text.contains("AADSTS7000215"),
        "{job}"
    );
    assert!(!text.contains(wrong), "the secret leaked: {job}");
    assert_eq!(versions(&fake, 0, "app").len(), 1, "nothing rotated");
    assert!(fake.calls().is_empty(), "no vault call without a token");
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_azure_token_is_fetched_again_when_it_expires() {
    let fake = FakeAzure::start(1).await;
    for name in ["a", "b", "c"] {
        fake.add_key(0, KeySpec::rsa(name));
    }
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, CLIENT_SECRET, "")).await;
    // Tokens that live under the plugin's one-minute margin are never reused.
    fake.set_token_lifetime(Duration::from_secs(30));
    let job = rotate(&s, "short", json!({})).await;
    assert_eq!(details(&job)["num_rotated"], 3, "{job}");
    let vault_calls = fake.calls().len();
    // One for the credential check before the first call, then one per call.
    assert_eq!(fake.token_requests(), vault_calls + 1, "a token per call");
    // Tokens that live an hour are fetched once per job.
    fake.set_token_lifetime(Duration::from_secs(3600));
    let before = fake.token_requests();
    let job = rotate(&s, "long", json!({})).await;
    assert_eq!(details(&job)["num_rotated"], 3, "{job}");
    assert_eq!(fake.token_requests() - before, 1);
    fake.violations().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_azure_catches_a_request_outside_the_api() {
    // A test build of the plugin that rotates with PUT, which Key Vault does not have.
    let fake = FakeAzure::start(1).await;
    fake.add_key(0, KeySpec::rsa("app"));
    let s = variant_server(
        PLUGIN,
        "spec-break",
        &plugin_grants(&fake, CLIENT_SECRET, ""),
    )
    .await;
    let job = rotate(&s, "broken", json!({})).await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["num_failed"], 1, "{job}");
    let violations = fake.violations().list();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("PUT is not an operation of /keys/app/rotate"),
        "{violations:?}"
    );
    assert_eq!(versions(&fake, 0, "app").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_azure_refuses_a_next_page_it_already_followed() {
    let fake = FakeAzure::start(1).await;
    for i in 0..30 {
        fake.add_key(
            0,
            KeySpec::rsa(Box::leak(format!("k{i:02}").into_boxed_str())),
        );
    }
    fake.repeat_next_link();
    let s = TestServer::sqlite_with_toml(&plugin_grants(&fake, CLIENT_SECRET, "")).await;
    let job = rotate(&s, "looping", json!({})).await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    let error = details(&job)["failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("page token it already gave"), "{job}");
    assert_eq!(fake.calls().len(), 2, "the repeated page is not read again");
    fake.violations().assert_none();
}

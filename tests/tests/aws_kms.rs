//! The `aws-kms` plugin end to end: keys and aliases made with boto3 in a real moto KMS
//! server, rotations scheduled through the REST API of a real server (port 0, the real
//! compiled plugin), run with run-now, and KMS read back with boto3.

use std::time::Duration;

use keywarden_tests::moto::{ACCESS_KEY, Moto, SECRET_KEY};
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

/// Operator config granting the plugin moto's host and the two credential secrets.
fn grants(moto: &Moto) -> String {
    format!(
        r#"
[secrets]
aws-access-key-id = {{ value = "{ACCESS_KEY}" }}
aws-secret-access-key = {{ value = "{SECRET_KEY}" }}

[plugins.aws-kms]
outbound_hosts = ["{host}"]
secrets = ["aws-access-key-id", "aws-secret-access-key"]
config = {{ endpoint = "{endpoint}", region = "us-east-1" }}
"#,
        host = moto.host(),
        endpoint = moto.endpoint()
    )
}

/// Creates a `cckm_key_rotation` config with `params` (cloud_name added), runs it now
/// and returns the finished job.
async fn rotate(s: &TestServer, name: &str, params: Value) -> Value {
    let id = create(s, name, "cckm_key_rotation", params).await;
    run(s, &id).await
}

async fn create(s: &TestServer, name: &str, operation: &str, mut params: Value) -> String {
    params["cloud_name"] = json!("aws");
    let created = s
        .create_config(
            &s.admin,
            &json!({"name": name, "operation": operation, "run_at": "0 3 * * *",
                    format!("{operation}_params"): params}),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn run(s: &TestServer, config_id: &str) -> Value {
    let (status, started) = s
        .post(
            &s.admin,
            &format!("{CONFIGS}/{config_id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let job = s
        .wait_job(
            &s.admin,
            started["job_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert!(
        !job.to_string().contains(SECRET_KEY),
        "the secret leaked into the job: {job}"
    );
    job
}

fn details(job: &Value) -> &Value {
    &job["details"]["details"]
}

/// KMS as boto3 sees it: key id -> key.
fn kms(moto: &Moto) -> Vec<Value> {
    moto.boto3(&["dump"], None)["keys"]
        .as_array()
        .unwrap()
        .clone()
}

fn key<'a>(keys: &'a [Value], id: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["KeyId"] == id)
        .unwrap_or_else(|| panic!("key {id} not in KMS"))
}

fn holder<'a>(keys: &'a [Value], alias: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["aliases"].as_array().unwrap().iter().any(|a| a == alias))
        .unwrap_or_else(|| panic!("no key carries {alias}"))
}

fn archived_aliases(k: &Value, alias: &str) -> Vec<String> {
    let prefix = format!("{alias}-");
    k["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .filter(|a| {
            a.strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect()
}

fn setup(moto: &Moto, keys: Value) -> Value {
    moto.boto3(&["setup"], Some(&json!({ "keys": keys })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_moves_aliases_and_keeps_old_keys() {
    let moto = Moto::start();
    let ids = setup(
        &moto,
        json!([
            {"name": "app", "aliases": ["alias/app", "alias/app-legacy"], "tags": {"team": "pay", "env": "prod"}},
            {"name": "db", "aliases": ["alias/db"], "tags": {"team": "data"}},
            {"name": "plain", "tags": {"team": "pay"}, "key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"},
        ]),
    );
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;

    // 1. Keys tagged team=pay, archived aliases kept, old keys disabled (the default).
    let job = rotate(
        &s,
        "pay",
        json!({"aws_param": {"tags": {"team": "pay"}, "retain_alias": true}}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 2, "{job}");
    assert_eq!(details(&job)["failed"], json!([]));

    let keys = kms(&moto);
    assert_eq!(keys.len(), 5, "two new keys: {keys:#?}");
    let old_app = key(&keys, ids["app"].as_str().unwrap());
    assert_eq!(old_app["KeyState"], "Disabled");
    let new_app = holder(&keys, "alias/app");
    assert_ne!(new_app["KeyId"], old_app["KeyId"], "alias/app moved");
    assert_eq!(holder(&keys, "alias/app-legacy")["KeyId"], new_app["KeyId"]);
    assert_eq!(new_app["KeyState"], "Enabled");
    assert_eq!(new_app["KeySpec"], old_app["KeySpec"]);
    assert_eq!(new_app["KeyUsage"], old_app["KeyUsage"]);
    assert_eq!(new_app["tags"], json!({"team": "pay", "env": "prod"}));
    assert_eq!(archived_aliases(old_app, "alias/app").len(), 1, "{old_app}");
    assert_eq!(
        archived_aliases(old_app, "alias/app-legacy").len(),
        1,
        "{old_app}"
    );
    // A key without alias is rotated too: a new RSA signing key with its tags.
    assert_eq!(
        key(&keys, ids["plain"].as_str().unwrap())["KeyState"],
        "Disabled"
    );
    assert!(keys.iter().any(|k| k["KeySpec"] == "RSA_2048"
        && k["KeyUsage"] == "SIGN_VERIFY"
        && k["KeyState"] == "Enabled"
        && k["tags"] == json!({"team": "pay"})));
    // Out of scope: untouched.
    let db = key(&keys, ids["db"].as_str().unwrap());
    assert_eq!(db["KeyState"], "Enabled");
    assert_eq!(db["aliases"], json!(["alias/db"]));

    // 2. By alias (prefix optional), old key pending deletion, no archived alias.
    let job = rotate(
        &s,
        "db",
        json!({"aws_param": {"aliases": ["db"], "old_key": "schedule_deletion", "pending_window_days": 7}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let keys = kms(&moto);
    let old_db = key(&keys, ids["db"].as_str().unwrap());
    assert_eq!(old_db["KeyState"], "PendingDeletion");
    assert_eq!(
        old_db["aliases"],
        json!([]),
        "retain_alias defaults to false"
    );
    assert_ne!(holder(&keys, "alias/db")["KeyId"], old_db["KeyId"]);

    // 3. AWS's on-demand rotation: same key, one more rotation, aliases stay.
    let app_now = holder(&keys, "alias/app")["KeyId"].clone();
    let job = rotate(
        &s,
        "on-demand",
        json!({"aws_param": {"aliases": ["alias/app"], "mode": "on_demand"}}),
    )
    .await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let keys = kms(&moto);
    let app = holder(&keys, "alias/app");
    assert_eq!(app["KeyId"], app_now, "on-demand rotation keeps the key id");
    assert_eq!(app["rotations"], 1);
    assert_eq!(app["KeyState"], "Enabled");
    let before = keys.len();

    // 4. expire_in: material made by KMS never expires, so nothing is in scope.
    let job = rotate(&s, "expiring", json!({"expire_in": "1d"})).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["total_keys"], 0, "{job}");
    assert_eq!(details(&job)["num_rotated"], 0);

    // 5. expiration on KMS-made material: each key fails with the reason; warning.
    let job = rotate(
        &s,
        "expiration",
        json!({"expiration": "30d", "aws_param": {"aliases": ["alias/db"]}}),
    )
    .await;
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["num_rotated"], 0);
    let failed = details(&job)["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{job}");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("only to imported key material (Origin EXTERNAL)"),
        "{job}"
    );
    assert_eq!(failed[0]["aliases"], json!(["alias/db"]));
    // With on-demand rotation, expiration is a bad parameter.
    let job = rotate(
        &s,
        "expiration-on-demand",
        json!({"expiration": "30d", "aws_param": {"mode": "on_demand"}}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["message"].as_str().unwrap().contains("expiration"),
        "{job}"
    );
    assert_eq!(kms(&moto).len(), before, "failed rotations created no keys");
    s.stop().await;
}

/// `rotation_after`: due X days after creation (moto's clock is moved back to create an
/// old key), then X days after the last rotation, which the plugin keeps in the host's
/// durable state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_after_holds_across_runs() {
    let moto = Moto::start();
    assert!(
        moto.has_clock_control(),
        "libfaketime is needed to create old keys in moto: run .ci/moto.sh as root or apt-get install libfaketime"
    );
    moto.shift_clock_days(-40);
    let old = setup(&moto, json!([{"name": "old", "aliases": ["alias/old"]}]));
    moto.shift_clock_days(0);
    let young = setup(
        &moto,
        json!([{"name": "young", "aliases": ["alias/young"]}]),
    );
    let old_id = old["old"].as_str().unwrap();
    let keys = kms(&moto);
    assert!(
        key(&keys, old_id)["CreationDate"].as_str().unwrap()
            < key(&keys, young["young"].as_str().unwrap())["CreationDate"]
                .as_str()
                .unwrap()
    );

    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    let new_key = create(
        &s,
        "monthly",
        "cckm_key_rotation",
        json!({"rotation_after": "30d"}),
    )
    .await;
    // Run 1: the 40-day-old key is due, the one created now is not.
    let job = run(&s, &new_key).await;
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    assert_eq!(details(&job)["not_due"], 1, "{job}");
    let keys = kms(&moto);
    assert_eq!(key(&keys, old_id)["KeyState"], "Disabled");
    let replacement = holder(&keys, "alias/old")["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(replacement, old_id);
    assert_eq!(holder(&keys, "alias/young")["KeyId"], young["young"]);

    // Run 2: nothing is due any more.
    let job = run(&s, &new_key).await;
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(details(&job)["not_due"], 2, "{job}");
    assert_eq!(
        holder(&kms(&moto), "alias/old")["KeyId"],
        replacement.as_str()
    );

    // On-demand mode keeps the key and its creation date (40 days old): only the durable
    // last-rotation date stops the second run from rotating it again.
    moto.shift_clock_days(-40);
    let od = setup(&moto, json!([{"name": "od", "aliases": ["alias/od"]}]));
    moto.shift_clock_days(0);
    let on_demand = create(
        &s,
        "monthly-on-demand",
        "cckm_key_rotation",
        json!({"rotation_after": "30d", "aws_param": {"mode": "on_demand", "aliases": ["alias/od"]}}),
    )
    .await;
    let job = run(&s, &on_demand).await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let job = run(&s, &on_demand).await;
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(details(&job)["not_due"], 1, "{job}");
    assert_eq!(key(&kms(&moto), od["od"].as_str().unwrap())["rotations"], 1);

    // The last rotation date lives in the host database, per job config: set it back 31
    // days there (what the store would hold a month later) and the replacement is due.
    let store = keywarden_store::connect(s.database_url()).await.unwrap();
    let past = (chrono::Utc::now() - chrono::Duration::days(31))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let state_key = format!("last_rotation/{replacement}");
    assert!(
        store
            .state_get("aws-kms", &new_key, &state_key)
            .await
            .unwrap()
            .is_some(),
        "the plugin recorded the rotation durably"
    );
    store
        .state_set("aws-kms", &new_key, &state_key, Some(&past))
        .await
        .unwrap();
    let job = run(&s, &new_key).await;
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let keys = kms(&moto);
    assert_eq!(key(&keys, &replacement)["KeyState"], "Disabled");
    assert_ne!(holder(&keys, "alias/old")["KeyId"], replacement.as_str());
    s.stop().await;
}

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
        .call(reqwest::Method::GET, "/openapi.json", None, None)
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

/// A host outside the allowlist and a secret not granted each fail the job with a
/// message saying so; KMS is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_host_or_secret_fails_clearly() {
    let moto = Moto::start();
    setup(&moto, json!([{"name": "k", "aliases": ["alias/k"]}]));
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    let elsewhere = format!("http://127.0.0.1:{}", keywarden_tests::free_port());
    let job = rotate(
        &s,
        "elsewhere",
        json!({"aws_param": {"endpoint": elsewhere}}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(message.contains("HTTP request denied"), "{message}");
    assert!(
        message.contains("is not granted to this plugin"),
        "{message}"
    );
    s.stop().await;

    // Same host grant, but no secrets granted.
    let no_secrets = grants(&moto).replace(
        r#"secrets = ["aws-access-key-id", "aws-secret-access-key"]"#,
        "secrets = []",
    );
    let s = TestServer::sqlite_with_toml(&no_secrets).await;
    let job = rotate(&s, "no-secret", json!({})).await;
    assert_eq!(job["status"], "failed", "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(message.contains("AWS credentials unavailable"), "{message}");
    assert!(message.contains("aws-access-key-id"), "{message}");
    assert!(message.contains("not granted"), "{message}");
    assert_eq!(holder(&kms(&moto), "alias/k")["KeyState"], "Enabled");
    assert_eq!(kms(&moto).len(), 1);
    s.stop().await;
}

/// Duration strings are checked by the host on create and update, with a 422 naming the
/// field; a refused update leaves the stored config as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_params_are_validated() {
    let moto = Moto::start();
    let s = TestServer::sqlite_with_toml(&grants(&moto)).await;
    let t = s.admin.as_str();
    let cases = [
        ("expiration", json!("6x")),
        ("expire_in", json!("h")),
        ("rotation_after", json!("6h")),
        ("rotation_after", json!("0d")),
        ("expire_in", json!(6)),
    ];
    for (field, value) in &cases {
        let (status, err) = s
            .post(
                t,
                CONFIGS,
                &json!({"name": "bad", "operation": "cckm_key_rotation", "run_at": "@daily",
                        "cckm_key_rotation_params": {"cloud_name": "aws", *field: value}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {err}"
        );
        assert_eq!(
            err["field"],
            format!("cckm_key_rotation_params.{field}"),
            "{err}"
        );
        // The host's own check, whatever the plugin's schema says (noop has none).
        let (status, err) = s
            .post(
                t,
                CONFIGS,
                &json!({"name": "bad", "operation": "noop", "run_at": "@daily",
                        "params": {*field: value}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {err}"
        );
        assert_eq!(err["field"], format!("params.{field}"), "{err}");
        assert!(err["message"].as_str().unwrap().contains(field), "{err}");
    }
    let (_, err) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "bad", "operation": "noop", "run_at": "@daily", "params": {"rotation_after": "6h"}}),
        )
        .await;
    assert!(
        err["message"].as_str().unwrap().contains("days only"),
        "{err}"
    );

    let id = create(
        &s,
        "good",
        "cckm_key_rotation",
        json!({"expiration": "6d", "expire_in": "12h", "rotation_after": "30d"}),
    )
    .await;
    let path = format!("{CONFIGS}/{id}");
    let (_, before) = s.get(t, &path).await;
    for (field, value) in &cases {
        let (status, err) = s
            .patch(
                t,
                &path,
                &json!({"cckm_key_rotation_params": {*field: value}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {err}"
        );
        assert_eq!(
            err["field"],
            format!("cckm_key_rotation_params.{field}"),
            "{err}"
        );
    }
    let (_, after) = s.get(t, &path).await;
    assert_eq!(before, after, "refused updates changed nothing");
    let (status, ok) = s
        .patch(
            t,
            &path,
            &json!({"cckm_key_rotation_params": {"rotation_after": "7d"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["job_config_params"]["rotation_after"], "7d");
    s.stop().await;
}

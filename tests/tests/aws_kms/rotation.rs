//! new_key and on_demand rotation, aliases, archived keys, rotation_after (moto).

use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use serde_json::json;

use crate::helpers::*;

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
    let store = keywarden_db::connect(s.database_url()).await.unwrap();
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

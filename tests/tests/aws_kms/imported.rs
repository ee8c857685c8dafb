//! Keys whose material is imported (Origin `EXTERNAL`), against LocalStack's KMS: moto
//! answers 500 to `GetParametersForImport`. The plugin makes new material, wraps it with
//! KMS's one-time RSA key and imports it with the validity `expiration` asks for.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use keywarden_tests::aws::KmsServer;
use keywarden_tests::localstack::LocalStack;
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

use crate::helpers::*;

/// The one `ImportKeyMaterial` request into `key_id` as LocalStack logged it after
/// parsing.
fn import_request(ls: &LocalStack, key_id: &str) -> String {
    let requests: Vec<String> = ls
        .received("ImportKeyMaterial")
        .into_iter()
        .filter(|l| l.contains(&format!("'KeyId': '{key_id}'")))
        .collect();
    assert_eq!(requests.len(), 1, "imports into {key_id}: {requests:?}");
    requests.into_iter().next().unwrap()
}

/// The `ValidTo` LocalStack parsed from the import into `key_id`, read from its request
/// trace: Python's `datetime.datetime(2026, 12, 24, 20, 14, 58, tzinfo=…)`, whose repr
/// leaves out a zero second (and microsecond); `None` when the request had no `ValidTo`.
fn received_valid_to(ls: &LocalStack, key_id: &str) -> Option<DateTime<Utc>> {
    let request = import_request(ls, key_id);
    let (_, rest) = request.split_once("'ValidTo': datetime.datetime(")?;
    let mut fields: Vec<u32> = rest
        .split([',', ')'])
        .map_while(|f| f.trim().parse().ok())
        .collect();
    assert!(fields.len() >= 5, "unexpected ValidTo in {request}");
    fields.resize(6, 0);
    let date = NaiveDate::from_ymd_opt(fields[0] as i32, fields[1], fields[2])?;
    Some(date.and_hms_opt(fields[3], fields[4], fields[5])?.and_utc())
}

fn expiration_model(keys: &[Value], id: &str) -> Value {
    key(keys, id)["ExpirationModel"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_keys_get_new_material_valid_for_the_expiration_localstack() {
    let ls = LocalStack::start();
    let ids = setup(
        &ls,
        json!([
            {"name": "ext", "aliases": ["alias/ext"], "origin": "EXTERNAL", "tags": {"team": "vault"}},
            {"name": "native", "aliases": ["alias/native"], "tags": {"team": "vault"}},
        ]),
    );
    let (ext, native) = (
        ids["ext"].as_str().unwrap(),
        ids["native"].as_str().unwrap(),
    );
    let s = TestServer::sqlite_with_toml(&grants(&ls)).await;

    let before = Utc::now();
    let job = rotate(
        &s,
        "vault",
        json!({"expiration": "30d", "aws_param": {"tags": {"team": "vault"}}}),
    )
    .await;
    let after = Utc::now();
    // The KMS-generated key cannot take an expiration: named in `failed`, so a warning.
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["total_keys"], 2, "{job}");
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");
    let failed = details(&job)["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{job}");
    assert_eq!(failed[0]["key_id"], native, "{job}");
    let reason = failed[0]["error"].as_str().unwrap();
    assert!(
        reason.contains("imported key material") && reason.contains("Origin AWS_KMS"),
        "{reason}"
    );

    // KMS read back: alias/ext moved to a new EXTERNAL key whose material works and
    // expires; the old key is kept, disabled; the native key is untouched.
    let keys = kms(&ls);
    let new = holder(&keys, "alias/ext");
    let new_id = new["KeyId"].as_str().unwrap();
    assert_ne!(new_id, ext);
    assert_eq!(new["Origin"], "EXTERNAL", "{new}");
    assert_eq!(new["KeyState"], "Enabled", "{new}");
    assert_eq!(new["tags"], json!({"team": "vault"}), "{new}");
    assert_eq!(expiration_model(&keys, new_id), "KEY_MATERIAL_EXPIRES");
    assert_eq!(key(&keys, ext)["KeyState"], "Disabled");
    assert_eq!(holder(&keys, "alias/native")["KeyId"], native);
    assert_eq!(key(&keys, native)["KeyState"], "Enabled");
    assert_eq!(keys.len(), 3, "one new key, no half-made ones: {keys:?}");
    assert_eq!(
        ls.boto3(&["roundtrip", "alias/ext"], None)["decrypted"],
        true,
        "the imported material encrypts and decrypts"
    );

    // The validity LocalStack received is 30 days from the run, and the job says so.
    let valid_to = received_valid_to(&ls, new_id).expect("ImportKeyMaterial carried ValidTo");
    let whole_seconds =
        |t: DateTime<Utc>| t - Days::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    assert!(
        valid_to >= whole_seconds(before) + Days::days(30) && valid_to <= after + Days::days(30),
        "ValidTo {valid_to} is not 30 days after the run ({before}..{after})"
    );
    let rotated = details(&job)["rotated"].as_array().unwrap();
    assert_eq!(rotated.len(), 1, "{job}");
    let entry = &rotated[0];
    assert_eq!(entry["key_id"], ext, "{entry}");
    assert_eq!(entry["origin"], "EXTERNAL", "{entry}");
    assert_eq!(entry["new_key_id"], new_id, "{entry}");
    assert_eq!(
        entry["valid_to"],
        valid_to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "{entry}"
    );
    s.stop().await;
}

/// Without `expiration`, the new imported material never expires (AWS's
/// KEY_MATERIAL_DOES_NOT_EXPIRE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_material_without_expiration_never_expires_localstack() {
    let ls = LocalStack::start();
    let ids = setup(
        &ls,
        json!([{"name": "ext", "aliases": ["alias/ext2"], "origin": "EXTERNAL"}]),
    );
    let ext = ids["ext"].as_str().unwrap();
    let s = TestServer::sqlite_with_toml(&grants(&ls)).await;
    let job = rotate(
        &s,
        "plain",
        json!({"aws_param": {"old_key": "schedule_deletion"}}),
    )
    .await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(details(&job)["num_rotated"], 1, "{job}");

    let keys = kms(&ls);
    let new_id = holder(&keys, "alias/ext2")["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_id, ext);
    assert_eq!(
        expiration_model(&keys, &new_id),
        "KEY_MATERIAL_DOES_NOT_EXPIRE"
    );
    assert_eq!(key(&keys, ext)["KeyState"], "PendingDeletion");
    assert_eq!(received_valid_to(&ls, &new_id), None);
    assert!(
        import_request(&ls, &new_id).contains("'ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE'"),
        "{}",
        import_request(&ls, &new_id)
    );
    assert_eq!(
        ls.boto3(&["roundtrip", "alias/ext2"], None)["decrypted"],
        true
    );
    s.stop().await;
}

/// A key whose imported material is gone (or never came) sits in PendingImport: the run
/// names it and warns instead of passing it over. A validity AWS would refuse (over 365
/// days) fails the job before any key is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_without_usable_material_are_named_localstack() {
    let ls = LocalStack::start();
    let ids = setup(
        &ls,
        json!([{"name": "bare", "aliases": ["alias/bare"], "origin": "EXTERNAL", "import": false}]),
    );
    let bare = ids["bare"].as_str().unwrap();
    let s = TestServer::sqlite_with_toml(&grants(&ls)).await;
    let job = rotate(
        &s,
        "bare",
        json!({"aws_param": {"aliases": ["alias/bare"]}}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["result"], "warning", "{job}");
    assert_eq!(details(&job)["num_rotated"], 0, "{job}");
    assert_eq!(
        details(&job)["pending_import"],
        json!([{"key_id": bare, "aliases": ["alias/bare"]}]),
        "{job}"
    );
    assert!(
        job["message"].as_str().unwrap().contains("PendingImport"),
        "{job}"
    );

    let job = rotate(&s, "too-long", json!({"expiration": "400d"})).await;
    assert_eq!(job["status"], "failed", "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(
        message.contains("expiration") && message.contains("365 days"),
        "{message}"
    );
    let keys = kms(&ls);
    assert_eq!(keys.len(), 1, "no key was created: {keys:?}");
    assert_eq!(key(&keys, bare)["KeyState"], "PendingImport");
    s.stop().await;
}

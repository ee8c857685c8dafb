//! Keys whose material is imported (Origin `EXTERNAL`), against LocalStack's KMS: moto
//! answers 500 to `GetParametersForImport`. The plugin makes new material, wraps it with
//! KMS's one-time RSA key and imports it with the validity `expiration` asks for.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use keywarden_tests::aws::KmsServer;
use keywarden_tests::localstack::LocalStack;
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

use crate::helpers::*;

/// The `ValidTo` LocalStack parsed from the one `ImportKeyMaterial` into `key_id`, from
/// its request trace (`'ValidTo': datetime.datetime(2026, 12, 24, 20, 14, 58, tzinfo=…)`);
/// `None` when that request carried no `ValidTo`.
fn received_valid_to(ls: &LocalStack, key_id: &str) -> Option<DateTime<Utc>> {
    let requests: Vec<String> = ls
        .received("ImportKeyMaterial")
        .into_iter()
        .filter(|l| l.contains(&format!("'KeyId': '{key_id}'")))
        .collect();
    assert_eq!(requests.len(), 1, "imports into {key_id}: {requests:?}");
    let (_, rest) = requests[0].split_once("'ValidTo': datetime.datetime(")?;
    let fields: Vec<u32> = rest
        .split([',', ')'])
        .take(6)
        .map(|f| f.trim().parse().expect("a datetime field"))
        .collect();
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
    assert_eq!(
        ls.boto3(&["roundtrip", "alias/ext2"], None)["decrypted"],
        true
    );
    s.stop().await;
}

//! Grants, secrets and duration params: the clear failures (moto).

use keywarden_tests::moto::Moto;
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

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
        assert_refused(field, value, StatusCode::UNPROCESSABLE_ENTITY, status, &err);
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
        // Settled on purpose: params patched into a config that would no longer fit its
        // operation conflict with the config (409; a schema-valid PATCH was a 422 before).
        assert_refused(field, value, StatusCode::CONFLICT, status, &err);
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

/// `want` naming `cckm_key_rotation_params.<field>`.
fn assert_refused(field: &str, value: &Value, want: StatusCode, status: StatusCode, err: &Value) {
    assert_eq!(status, want, "{field}={value}: {err}");
    assert_eq!(
        err["field"],
        format!("cckm_key_rotation_params.{field}"),
        "{err}"
    );
}

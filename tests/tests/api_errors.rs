//! Authentication, error answers and the open endpoints over HTTP against a real server:
//! every bad input gets a 4xx with the API's JSON error shape and names what is wrong.

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert_eq!(body["code"], want.as_u16(), "{what}: {body}");
    assert!(body["codeDesc"].is_string(), "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}

async fn auth(s: &TestServer) {
    let endpoints = [
        (Method::GET, CONFIGS.to_owned()),
        (Method::POST, CONFIGS.to_owned()),
        (
            Method::GET,
            format!("{CONFIGS}/00000000-0000-0000-0000-000000000000"),
        ),
        (Method::GET, "/api/v1/scheduler/jobs".to_owned()),
        (Method::GET, "/api/v1/plugins".to_owned()),
        (Method::POST, "/api/v1/tokens".to_owned()),
    ];
    for (method, path) in &endpoints {
        for token in [None, Some("kw_not-a-real-token"), Some("")] {
            let (status, body) = s.call(method.clone(), path, token, Some(&json!({}))).await;
            assert_error(
                status,
                &body,
                StatusCode::UNAUTHORIZED,
                &format!("{method} {path} {token:?}"),
            );
        }
    }
    // Open endpoints.
    let (status, health) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["node"], "test-node");
    assert!(health["plugins"].as_u64().unwrap() >= 3, "{health}");

    // Tokens: admin only, shown once, stored hashed, usable at once.
    let alice = s.token("alice", false).await;
    assert!(alice.len() >= 43, "at least 32 random bytes");
    let (status, body) = s
        .post(
            &alice,
            "/api/v1/tokens",
            &json!({"account": "mallory", "admin": true}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "non-admin issuing a token",
    );
    let (status, body) = s
        .post(&s.admin, "/api/v1/tokens", &json!({"account": "bad name"}))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad account name");
    assert_eq!(body["field"], "account");
    let (status, _) = s.get(&alice, CONFIGS).await;
    assert_eq!(status, StatusCode::OK);

    // The bootstrap token file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(s.data_dir.path().join("admin-token")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_guard_the_api() {
    on_each_backend(auth).await;
}

async fn bad_input(s: &TestServer) {
    let t = s.admin.as_str();
    let hello = |extra: Value| {
        let mut body = json!({"name": "h", "operation": "hello", "run_at": "0 1 * * *", "params": {"name": "x"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            hello(json!({"run_at": "61 * * * *"})),
            StatusCode::BAD_REQUEST,
            "run_at",
        ),
        (
            hello(json!({"run_at": "* * *"})),
            StatusCode::BAD_REQUEST,
            "run_at",
        ),
        (
            hello(json!({"timezone": "Mars/Olympus"})),
            StatusCode::BAD_REQUEST,
            "timezone",
        ),
        (
            hello(json!({"start_date": "tomorrow"})),
            StatusCode::BAD_REQUEST,
            "start_date",
        ),
        (
            hello(json!({"catch_up": "sometimes"})),
            StatusCode::BAD_REQUEST,
            "catch_up",
        ),
        (
            hello(json!({"overlap": "maybe"})),
            StatusCode::BAD_REQUEST,
            "overlap",
        ),
        (
            hello(json!({"max_retries": -1})),
            StatusCode::BAD_REQUEST,
            "max_retries",
        ),
        (
            hello(json!({"disabled": "yes"})),
            StatusCode::BAD_REQUEST,
            "disabled",
        ),
        (hello(json!({"name": ""})), StatusCode::BAD_REQUEST, "name"),
        (hello(json!({"name": 5})), StatusCode::BAD_REQUEST, "name"),
        (
            hello(json!({"colour": "red"})),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            json!({"operation": "hello", "run_at": "@daily"}),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            json!({"name": "n", "operation": "hello"}),
            StatusCode::BAD_REQUEST,
            "run_at",
        ),
        (
            hello(json!({"params": {"name": "x", "repeat": 50}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "params.repeat",
        ),
        (
            hello(json!({"params": {"repeat": 2}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "params.name",
        ),
        (
            hello(json!({"params": {"name": "x", "colour": "red"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "params.colour",
        ),
        (
            hello(json!({"params": "x"})),
            StatusCode::BAD_REQUEST,
            "params",
        ),
        (
            hello(json!({"cckm_key_rotation_params": {"cloud_name": "aws"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cckm_key_rotation_params",
        ),
        (
            json!({"name": "n", "operation": "noop", "run_at": "@daily", "params": {"expire_in": "6x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "params.expire_in",
        ),
        (
            json!({"name": "n", "operation": "noop", "run_at": "@daily", "params": {"rotation_after": 6}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "params.rotation_after",
        ),
        (
            // The bundled plugins serve aws, AzureCloud, gcp and oci; none serves "sfdc".
            json!({"name": "n", "operation": "cckm_key_rotation", "run_at": "@daily",
                "cckm_key_rotation_params": {"cloud_name": "sfdc"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "operation",
        ),
        (
            json!({"name": "n", "operation": "summon", "run_at": "@daily"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "operation",
        ),
    ];
    for (body, want, field) in &cases {
        let (status, err) = s.post(t, CONFIGS, body).await;
        assert_error(status, &err, *want, &body.to_string());
        assert_eq!(err["field"], *field, "{body}: {err}");
    }
    // Messages carry the reason.
    let (_, err) = s
        .post(t, CONFIGS, &hello(json!({"run_at": "61 * * * *"})))
        .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("run_at: invalid cron expression"),
        "{err}"
    );
    let (_, err) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "n", "operation": "summon", "run_at": "@daily"}),
        )
        .await;
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("available operations")
            && message.contains("hello")
            && message.contains("noop"),
        "{err}"
    );
    let (_, err) = s.post(t, CONFIGS, &json!({"name": "n", "operation": "noop", "run_at": "@daily", "params": {"expire_in": "6x"}})).await;
    assert!(err["message"].as_str().unwrap().contains("6x"), "{err}");

    // Malformed bodies.
    for raw in ["{not json", "", "[1, 2]", "\"text\""] {
        let (status, err) = s.send_raw(Method::POST, CONFIGS, t, raw).await;
        assert_error(status, &err, StatusCode::BAD_REQUEST, raw);
    }

    // Duplicate names conflict, per account.
    let created = s.create_config(t, &hello(json!({}))).await;
    let (status, err) = s.post(t, CONFIGS, &hello(json!({}))).await;
    assert_error(status, &err, StatusCode::CONFLICT, "duplicate name");
    let other = s.create_config(t, &hello(json!({"name": "h2"}))).await;
    let (status, err) = s
        .patch(
            t,
            &format!("{CONFIGS}/{}", other["id"].as_str().unwrap()),
            &json!({"name": "h"}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::CONFLICT,
        "rename onto an existing name",
    );
    let alice = s.token("alice", false).await;
    s.create_config(&alice, &hello(json!({}))).await;

    // Unknown and malformed ids, and other accounts' ids, are 404.
    let id = created["id"].as_str().unwrap();
    for path in [
        format!("{CONFIGS}/00000000-0000-0000-0000-000000000000"),
        format!("{CONFIGS}/not-a-uuid"),
        "/api/v1/scheduler/jobs/00000000-0000-0000-0000-000000000000".to_owned(),
    ] {
        let (status, err) = s.get(t, &path).await;
        assert_error(status, &err, StatusCode::NOT_FOUND, &path);
    }
    let path = format!("{CONFIGS}/{id}");
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let (status, err) = s
            .call(method.clone(), &path, Some(&alice), Some(&json!({})))
            .await;
        assert_error(
            status,
            &err,
            StatusCode::NOT_FOUND,
            &format!("alice {method}"),
        );
    }
    let (status, err) = s.post(&alice, &format!("{path}/run-now"), &json!({})).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "alice run-now");
    let (_, page) = s.get(&alice, CONFIGS).await;
    assert_eq!(page["total"], 1, "alice sees only her own config: {page}");
    // The config is untouched, and admins see every account.
    assert_eq!(s.get(t, &path).await.0, StatusCode::OK);
    let (_, page) = s.get(t, CONFIGS).await;
    assert_eq!(page["total"], 3);
    // Unknown endpoints answer JSON too.
    let (status, err) = s.get(t, "/api/v1/nothing-here").await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "unknown endpoint");

    // Settled on purpose: a window that ends before it starts makes an inactive config
    // (no next run), as an end date in the past does; it was a 400 (a JSON Schema cannot
    // compare two fields, so the API contract could not have said it).
    let (status, inactive) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "inactive", "operation": "hello", "run_at": "0 0 * * *",
                    "params": {"name": "x"},
                    "start_date": "2030-01-02T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inactive}");
    assert_eq!(inactive["next_run_at"], Value::Null, "{inactive}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    on_each_backend(bad_input).await;
}

/// U+0000 in text: PostgreSQL cannot store it in a text column, so it was a 500 there
/// (and stored on SQLite). Now a 400 naming the field on both; inside params, which are
/// kept as JSON text, it is the escape `\u0000` and stays allowed.
async fn nul_in_text(s: &TestServer) {
    let t = &s.admin;
    let (status, err) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "a\u{0}b", "operation": "hello", "run_at": "0 0 * * *",
                    "params": {"name": "x"}}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::BAD_REQUEST,
        "NUL in a config name",
    );
    assert_eq!(err["field"], "name", "{err}");
    let (status, config) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "nul-in-params", "operation": "hello", "run_at": "0 0 * * *",
                    "params": {"name": "x\u{0}y"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{config}");
    assert_eq!(config["job_config_params"]["name"], "x\u{0}y", "{config}");
    // Except cloud_name: it names the config's target, a column of its own.
    let (status, err) = s
        .post(
            t,
            CONFIGS,
            &json!({"name": "nul-target", "operation": "hello", "run_at": "0 0 * * *",
                    "params": {"name": "x", "cloud_name": "a\u{0}"}}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "NUL in cloud_name");
    assert_eq!(err["field"], "params.cloud_name", "{err}");
    let (status, err) = s
        .post(
            t,
            "/KeyfactorAPI/OrchestratorJobs/Reschedule",
            &json!({"Query": "Message -eq \"a\u{0}b\""}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::BAD_REQUEST,
        "NUL in a batch query",
    );
    assert_eq!(err["field"], "Query", "{err}");
    let (status, err) = s.get(t, &format!("{CONFIGS}?name=a%00b")).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "NUL in a query");
    assert_eq!(err["field"], "name", "{err}");
    let (status, err) = s
        .post(
            t,
            "/api/v1/tokens",
            &json!({"account": "bob", "label": "a\u{0}"}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::BAD_REQUEST,
        "NUL in a token label",
    );
    assert_eq!(err["field"], "label", "{err}");
    let (status, err) = s
        .post(
            t,
            "/KeyfactorAPI/CertificateStores",
            &json!({"ClientMachine": "web\u{0}", "Storepath": "/stores/a.pem", "CertStoreType": 2}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::BAD_REQUEST,
        "NUL in ClientMachine",
    );
    assert_eq!(err["field"], "ClientMachine", "{err}");
    let (status, err) = s
        .get(t, "/KeyfactorAPI/CertificateStores?ClientMachine=%00")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_text_is_refused_on_both_databases() {
    on_each_backend(nul_in_text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_plugins() {
    let s = TestServer::sqlite().await;
    // It names secrets, granted directories and nodes: a token is needed.
    let (status, err) = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_error(
        status,
        &err,
        StatusCode::UNAUTHORIZED,
        "openapi without a token",
    );
    let (status, doc) = s
        .call(Method::GET, "/openapi.json", Some(&s.admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/scheduler/job-configs", &["get", "post"][..]),
        (
            "/api/v1/scheduler/job-configs/{id}",
            &["get", "patch", "delete"][..],
        ),
        ("/api/v1/scheduler/job-configs/{id}/run-now", &["post"][..]),
        ("/api/v1/scheduler/jobs", &["get"][..]),
        ("/api/v1/scheduler/jobs/{id}", &["get", "delete"][..]),
        ("/api/v1/plugins", &["get"][..]),
        ("/api/v1/tokens", &["post"][..]),
        ("/healthz", &["get"][..]),
    ] {
        for m in methods {
            assert!(
                paths[path][m].is_object(),
                "{m} {path} missing from the OpenAPI document"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let (status, plugins) = s.get(&s.admin, "/api/v1/plugins").await;
    assert_eq!(status, StatusCode::OK);
    let hello = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello listed");
    assert_eq!(hello["status"], "ready");
    assert_eq!(hello["manifest"]["operations"][0]["name"], "hello");
    assert_eq!(
        hello["manifest"]["operations"][0]["params_schema"]["required"],
        json!(["name"])
    );
    s.stop().await;
}

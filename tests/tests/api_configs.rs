//! `/api/v1/scheduler/job-configs` over HTTP against a real server: create, show, patch
//! (merge semantics, fire-time recomputation), delete, and the list's filters, sorting
//! and paging. Runs on SQLite and, when configured, PostgreSQL.

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

fn ids(page: &Value) -> Vec<String> {
    page["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn crud(s: &TestServer) {
    let t = s.admin.as_str();
    let created = s
        .create_config(
            t,
            &json!({
                "name": "greet", "operation": "hello", "description": "say hi",
                "run_at": "0 1 * * *", "timezone": "Europe/Berlin",
                "params": {"name": "world"}
            }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["uri"],
        format!("keywarden:admin:scheduler:job_configs:{id}")
    );
    assert_eq!(
        created["account"],
        "keywarden:keywarden:admin:accounts:admin"
    );
    assert_eq!(created["run_on"], "any");
    assert_eq!(created["catch_up"], "one");
    assert_eq!(created["overlap"], "skip");
    assert_eq!(created["disabled"], false);
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["params_key"], "params");
    assert_eq!(created["job_config_params"], json!({"name": "world"}));
    assert!(created["next_run_at"].is_string(), "{created}");
    for field in ["createdAt", "updatedAt", "application", "devAccount"] {
        assert!(created[field].is_string(), "{field} in {created}");
    }

    let path = format!("{CONFIGS}/{id}");
    let (status, shown) = s.get(t, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created);

    // Params merge key by key; top-level fields replace.
    let (status, patched) = s
        .patch(
            t,
            &path,
            &json!({"description": "new", "params": {"repeat": 3}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "new");
    assert_eq!(
        patched["job_config_params"],
        json!({"name": "world", "repeat": 3})
    );
    assert_eq!(
        patched["next_run_at"], created["next_run_at"],
        "schedule unchanged"
    );
    // null deletes a key.
    let (_, patched) = s
        .patch(t, &path, &json!({"params": {"repeat": null}}))
        .await;
    assert_eq!(patched["job_config_params"], json!({"name": "world"}));
    // The response's own name for the params works too (GET, edit, PATCH round trip).
    let (status, patched) = s
        .patch(t, &path, &json!({"job_config_params": {"repeat": 2}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["job_config_params"],
        json!({"name": "world", "repeat": 2})
    );
    assert_eq!(patched["params_key"], "params");
    // A merged result is re-validated against the plugin's schema; one that no longer fits
    // conflicts with the config (settled on purpose: 409, it was a 422).
    let (status, err) = s.patch(t, &path, &json!({"params": {"name": null}})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["field"], "params.name");
    // Params meant for another operation conflict too.
    let (status, err) = s
        .patch(
            t,
            &path,
            &json!({"cckm_key_rotation_params": {"cloud_name": "aws"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["field"], "cckm_key_rotation_params");
    // Naming the operation restates its params whole (no merge).
    let (status, err) = s
        .patch(
            t,
            &path,
            &json!({"operation": "hello", "params": {"repeat": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "params.name");

    // Schedule changes recompute the next fire; disabling clears it.
    let (_, patched) = s
        .patch(t, &path, &json!({"run_at": "30 2 * * *", "timezone": null}))
        .await;
    assert_ne!(patched["next_run_at"], created["next_run_at"]);
    assert!(
        patched["next_run_at"]
            .as_str()
            .unwrap()
            .contains("T02:30:00"),
        "{patched}"
    );
    assert_eq!(patched["timezone"], Value::Null);
    let (_, patched) = s.patch(t, &path, &json!({"disabled": true})).await;
    assert_eq!(patched["disabled"], true);
    assert_eq!(patched["next_run_at"], Value::Null);
    let (_, patched) = s
        .patch(
            t,
            &path,
            &json!({"disabled": false, "catch_up": "all", "overlap": "allow",
            "max_retries": 2, "retry_backoff_secs": 5,
            "start_date": "2030-01-01T00:00:00Z", "end_date": "2031-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(patched["catch_up"], "all");
    assert_eq!(patched["overlap"], "allow");
    assert_eq!(patched["max_retries"], 2);
    assert_eq!(patched["start_date"], "2030-01-01T00:00:00.000000Z");
    assert_eq!(patched["next_run_at"], "2030-01-01T02:30:00.000000Z");

    let (status, body) = s.delete(t, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(s.get(t, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(t, &path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_show_patch_delete() {
    on_each_backend(crud).await;
}

async fn listing(s: &TestServer) {
    let t = s.admin.as_str();
    let mut made = Vec::new();
    for (name, cloud, expire, disabled) in [
        ("bravo", "aws", "6d", false),
        ("alpha", "gcp", "12h", true),
        ("charlie", "aws", "12h", false),
    ] {
        made.push(
            s.create_config(
                t,
                &json!({"name": name, "operation": "noop", "run_at": "@daily", "disabled": disabled,
                        "params": {"cloud_name": cloud, "expire_in": expire}}),
            )
            .await,
        );
    }
    s.create_config(
        t,
        &json!({"name": "delta", "operation": "hello", "run_at": "0 0 * * 1", "params": {"name": "x"}}),
    )
    .await;

    let list = async |query: &str| {
        let (status, page) = s.get(t, &format!("{CONFIGS}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page
    };
    let page = list("").await;
    assert_eq!(
        (
            page["skip"].as_i64(),
            page["limit"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(0), Some(10), Some(4))
    );
    assert_eq!(
        ids(&page),
        ["delta", "charlie", "alpha", "bravo"],
        "default: newest first"
    );

    assert_eq!(
        ids(&list("sort=name").await),
        ["alpha", "bravo", "charlie", "delta"]
    );
    assert_eq!(
        ids(&list("sort=-name").await),
        ["delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(
        ids(&list("sort=createdAt").await),
        ["bravo", "alpha", "charlie", "delta"]
    );
    assert_eq!(
        ids(&list("sort=operation,-created_at").await),
        ["delta", "charlie", "alpha", "bravo"]
    );

    let page = list("sort=name&skip=1&limit=2").await;
    assert_eq!(ids(&page), ["bravo", "charlie"]);
    assert_eq!(
        (
            page["skip"].as_i64(),
            page["limit"].as_i64(),
            page["total"].as_i64()
        ),
        (Some(1), Some(2), Some(4))
    );
    let page = list("limit=0").await;
    assert_eq!((page["total"].as_i64(), ids(&page).len()), (Some(4), 0));
    assert_eq!(list("limit=5000").await["limit"], 1000, "limit is capped");

    assert_eq!(ids(&list("name=alpha").await), ["alpha"]);
    let id = made[0]["id"].as_str().unwrap();
    assert_eq!(ids(&list(&format!("id={id}")).await), ["bravo"]);
    assert_eq!(ids(&list("operation=hello").await), ["delta"]);
    assert_eq!(ids(&list("disabled=true").await), ["alpha"]);
    assert_eq!(
        ids(&list("disabled=false&sort=name").await),
        ["bravo", "charlie", "delta"]
    );
    assert_eq!(
        ids(&list("cloud_name=aws&sort=name").await),
        ["bravo", "charlie"]
    );
    assert_eq!(
        ids(&list("expire_in=12h&sort=name").await),
        ["alpha", "charlie"]
    );
    assert_eq!(
        ids(&list("cloud_name=aws&expire_in=12h").await),
        ["charlie"]
    );

    let second = made[1]["createdAt"].as_str().unwrap();
    assert_eq!(
        ids(&list(&format!("createdAfter={second}&sort=name")).await),
        ["alpha", "charlie", "delta"]
    );
    assert_eq!(
        ids(&list(&format!("createdBefore={second}&sort=name")).await),
        ["alpha", "bravo"]
    );
    assert_eq!(
        ids(&list(&format!("created_before={second}&createdAfter={second}")).await),
        ["alpha"]
    );

    for bad in [
        "sort=password",
        "skip=-1",
        "limit=ten",
        "disabled=maybe",
        "createdAfter=yesterday",
        "id=nope",
        "colour=red",
    ] {
        let (status, err) = s.get(t, &format!("{CONFIGS}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert_eq!(err["code"], 400);
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_sort_and_paging() {
    on_each_backend(listing).await;
}

//! `/Schedule`: Keyfactor inventory schedules become job configs.

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn schedules_become_job_configs(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let store = create_store(s, t, pem_store("/stores/web.pem")).await;
    let id = store["Id"].as_str().unwrap();
    let schedule = |body: Value| {
        let body = json!({"StoreIds": [id], "Schedule": body});
        async move { s.post(t, &format!("{STORES}/Schedule"), &body).await }
    };
    let config_of = async |s: &TestServer| {
        let (_, store) = s.get(t, &format!("{STORES}/{id}")).await;
        let config_id = store["CertStoreInventoryJobId"]
            .as_str()
            .expect("has a schedule")
            .to_owned();
        let (status, config) = s
            .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{config}");
        (store, config)
    };
    let cases = [
        (json!({"Interval": {"Minutes": 15}}), "*/15 * * * *"),
        (json!({"Interval": {"Minutes": 120}}), "0 */2 * * *"),
        // Settled on purpose: kept by the minute, where it was refused (422) before.
        (json!({"Interval": {"Minutes": 90}}), "@every 90m"),
        (
            json!({"Daily": {"Time": "2024-01-01T02:30:00Z"}}),
            "30 2 * * *",
        ),
        (
            json!({"Weekly": {"Days": ["Monday", "Friday"], "Time": "2024-01-01T23:05:00Z"}}),
            "5 23 * * 1,5",
        ),
        (
            json!({"Monthly": {"Day": 15, "Time": "2024-01-01T06:00:00Z"}}),
            "0 6 15 * *",
        ),
    ];
    let mut first_config = None;
    for (body, cron) in cases {
        let (status, err) = schedule(body.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
        let (store, config) = config_of(s).await;
        assert_eq!(config["run_at"], cron, "{config}");
        assert_eq!(config["operation"], "Inventory");
        assert!(config["next_run_at"].is_string(), "{config}");
        assert_eq!(
            config["job_config_params"],
            json!({"certificate_store_id": id})
        );
        // Settled on purpose: the schedule is stored as given and shown back as given
        // (it was re-derived from the cron, with times as 1970-01-01THH:MM:00Z, before).
        assert_eq!(store["InventorySchedule"], body, "{store}");
        assert_eq!(
            config["description"], "",
            "the schedule is not kept in the description"
        );
        // One config per store, kept across reschedules.
        let config_id = config["id"].clone();
        assert_eq!(first_config.get_or_insert(config_id.clone()), &config_id);
    }
    let at = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, _) = schedule(json!({"ExactlyOnce": {"Time": at}})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, config) = config_of(s).await;
    assert_eq!(config["start_date"], config["end_date"]);
    assert!(
        config["next_run_at"]
            .as_str()
            .unwrap()
            .starts_with(&at[..19]),
        "{config}"
    );

    // Bad schedules name their field and change nothing.
    for (body, field) in [
        (json!({}), "Schedule"),
        (
            json!({"Interval": {"Minutes": 0}}),
            "Schedule.Interval.Minutes",
        ),
        (
            json!({"Daily": {"Time": "half past two"}}),
            "Schedule.Daily.Time",
        ),
        (
            json!({"Weekly": {"Days": ["Funday"], "Time": "02:00"}}),
            "Schedule.Weekly.Days[0]",
        ),
        (
            json!({"Immediate": true, "Daily": {"Time": "02:00"}}),
            "Schedule",
        ),
        (json!({"Hourly": true}), "Schedule.Hourly"),
    ] {
        let (status, err) = schedule(body).await;
        assert_error(status, &err, StatusCode::BAD_REQUEST, field);
    }
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": ["nope"], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "StoreIds[0]");
    let (_, config) = config_of(s).await;
    assert_eq!(config["start_date"], config["end_date"], "unchanged");

    // Off removes the schedule and its config.
    let config_id = config["id"].as_str().unwrap().to_owned();
    let (status, _) = schedule(json!({"Off": true})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, store) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!(store["CertStoreInventoryJobId"], Value::Null);
    assert_eq!(store["InventorySchedule"], Value::Null);
    let (status, _) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A schedule given at creation; the store's deletion takes its config along.
    let mut body = pem_store("/stores/other.pem");
    body["InventorySchedule"] = json!({"Interval": {"Minutes": 30}});
    let other = create_store(s, t, body).await;
    let config_id = other["CertStoreInventoryJobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        other["InventorySchedule"],
        json!({"Interval": {"Minutes": 30}})
    );
    let (status, _) = s
        .delete(t, &format!("{STORES}/{}", other["Id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_schedules() {
    on_each_backend(schedules_become_job_configs).await;
}

/// A store's inventory job acts on the store type whoever queued it: an Immediate request
/// or the scheduler firing the store's config (which used to leave the target empty).
async fn inventory_jobs_target_their_store_type(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let store = create_store(s, t, pem_store("/stores/target.pem")).await;
    let id = store["Id"].as_str().unwrap();
    let (status, body) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let queued = jobs(s, t, "Inventory").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["target"], "PEM", "{queued:?}");
    // Another store, once two seconds from now: the scheduler fires it. (Not the same
    // store: its immediate job, failing and waiting for a retry, would make the
    // scheduler skip the fire, as overlap = skip says.)
    let store = create_store(s, t, pem_store("/stores/target-2.pem")).await;
    let id = store["Id"].as_str().unwrap();
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, body) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"ExactlyOnce": {"Time": at}}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let deadline = std::time::Instant::now() + WAIT;
    let fired = loop {
        let all = jobs(s, t, "Inventory").await;
        if all.len() == 2 {
            break all[0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler never fired: {all:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(fired["target"], "PEM", "{fired}");
    assert_eq!(fired["job_config_id"], store_config(s, t, id).await);
    let history = s
        .get(
            t,
            &format!(
                "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobId%20-eq%20{}",
                fired["id"].as_str().unwrap()
            ),
        )
        .await
        .1;
    assert_eq!(history[0]["TargetPath"], "PEM", "{history}");
    assert_eq!(history[0]["ScheduleType"], "O_", "{history}");
}

/// What an existing store's state refuses is a conflict naming it: scheduling or managing
/// a store that is not approved.
async fn unapproved_stores_conflict(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let mut body = pem_store("/stores/unapproved.pem");
    body["Approved"] = json!(false);
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Daily": {"Time": "2024-01-01T02:00:00Z"}}}),
        )
        .await;
    assert_error(status, &err, StatusCode::CONFLICT, "StoreIds[0]");
    assert!(
        err["message"].as_str().unwrap().contains("not approved"),
        "{err}"
    );
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Remove"),
            &json!({"CertificateStores": [{"CertificateStoreId": id, "Alias": "x"}]}),
        )
        .await;
    assert_error(
        status,
        &err,
        StatusCode::CONFLICT,
        "CertificateStores[0].CertificateStoreId",
    );
    // Off is always possible.
    let (status, err) = s
        .post(
            t,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Off": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unapproved_stores() {
    on_each_backend(unapproved_stores_conflict).await;
}

async fn store_config(s: &TestServer, t: &str, id: &str) -> Value {
    s.get(t, &format!("{STORES}/{id}")).await.1["CertStoreInventoryJobId"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_job_targets() {
    on_each_backend(inventory_jobs_target_their_store_type).await;
}

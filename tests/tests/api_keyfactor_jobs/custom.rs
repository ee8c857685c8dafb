//! Custom jobs run through the Custom endpoint.

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn custom_jobs(s: &TestServer) {
    let t = s.admin.as_str();
    // Immediate: a job that completes with the plugin's details.
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello", "AgentId": "test-node",
                    "Schedule": {"Immediate": true}, "JobFields": {"name": "Ada", "repeat": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["JobTypeName"], "hello");
    assert_eq!(body["AgentId"], "test-node");
    assert_eq!(body["JobFields"], json!({"name": "Ada", "repeat": 2}));
    assert!(body["JobConfigId"].is_null());
    let job = s.wait_job(t, body["JobId"].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (job["status"].as_str(), job["result"].as_str()),
        (Some("completed"), Some("success")),
        "{job}"
    );
    assert_eq!(job["details"]["details"]["greeting"], "Hello, Ada!");
    assert_eq!(job["details"]["details"]["repeat"], 2);
    assert_eq!(job["run_on"], "test-node");
    let e = entry(s, t, body["JobId"].as_str().unwrap()).await;
    assert_eq!(e["JobAuditId"], body["JobAuditId"]);
    assert_eq!(
        (e["Result"].as_i64(), e["Status"].as_i64()),
        (Some(2), Some(3))
    );
    assert!(e["ScheduleType"].is_null());

    // Recurring: a job config firing on the schedule.
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello",
                    "Schedule": {"Weekly": {"Days": ["Monday", "Thursday"], "Time": "2024-01-01T10:30:00Z"}},
                    "JobFields": {"name": "Weekly"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let config_id = body["JobConfigId"].as_str().expect("a config").to_owned();
    assert_eq!(body["JobId"], config_id.as_str());
    assert!(body["JobAuditId"].is_null());
    let (_, cfg) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    // One schedule reader for every Keyfactor endpoint: weekdays become cron numbers.
    assert_eq!(cfg["run_at"], "30 10 * * 1,4");
    assert_eq!(cfg["operation"], "hello");
    assert!(cfg["next_run_at"].is_string(), "{cfg}");
    let fired = run(s, &config_id).await;
    assert_eq!(
        (fired["ScheduleType"].as_str(), fired["Result"].as_i64()),
        (Some("W_"), Some(2))
    );
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello", "Schedule": {"ExactlyOnce": {"Time": "2099-06-01T08:00:00Z"}},
                    "JobFields": {"name": "Once"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, cfg) = s
        .get(
            t,
            &format!(
                "/api/v1/scheduler/job-configs/{}",
                body["JobConfigId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        cfg["next_run_at"].as_str().map(|s| &s[..19]),
        Some("2099-06-01T08:00:00"),
        "{cfg}"
    );
    let once = run(s, body["JobConfigId"].as_str().unwrap()).await;
    assert_eq!(once["ScheduleType"], "O_");

    // Refusals name the field.
    for (request, status, field) in [
        (
            json!({"Schedule": {"Immediate": true}}),
            StatusCode::BAD_REQUEST,
            "JobTypeName",
        ),
        (
            json!({"JobTypeName": "hello", "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule",
        ),
        (
            json!({"JobTypeName": "nope", "Schedule": {"Immediate": true}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobTypeName",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": 5}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.name",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.name",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": "x", "extra": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.extra",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": [1]}),
            StatusCode::BAD_REQUEST,
            "JobFields",
        ),
        (
            json!({"JobTypeName": "hello", "AgentId": "ghost", "Schedule": {"Immediate": true}, "JobFields": {"name": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "AgentId",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Hourly": {}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule.Hourly",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Interval": {"Minutes": 0}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule.Interval.Minutes",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Daily": {"Time": "10:30"}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule.Daily.Time",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Off": true}, "JobFields": {"name": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Schedule",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": "x"}, "Priority": 1}),
            StatusCode::BAD_REQUEST,
            "Priority",
        ),
    ] {
        let (got, err) = s.post(t, CUSTOM, &request).await;
        assert_eq!(got, status, "{request}: {err}");
        assert_eq!(err["field"], field, "{request}: {err}");
    }
    // Nothing was created by the refused requests.
    assert_eq!(history(s, t, &[]).await.1, 3);

    // Settled on purpose (one schedule reader for every endpoint): an interval that does
    // not divide an hour or a day is kept by the minute, not refused...
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"jobtypename": "hello", "schedule": {"interval": {"minutes": 7}}, "jobfields": {"name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, cfg) = s
        .get(
            t,
            &format!(
                "/api/v1/scheduler/job-configs/{}",
                body["JobConfigId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(cfg["run_at"], "@every 7m", "{cfg}");
    // ...and an ExactlyOnce time already past runs at once, as a one-off job.
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello", "Schedule": {"ExactlyOnce": {"Time": "2001-01-01T00:00:00Z"}}, "JobFields": {"name": "late"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["JobConfigId"].is_null(), "{body}");
    let job = s.wait_job(t, body["JobId"].as_str().unwrap(), WAIT).await;
    assert_eq!(job["result"], "success", "{job}");
    let e = entry(s, t, body["JobId"].as_str().unwrap()).await;
    assert_eq!(e["ScheduleType"], "O_", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_endpoint_runs_plugin_custom_jobs() {
    on_each_backend(custom_jobs).await;
}

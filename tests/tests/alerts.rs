//! Job alerts against a real server: a config asks to be alerted when an attempt fails,
//! when its last attempt fails, and when a fire time passes without a job; the alerts
//! arrive at a webhook receiver in the test, signed, once each. Bad `alerts` values get a
//! 400 naming the field. SQLite and, when configured, PostgreSQL.

use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use keywarden_tests::webhook::Receiver;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

fn config(webhook: &str) -> String {
    format!(
        r#"
        [secrets]
        hmac = {{ value = "job-alert-secret" }}
        [alerts]
        webhook_url = "{webhook}"
        webhook_secret = "hmac"
        interval_ms = 200
        [plugins.hostile]
        [plugins.hello]
        [accounts.team-a.plugins.hostile]
        [accounts.team-a.plugins.hello]
        "#
    )
}

/// The alerts the receiver accepted (each id once).
fn delivered(receiver: &Receiver) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for r in receiver.received() {
        let alert: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            !out.iter().any(|a| a["id"] == alert["id"]),
            "delivered twice: {alert}"
        );
        assert!(
            r.headers["x-keywarden-signature"]
                .to_str()
                .unwrap()
                .starts_with("sha256=")
        );
        out.push(alert);
    }
    out
}

async fn wait_for(receiver: &Receiver, what: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = delivered(receiver);
        if what(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "alerts so far: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn of_kind<'a>(alerts: &'a [Value], kind: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["kind"] == kind).collect()
}

async fn scenario(s: &TestServer, receiver: &Receiver) {
    let a = s.token("team-a", false).await;

    // Bad alerts values are refused, naming the field.
    for (alerts, field) in [
        (json!({"on_failure": "yes"}), "alerts.on_failure"),
        (json!({"on_fire": true}), "alerts.on_fire"),
        (json!(true), "alerts"),
    ] {
        let (status, body) = s
            .post(
                &a,
                CONFIGS,
                &json!({"name": "bad", "operation": "panic", "run_at": "@yearly",
                        "params": {}, "alerts": alerts}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }

    // A job that fails twice: two failed attempts, then its retries are exhausted.
    let (status, crash) = s
        .post(
            &a,
            CONFIGS,
            &json!({"name": "crash", "operation": "panic", "run_at": "@yearly", "params": {},
                    "max_retries": 1, "retry_backoff_secs": 0,
                    "alerts": {"on_failure": true, "on_retries_exhausted": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{crash}");
    assert_eq!(
        crash["alerts"],
        json!({"on_failure": true, "on_missed_run": false, "on_retries_exhausted": true})
    );
    let id = crash["id"].as_str().unwrap();
    let (status, run) = s
        .post(&a, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let job_id = run["job_id"].as_str().unwrap().to_owned();
    let job = s.wait_job(&a, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let got = wait_for(receiver, |g| {
        of_kind(g, "job_failed").len() == 2 && of_kind(g, "retries_exhausted").len() == 1
    })
    .await;
    let mut attempts: Vec<i64> = of_kind(&got, "job_failed")
        .iter()
        .map(|a| a["details"]["attempt"].as_i64().unwrap())
        .collect();
    attempts.sort();
    assert_eq!(attempts, [1, 2]);
    let exhausted = of_kind(&got, "retries_exhausted")[0];
    assert_eq!(exhausted["job_id"], job_id.as_str());
    assert_eq!(exhausted["job_config_id"], id);
    assert_eq!(exhausted["subject"], "crash");

    // A config that fires every second a job that takes three: the fires that find it
    // still running are skipped (overlap = skip), and each is alerted.
    let (status, slow) = s
        .post(
            &a,
            CONFIGS,
            &json!({"name": "slow", "operation": "hello", "run_at": "* * * * * *",
                    "params": {"name": "slow", "delay_ms": 3000}, "overlap": "skip",
                    "alerts": {"on_missed_run": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slow}");
    let got = wait_for(receiver, |g| !of_kind(g, "job_missed").is_empty()).await;
    let missed = of_kind(&got, "job_missed")[0];
    assert_eq!(missed["subject"], "slow");
    assert!(
        missed["message"]
            .as_str()
            .unwrap()
            .contains("still running"),
        "{missed}"
    );
    let slow_id = slow["id"].as_str().unwrap();
    let (status, _) = s
        .patch(
            &a,
            &format!("{CONFIGS}/{slow_id}"),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Every alert received is listed as delivered.
    let (status, page) = s.get(&a, "/api/v1/alerts?state=delivered&limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed: Vec<&str> = page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for alert in delivered(receiver) {
        if listed.contains(&alert["id"].as_str().unwrap()) {
            continue;
        }
        // Settled just after the listing was read.
        let (_, again) = s.get(&a, "/api/v1/alerts?limit=1000").await;
        let found = again["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == alert["id"]);
        assert!(found, "{alert} not listed");
    }
    let (status, body) = s.get(&a, "/api/v1/alerts?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "kind");
}

#[tokio::test]
async fn job_alerts_sqlite() {
    let receiver = Receiver::start(0).await;
    let s = TestServer::sqlite_with_toml(&config(&receiver.url)).await;
    scenario(&s, &receiver).await;
    s.stop().await;
}

#[tokio::test]
async fn job_alerts_postgres() {
    let receiver = Receiver::start(0).await;
    if let Some(s) = TestServer::postgres_with_toml(&config(&receiver.url)).await {
        scenario(&s, &receiver).await;
        s.stop().await;
    }
}

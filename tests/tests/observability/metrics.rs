//! `GET /metrics`: after a known set of jobs the counters and histograms hold those
//! numbers, and the text parses with the Prometheus project's own parser
//! (`prometheus_client` from PyPI, `.ci/prometheus.sh`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use keywarden_tests::server::{TEST_ACCOUNTS, TestServer, parse_config};
use keywarden_tests::{ci_venv, plugins_dir};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every sample of the exposition, as the Prometheus parser reads it.
fn parse(text: &str) -> Vec<Value> {
    let venv = ci_venv("prometheus.sh", "KEYWARDEN_PROMETHEUS_VENV");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut child = Command::new(venv.join("bin").join("python"))
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
        })
        .and_then(|s| s["value"].as_f64())
}

async fn scrape(s: &TestServer, token: Option<&str>) -> (StatusCode, String) {
    let mut request = s.client().get(format!("{}/metrics", s.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_the_jobs_that_ran() {
    let port = free_port();
    let toml = format!("{TEST_ACCOUNTS}\n[server]\nmetrics_listen = \"127.0.0.1:{port}\"\n");
    // Its own plugins folder, so a file dropped in is a reload only this server sees.
    let folder = tempfile::tempdir().unwrap();
    for plugin in ["hello.wasm", "noop.wasm"] {
        std::fs::copy(plugins_dir().join(plugin), folder.path().join(plugin)).unwrap();
    }
    let s = TestServer::with_plugins(false, parse_config(&toml), folder.path().to_owned())
        .await
        .unwrap();
    let t = s.admin.as_str();
    let make = |name: &str, params: Value| json!({"name": name, "operation": "hello", "run_at": "0 0 1 1 *", "max_retries": 0, "params": params});
    let good = s
        .create_config(t, &make("good", json!({"name": "Ada"})))
        .await;
    let bad = s
        .create_config(
            t,
            &make("bad", json!({"name": "Ada", "secret": "not_granted"})),
        )
        .await;
    let mut jobs = Vec::new();
    for config in [&good, &good, &good, &bad] {
        let id = config["id"].as_str().unwrap();
        let (status, run) = s
            .post(
                t,
                &format!("/api/v1/scheduler/job-configs/{id}/run-now"),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        jobs.push(run["job_id"].as_str().unwrap().to_owned());
    }
    for job in &jobs {
        s.wait_job(t, job, Duration::from_secs(60)).await;
    }
    // A broken file dropped into the folder is a reload that failed.
    std::fs::write(folder.path().join("broken.wasm"), b"not a component").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, plugins) = s.get(t, "/api/v1/plugins").await;
        if plugins.to_string().contains("broken") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{plugins}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A config firing every second feeds the scheduler's lag.
    s.create_config(
        t,
        &json!({"name": "ticking", "operation": "noop", "run_at": "* * * * * *"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let (status, text) = scrape(&s, Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let samples = parse(&text);
    let hello = |status, result| {
        value(
            &samples,
            "keywarden_jobs_finished_total",
            &[
                ("operation", "hello"),
                ("status", status),
                ("result", result),
            ],
        )
    };
    assert_eq!(hello("completed", "success"), Some(3.0), "{text}");
    assert_eq!(hello("failed", "failure"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &samples,
            "keywarden_job_duration_seconds_count",
            &[("operation", "hello"), ("status", "completed")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &samples,
            "keywarden_plugin_instantiation_seconds_count",
            &[("plugin", "hello")]
        ),
        Some(4.0)
    );
    assert_eq!(
        value(
            &samples,
            "keywarden_plugin_failures_total",
            &[("plugin", "hello")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "keywarden_http_requests_total",
            &[
                ("route", "/api/v1/scheduler/job-configs/{id}/run-now"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        Some(4.0),
        "{text}"
    );
    assert!(
        value(&samples, "keywarden_scheduler_lag_seconds_count", &[]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "keywarden_plugin_reloads_total",
            &[("outcome", "failed")]
        ),
        Some(1.0),
        "{text}"
    );
    for gauge in [
        "keywarden_jobs_queued",
        "keywarden_jobs_due",
        "keywarden_jobs_running",
        "keywarden_oldest_due_job_age_seconds",
    ] {
        let v = value(&samples, gauge, &[]).unwrap_or_else(|| panic!("{gauge} missing"));
        assert!(v >= 0.0, "{gauge} = {v}");
    }
    assert!(!text.contains(&s.admin), "no token in the metrics");

    // Only the admin account reads them; the metrics address needs no token.
    let alice = s.token("alice", false).await;
    let (status, body) = scrape(&s, Some(&alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("admin"), "{body}");
    let (status, _) = scrape(&s, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let open = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let open_samples = parse(&open.text().await.unwrap());
    assert!(
        value(
            &open_samples,
            "keywarden_jobs_finished_total",
            &[("operation", "hello")]
        )
        .is_some()
    );
    let elsewhere = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/plugins"))
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status(),
        StatusCode::NOT_FOUND,
        "only /metrics there"
    );
    s.stop().await;
}

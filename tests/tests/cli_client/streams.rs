//! `jobs logs --follow`, `jobs run --wait`, `jobs retry` and `jobs watch` read the job
//! event streams (server-sent events) while jobs run.

use std::process::Stdio;
use std::time::Duration;

use keywarden_tests::server::TestServer;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::Kw;

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn follow_reads_the_event_stream_while_the_job_runs() {
    let s = TestServer::sqlite().await;
    let kw = Kw::new(&s, &s.admin);
    // four greetings a second apart, a log line and a progress report each
    let config = kw
        .json(&[
            "configs",
            "create",
            "--name",
            "slow",
            "--operation",
            "hello",
            "--run-at",
            "@daily",
            "--params",
            r#"{"name": "Slow", "repeat": 4, "delay_ms": 4000}"#,
        ])
        .await;
    let config = config["id"].as_str().unwrap().to_owned();
    let job = kw.json(&["jobs", "run", &config]).await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut follow = kw
        .command(&["jobs", "logs", &job, "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.contains("saying hello"), "{first}");
    // The line came from the stream: the job still runs, and its stored record has no
    // log lines before it ends, so polling could not have printed it yet.
    let (_, now) = s
        .get(&s.admin, &format!("/api/v1/scheduler/jobs/{job}"))
        .await;
    assert!(
        ["queued", "running"].contains(&now["status"].as_str().unwrap()),
        "{now}"
    );
    assert!(now["logs"].as_array().is_none_or(Vec::is_empty), "{now}");
    let mut rest = Vec::new();
    while let Some(line) = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        rest.push(line);
    }
    assert_eq!(follow.wait().await.unwrap().code(), Some(0));
    assert!(
        rest.iter().any(|l| l.contains("greeted greeting=4 of=4")),
        "{rest:?}"
    );

    // --wait without a terminal: no bar, the final job as JSON
    let waited = kw.json(&["jobs", "run", &config, "--wait"]).await;
    assert_eq!(
        waited["progress"],
        serde_json::json!({"done": 4, "total": 4}),
        "{waited}"
    );
    assert_eq!(waited["result"], "success");

    // retry: a failed job runs again as a new job of the same config, once
    let err = kw.fails(&["jobs", "retry", &job], 5).await;
    assert!(err.contains("only a failed job can be retried"), "{err}");
    let failing = kw.failing_config().await;
    let out = kw
        .run(&["jobs", "run", &failing, "--wait", "-o", "json"])
        .await;
    assert_eq!(out.code, 8, "{out:?}");
    let failed: Value = serde_json::from_str(&out.stdout).unwrap();
    let failed = failed["id"].as_str().unwrap().to_owned();
    let retried = kw.json(&["jobs", "retry", &failed]).await;
    let again = retried["id"].as_str().unwrap().to_owned();
    assert_ne!(again, failed);
    let out = kw.run(&["jobs", "get", &again, "--wait"]).await;
    assert_eq!(out.code, 8, "{out:?}");
    assert!(
        out.stdout.contains(&format!("job {again} failed")),
        "{out:?}"
    );
    let err = kw.fails(&["jobs", "retry", &failed], 5).await;
    assert!(err.contains("already retried"), "{err}");
    let out = kw.run(&["jobs", "retry", &again, "--wait"]).await;
    assert_eq!(out.code, 8, "{out:?}");
    assert!(out.stdout.contains(" failed "), "{out:?}");

    // watch: the account's job events as JSON lines
    let mut watch = kw
        .command(&["jobs", "watch", "--config", &config, "-o", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = BufReader::new(watch.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = kw.json(&["jobs", "run", &config]).await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event: Value = loop {
        let line = tokio::time::timeout(PATIENCE, events.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["id"] == started.as_str() {
            break event;
        }
    };
    assert_eq!(event["job_config_id"], config.as_str());
    watch.kill().await.unwrap();
    s.stop().await;
}

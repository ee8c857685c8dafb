//! `GET /api/v1/scheduler/jobs/{id}/events` and `GET /api/v1/scheduler/events`.

use std::time::Duration;

use keywarden_tests::server::{TestServer, on_each_backend};
use keywarden_tests::sse::{SseEvent, SseStream};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

async fn config(s: &TestServer, token: &str, params: Value) -> String {
    let created = s
        .create_config(
            token,
            &json!({"name": "watched", "operation": "hello", "run_at": "0 0 1 1 *", "params": params}),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn run_now(s: &TestServer, token: &str, config: &str) -> String {
    let (status, body) = s
        .post(token, &format!("{CONFIGS}/{config}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

async fn open(s: &TestServer, token: &str, path: &str) -> SseStream {
    SseStream::open(s.client(), &format!("{}{path}", s.base), token)
        .await
        .unwrap_or_else(|(status, body)| panic!("{path}: {status} {body}"))
}

fn names(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// A job of five greetings over 2.5 s: the stream shows each progress report and log
/// line while the job runs, then its end with the stored logs, and closes.
async fn a_job_streams_progress_and_logs_while_it_runs(s: &TestServer) {
    let t = s.admin.as_str();
    let config = config(s, t, json!({"name": "Ada", "repeat": 5, "delay_ms": 2500})).await;
    let job = run_now(s, t, &config).await;
    let mut stream = open(s, t, &format!("/api/v1/scheduler/jobs/{job}/events")).await;
    let events = stream.until("end", Duration::from_secs(60)).await;
    let seen = names(&events);
    assert_eq!(seen.first(), Some(&"job"), "{seen:?}");
    assert_eq!(seen.last(), Some(&"end"), "{seen:?}");
    assert!(
        stream.next(Duration::from_secs(5)).await.is_none(),
        "the stream closes after end"
    );
    let end = events.last().unwrap();
    assert_eq!(end.data["id"], job.as_str());
    assert_eq!(end.data["status"], "completed", "{}", end.data);
    assert_eq!(end.data["progress"], json!({"done": 5, "total": 5}));
    let stored = end.data["logs"].as_array().expect("end carries the logs");
    assert!(
        stored.iter().any(|l| l["message"] == "greeted"),
        "{stored:?}"
    );

    let progress: Vec<(u64, &SseEvent)> = events
        .iter()
        .filter(|e| e.event == "progress")
        .map(|e| (e.data["done"].as_u64().unwrap(), e))
        .collect();
    let dones: Vec<u64> = progress.iter().map(|(d, _)| *d).collect();
    assert!(dones.windows(2).all(|w| w[0] <= w[1]), "{dones:?}");
    assert!(dones.len() >= 3, "each report streams: {dones:?}");
    assert_eq!(dones.last(), Some(&5));
    // Live, not replayed at the end: the first report came well before the end.
    let first = progress.first().unwrap().1.at;
    assert!(
        end.at.duration_since(first) >= Duration::from_millis(1000),
        "progress arrived {:?} before the end",
        end.at.duration_since(first)
    );
    let lines: Vec<&SseEvent> = events.iter().filter(|e| e.event == "log").collect();
    assert!(
        lines.iter().any(|l| l.data["message"] == "saying hello"),
        "{lines:?}"
    );
    let greeted = lines
        .iter()
        .filter(|l| l.data["message"] == "greeted")
        .count();
    assert_eq!(greeted, 5, "each greeting line once: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| end.at.duration_since(l.at) >= Duration::from_millis(1000)),
        "log lines arrived while the job ran"
    );
    // A running job's status shows as `running` before the end.
    assert!(
        events
            .iter()
            .any(|e| e.event == "job" && e.data["status"] == "running"),
        "{seen:?}"
    );

    // A job that ended answers at once: its record, its lines, its end.
    let mut again = open(s, t, &format!("/api/v1/scheduler/jobs/{job}/events")).await;
    let replay = again.until("end", Duration::from_secs(10)).await;
    let seen = names(&replay);
    assert_eq!(seen.first(), Some(&"job"));
    assert_eq!(seen.last(), Some(&"end"));
    assert_eq!(
        replay.iter().filter(|e| e.event == "log").count(),
        stored.len()
    );
}

/// Another account's job is not found; a bad id is not found; no token is 401.
async fn streams_are_private(s: &TestServer) {
    let t = s.admin.as_str();
    let config = config(s, t, json!({"name": "private"})).await;
    let job = run_now(s, t, &config).await;
    s.wait_job(t, &job, Duration::from_secs(60)).await;
    let alice = s.token("alice", false).await;
    let url = format!("{}/api/v1/scheduler/jobs/{job}/events", s.base);
    let (status, body) = SseStream::open(s.client(), &url, &alice)
        .await
        .err()
        .expect("refused");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let bad = format!("{}/api/v1/scheduler/jobs/nope/events", s.base);
    let (status, _) = SseStream::open(s.client(), &bad, t).await.err().unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .call(reqwest::Method::GET, "/api/v1/scheduler/events", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = SseStream::open(
        s.client(),
        &format!("{}/api/v1/scheduler/events?job_config_id=x", s.base),
        t,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // An account holds at most 32 streams open; closing one frees its place.
    let bob = s.token("bob", false).await;
    let mut open_streams = Vec::new();
    for _ in 0..32 {
        open_streams.push(open(s, &bob, "/api/v1/scheduler/events").await);
    }
    let url = format!("{}/api/v1/scheduler/events", s.base);
    let (status, body) = SseStream::open(s.client(), &url, &bob).await.err().unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("32 job streams open"), "{body}");
    let alice_too = open(s, &alice, "/api/v1/scheduler/events").await;
    drop(alice_too);
    open_streams.pop();
    // Noticed when the server next writes to it, at the latest the 15 s keep-alive.
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    loop {
        match SseStream::open(s.client(), &url, &bob).await {
            Ok(_) => break,
            Err((status, body)) => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "the place was not freed"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The account stream: each change of the account's jobs (queued, running, ended),
/// never another account's.
async fn the_account_stream_follows_its_jobs_only(s: &TestServer) {
    let alice = s.token("alice", false).await;
    let bob = s.token("bob", false).await;
    let mut stream = open(s, &alice, "/api/v1/scheduler/events").await;
    let mine = config(
        s,
        &alice,
        json!({"name": "alice", "repeat": 2, "delay_ms": 600}),
    )
    .await;
    let theirs = config(s, &bob, json!({"name": "bob"})).await;
    let other = run_now(s, &bob, &theirs).await;
    let job = run_now(s, &alice, &mine).await;
    let mut statuses = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let Some(event) = stream.next(Duration::from_secs(30)).await else {
            break;
        };
        assert_eq!(event.event, "job");
        assert_ne!(
            event.data["id"],
            other.as_str(),
            "bob's job in alice's stream"
        );
        assert_eq!(
            event.data["account"],
            "keywarden:keywarden:admin:accounts:alice"
        );
        assert!(event.data.get("job_config_params").is_none());
        if event.data["id"] == job.as_str() {
            let status = event.data["status"].as_str().unwrap().to_owned();
            let ended = status == "completed";
            statuses.push(status);
            if ended {
                break;
            }
        }
    }
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("completed"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s == "queued" || s == "running"),
        "the stream saw the job before it ended: {statuses:?}"
    );
    s.wait_job(&bob, &other, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_streams_show_progress_logs_and_end_live() {
    on_each_backend(a_job_streams_progress_and_logs_while_it_runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_streams_are_private_to_the_account() {
    on_each_backend(streams_are_private).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_account_stream_shows_its_jobs_changes() {
    on_each_backend(the_account_stream_follows_its_jobs_only).await;
}

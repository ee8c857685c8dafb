//! Hardening found in review: requests have time limits, and a shutdown stops claiming
//! jobs at once even while a slow request is still open.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use keywarden_tests::server::TestServer;
use serde_json::json;

/// Opens a request whose body never comes: headers announce 100 bytes, one is sent.
fn slow_request(base: &str, token: &str) -> std::net::TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    write!(
        tcp,
        "POST /api/v1/scheduler/job-configs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    tcp.flush().unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_is_cut_off() {
    let s = TestServer::sqlite_with_toml("[server]\nrequest_timeout_secs = 1\n").await;
    let mut tcp = slow_request(&s.base, &s.admin);
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::new();
        let _ = tcp.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("longer than 1 s"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_claiming_at_once_while_a_request_is_open() {
    let mut s = TestServer::sqlite_with_toml("[server]\nrequest_timeout_secs = 30\n").await;
    let config = s
        .create_config(
            &s.admin,
            &json!({"name": "tick", "operation": "noop", "run_at": "@every 1s"}),
        )
        .await;
    let id = config["id"].as_str().unwrap().to_owned();
    let count = format!("SELECT COUNT(*) FROM jobs WHERE job_config_id = '{id}'");
    // It fires and its jobs run.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.query_count(&count).await < 2 {
        assert!(Instant::now() < deadline, "the schedule never fired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _open = slow_request(&s.base, &s.admin);
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_signal = s.query_count(&count).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.query_count(&count).await,
        at_signal,
        "no fire and no job after the shutdown signal, though a request is still open"
    );
    let running = format!(
        "SELECT COUNT(*) FROM jobs WHERE job_config_id = '{id}' AND status IN ('queued', 'running')"
    );
    assert!(
        s.query_count(&running).await <= 1,
        "nothing claimed after the signal"
    );
}

/// A second process started with a node id another process is running as is refused
/// before it touches that node's jobs (it would take them for a crash's orphans), also
/// when its own heartbeat is faster than the running one's (10 s): it waits for the
/// running process's next heartbeat, not for its own interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_with_a_running_node_id_is_refused() {
    let s = TestServer::sqlite().await;
    let seen = "SELECT COUNT(*) FROM nodes WHERE id = 'test-node'";
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.query_count(seen).await == 0 {
        assert!(Instant::now() < deadline, "the server never heartbeat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for heartbeat_secs in [None, Some(1)] {
        let other = tempfile::tempdir().unwrap();
        let plugins = tempfile::tempdir().unwrap();
        let mut options = keywarden::server::ServeOptions::new(other.path(), plugins.path());
        options.database_url = Some(s.database_url().to_owned());
        options.node_id = Some("test-node".to_owned());
        options.config.server.heartbeat_secs = heartbeat_secs;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let started = tokio::time::timeout(
            Duration::from_secs(60),
            keywarden::serve(listener, options, std::future::pending()),
        )
        .await
        .expect("refused within a heartbeat or two");
        let err = started.expect_err("a second process as test-node is refused");
        assert!(
            format!("{err:#}")
                .contains("another keywarden process is running as node \"test-node\""),
            "heartbeat {heartbeat_secs:?}: {err:#}"
        );
    }
    s.stop().await;
}

/// Fair claiming: one account's backlog of long jobs does not hold every slot, so another
/// account's job starts at once instead of after the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_backlog_does_not_starve_another() {
    let s = TestServer::sqlite_with_toml(
        r#"
        [server]
        concurrency = 4
        [plugins.hostile]
        timeout_secs = 2
        [plugins.noop]
        [accounts.team-a.plugins.hostile]
        [accounts.team-b.plugins.noop]
        "#,
    )
    .await;
    let (a, b) = (
        s.token("team-a", false).await,
        s.token("team-b", false).await,
    );
    let spin = s
        .create_config(
            &a,
            &json!({"name": "spin", "operation": "spin", "run_at": "@daily"}),
        )
        .await;
    let run_now = format!(
        "/api/v1/scheduler/job-configs/{}/run-now",
        spin["id"].as_str().unwrap()
    );
    for _ in 0..8 {
        let (status, body) = s.post(&a, &run_now, &json!({})).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let noop = s
        .create_config(
            &b,
            &json!({"name": "n", "operation": "noop", "run_at": "@daily"}),
        )
        .await;
    let started = Instant::now();
    let (_, job) = s
        .post(
            &b,
            &format!(
                "/api/v1/scheduler/job-configs/{}/run-now",
                noop["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    let done = s
        .wait_job(&b, job["job_id"].as_str().unwrap(), Duration::from_secs(30))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let waited = started.elapsed();
    let (_, queued) = s
        .get(&a, "/api/v1/scheduler/jobs?status=queued&limit=0")
        .await;
    assert!(
        waited < Duration::from_millis(1800),
        "team-b's job waited {waited:?} behind team-a's backlog"
    );
    assert!(
        queued["total"].as_i64().unwrap() > 0,
        "team-a's backlog is still waiting: {queued}"
    );
    s.stop().await;
}

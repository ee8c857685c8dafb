//! The real `keywarden serve` process killed and restarted: jobs it was running when it
//! died are failed (or requeued) at once by the next start on the same node id, finished
//! jobs keep their history, and a graceful stop (SIGTERM) lets running jobs finish.
//!
//! Runs on SQLite in a temp data dir; with `KEYWARDEN_TEST_DATABASE_URL` set to a
//! `postgres://` URL the same scenarios also run on PostgreSQL, in a fresh schema.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use keywarden_db::testing::PgTestSchema;
use serde_json::{Value, json};

const NODE: &str = "test-node";

fn plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = root.join("target/plugins");
        xtask::build_plugins(root, &out).expect("plugins build");
        out
    })
}

/// One `keywarden serve` process and an API client for it.
struct Node {
    child: Child,
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Node {
    /// Starts the binary on `data` (and `database_url`, else SQLite in `data`) and waits
    /// until it listens. Its stderr goes to `data/server.log`, appended across restarts.
    fn start(data: &Path, database_url: Option<&str>) -> Node {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("server.log"))
            .expect("server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keywarden"));
        // JSON lines at the default levels: what a log pipeline reads (checked below).
        cmd.args(["--log-format", "json"])
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--plugins-dir")
            .arg(plugins())
            .args(["--node-id", NODE]);
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        for var in [
            "KEYWARDEN_LISTEN",
            "KEYWARDEN_CONFIG",
            "KEYWARDEN_DATABASE_URL",
            "KEYWARDEN_NODE_ID",
            "KEYWARDEN_LOG",
            "KEYWARDEN_LOG_FORMAT",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("keywarden starts");
        // Read stdout on a thread (kept draining so the pipe never fills) until the address.
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(base) => base,
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "no `listening on` from keywarden ({e}); its log:\n{}",
                    std::fs::read_to_string(data.join("server.log")).unwrap_or_default()
                );
            }
        };
        let token = std::fs::read_to_string(data.join("admin-token"))
            .expect("admin token written on first start")
            .trim()
            .to_owned();
        Node {
            child,
            base,
            token,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("response body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).expect("JSON response")
    }

    /// Creates a `hello` config sleeping `delay_ms`, with `extra` fields merged in.
    async fn config(&self, name: &str, delay_ms: u64, extra: Value) -> String {
        let mut body = json!({
            "name": name,
            "operation": "hello",
            "run_at": "0 0 1 1 *",
            "params": {"name": name, "delay_ms": delay_ms},
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let c = self
            .call(reqwest::Method::POST, "/scheduler/job-configs", Some(body))
            .await;
        c["id"].as_str().expect("config id").to_owned()
    }

    async fn run_now(&self, config: &str) -> String {
        let r = self
            .call(
                reqwest::Method::POST,
                &format!("/scheduler/job-configs/{config}/run-now"),
                None,
            )
            .await;
        r["job_id"].as_str().expect("job id").to_owned()
    }

    async fn job(&self, id: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/scheduler/jobs/{id}"), None)
            .await
    }

    /// `total` of the job list with `query` (e.g. `status=running`).
    async fn count(&self, query: &str) -> i64 {
        let page = self
            .call(
                reqwest::Method::GET,
                &format!("/scheduler/jobs?{query}"),
                None,
            )
            .await;
        page["total"].as_i64().expect("total")
    }

    /// Waits until every job in `ids` has `status`; panics with their state after `within`.
    async fn wait_status(&self, ids: &[String], status: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let mut jobs = Vec::new();
            for id in ids {
                jobs.push(self.job(id).await);
            }
            if jobs.iter().all(|j| j["status"] == status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "jobs not all {status} after {within:?}: {:#?}",
                jobs.iter()
                    .map(|j| (&j["status"], &j["message"]))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, as an OOM killer or a power cut would.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then waits for the process to exit; returns whether it exited cleanly.
    fn terminate(mut self, within: Duration) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("keywarden did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database for one scenario: SQLite in the data dir, or a fresh PostgreSQL schema.
struct Db {
    url: Option<String>,
    pg: Option<PgTestSchema>,
}

impl Db {
    fn sqlite() -> Db {
        Db {
            url: None,
            pg: None,
        }
    }

    async fn postgres(case: &str) -> Option<Db> {
        let pg = PgTestSchema::create(case).await?;
        Some(Db {
            url: Some(pg.url.clone()),
            pg: Some(pg),
        })
    }

    async fn drop_schema(self) {
        if let Some(pg) = self.pg {
            pg.drop_schema().await;
        }
    }
}

/// Killed mid-job: the restart (same node id, same database) fails the killed jobs at
/// once, requeues one with retries left (which then completes), and keeps the history.
async fn killed_node_recovers_on_restart(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), db.url.as_deref());

    let fast = node.config("fast", 0, json!({})).await;
    let mut done = Vec::new();
    for _ in 0..3 {
        done.push(node.run_now(&fast).await);
    }
    node.wait_status(&done, "completed", Duration::from_secs(60))
        .await;

    let slow = node.config("slow", 20_000, json!({})).await;
    let mut killed = Vec::new();
    for _ in 0..3 {
        killed.push(node.run_now(&slow).await);
    }
    let retried_config = node
        .config("retried", 6_000, json!({"max_retries": 1}))
        .await;
    let retried = node.run_now(&retried_config).await;
    let mut all_running = killed.clone();
    all_running.push(retried.clone());
    node.wait_status(&all_running, "running", Duration::from_secs(60))
        .await;
    let total = node.count("").await;
    assert_eq!(total, 7);
    node.kill();

    let started = Instant::now();
    let node = Node::start(dir.path(), db.url.as_deref());
    // Recovery runs before the executor's first claim: before any lease (30 s) ends, after
    // the start has waited out one heartbeat (10 s) to be sure the killed process is gone.
    loop {
        if node.count("status=running").await == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "jobs of the killed process still running after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &killed {
        let job = node.job(id).await;
        assert_eq!(job["status"], "failed", "{job:#}");
        assert_eq!(job["result"], "failure", "{job:#}");
        let message = job["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("node {NODE} stopped while running the job")),
            "{message}"
        );
        assert!(message.contains("restarted"), "not lease expiry: {message}");
    }
    for id in &done {
        assert_eq!(node.job(id).await["status"], "completed");
    }
    assert_eq!(node.count("").await, total, "no job lost from the history");

    // The job with a retry left was requeued and now runs to completion, as attempt 2.
    node.wait_status(
        std::slice::from_ref(&retried),
        "completed",
        Duration::from_secs(60),
    )
    .await;
    let job = node.job(&retried).await;
    assert_eq!(
        (job["attempt"].as_i64(), job["max_attempts"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(node.count("").await, total);
    assert!(node.terminate(Duration::from_secs(40)), "clean exit");
}

/// SIGTERM while a short job runs: the process waits for it, records it, then exits.
async fn sigterm_lets_running_jobs_finish(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), db.url.as_deref());
    let config = node.config("short", 1_500, json!({})).await;
    let job = node.run_now(&config).await;
    node.wait_status(
        std::slice::from_ref(&job),
        "running",
        Duration::from_secs(60),
    )
    .await;
    assert!(node.terminate(Duration::from_secs(40)), "clean exit");

    let node = Node::start(dir.path(), db.url.as_deref());
    let view = node.job(&job).await;
    assert_eq!(view["status"], "completed", "{view:#}");
    assert_eq!(view["result"], "success", "{view:#}");
    assert_eq!(view["attempt"], 1, "ran once: {view:#}");
    assert!(node.terminate(Duration::from_secs(40)), "clean exit");
    if db.url.is_none() {
        // The server's files are its user's only (it sets umask 077).
        use std::os::unix::fs::PermissionsExt;
        let database = dir.path().join("keywarden.db");
        let mode = std::fs::metadata(&database).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", database.display());
    }
}

/// A per-second schedule across a SIGKILL and restart: every second between the first
/// and the last fire has exactly one job (catch-up `all` runs the fires missed while
/// the server was down; the stored next fire time prevents doubles).
async fn restart_mid_schedule_neither_loses_nor_doubles_a_fire(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), db.url.as_deref());
    let config = node
        .config(
            "every-second",
            0,
            json!({"run_at": "* * * * * *", "catch_up": "all"}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    node.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let node = Node::start(dir.path(), db.url.as_deref());
    tokio::time::sleep(Duration::from_secs(3)).await;
    node.call(
        reqwest::Method::PATCH,
        &format!("/scheduler/job-configs/{config}"),
        Some(json!({"disabled": true})),
    )
    .await;
    let page = node
        .call(
            reqwest::Method::GET,
            &format!("/scheduler/jobs?job_config_id={config}&limit=1000"),
            None,
        )
        .await;
    let mut fires: Vec<chrono::DateTime<chrono::Utc>> = page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            chrono::DateTime::parse_from_rfc3339(j["scheduled_for"].as_str().unwrap())
                .unwrap()
                .to_utc()
        })
        .collect();
    fires.sort();
    assert!(
        fires.len() >= 6,
        "fires before, during and after the outage: {fires:?}"
    );
    for pair in fires.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "a lost or doubled fire between {} and {}",
            pair[0],
            pair[1]
        );
    }
    assert!(node.terminate(Duration::from_secs(40)), "clean exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_mid_schedule_neither_loses_nor_doubles_a_fire() {
    restart_mid_schedule_neither_loses_nor_doubles_a_fire(&Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_schedule_neither_loses_nor_doubles_a_fire() {
    if let Some(db) = Db::postgres("restart_mid_schedule").await {
        restart_mid_schedule_neither_loses_nor_doubles_a_fire(&db).await;
        db.drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_node_recovers_on_restart() {
    killed_node_recovers_on_restart(&Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigterm_lets_running_jobs_finish() {
    sigterm_lets_running_jobs_finish(&Db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_node_recovers_on_restart() {
    if let Some(db) = Db::postgres("killed_node_recovers_on_restart").await {
        killed_node_recovers_on_restart(&db).await;
        db.drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sigterm_lets_running_jobs_finish() {
    if let Some(db) = Db::postgres("sigterm_lets_running_jobs_finish").await {
        sigterm_lets_running_jobs_finish(&db).await;
        db.drop_schema().await;
    }
}

/// `--log-format json`: every line on stderr is one JSON object, and each job has a
/// line when it starts and one when it ends, with its id, so a log pipeline can follow
/// it (shown at the default level).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_a_line_per_job_start_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), None);
    let config = node.config("logged", 0, json!({})).await;
    let jobs = vec![node.run_now(&config).await, node.run_now(&config).await];
    node.wait_status(&jobs, "completed", Duration::from_secs(60))
        .await;
    assert!(node.terminate(Duration::from_secs(30)));
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for job in &jobs {
        let of = |message: &str| {
            lines
                .iter()
                .filter(|l| l["message"] == message && l["job"] == job.as_str())
                .collect::<Vec<_>>()
        };
        let started = of("job started");
        assert_eq!(started.len(), 1, "{log}");
        assert_eq!(started[0]["operation"], "hello");
        assert_eq!(started[0]["account"], "admin");
        assert_eq!(started[0]["node"], NODE);
        assert_eq!(started[0]["level"], "INFO");
        let ended = of("job ended");
        assert_eq!(ended.len(), 1, "{log}");
        assert_eq!(ended[0]["status"], "completed");
        assert_eq!(ended[0]["result"], "success");
        assert!(ended[0]["duration_ms"].is_u64(), "{}", ended[0]);
        assert!(ended[0]["timestamp"].is_string(), "{}", ended[0]);
    }
}

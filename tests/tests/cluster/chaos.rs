//! Three real `keywarden serve` processes on one PostgreSQL schema run 5,000 `hello` jobs
//! of 50 to 500 ms while one of them is killed with SIGKILL every few seconds and started
//! again, twenty times. Each run of the plugin leaves a file (`<job>.<start ns>.<node>`,
//! holding its end once its work is done) in a directory all three share.
//!
//! What must hold afterwards (docs/cluster.md, "What a crash can do to a job"):
//! - every job is completed, or failed with a message; none is queued or running;
//! - each completed job has exactly one run inside its completed attempt (on the node the
//!   database names, between the attempt's claim and its finish): one completed run;
//! - no two runs of a job overlapped in time: a run cut short ends at its node's death,
//!   and the next run starts after it;
//! - a run that did its work but is not the one recorded (the node died between the
//!   plugin's end and the finish being written) is followed by its node's death before
//!   the next run: a job runs again only because its node died.
//!
//! The jobs are queued straight into the database (`Database::insert_jobs`, with
//! `NewJob::from_config` of real configs, as the scheduler queues a fire): admitting them
//! through 5,000 run-now requests would take most of the test's time and is not what is
//! tested here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use keywarden_db::NewJob;
use serde_json::json;
use uuid::Uuid;

use crate::processes::{Cluster, Node, call, now_ns};

const JOBS: usize = 5000;
const KILLS: usize = 20;
/// Between one kill and the next (of the next node in turn).
const KILL_EVERY: Duration = Duration::from_secs(3);
/// Every this many kills the node stays down for longer than a lease, so the others
/// recover its jobs by lease expiry instead of its restart doing it.
const LONG_OUTAGE_EVERY: usize = 7;
const LONG_OUTAGE: Duration = Duration::from_secs(14);
/// Ten-second leases (renewed every ~3 s): a killed node's jobs come back at its restart
/// (it recovers its own at start) or, if it were not restarted, within a lease.
const SERVER: &str = "heartbeat_secs = 1\nlease_secs = 10\nconcurrency = 8";

/// One run of the plugin, from its file.
#[derive(Debug, Clone)]
struct Run {
    start: u128,
    end: Option<u128>,
    node: String,
}

#[derive(Debug)]
struct JobRow {
    status: String,
    message: Option<String>,
    node: Option<String>,
    started_us: Option<i64>,
    finished_us: Option<i64>,
}

/// Ten configs of `hello`, sleeping 50, 100, ... 500 ms, recording their runs, with
/// retries enough to outlive the kills; 500 jobs of each.
async fn queue_jobs(cluster: &Cluster, base: &str, token: &str) {
    let db = keywarden_db::connect(&cluster.pg.url).await.unwrap();
    let now = chrono::Utc::now();
    for i in 1..=10u64 {
        let config = call(
            base,
            token,
            reqwest::Method::POST,
            "/api/v1/scheduler/job-configs",
            Some(
                json!({"name": format!("chaos-{i}"), "operation": "hello", "run_at": "0 0 1 1 *",
                   "max_retries": 10, "retry_backoff_secs": 1,
                   "params": {"name": "chaos", "delay_ms": 50 * i, "record_dir": "/records"}}),
            ),
        )
        .await;
        let id: Uuid = config["id"].as_str().unwrap().parse().unwrap();
        let config = db.get_config(None, id).await.unwrap().unwrap();
        let jobs: Vec<NewJob> = (0..JOBS / 10)
            .map(|_| NewJob::from_config(&config, now, now))
            .collect();
        db.insert_jobs(&jobs).await.unwrap();
    }
}

/// Kills node `i % 3` every [`KILL_EVERY`] and restarts it in the background (after
/// [`LONG_OUTAGE`] every [`LONG_OUTAGE_EVERY`] kills); returns
/// the nodes (all up) and when each died (node id, after the process was reaped).
fn chaos(nodes: Vec<Node>) -> (Vec<Node>, Vec<(String, u128)>) {
    // Each node lives in a thread's result: up (returned at once) or restarting.
    let mut slots: Vec<Option<std::thread::JoinHandle<Node>>> = nodes
        .into_iter()
        .map(|n| Some(std::thread::spawn(move || n)))
        .collect();
    let mut deaths = Vec::new();
    for i in 0..KILLS {
        std::thread::sleep(KILL_EVERY);
        let k = i % slots.len();
        let mut node = slots[k]
            .take()
            .and_then(|s| s.join().ok())
            .expect("the node restarted");
        node.kill();
        deaths.push((node.id.clone(), now_ns()));
        let outage = (i % LONG_OUTAGE_EVERY == LONG_OUTAGE_EVERY - 1).then_some(LONG_OUTAGE);
        slots[k] = Some(std::thread::spawn(move || {
            if let Some(outage) = outage {
                std::thread::sleep(outage);
            }
            node.restart();
            node
        }));
    }
    let nodes = slots
        .into_iter()
        .map(|s| s.and_then(|s| s.join().ok()).expect("the node restarted"))
        .collect();
    (nodes, deaths)
}

fn read_runs(dir: &std::path::Path) -> HashMap<Uuid, Vec<Run>> {
    let mut runs: HashMap<Uuid, Vec<Run>> = HashMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let mut parts = name.splitn(3, '.');
        let (Some(job), Some(start), Some(node)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("not a run's file: {name}");
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        // `<start> <end> <node>` once the work is done; `<start> <node>` while it runs,
        // and empty if the node died while writing it.
        let end = match words.as_slice() {
            [_, end, _] => Some(end.parse().unwrap()),
            _ => None,
        };
        runs.entry(job.parse().unwrap()).or_default().push(Run {
            start: start.parse().unwrap(),
            end,
            node: node.to_owned(),
        });
    }
    for list in runs.values_mut() {
        list.sort_by_key(|r| r.start);
    }
    runs
}

async fn job_rows(url: &str) -> HashMap<Uuid, JobRow> {
    use sqlx::Row;
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT id, status, message, processing_node, started_at, finished_at FROM jobs",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| {
            let id: String = r.get("id");
            (
                id.parse().unwrap(),
                JobRow {
                    status: r.get("status"),
                    message: r.get("message"),
                    node: r.get("processing_node"),
                    started_us: r.get("started_at"),
                    finished_us: r.get("finished_at"),
                },
            )
        })
        .collect()
}

async fn unfinished(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_killed_twenty_times_run_every_job_once() {
    let Some(cluster) = Cluster::new("chaos").await else {
        return;
    };
    let began = Instant::now();
    let (nodes, token) = cluster.start_all(&["n1", "n2", "n3"], SERVER);
    let base = nodes[0].base.clone();
    queue_jobs(&cluster, &base, &token).await;
    let queued = Instant::now();

    let (nodes, deaths) = tokio::task::spawn_blocking(move || chaos(nodes))
        .await
        .unwrap();
    let chaos_took = queued.elapsed();
    let left_at_last_kill = unfinished(&cluster.pg.url).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while unfinished(&cluster.pg.url).await > 0 {
        assert!(
            Instant::now() < deadline,
            "jobs still queued or running two minutes after the last kill; n1's log:\n{}",
            nodes[0].log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drained = queued.elapsed();
    eprintln!(
        "chaos: {JOBS} jobs, {KILLS} kills in {chaos_took:?}, {left_at_last_kill} jobs left at \
         the last kill, all ended {drained:?} after queueing ({:?} since the first start)",
        began.elapsed()
    );

    let jobs = job_rows(&cluster.pg.url).await;
    let runs = read_runs(&cluster.records);
    assert_eq!(jobs.len(), JOBS);
    let death_after = |node: &str, t: u128| {
        deaths
            .iter()
            .filter(|(n, at)| n == node && *at > t)
            .map(|(_, at)| *at)
            .min()
    };
    let (mut failed, mut cut_short, mut lost_results, mut reruns) = (0, 0, 0, 0);
    for (id, job) in &jobs {
        let job_runs = runs.get(id).map(Vec::as_slice).unwrap_or_default();
        match job.status.as_str() {
            "completed" => {}
            "failed" => {
                failed += 1;
                assert!(
                    job.message.as_deref().is_some_and(|m| !m.is_empty()),
                    "job {id} failed without a reason: {job:?}"
                );
            }
            other => panic!("job {id} ended {other}: {job:?}"),
        }
        reruns += job_runs.len().saturating_sub(1);
        // The completed attempt's run: on the node the database names, inside the
        // attempt's claim and finish.
        if job.status == "completed" {
            let (from, to) = (
                job.started_us.unwrap() as u128 * 1000,
                job.finished_us.unwrap() as u128 * 1000,
            );
            let recorded: Vec<&Run> = job_runs
                .iter()
                .filter(|r| r.end.is_some_and(|e| r.start >= from && e <= to))
                .collect();
            assert_eq!(
                recorded.len(),
                1,
                "job {id}: exactly one run inside its completed attempt; runs {job_runs:?}, job {job:?}"
            );
            assert_eq!(
                Some(&recorded[0].node),
                job.node.as_ref(),
                "job {id}: {job:?}"
            );
        }
        // Runs never overlap, and one ends without being the recorded one only when its
        // node dies.
        for (i, pair) in job_runs.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            let death = death_after(&a.node, a.start);
            let ended = match a.end {
                Some(end) => {
                    lost_results += 1;
                    assert!(
                        death.is_some_and(|d| d >= end && d <= b.start),
                        "job {id}: run {i} did its work on {} and the job ran again without that \
                         node dying in between; runs {job_runs:?}, deaths {deaths:?}",
                        a.node
                    );
                    end
                }
                None => {
                    cut_short += 1;
                    death.unwrap_or_else(|| {
                        panic!(
                            "job {id}: run {i} on {} stopped without its node dying; runs {job_runs:?}",
                            a.node
                        )
                    })
                }
            };
            assert!(
                ended <= b.start,
                "job {id}: runs {i} and {} overlapped (the second started before the first \
                 ended or its node died); runs {job_runs:?}",
                i + 1
            );
        }
    }
    eprintln!(
        "chaos: {} runs, {reruns} re-runs ({cut_short} cut short by a kill, {lost_results} \
         finished but killed before their result was written), {failed} failed",
        runs.values().map(Vec::len).sum::<usize>(),
    );
    assert!(
        left_at_last_kill > 0,
        "every job ended before the last kill: the kills did not hit a busy cluster; make \
         the jobs longer or the kills faster"
    );
    // Afterwards every node is back, alive, running nothing.
    let listed = call(
        &nodes[1].base,
        &token,
        reqwest::Method::GET,
        "/api/v1/nodes",
        None,
    )
    .await;
    let seen: Vec<_> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap(),
                n["alive"].as_bool(),
                n["running_jobs"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        ["n1", "n2", "n3"].map(|id| (id, Some(true), Some(0))),
        "{listed}"
    );
    cluster.finish(nodes).await;
}

//! The scheduler loop with real databases: per-second crons fire and their jobs run,
//! disabled and ended configs stop, a restart neither loses nor doubles a fire, and the
//! overlap and catch-up policies (checked with fixed instants through `tick_once`), and
//! fires queued ahead of their time start at their time, never before.

mod db;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use db::{Db, jobs, registry};
use keywarden::executor::{self, ExecutorConfig};
use keywarden::metrics::Metrics;
use keywarden::plugins::PluginRegistry;
use keywarden::scheduler::gate::AccountPolicies;
use keywarden::scheduler::tick::{SchedulerLoop, Timing, tick_ahead, tick_once};
use keywarden_db::{CatchUp, Database, JobConfig, JobStatus, Overlap};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_millis(100);
const GRACE: Duration = Duration::from_millis(400);

async fn create(db: &dyn Database, run_at: &str, edit: impl FnOnce(&mut JobConfig)) -> JobConfig {
    let now = Utc::now();
    let mut config = JobConfig::new(
        "admin", // runs with the plugins' own grants (no [accounts] table here)
        &format!("cfg-{}", uuid::Uuid::new_v4()),
        "hello",
        run_at,
        now,
    );
    config.params = json!({"name": "Ada"});
    config.params_key = "hello_params".into();
    edit(&mut config);
    if config.next_fire_at.is_none() {
        let schedule =
            keywarden::scheduler::fire_times::Schedule::parse(&config.run_at, None).unwrap();
        let window = keywarden::scheduler::fire_times::Window {
            start: config.start_date,
            end: config.end_date,
        };
        config.next_fire_at = keywarden::scheduler::fire_times::first_fire(&schedule, window, now);
    }
    db.insert_config(&config).await.expect("insert config")
}

/// A scheduler and an executor, linked as `serve` links them. The executor's poll is a
/// minute, so the jobs of these tests run within their waits only because the scheduler
/// wakes it as it queues them.
struct Node {
    db: Arc<dyn Database>,
    scheduler: (CancellationToken, JoinHandle<()>),
    executor: (CancellationToken, JoinHandle<()>),
}

impl Node {
    /// A node that fires only what is due (these tests count fires in a span of time).
    fn start(db: &Arc<dyn Database>, registry: &Arc<PluginRegistry>, name: &str) -> Node {
        let timing = Timing {
            tick: TICK,
            fire_ahead: Duration::ZERO,
        };
        Self::start_timed(db, registry, name, timing)
    }

    fn start_timed(
        db: &Arc<dyn Database>,
        registry: &Arc<PluginRegistry>,
        name: &str,
        timing: Timing,
    ) -> Node {
        let (s, e) = (CancellationToken::new(), CancellationToken::new());
        let mut cfg = ExecutorConfig::new(name);
        cfg.concurrency = 8;
        cfg.poll = Duration::from_secs(60);
        cfg.idle_poll = Duration::from_secs(60);
        let scheduler = SchedulerLoop::spawn_measured(
            db.clone(),
            name.into(),
            timing,
            s.clone(),
            Metrics::default(),
            AccountPolicies::default(),
            cfg.events.clone(),
        );
        let executor = executor::spawn(db.clone(), registry.clone(), cfg, e.clone());
        Node {
            db: db.clone(),
            scheduler: (s, scheduler),
            executor: (e, executor),
        }
    }

    /// Stops firing, lets the executor run what was enqueued, then stops it.
    async fn stop(self) {
        self.scheduler.0.cancel();
        joined(self.scheduler.1).await;
        wait_final(&*self.db, None).await;
        self.executor.0.cancel();
        joined(self.executor.1).await;
    }
}

async fn joined(handle: JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .expect("stops")
        .expect("task");
}

/// The config as stored now.
async fn stored(db: &dyn Database, id: uuid::Uuid) -> JobConfig {
    db.get_config(None, id)
        .await
        .unwrap()
        .expect("config exists")
}

/// One scheduler round at `now` firing up to two seconds ahead; the jobs it queued.
async fn tick_2s(db: &dyn Database, now: DateTime<Utc>) -> usize {
    let ahead = Duration::from_secs(2);
    tick_ahead(db, &AccountPolicies::default(), now, GRACE, ahead)
        .await
        .unwrap()
}

/// Seconds between consecutive fires must all be exactly one: no gaps, no doubles.
fn assert_every_second(fires: &[DateTime<Utc>]) {
    for pair in fires.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_milliseconds(),
            1000,
            "gap or double fire between {} and {}: {fires:?}",
            pair[0],
            pair[1]
        );
    }
}

async fn wait_final(db: &dyn Database, config: Option<uuid::Uuid>) -> Vec<keywarden_db::Job> {
    for _ in 0..200 {
        let all = jobs(db, config).await;
        if all.iter().all(db::is_final) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("jobs did not finish: {:?}", jobs(db, config).await);
}

async fn per_second_config_fires_and_its_jobs_complete(db: &Db) {
    let reg = registry("").await;
    let config = create(&*db.database, "* * * * * *", |c| c.overlap = Overlap::Allow).await;
    let node = Node::start(&db.database, &reg, "node-a");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    node.stop().await;
    let all = wait_final(&*db.database, Some(config.id)).await;
    assert!((3..=5).contains(&all.len()), "{} jobs", all.len());
    for job in &all {
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(
            job.details,
            Some(json!({"greeting": "Hello, Ada!", "repeat": 1}))
        );
        assert_eq!(job.job_config_id, Some(config.id));
    }
    let fires: Vec<_> = all.iter().map(|j| j.scheduled_for).collect();
    assert_every_second(&fires);
}

async fn disabled_and_ended_configs_stop_firing(db: &Db) {
    let reg = registry("").await;
    let disabled = create(&*db.database, "* * * * * *", |c| c.overlap = Overlap::Allow).await;
    let end = Utc::now() + chrono::Duration::milliseconds(1500);
    let ended = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.end_date = Some(end);
    })
    .await;
    let node = Node::start(&db.database, &reg, "node-a");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut off = stored(&*db.database, disabled.id).await;
    off.disabled = true;
    db.database.update_config(&off).await.unwrap();
    // A tick that read the config before the update may still complete its fire.
    tokio::time::sleep(TICK * 3).await;
    let fired_before = jobs(&*db.database, Some(disabled.id)).await.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    node.stop().await;
    assert_eq!(
        jobs(&*db.database, Some(disabled.id)).await.len(),
        fired_before,
        "disabled config fired"
    );
    let ended_jobs = jobs(&*db.database, Some(ended.id)).await;
    assert!(
        !ended_jobs.is_empty() && ended_jobs.len() <= 2,
        "{ended_jobs:?}"
    );
    assert!(ended_jobs.iter().all(|j| j.scheduled_for <= end));
    let after = stored(&*db.database, ended.id).await;
    assert_eq!(after.next_fire_at, None, "past its end date");
}

async fn a_restart_neither_loses_nor_doubles_fires(db: &Db) {
    let reg = registry("").await;
    let config = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.catch_up = CatchUp::All;
    })
    .await;
    let first = Node::start(&db.database, &reg, "node-a");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    first.stop().await;
    // Down for a while, then a new process (new connection) on the same database.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let db = db.reopen().await;
    let second = Node::start(&db, &reg, "node-b");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    second.stop().await;
    let all = wait_final(&*db, Some(config.id)).await;
    let fires: Vec<_> = all.iter().map(|j| j.scheduled_for).collect();
    assert!(fires.len() >= 5, "{fires:?}");
    assert_every_second(&fires);
    assert!(
        all.iter()
            .any(|j| j.processing_node.as_deref() == Some("node-b"))
    );
}

async fn two_schedulers_on_one_database_fire_once(db: &Db) {
    let config = create(&*db.database, "* * * * * *", |c| c.overlap = Overlap::Allow).await;
    let other = db.reopen().await;
    let token = CancellationToken::new();
    let (a, b) = (db.database.clone(), other);
    let a = SchedulerLoop::spawn(a, "a".into(), Timing::every(TICK), token.clone());
    let b = SchedulerLoop::spawn(b, "b".into(), Timing::every(TICK), token.clone());
    tokio::time::sleep(Duration::from_millis(3200)).await;
    token.cancel();
    a.await.unwrap();
    b.await.unwrap();
    let fires: Vec<_> = jobs(&*db.database, Some(config.id))
        .await
        .iter()
        .map(|j| j.scheduled_for)
        .collect();
    assert!(fires.len() >= 2, "{fires:?}");
    assert_every_second(&fires);
}

/// 2030-01-01 00:00:00 + `secs`.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

async fn overlap_skip_waits_for_the_unfinished_run_and_allow_does_not(db: &Db) {
    let skip = create(&*db.database, "* * * * * *", |c| {
        c.next_fire_at = Some(at(0))
    })
    .await;
    let allow = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.next_fire_at = Some(at(0));
    })
    .await;
    assert_eq!(tick_once(&*db.database, at(0), GRACE).await.unwrap(), 2);
    // Both first runs are still queued (nothing executes them): a slow job.
    assert_eq!(tick_once(&*db.database, at(1), GRACE).await.unwrap(), 1);
    assert_eq!(jobs(&*db.database, Some(skip.id)).await.len(), 1);
    assert_eq!(jobs(&*db.database, Some(allow.id)).await.len(), 2);
    let skipped = stored(&*db.database, skip.id).await;
    assert_eq!(
        skipped.next_fire_at,
        Some(at(2)),
        "a skipped fire is consumed"
    );
}

async fn catch_up_after_downtime_follows_the_policy(db: &Db) {
    // Per-minute cron, down from 00:00 to 00:05:30: six fires were missed.
    let mut ids = Vec::new();
    for policy in ["skip", "one", "all"] {
        let c = create(&*db.database, "* * * * *", |c| {
            c.catch_up = policy.parse().unwrap();
            c.overlap = Overlap::Allow;
            c.next_fire_at = Some(at(0));
        })
        .await;
        ids.push(c.id);
    }
    assert_eq!(tick_once(&*db.database, at(330), GRACE).await.unwrap(), 7);
    let counts = [0, 1, 6];
    for (id, want) in ids.iter().zip(counts) {
        let fired = jobs(&*db.database, Some(*id)).await;
        assert_eq!(fired.len(), want);
        let config = stored(&*db.database, *id).await;
        assert_eq!(config.next_fire_at, Some(at(360)));
    }
    let one = jobs(&*db.database, Some(ids[1])).await;
    assert_eq!(one[0].scheduled_for, at(300), "the latest missed fire");
    let all: Vec<_> = jobs(&*db.database, Some(ids[2]))
        .await
        .iter()
        .map(|j| j.scheduled_for)
        .collect();
    assert_eq!(all, (0..6).map(|m| at(m * 60)).collect::<Vec<_>>());
}

/// A fire coming within `fire_ahead` is queued now, due at its time: only that fire.
async fn fires_within_fire_ahead_are_queued_due_at_their_time(db: &Db) {
    let minutely = create(&*db.database, "0 * * * * *", |c| {
        c.next_fire_at = Some(at(60))
    })
    .await;
    let later = create(&*db.database, "0 * * * * *", |c| {
        c.next_fire_at = Some(at(63))
    })
    .await;
    assert_eq!(
        tick_2s(&*db.database, at(57)).await,
        0,
        "not within two seconds yet"
    );
    assert_eq!(tick_2s(&*db.database, at(58)).await, 1);
    let fired = jobs(&*db.database, Some(minutely.id)).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0].scheduled_for,
        at(60),
        "due at the fire, not at the tick"
    );
    assert_eq!(fired[0].status, JobStatus::Queued);
    let config = stored(&*db.database, minutely.id).await;
    assert_eq!(config.next_fire_at, Some(at(120)), "only the next fire");
    assert!(jobs(&*db.database, Some(later.id)).await.is_empty());
    // At the fire itself the config is not fired again.
    assert_eq!(tick_2s(&*db.database, at(60)).await, 0);
    assert_eq!(jobs(&*db.database, Some(minutely.id)).await.len(), 1);
}

/// Per second, ahead: one fire per round; the next one waits for the first job to end
/// under `overlap = skip`, and does not under `allow`.
async fn fire_ahead_holds_back_an_overlapping_fire_until_its_time(db: &Db) {
    let skip = create(&*db.database, "* * * * * *", |c| {
        c.next_fire_at = Some(at(1001))
    })
    .await;
    let allow = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.next_fire_at = Some(at(1001));
    })
    .await;
    assert_eq!(tick_2s(&*db.database, at(1000)).await, 2);
    assert_eq!(
        tick_2s(
            &*db.database,
            at(1000) + chrono::Duration::milliseconds(200)
        )
        .await,
        1
    );
    assert_eq!(jobs(&*db.database, Some(skip.id)).await.len(), 1);
    assert_eq!(jobs(&*db.database, Some(allow.id)).await.len(), 2);
    let held = stored(&*db.database, skip.id).await;
    assert_eq!(held.next_fire_at, Some(at(1002)), "held back, not consumed");
    // At its time the earlier job is still queued: skipped, as without fire-ahead.
    assert_eq!(tick_once(&*db.database, at(1002), GRACE).await.unwrap(), 0);
    let skipped = stored(&*db.database, skip.id).await;
    assert_eq!(skipped.next_fire_at, Some(at(1003)));
    assert_eq!(jobs(&*db.database, Some(skip.id)).await.len(), 1);
}

/// More configs than one page of due configs (500): a round reads its pages on from
/// where the last ended. It queues one fire per config, however many of a config's fires
/// the horizon holds, and configs held back until their time (a whole page of them) do
/// not keep the configs after them from being fired ahead.
async fn a_round_fires_each_config_once_and_pages_past_held_back_ones(db: &Db) {
    const PAGE_AND_ONE: usize = 501;
    // Created first, it sorts first among the configs due at 1001.
    let allow = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.next_fire_at = Some(at(1001));
    })
    .await;
    let mut skip = Vec::with_capacity(PAGE_AND_ONE);
    for _ in 0..PAGE_AND_ONE {
        let c = create(&*db.database, "* * * * * *", |c| {
            c.next_fire_at = Some(at(1001))
        })
        .await;
        skip.push(c.id);
    }
    // Two seconds ahead, each config's fires at 1001 and 1002 are within reach; only the
    // first is queued, also of `allow`, which no overlap rule holds back.
    assert_eq!(tick_2s(&*db.database, at(1000)).await, PAGE_AND_ONE + 1);
    let mut all = skip.clone();
    all.push(allow.id);
    assert_one_job_each(&*db.database, &all, at(1001)).await;
    for id in &all {
        assert_eq!(
            stored(&*db.database, *id).await.next_fire_at,
            Some(at(1002))
        );
    }
    // Every `skip` config is held back now (its job is queued), and more than a page of
    // them sort before `later`, which is due within the horizon too.
    let later = create(&*db.database, "* * * * * *", |c| {
        c.overlap = Overlap::Allow;
        c.next_fire_at = Some(at(1002));
    })
    .await;
    let round = at(1000) + chrono::Duration::milliseconds(200);
    assert_eq!(
        tick_2s(&*db.database, round).await,
        2,
        "allow's and later's"
    );
    let fired = jobs(&*db.database, Some(later.id)).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].scheduled_for, at(1002));
    assert_one_job_each(&*db.database, &skip, at(1001)).await;
}

/// Each of `configs` has exactly one job, due `at`.
async fn assert_one_job_each(db: &dyn Database, configs: &[uuid::Uuid], at: DateTime<Utc>) {
    let all = jobs(db, None).await;
    for id in configs {
        let mine: Vec<_> = all
            .iter()
            .filter(|j| j.job_config_id == Some(*id))
            .collect();
        assert_eq!(mine.len(), 1, "config {id}: {mine:?}");
        assert_eq!(mine[0].scheduled_for, at);
    }
}

/// With the default fire-ahead, per-second fires are queued before their time and a
/// node starts each at its time, never before.
async fn a_node_starts_fires_queued_ahead_at_their_time(db: &Db) {
    let reg = registry("").await;
    let config = create(&*db.database, "* * * * * *", |c| c.overlap = Overlap::Allow).await;
    let node = Node::start_timed(&db.database, &reg, "node-a", Timing::every(TICK));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    node.stop().await;
    let all = wait_final(&*db.database, Some(config.id)).await;
    assert!(all.len() >= 4, "{} jobs", all.len());
    assert_every_second(&all.iter().map(|j| j.scheduled_for).collect::<Vec<_>>());
    for job in &all {
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        let started = job.started_at.expect("started");
        assert!(started >= job.scheduled_for, "started early: {job:?}");
    }
    assert!(
        all.iter()
            .any(|j| j.scheduled_for - j.enqueued_at >= chrono::Duration::seconds(1)),
        "no fire was queued ahead: {all:?}"
    );
}

/// A config whose stored schedule no longer parses stops firing; a config's target (a
/// fact computed when it was written, here by hand) is each fired job's target.
async fn unparsable_schedule_stops_the_config_and_the_config_target_is_the_jobs(db: &Db) {
    let broken = create(&*db.database, "* * * * * *", |c| {
        c.next_fire_at = Some(at(0));
        c.run_at = "not a cron".into();
    })
    .await;
    let cloud = create(&*db.database, "* * * * * *", |c| {
        c.next_fire_at = Some(at(0));
        c.params = json!({"cloud_name": "aws"});
        c.target = Some("aws".into());
    })
    .await;
    assert_eq!(tick_once(&*db.database, at(0), GRACE).await.unwrap(), 1);
    let broken = stored(&*db.database, broken.id).await;
    assert_eq!(broken.next_fire_at, None);
    let fired = jobs(&*db.database, Some(cloud.id)).await;
    assert_eq!(fired[0].target.as_deref(), Some("aws"));
}

db_tests!(
    per_second_config_fires_and_its_jobs_complete,
    disabled_and_ended_configs_stop_firing,
    a_restart_neither_loses_nor_doubles_fires,
    two_schedulers_on_one_database_fire_once,
    overlap_skip_waits_for_the_unfinished_run_and_allow_does_not,
    fires_within_fire_ahead_are_queued_due_at_their_time,
    fire_ahead_holds_back_an_overlapping_fire_until_its_time,
    a_round_fires_each_config_once_and_pages_past_held_back_ones,
    a_node_starts_fires_queued_ahead_at_their_time,
    catch_up_after_downtime_follows_the_policy,
    unparsable_schedule_stops_the_config_and_the_config_target_is_the_jobs,
);

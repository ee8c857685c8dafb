//! Scheduling policies against a real server with the real plugins, on SQLite and
//! PostgreSQL: maintenance windows (the config's and the account's), blackout windows,
//! jitter, a late job that finds its window closed, run-now with and without the windows,
//! the pause after N failed runs in a row with its alert, and what a bad policy gets back.
//!
//! The windows here open every ten seconds for a few seconds (seconds cron), so one test
//! sees several openings; every assertion is about the times the API shows on the jobs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

/// Team `team-w` works under an account window: seconds 5-8 of every ten.
const TOML: &str = r#"
[plugins.hello]
[plugins.hostile]
[accounts.team-a.plugins.hello]
[accounts.team-a.plugins.hostile]
[accounts.team-w]
maintenance_windows = [{ start = "5/10 * * * * *", duration_secs = 4 }]
[accounts.team-w.plugins.hello]
"#;

/// The same, with one job slot (to make a job wait past its window).
fn one_slot() -> String {
    format!("[server]\nconcurrency = 1\naccount_share = 1.0\n{TOML}")
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Seconds into the current ten-second stretch, with the fraction.
fn in_ten(t: DateTime<Utc>) -> f64 {
    f64::from(t.second() % 10) + f64::from(t.nanosecond()) / 1e9
}

async fn jobs_of(s: &TestServer, token: &str, config: &Value) -> Vec<Value> {
    let id = config["id"].as_str().unwrap();
    let (status, page) = s
        .get(
            token,
            &format!("/api/v1/scheduler/jobs?job_config_id={id}&limit=1000"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["resources"].as_array().unwrap().clone()
}

async fn pause(s: &TestServer, token: &str, config: &Value) -> Value {
    let id = config["id"].as_str().unwrap();
    let (status, body) = s
        .patch(
            token,
            &format!("{CONFIGS}/{id}"),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Waits until the wall clock is `at` seconds into a ten-second stretch.
async fn align(at: f64) {
    loop {
        let now = in_ten(Utc::now());
        if (at..at + 0.3).contains(&now) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn refusals(s: &TestServer, a: &str) {
    let base = || json!({"name": "bad", "operation": "hello", "run_at": "0 9 * * mon", "params": {"name": "w"}});
    let with = |extra: Value| {
        let mut body = base();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, status, field) in [
        (
            json!({"maintenance_windows": [{"start": "nope", "duration_secs": 60}]}),
            StatusCode::BAD_REQUEST,
            "maintenance_windows[0].start",
        ),
        (
            json!({"maintenance_windows": [{"start": "0 22 * * *", "timezone": "Mars/Base", "duration_secs": 60}]}),
            StatusCode::BAD_REQUEST,
            "maintenance_windows[0].timezone",
        ),
        (
            json!({"blackout_windows": [{"start": "0 22 * * *", "duration_secs": 0}]}),
            StatusCode::BAD_REQUEST,
            "blackout_windows[0].duration_secs",
        ),
        (
            json!({"maintenance_windows": [{"start": "0 22 * * *", "duration_secs": 60, "length": 3}]}),
            StatusCode::BAD_REQUEST,
            "maintenance_windows[0]",
        ),
        (
            json!({"maintenance_windows": {"start": "0 22 * * *"}}),
            StatusCode::BAD_REQUEST,
            "maintenance_windows",
        ),
        (
            json!({"jitter_secs": -1}),
            StatusCode::BAD_REQUEST,
            "jitter_secs",
        ),
        (
            json!({"jitter_secs": 86_401}),
            StatusCode::BAD_REQUEST,
            "jitter_secs",
        ),
        (
            json!({"pause_after_failures": "3"}),
            StatusCode::BAD_REQUEST,
            "pause_after_failures",
        ),
        // A Sunday-only window for a Monday-only cron, without catch-up: it could never run.
        (
            json!({"catch_up": "skip", "maintenance_windows": [{"start": "0 0 * * sun", "duration_secs": 86_400}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "maintenance_windows",
        ),
        // A blackout over the whole window leaves no instant, whatever the catch-up.
        (
            json!({"catch_up": "one",
                   "maintenance_windows": [{"start": "0 1 * * *", "duration_secs": 3600}],
                   "blackout_windows": [{"start": "0 0 * * *", "duration_secs": 10_800}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "maintenance_windows",
        ),
    ] {
        let (got, body) = s.post(a, CONFIGS, &with(extra.clone())).await;
        assert_eq!(got, status, "{extra} -> {body}");
        assert_eq!(body["field"], field, "{extra} -> {body}");
    }
    let (_, body) = s
        .post(
            a,
            CONFIGS,
            &with(json!({"catch_up": "skip", "maintenance_windows": [{"start": "0 0 * * sun", "duration_secs": 86_400}]})),
        )
        .await;
    assert!(
        body["message"].as_str().unwrap().contains("catch_up"),
        "the refusal says what to change: {body}"
    );
    // A blank time zone counts as absent (UTC), as for the config's own; whole numbers
    // may come as 3600.0.
    let blank = s
        .create_config(
            a,
            &with(json!({"name": "blank-zone", "catch_up": "one",
                         "maintenance_windows": [{"start": "0 0 * * sun", "timezone": " ", "duration_secs": 3600.0}]})),
        )
        .await;
    assert_eq!(
        blank["maintenance_windows"],
        json!([{"start": "0 0 * * sun", "duration_secs": 3600}])
    );
    // With catch-up, the Monday fire waits for Sunday: accepted, and shown back.
    let windows =
        json!([{"start": "0 0 * * sun", "timezone": "Europe/Berlin", "duration_secs": 86_400}]);
    let ok = s
        .create_config(
            a,
            &with(
                json!({"name": "weekly", "catch_up": "one", "maintenance_windows": windows,
                         "jitter_secs": 900, "pause_after_failures": 5}),
            ),
        )
        .await;
    assert_eq!(ok["maintenance_windows"], windows);
    assert_eq!(ok["blackout_windows"], json!([]));
    assert_eq!(ok["jitter_secs"], 900);
    assert_eq!(ok["pause_after_failures"], 5);
    assert_eq!(ok["paused_reason"], Value::Null);
    // What GET shows can be sent back unchanged.
    let id = ok["id"].as_str().unwrap();
    let (status, shown) = s.get(a, &format!("{CONFIGS}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, back) = s.patch(a, &format!("{CONFIGS}/{id}"), &shown).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["maintenance_windows"], windows);
    // `null` clears the windows.
    let (status, cleared) = s
        .patch(
            a,
            &format!("{CONFIGS}/{id}"),
            &json!({"maintenance_windows": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["maintenance_windows"], json!([]));
    // A manual pause records when, not why.
    let paused = pause(s, a, &ok).await;
    assert!(paused["paused_at"].is_string(), "{paused}");
    assert_eq!(paused["paused_reason"], Value::Null);
    let (status, body) = s
        .post(
            a,
            &format!("{CONFIGS}/{id}/run-now?respect_windows=maybe"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "respect_windows");
}

/// Windows, blackouts, jitter and the account's window over twelve seconds of fires.
async fn windows(s: &TestServer, a: &str, w: &str) {
    let every_second = |name: &str, extra: Value| {
        let mut body = json!({"name": name, "operation": "hello", "run_at": "* * * * * *",
                              "params": {"name": name}, "overlap": "allow"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let window = json!([{"start": "*/10 * * * * *", "duration_secs": 4}]);
    let deferred = s
        .create_config(
            a,
            &every_second(
                "deferred",
                json!({"catch_up": "one", "maintenance_windows": window}),
            ),
        )
        .await;
    let dropped = s
        .create_config(
            a,
            &every_second(
                "dropped",
                json!({"catch_up": "skip", "maintenance_windows": window,
                       "alerts": {"on_missed_run": true}}),
            ),
        )
        .await;
    let blackout = s
        .create_config(
            a,
            &every_second(
                "blackout",
                json!({"catch_up": "one", "blackout_windows": [{"start": "*/10 * * * * *", "duration_secs": 5}]}),
            ),
        )
        .await;
    let mut jittered = Vec::new();
    for i in 0..10 {
        jittered.push(
            s.create_config(
                a,
                &every_second(&format!("jitter-{i}"), json!({"jitter_secs": 1})),
            )
            .await,
        );
    }
    let account = s
        .create_config(w, &every_second("team-window", json!({"catch_up": "one"})))
        .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    for c in [&deferred, &dropped, &blackout]
        .into_iter()
        .chain(&jittered)
    {
        pause(s, a, c).await;
    }
    pause(s, w, &account).await;
    // Jobs may still be queued for the last opening: let them run.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Deferred: every job is dated inside a window and started inside one; fires
    // outside waited for the opening, several of them to the same instant.
    let jobs = jobs_of(s, a, &deferred).await;
    assert!(jobs.len() >= 5, "{jobs:?}");
    let mut per_instant: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        let due = time(&job["scheduled_for"]);
        assert!(in_ten(due) < 4.0, "due outside the window: {job}");
        *per_instant
            .entry(job["scheduled_for"].to_string())
            .or_default() += 1;
        if job["status"] == "completed" {
            assert!(
                in_ten(time(&job["started_at"])) < 4.0,
                "started outside: {job}"
            );
        }
    }
    assert!(
        per_instant.values().any(|&n| n >= 3),
        "fires outside the window wait for its opening together: {per_instant:?}"
    );
    let done = jobs.iter().filter(|j| j["status"] == "completed").count();
    assert!(done >= 5, "{jobs:?}");

    // Dropped (catch_up = skip): only fires inside the windows ran; the rest were missed
    // runs, alerted with the reason.
    let jobs = jobs_of(s, a, &dropped).await;
    assert!(!jobs.is_empty());
    assert!(
        jobs.len() <= 8,
        "one job per fire inside the windows: {}",
        jobs.len()
    );
    for job in &jobs {
        assert!(in_ten(time(&job["scheduled_for"])) < 4.0, "{job}");
    }
    let (status, alerts) = s.get(a, "/api/v1/alerts?kind=job_missed&limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let missed: Vec<&Value> = alerts["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["subject"] == "dropped")
        .collect();
    assert!(missed.len() >= 3, "{alerts}");
    assert!(
        missed[0]["message"]
            .as_str()
            .unwrap()
            .contains("outside the maintenance windows"),
        "{}",
        missed[0]
    );

    // Blackout: nothing dated in its first five seconds.
    let jobs = jobs_of(s, a, &blackout).await;
    assert!(jobs.len() >= 5, "{jobs:?}");
    for job in &jobs {
        assert!(
            in_ten(time(&job["scheduled_for"])) >= 5.0,
            "inside the blackout: {job}"
        );
    }

    // Jitter: each config keeps one offset below a second after each fire, never early;
    // the ten configs spread over the second.
    let mut offsets = BTreeSet::new();
    for config in &jittered {
        let jobs = jobs_of(s, a, config).await;
        assert!(jobs.len() >= 5, "{jobs:?}");
        let mine: BTreeSet<u32> = jobs
            .iter()
            .map(|j| time(&j["scheduled_for"]).nanosecond() / 1000)
            .collect();
        assert_eq!(mine.len(), 1, "one offset per config: {mine:?}");
        offsets.extend(mine);
    }
    assert_eq!(offsets.len(), 10, "{offsets:?}");
    let spread = offsets.last().unwrap() - offsets.first().unwrap();
    assert!(
        spread > 300_000,
        "offsets spread over the second: {offsets:?}"
    );

    // The account's window (seconds 5-8) holds for its config, which has none.
    let jobs = jobs_of(s, w, &account).await;
    assert!(jobs.len() >= 5, "{jobs:?}");
    for job in &jobs {
        let at = in_ten(time(&job["scheduled_for"]));
        assert!(
            (5.0..9.0).contains(&at),
            "outside the account's window: {job}"
        );
    }
}

/// Run-now ignores the windows unless asked; asked, it waits for the next opening.
async fn run_now(s: &TestServer, w: &str) {
    let config = s
        .create_config(
            w,
            &json!({"name": "manual", "operation": "hello", "run_at": "@yearly",
                    "params": {"name": "manual"}, "catch_up": "one"}),
        )
        .await;
    let id = config["id"].as_str().unwrap();
    align(0.5).await;
    let (status, plain) = s
        .post(w, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    let (status, waiting) = s
        .post(
            w,
            &format!("{CONFIGS}/{id}/run-now?respect_windows=true"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    let plain = s
        .wait_job(
            w,
            plain["job_id"].as_str().unwrap(),
            Duration::from_secs(30),
        )
        .await;
    assert!(
        in_ten(time(&plain["started_at"])) < 4.0,
        "ran at once: {plain}"
    );
    let waiting = s
        .wait_job(
            w,
            waiting["job_id"].as_str().unwrap(),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(waiting["status"], "completed", "{waiting}");
    let due = time(&waiting["scheduled_for"]);
    assert_eq!(in_ten(due), 5.0, "due at the opening: {waiting}");
    assert!(
        (5.0..9.0).contains(&in_ten(time(&waiting["started_at"]))),
        "{waiting}"
    );
}

/// A job due inside its window but claimed after it closed (the only slot was busy)
/// waits for the next opening instead of running outside.
async fn late_start(s: &TestServer) {
    let a = s.token("team-a", false).await;
    let slow = s
        .create_config(
            &a,
            &json!({"name": "slow", "operation": "hello", "run_at": "@yearly",
                    "params": {"name": "slow", "delay_ms": 5000}}),
        )
        .await;
    let gated = s
        .create_config(
            &a,
            &json!({"name": "gated", "operation": "hello", "run_at": "@yearly", "catch_up": "one",
                    "params": {"name": "gated"},
                    "maintenance_windows": [{"start": "*/10 * * * * *", "duration_secs": 3}]}),
        )
        .await;
    align(0.2).await;
    let asked = Utc::now();
    let (status, busy) = s
        .post(
            &a,
            &format!("{CONFIGS}/{}/run-now", slow["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{busy}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, run) = s
        .post(
            &a,
            &format!(
                "{CONFIGS}/{}/run-now?respect_windows=true",
                gated["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let job = s
        .wait_job(&a, run["job_id"].as_str().unwrap(), Duration::from_secs(40))
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    // Asked for inside the window, but the slot came free after it closed: moved to the
    // next opening.
    assert!(
        time(&job["enqueued_at"]) - asked < chrono::Duration::seconds(2),
        "{job}"
    );
    assert_eq!(in_ten(time(&job["scheduled_for"])), 0.0, "{job}");
    let started = time(&job["started_at"]);
    assert!(
        started - asked >= chrono::Duration::seconds(9),
        "waited for the next window: {job}"
    );
    assert!(in_ten(started) < 3.0, "started inside a window: {job}");
    assert_eq!(job["attempt"], 1, "waiting spent no attempt: {job}");
}

/// A config that fails three runs in a row pauses itself, says why, raises an alert and
/// fires no more; resumed, it counts again from zero.
async fn auto_pause(s: &TestServer, a: &str) {
    let config = s
        .create_config(
            a,
            &json!({"name": "failing", "operation": "panic", "run_at": "* * * * * *",
                    "params": {}, "pause_after_failures": 3}),
        )
        .await;
    let id = config["id"].as_str().unwrap().to_owned();
    let paused = wait_paused(s, a, &id).await;
    let reason = paused["paused_reason"].as_str().unwrap();
    assert!(reason.contains("3 failed runs in a row"), "{paused}");
    assert!(
        reason.contains("the plugin crashed"),
        "quotes the failure: {paused}"
    );
    assert_eq!(paused["next_run_at"], Value::Null);
    let failed = |jobs: &[Value], after: DateTime<Utc>| {
        jobs.iter()
            .filter(|j| j["status"] == "failed" && time(&j["finished_at"]) > after)
            .count()
    };
    let before = jobs_of(s, a, &config).await;
    assert!(failed(&before, DateTime::<Utc>::MIN_UTC) >= 3, "{before:?}");
    let (status, alerts) = s.get(a, "/api/v1/alerts?kind=config_paused").await;
    assert_eq!(status, StatusCode::OK);
    let alert = alerts["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["job_config_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no config_paused alert: {alerts}"))
        .clone();
    assert!(
        alert["message"].as_str().unwrap().contains("failed runs"),
        "{alert}"
    );
    // Paused: no more fires.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = jobs_of(s, a, &config).await.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        jobs_of(s, a, &config).await.len(),
        settled,
        "a paused config fired"
    );

    // Resume: the record is cleared, and it takes three new failures to pause again.
    let (status, resumed) = s
        .patch(a, &format!("{CONFIGS}/{id}"), &json!({"disabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["paused_reason"], Value::Null);
    assert_eq!(resumed["paused_at"], Value::Null);
    let resumed_at = time(&resumed["updatedAt"]);
    wait_paused(s, a, &id).await;
    let after = jobs_of(s, a, &config).await;
    assert!(
        failed(&after, resumed_at) >= 3,
        "paused again too early: {after:?}"
    );
}

async fn wait_paused(s: &TestServer, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, config) = s.get(token, &format!("{CONFIGS}/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        if config["disabled"] == true {
            return config;
        }
        assert!(Instant::now() < deadline, "never paused: {config}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fires are queued up to 2 s ahead (`[server] fire_ahead_ms`): a config paused and
/// resumed (or rescheduled) right after that starts after the fires already queued, so
/// none is queued twice.
async fn resume_inside_fire_ahead(s: &TestServer, a: &str) {
    let config = s
        .create_config(
            a,
            &json!({"name": "every-second", "operation": "hello", "run_at": "* * * * * *",
                    "params": {"name": "Ada"}, "overlap": "allow"}),
        )
        .await;
    let id = config["id"].as_str().unwrap().to_owned();
    // Wait until fires are queued ahead of their time.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !jobs_of(s, a, &config)
        .await
        .iter()
        .any(|j| time(&j["scheduled_for"]) > Utc::now() + chrono::Duration::milliseconds(500))
    {
        assert!(Instant::now() < deadline, "nothing was queued ahead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pause(s, a, &config).await;
    let (status, resumed) = s
        .patch(a, &format!("{CONFIGS}/{id}"), &json!({"disabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    pause(s, a, &config).await;
    let jobs = jobs_of(s, a, &config).await;
    let mut fires: Vec<String> = jobs
        .iter()
        .map(|j| j["scheduled_for"].to_string())
        .collect();
    let all = fires.len();
    fires.sort();
    fires.dedup();
    assert_eq!(fires.len(), all, "a fire was queued twice: {jobs:?}");
    assert!(all >= 3, "it fired again after the resume: {jobs:?}");
}

async fn scenario(s: &TestServer) {
    let a = s.token("team-a", false).await;
    let w = s.token("team-w", false).await;
    refusals(s, &a).await;
    let (_, ()) = tokio::join!(windows(s, &a, &w), auto_pause(s, &a));
    run_now(s, &w).await;
    resume_inside_fire_ahead(s, &a).await;
}

#[tokio::test]
async fn scheduling_policies_sqlite() {
    let s = TestServer::sqlite_with_toml(TOML).await;
    scenario(&s).await;
    s.stop().await;
    let s = TestServer::sqlite_with_toml(&one_slot()).await;
    late_start(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn scheduling_policies_postgres() {
    if let Some(s) = TestServer::postgres_with_toml(TOML).await {
        scenario(&s).await;
        s.stop().await;
    }
    if let Some(s) = TestServer::postgres_with_toml(&one_slot()).await {
        late_start(&s).await;
        s.stop().await;
    }
}

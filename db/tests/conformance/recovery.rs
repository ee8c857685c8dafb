//! Getting work back on track: retries, recovery from dead nodes (lease expiry), and the
//! scheduler's compare-and-set that makes each fire happen once.

use std::sync::Arc;

use keywarden_db::{ConfigFire, Database, JobConfig, JobResult, JobRetry, JobStatus, NewJob};
use serde_json::json;
use uuid::Uuid;

use crate::executor::{LEASE, finish};
use crate::{new_job, t};

/// A retry of `id` by `node` due at `at`.
pub fn requeue(id: Uuid, node: &str, at: chrono::DateTime<chrono::Utc>, message: &str) -> JobRetry {
    JobRetry {
        id,
        node_id: node.into(),
        attempt: None,
        at,
        message: message.into(),
        logs: vec![],
        not_run: false,
    }
}

pub async fn retry(db: Arc<dyn Database>) {
    let mut j = new_job("k", "flaky", t(0), t(0));
    j.max_attempts = 3;
    db.insert_jobs(&[j.clone()]).await.unwrap();
    db.claim_jobs("node-a", t(0), 1, LEASE).await.unwrap();
    assert!(
        !db.retry_job(&requeue(j.id, "node-b", t(60), "timeout"))
            .await
            .unwrap(),
        "wrong node"
    );
    let mut stale = requeue(j.id, "node-a", t(60), "timeout");
    stale.attempt = Some(2);
    assert!(
        !db.retry_job(&stale).await.unwrap(),
        "another attempt than the running one"
    );
    let mut first = requeue(j.id, "node-a", t(60), "timeout");
    first.attempt = Some(1);
    first.logs = vec![json!({"message": "first attempt", "attempt": 1})];
    assert!(db.retry_job(&first).await.unwrap());
    let q = db.get_job(None, j.id).await.unwrap().unwrap();
    assert_eq!(q.status, JobStatus::Queued);
    assert_eq!(q.scheduled_for, t(60));
    assert_eq!(q.message.as_deref(), Some("timeout"));
    assert_eq!(
        q.logs,
        vec![json!({"message": "first attempt", "attempt": 1})],
        "the failed attempt's logs are kept"
    );
    assert_eq!(
        (q.processing_node, q.lease_expires_at, q.attempt),
        (None, None, 1)
    );
    assert!(
        !db.retry_job(&requeue(j.id, "node-a", t(60), "again"))
            .await
            .unwrap(),
        "not running"
    );
    assert!(
        db.claim_jobs("node-b", t(59), 1, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "backoff respected"
    );
    let again = db.claim_jobs("node-b", t(60), 1, LEASE).await.unwrap();
    assert_eq!((again[0].id, again[0].attempt), (j.id, 2));
    assert_eq!(again[0].started_at, Some(t(60)));
    let mut finish = finish(j.id, "node-b", JobStatus::Completed);
    finish.logs = vec![json!({"message": "second attempt", "attempt": 2})];
    assert_eq!(db.finish_jobs(&[finish]).await.unwrap(), 1);
    let done = db.get_job(None, j.id).await.unwrap().unwrap();
    let messages: Vec<_> = done.logs.iter().map(|l| l["message"].clone()).collect();
    assert_eq!(
        messages,
        vec![json!("first attempt"), json!("second attempt")],
        "every attempt's logs, oldest first"
    );
}

pub async fn an_attempt_that_did_not_run_is_not_counted(db: Arc<dyn Database>) {
    let j = new_job("k", "waits", t(0), t(0));
    db.insert_jobs(std::slice::from_ref(&j)).await.unwrap();
    let claimed = db.claim_jobs("node-a", t(0), 1, LEASE).await.unwrap();
    assert_eq!(claimed[0].attempt, 1);
    let mut snooze = requeue(j.id, "node-a", t(5), "waiting for the store's write lock");
    snooze.attempt = Some(1);
    snooze.not_run = true;
    assert!(db.retry_job(&snooze).await.unwrap());
    let q = db.get_job(None, j.id).await.unwrap().unwrap();
    assert_eq!((q.status, q.attempt), (JobStatus::Queued, 0));
    let again = db.claim_jobs("node-b", t(5), 1, LEASE).await.unwrap();
    assert_eq!(
        again[0].attempt, 1,
        "a single-attempt job still gets its one attempt"
    );
}

pub async fn lease_expiry_recovery(db: Arc<dyn Database>) {
    let mut retryable = new_job("k", "retryable", t(0), t(0));
    retryable.max_attempts = 2;
    let last_chance = new_job("k", "last-chance", t(0), t(0));
    let healthy = new_job("k", "healthy", t(0), t(0));
    db.insert_jobs(&[retryable.clone(), last_chance.clone(), healthy.clone()])
        .await
        .unwrap();
    db.claim_jobs("node-a", t(0), 10, LEASE).await.unwrap(); // leases end at t(30)
    db.renew_leases("node-a", &[(healthy.id, 1)], t(500))
        .await
        .unwrap();

    assert!(
        db.recover_expired_leases(t(30)).await.unwrap().is_empty(),
        "lease still valid at its end"
    );
    let mut recovered = db.recover_expired_leases(t(31)).await.unwrap();
    recovered.sort_by_key(|j| j.name.clone());
    assert_eq!(recovered.len(), 2);
    let (failed, requeued) = (&recovered[0], &recovered[1]);
    assert_eq!(failed.id, last_chance.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.result, Some(JobResult::Failure));
    assert_eq!(
        failed.message.as_deref(),
        Some("node node-a stopped while running the job (lease expired)")
    );
    assert_eq!(failed.finished_at, Some(t(31)));
    assert_eq!(failed.processing_node.as_deref(), Some("node-a"));
    assert_eq!(requeued.id, retryable.id);
    assert_eq!(requeued.status, JobStatus::Queued);
    assert_eq!(requeued.scheduled_for, t(31));
    assert_eq!(
        (requeued.processing_node.as_deref(), requeued.attempt),
        (None, 1)
    );
    assert_eq!(
        db.get_job(None, requeued.id).await.unwrap().unwrap(),
        *requeued
    );
    assert!(
        db.recover_expired_leases(t(32)).await.unwrap().is_empty(),
        "recovery happens once"
    );
    // The lost node's late report is ignored.
    assert_eq!(
        db.finish_jobs(&[finish(last_chance.id, "node-a", JobStatus::Completed)])
            .await
            .unwrap(),
        0
    );

    // Second attempt on another node, which dies too: now attempts are used up.
    let again = db.claim_jobs("node-b", t(40), 10, LEASE).await.unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 2));
    let second = db.recover_expired_leases(t(71)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].status, JobStatus::Failed);
    assert_eq!(
        second[0].message.as_deref(),
        Some("node node-b stopped while running the job (lease expired)")
    );
    assert_eq!(
        db.get_job(None, healthy.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
}

pub async fn node_restart_recovery(db: Arc<dyn Database>) {
    let mut retryable = new_job("k", "retryable", t(0), t(0));
    retryable.max_attempts = 2;
    let last_chance = new_job("k", "last-chance", t(0), t(0));
    let elsewhere = new_job("k", "elsewhere", t(0), t(0));
    let queued = new_job("k", "queued", t(100), t(0));
    let done = new_job("k", "done", t(0), t(0));
    db.insert_jobs(&[retryable.clone(), last_chance.clone(), done.clone()])
        .await
        .unwrap();
    db.claim_jobs("node-a", t(0), 10, LEASE).await.unwrap();
    db.finish_jobs(&[finish(done.id, "node-a", JobStatus::Completed)])
        .await
        .unwrap();
    db.insert_jobs(&[elsewhere.clone(), queued.clone()])
        .await
        .unwrap();
    db.claim_jobs("node-b", t(1), 10, LEASE).await.unwrap();

    assert!(
        db.recover_node("node-c", t(5)).await.unwrap().is_empty(),
        "a node with nothing running"
    );
    // Leases are still valid (they end at t(30)): the restart alone is enough.
    let mut recovered = db.recover_node("node-a", t(5)).await.unwrap();
    recovered.sort_by_key(|j| j.name.clone());
    assert_eq!(recovered.len(), 2);
    let (failed, requeued) = (&recovered[0], &recovered[1]);
    assert_eq!(failed.id, last_chance.id);
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.result, Some(JobResult::Failure));
    assert_eq!(
        failed.message.as_deref(),
        Some("node node-a stopped while running the job (restarted)")
    );
    assert_eq!(failed.finished_at, Some(t(5)));
    assert_eq!(failed.processing_node.as_deref(), Some("node-a"));
    assert_eq!(failed.lease_expires_at, None);
    assert_eq!(requeued.id, retryable.id);
    assert_eq!(requeued.status, JobStatus::Queued);
    assert_eq!(requeued.scheduled_for, t(5));
    assert_eq!(
        (requeued.processing_node.as_deref(), requeued.attempt),
        (None, 1)
    );
    assert_eq!(
        db.get_job(None, requeued.id).await.unwrap().unwrap(),
        *requeued
    );
    assert!(
        db.recover_node("node-a", t(6)).await.unwrap().is_empty(),
        "recovery happens once"
    );
    // Other nodes' jobs, queued jobs and finished jobs are untouched.
    let get = |id| {
        let db = db.clone();
        async move { db.get_job(None, id).await.unwrap().unwrap() }
    };
    let other = get(elsewhere.id).await;
    assert_eq!(
        (other.status, other.processing_node.as_deref()),
        (JobStatus::Running, Some("node-b"))
    );
    assert_eq!(get(queued.id).await.status, JobStatus::Queued);
    assert_eq!(get(done.id).await.status, JobStatus::Completed);
    // The old process's late report is ignored.
    assert_eq!(
        db.finish_jobs(&[finish(last_chance.id, "node-a", JobStatus::Completed)])
            .await
            .unwrap(),
        0
    );
    // The requeued job runs again, on the restarted node.
    let again = db.claim_jobs("node-a", t(6), 10, LEASE).await.unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempt)).collect::<Vec<_>>(),
        [(retryable.id, 2)]
    );
}

/// Due configs in `(next_fire_at, id)` order, read page by page from a cursor: ties on
/// the fire time are split by id, nothing is read twice or skipped, and configs due later
/// than `now` are never read.
pub async fn due_configs_page_on_from_a_cursor(db: Arc<dyn Database>) {
    let mut expected = Vec::new();
    for (i, at) in [30, 10, 20, 10, 10, 20, 40].into_iter().enumerate() {
        let mut c = JobConfig::new("kylo", &format!("c{i}"), "noop", "* * * * * *", t(0));
        c.next_fire_at = Some(t(at));
        let c = db.insert_config(&c).await.unwrap();
        if at <= 30 {
            expected.push((at, c.id));
        }
    }
    let mut later = JobConfig::new("kylo", "later", "noop", "* * * * * *", t(0));
    later.next_fire_at = Some(t(31));
    db.insert_config(&later).await.unwrap();
    // The order the full read gives is the order pages give.
    let whole: Vec<Uuid> = db
        .due_configs(t(30), None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(whole.len(), expected.len());
    expected.sort_by_key(|(at, _)| *at);
    let times: Vec<i64> = expected.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [10, 10, 10, 20, 20, 30]);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = db.due_configs(t(30), after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.next_fire_at.unwrap(), last.id));
        paged.extend(page.iter().map(|c| c.id));
    }
    // Pages of two split the three configs due at 10 across a page boundary.
    assert_eq!(paged, whole);
    let fire_times: Vec<i64> = whole
        .iter()
        .map(|id| expected.iter().find(|(_, e)| e == id).unwrap().0)
        .collect();
    assert_eq!(fire_times, times, "earliest first");
}

pub async fn fire_config_compare_and_set(db: Arc<dyn Database>) {
    let c = db
        .insert_config(&JobConfig::new(
            "kylo",
            "hourly",
            "cckm_key_rotation",
            "0 * * * *",
            t(0),
        ))
        .await
        .unwrap();
    let mut off = JobConfig::new("kylo", "off", "cckm_key_rotation", "0 * * * *", t(0));
    off.disabled = true;
    off.next_fire_at = Some(t(3600));
    db.insert_config(&off).await.unwrap();
    assert!(
        db.due_configs(t(1_000_000), None, 10)
            .await
            .unwrap()
            .is_empty(),
        "no next fire, disabled"
    );
    assert!(db.set_next_fire(c.id, Some(t(3600))).await.unwrap());
    assert!(
        !db.set_next_fire(Uuid::now_v7(), Some(t(3600)))
            .await
            .unwrap()
    );
    assert!(db.due_configs(t(3599), None, 10).await.unwrap().is_empty());
    let due = db.due_configs(t(3600), None, 10).await.unwrap();
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), [c.id]);
    assert_eq!(due[0].next_fire_at, Some(t(3600)));
    assert!(!db.has_unfinished_job(c.id).await.unwrap());

    let j1 = NewJob::from_config(&due[0], t(3600), t(3601));
    assert!(
        db.fire_config(
            c.id,
            Some(t(3600)),
            Some(t(7200)),
            std::slice::from_ref(&j1)
        )
        .await
        .unwrap()
    );
    assert_eq!(
        db.get_config(None, c.id)
            .await
            .unwrap()
            .unwrap()
            .next_fire_at,
        Some(t(7200))
    );
    let job = db
        .get_job(None, j1.id)
        .await
        .unwrap()
        .expect("job enqueued with the fire");
    assert_eq!(
        (job.job_config_id, job.scheduled_for),
        (Some(c.id), t(3600))
    );
    assert!(db.has_unfinished_job(c.id).await.unwrap());

    // A second scheduler that read the same due row loses the race: nothing changes.
    let j2 = NewJob::from_config(&due[0], t(3600), t(3602));
    assert!(
        !db.fire_config(
            c.id,
            Some(t(3600)),
            Some(t(7200)),
            std::slice::from_ref(&j2)
        )
        .await
        .unwrap()
    );
    assert!(
        !db.fire_config(c.id, None, Some(t(9000)), std::slice::from_ref(&j2))
            .await
            .unwrap()
    );
    assert_eq!(db.get_job(None, j2.id).await.unwrap(), None);
    assert_eq!(
        db.get_config(None, c.id)
            .await
            .unwrap()
            .unwrap()
            .next_fire_at,
        Some(t(7200))
    );
    assert!(
        !db.fire_config(Uuid::now_v7(), Some(t(3600)), None, &[])
            .await
            .unwrap()
    );

    // Firing the last occurrence clears next_fire_at; firing from NULL needs expected None.
    assert!(
        db.fire_config(c.id, Some(t(7200)), None, &[])
            .await
            .unwrap()
    );
    assert!(
        db.due_configs(t(1_000_000), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.fire_config(c.id, None, Some(t(10_800)), &[])
            .await
            .unwrap()
    );

    // Overlap check follows the job to completion.
    db.claim_jobs("node-a", t(3601), 10, LEASE).await.unwrap();
    assert!(db.has_unfinished_job(c.id).await.unwrap());
    db.finish_jobs(&[finish(j1.id, "node-a", JobStatus::Completed)])
        .await
        .unwrap();
    assert!(!db.has_unfinished_job(c.id).await.unwrap());
}

/// An attempt that outlived its lease (its job recovered and claimed again, on the same
/// node) cannot record its outcome over the attempt that replaced it.
pub async fn finishes_are_fenced_by_attempt(db: Arc<dyn Database>) {
    let mut job = new_job("k", "fenced", t(0), t(0));
    job.max_attempts = 3;
    db.insert_jobs(&[job.clone()]).await.unwrap();
    db.claim_jobs("node-a", t(0), 1, LEASE).await.unwrap(); // attempt 1, lease to t(30)
    db.recover_expired_leases(t(31)).await.unwrap();
    let claimed = db.claim_jobs("node-a", t(40), 1, LEASE).await.unwrap();
    assert_eq!(claimed[0].attempt, 2);
    let mut stale = finish(job.id, "node-a", JobStatus::Failed);
    stale.attempt = Some(1);
    stale.result = Some(JobResult::Failure);
    assert_eq!(
        db.finish_jobs(&[stale]).await.unwrap(),
        0,
        "attempt 1 is over"
    );
    assert_eq!(
        db.renew_leases("node-a", &[(job.id, 1)], t(500))
            .await
            .unwrap(),
        0,
        "attempt 1 renews nothing"
    );
    let mut current = finish(job.id, "node-a", JobStatus::Completed);
    current.attempt = Some(2);
    assert_eq!(db.finish_jobs(&[current]).await.unwrap(), 1);
    let stored = db.get_job(None, job.id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
}

/// The scheduler's page-at-once fire: every config whose `next_fire_at` still holds the
/// expected time moves on and gets its jobs, in one transaction; a config fired already
/// (another scheduler won) is left out and none of its jobs are written; the unfinished
/// query finds exactly the configs with a queued or running job.
pub async fn fire_configs_compare_and_set_per_config(db: Arc<dyn Database>) {
    let mut configs = Vec::new();
    for i in 0..3 {
        let mut c = JobConfig::new(
            "kylo",
            &format!("c{i}"),
            "cckm_key_rotation",
            "0 * * * *",
            t(0),
        );
        c.next_fire_at = Some(t(3600));
        configs.push(db.insert_config(&c).await.unwrap());
    }
    // Another scheduler fired the second config first.
    assert!(
        db.fire_config(configs[1].id, Some(t(3600)), Some(t(7200)), &[])
            .await
            .unwrap()
    );
    let fires: Vec<ConfigFire> = configs
        .iter()
        .map(|c| ConfigFire {
            config_id: c.id,
            expected: t(3600),
            next: Some(t(7200)),
            jobs: vec![NewJob::from_config(c, t(3600), t(3601))],
        })
        .collect();
    let fired = db.fire_configs(&fires).await.unwrap();
    assert_eq!(
        fired,
        [configs[0].id, configs[2].id],
        "the lost race is left out"
    );
    for (i, f) in fires.iter().enumerate() {
        let job = db.get_job(None, f.jobs[0].id).await.unwrap();
        assert_eq!(job.is_some(), i != 1, "config {i}'s job");
        assert_eq!(
            db.get_config(None, f.config_id)
                .await
                .unwrap()
                .unwrap()
                .next_fire_at,
            Some(t(7200))
        );
    }
    // Firing the same page again changes nothing: every compare fails.
    assert!(db.fire_configs(&fires).await.unwrap().is_empty());
    assert!(db.fire_configs(&[]).await.unwrap().is_empty());

    let ids: Vec<Uuid> = configs.iter().map(|c| c.id).collect();
    let mut busy = db.unfinished_configs(&ids).await.unwrap();
    busy.sort();
    let mut expected = vec![configs[0].id, configs[2].id];
    expected.sort();
    assert_eq!(busy, expected);
    db.claim_jobs("node-a", t(3601), 10, LEASE).await.unwrap();
    db.finish_jobs(&[finish(fires[0].jobs[0].id, "node-a", JobStatus::Completed)])
        .await
        .unwrap();
    assert_eq!(db.unfinished_configs(&ids).await.unwrap(), [configs[2].id]);
    assert!(db.unfinished_configs(&[]).await.unwrap().is_empty());
}

//! The executor protocol: claiming (including under concurrency), lease renewal,
//! progress, and finishing only while still owning the job.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use keywarden_db::{
    AuditFilter, Database, DbError, JobFinish, JobResult, JobStatus, NewAuditEntry, NewJob,
    Progress, RunOn,
};
use serde_json::json;
use uuid::Uuid;

use crate::{new_job, t};

pub const LEASE: Duration = Duration::from_secs(30);

pub fn finish(id: Uuid, node: &str, st: JobStatus) -> JobFinish {
    JobFinish {
        id,
        node_id: node.into(),
        attempt: None,
        status: st,
        result: Some(JobResult::Success),
        message: Some("done".into()),
        details: Some(json!({"total_keys": 6, "num_rotated": 6})),
        logs: vec![
            json!({"level": "info", "msg": "rotated"}),
            json!("second line"),
        ],
        progress: Some(Progress { done: 6, total: 6 }),
    }
}

pub async fn claim_semantics(db: Arc<dyn Database>) {
    let any_old = new_job("kylo", "any-old", t(0), t(0));
    let any_new = new_job("kylo", "any-new", t(5), t(0));
    let mut pinned_a = new_job("kylo", "pinned-a", t(3), t(0));
    pinned_a.run_on = RunOn::Node("node-a".into());
    let mut pinned_b = new_job("kylo", "pinned-b", t(1), t(0));
    pinned_b.run_on = RunOn::Node("node-b".into());
    let future = new_job("kylo", "future", t(100), t(0));
    db.insert_jobs(&[
        future.clone(),
        any_new.clone(),
        pinned_b.clone(),
        pinned_a.clone(),
        any_old.clone(),
    ])
    .await
    .unwrap();

    assert!(
        db.claim_jobs("node-a", t(10), 0, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    // Oldest due first, limit respected, never another node's pinned job.
    let first = db.claim_jobs("node-a", t(10), 2, LEASE).await.unwrap();
    assert_eq!(
        first.iter().map(|j| j.id).collect::<Vec<_>>(),
        [any_old.id, pinned_a.id]
    );
    for j in &first {
        assert_eq!(j.status, JobStatus::Running);
        assert_eq!(j.processing_node.as_deref(), Some("node-a"));
        assert_eq!(j.started_at, Some(t(10)));
        assert_eq!(j.lease_expires_at, Some(t(40)));
        assert_eq!(j.attempt, 1);
        assert_eq!(j.updated_at, t(10));
    }
    assert_eq!(
        db.get_job(None, any_old.id).await.unwrap().unwrap(),
        first[0],
        "returned as stored"
    );
    let rest = db.claim_jobs("node-a", t(10), 10, LEASE).await.unwrap();
    assert_eq!(
        rest.iter().map(|j| j.id).collect::<Vec<_>>(),
        [any_new.id],
        "claimed jobs are not re-claimed"
    );
    let b = db.claim_jobs("node-b", t(10), 10, LEASE).await.unwrap();
    assert_eq!(b.iter().map(|j| j.id).collect::<Vec<_>>(), [pinned_b.id]);
    assert!(
        db.claim_jobs("node-c", t(99), 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let late = db.claim_jobs("node-c", t(100), 10, LEASE).await.unwrap();
    assert_eq!(
        late.iter().map(|j| j.id).collect::<Vec<_>>(),
        [future.id],
        "due exactly at scheduled_for"
    );
}

pub async fn concurrent_claimers(db: Arc<dyn Database>) {
    let jobs: Vec<NewJob> = (0..500)
        .map(|i| new_job("kylo", &format!("j{i}"), t(i % 7), t(0)))
        .collect();
    let all: HashSet<Uuid> = jobs.iter().map(|j| j.id).collect();
    db.insert_jobs(&jobs).await.unwrap();
    let claimer = |node: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = db.claim_jobs(node, t(10), 7, LEASE).await.unwrap();
                if batch.is_empty() {
                    break got;
                }
                assert!(
                    batch
                        .iter()
                        .all(|j| j.processing_node.as_deref() == Some(node))
                );
                got.extend(batch.into_iter().map(|j| j.id));
                tokio::task::yield_now().await;
            }
        })
    };
    let (a, b) = (claimer("node-a"), claimer("node-b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut seen = HashSet::new();
    for id in a.iter().chain(&b) {
        assert!(seen.insert(*id), "job {id} claimed twice");
    }
    assert_eq!(seen, all, "every job claimed exactly once");
    eprintln!("node-a claimed {}, node-b claimed {}", a.len(), b.len());
}

/// Three jobs of account `k` named 1, 2, 3, due at `due`, enqueued at 0, stored.
async fn three_jobs(db: &dyn Database, due: [i64; 3]) -> (NewJob, NewJob, NewJob) {
    let [j1, j2, j3] = [("1", due[0]), ("2", due[1]), ("3", due[2])]
        .map(|(name, at)| new_job("k", name, t(at), t(0)));
    db.insert_jobs(&[j1.clone(), j2.clone(), j3.clone()])
        .await
        .unwrap();
    (j1, j2, j3)
}

pub async fn finish_only_if_still_running_on_node(db: Arc<dyn Database>) {
    let (j1, j2, j3) = three_jobs(db.as_ref(), [0, 0, 9]).await;
    assert_eq!(
        db.claim_jobs("node-a", t(1), 10, LEASE)
            .await
            .unwrap()
            .len(),
        2
    );

    assert_eq!(db.finish_jobs(&[]).await.unwrap(), 0);
    assert_eq!(
        db.finish_jobs(&[finish(j1.id, "node-b", JobStatus::Completed)])
            .await
            .unwrap(),
        0,
        "wrong node"
    );
    assert_eq!(
        db.get_job(None, j1.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    // Batch: j1 and j2 apply, j3 (queued) does not.
    let mut f2 = finish(j2.id, "node-a", JobStatus::Failed);
    f2.result = Some(JobResult::Failure);
    f2.details = None;
    f2.logs = vec![];
    f2.progress = None;
    let batch = [
        finish(j1.id, "node-a", JobStatus::Completed),
        f2,
        finish(j3.id, "node-a", JobStatus::Completed),
    ];
    assert_eq!(db.finish_jobs(&batch).await.unwrap(), 2);

    let done = db.get_job(None, j1.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.result, Some(JobResult::Success));
    assert_eq!(done.message.as_deref(), Some("done"));
    assert_eq!(
        done.details,
        Some(json!({"total_keys": 6, "num_rotated": 6}))
    );
    assert_eq!(
        done.logs,
        vec![
            json!({"level": "info", "msg": "rotated"}),
            json!("second line")
        ]
    );
    assert_eq!((done.progress_done, done.progress_total), (6, 6));
    assert_eq!(
        done.processing_node.as_deref(),
        Some("node-a"),
        "kept for history"
    );
    assert_eq!(done.lease_expires_at, None);
    assert!(done.finished_at.is_some());
    let failed = db.get_job(None, j2.id).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.result),
        (JobStatus::Failed, Some(JobResult::Failure))
    );
    assert_eq!(
        (failed.details, failed.logs.len(), failed.progress_done),
        (None, 0, 0)
    );
    assert_eq!(
        db.get_job(None, j3.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    // Finished jobs stay finished.
    assert_eq!(
        db.finish_jobs(&[finish(j1.id, "node-a", JobStatus::Cancelled)])
            .await
            .unwrap(),
        0
    );
    assert_eq!(db.get_job(None, j1.id).await.unwrap().unwrap(), done);
    // Validation: only final statuses finish a job.
    for (st, res) in [
        (JobStatus::Running, None),
        (JobStatus::Queued, Some(JobResult::Success)),
    ] {
        let mut f = finish(j3.id, "node-a", st);
        f.result = res;
        assert!(
            matches!(db.finish_jobs(&[f]).await, Err(DbError::Invalid(_))),
            "{st} {res:?}"
        );
    }
}

pub async fn leases_and_progress(db: Arc<dyn Database>) {
    let (j1, j2, j3) = three_jobs(db.as_ref(), [0, 0, 0]).await;
    db.claim_jobs("node-a", t(0), 2, LEASE).await.unwrap();
    assert_eq!(db.renew_leases("node-a", &[], t(100)).await.unwrap(), 0);
    assert_eq!(
        db.renew_leases("node-b", &[(j1.id, 1), (j2.id, 1)], t(100))
            .await
            .unwrap(),
        0
    );
    // Claimed jobs are in attempt 1: another attempt's renewal does not count.
    assert_eq!(
        db.renew_leases("node-a", &[(j1.id, 2), (j2.id, 2)], t(100))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.renew_leases("node-a", &[(j1.id, 1), (j2.id, 1), (j3.id, 1)], t(100))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        db.get_job(None, j1.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        Some(t(100))
    );
    assert_eq!(
        db.get_job(None, j3.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        None
    );

    assert!(db.update_progress(j1.id, 3, 10).await.unwrap());
    let j = db.get_job(None, j1.id).await.unwrap().unwrap();
    assert_eq!((j.progress_done, j.progress_total), (3, 10));
    assert!(
        !db.update_progress(j3.id, 1, 1).await.unwrap(),
        "queued job"
    );
    assert!(!db.update_progress(Uuid::now_v7(), 1, 1).await.unwrap());
    // A finish without progress keeps the reported counters.
    let mut f = finish(j1.id, "node-a", JobStatus::Completed);
    f.progress = None;
    db.finish_jobs(&[f]).await.unwrap();
    let j = db.get_job(None, j1.id).await.unwrap().unwrap();
    assert_eq!((j.progress_done, j.progress_total), (3, 10));
    assert!(
        !db.update_progress(j1.id, 9, 9).await.unwrap(),
        "finished job"
    );
}

/// A claim may leave out the jobs of accounts at their share of a node's slots.
pub async fn claims_leave_out_accounts(db: Arc<dyn Database>) {
    let mut busy = new_job("k", "busy-1", t(0), t(0));
    busy.account_id = "busy".into();
    let mut busy2 = new_job("k", "busy-2", t(0), t(0));
    busy2.account_id = "busy".into();
    let mut other = new_job("k", "other", t(1), t(1));
    other.account_id = "other".into();
    db.insert_jobs(&[busy.clone(), busy2.clone(), other.clone()])
        .await
        .unwrap();
    let claimed = db
        .claim_jobs_except("node-a", t(5), 10, LEASE, &["busy".to_owned()])
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [other.id]);
    let rest = db
        .claim_jobs_except("node-a", t(5), 10, LEASE, &[])
        .await
        .unwrap();
    assert_eq!(
        rest.len(),
        2,
        "the busy account's jobs when nothing is left out"
    );

    // Several accounts left out, and accounts before, between and after them in byte
    // order (which differs from most locales' order: "B" < "a" < "busy" < "busy2" < "é").
    let mut jobs = Vec::new();
    for (i, account) in ["B", "a", "busy", "busy2", "c", "é", "zz", ""]
        .iter()
        .enumerate()
    {
        let mut j = new_job("k", &format!("{account}-{i}"), t(10 + i as i64), t(10));
        j.account_id = (*account).into();
        jobs.push(j);
    }
    let mut later = new_job("k", "later", t(100), t(10));
    later.account_id = "c".into();
    let mut pinned = new_job("k", "pinned", t(10), t(10));
    pinned.account_id = "c".into();
    pinned.run_on = RunOn::Node("node-b".into());
    db.insert_jobs(&jobs).await.unwrap();
    db.insert_jobs(&[later, pinned]).await.unwrap();
    let left_out = ["busy2", "a", "é", "a"].map(String::from);
    let claimed = db
        .claim_jobs_except("node-a", t(50), 10, LEASE, &left_out)
        .await
        .unwrap();
    let accounts: Vec<&str> = claimed.iter().map(|j| j.account_id.as_str()).collect();
    assert_eq!(accounts, ["B", "busy", "c", "zz", ""], "in due order");
    // A limit smaller than what is due takes the earliest.
    let rest = db
        .claim_jobs_except("node-a", t(50), 1, LEASE, &["a".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .map(|j| j.account_id.as_str())
            .collect::<Vec<_>>(),
        ["busy2"]
    );
    // Many accounts at their share at once (more ranges than a compound query takes).
    let mut many: Vec<String> = (0..600).map(|i| format!("team-{i:03}")).collect();
    many.push("é".into());
    let last = db
        .claim_jobs_except("node-a", t(50), 10, LEASE, &many)
        .await
        .unwrap();
    let accounts: Vec<&str> = last.iter().map(|j| j.account_id.as_str()).collect();
    assert_eq!(accounts, ["a"]);
}

/// An outcome and its audit entry commit together: the entries of outcomes that applied
/// are appended in batch order, chained to what was there; an outcome that did not apply
/// (another node's job, a finished job) leaves no entry.
pub async fn finish_audits_what_applied(db: Arc<dyn Database>) {
    let (j1, j2, j3) = three_jobs(db.as_ref(), [0, 0, 0]).await;
    assert_eq!(
        db.claim_jobs("node-a", t(1), 3, LEASE).await.unwrap().len(),
        3
    );
    let earlier = db
        .append_audit(&[entry("k", "config updated", "c1")])
        .await
        .unwrap();
    assert_eq!(db.finish_jobs_audited(&[]).await.unwrap(), 0);

    let audited = |f: JobFinish| {
        let e = NewAuditEntry::job_outcome("k", "rotation", &f);
        (f, e)
    };
    let batch = [
        audited(finish(j1.id, "node-a", JobStatus::Completed)),
        audited(finish(j2.id, "node-b", JobStatus::Completed)), // not node-b's job
        audited(finish(j3.id, "node-a", JobStatus::Failed)),
    ];
    assert_eq!(db.finish_jobs_audited(&batch).await.unwrap(), 2);
    assert_eq!(
        db.get_job(None, j2.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    let (n, log) = db.list_audit(&AuditFilter::default(), 10).await.unwrap();
    assert_eq!(n, 3, "{log:?}");
    let targets: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.entry.action.as_str(), e.entry.target.as_str()))
        .collect();
    let (t1, t3) = (j1.id.to_string(), j3.id.to_string());
    assert_eq!(
        targets,
        [
            ("config updated", "c1"),
            ("job completed", t1.as_str()),
            ("job failed", t3.as_str())
        ]
    );
    assert_eq!(log[1].prev_hash, earlier[0].hash, "chained to the log");
    assert_eq!(log[2].prev_hash, log[1].hash);
    assert_eq!(log[1].entry.detail["operation"], "rotation");

    // Finished already: neither recorded again nor audited again.
    assert_eq!(
        db.finish_jobs_audited(&[audited(finish(j1.id, "node-a", JobStatus::Cancelled))])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.list_audit(&AuditFilter::default(), 10).await.unwrap().0,
        3
    );
    // A batch with an invalid outcome writes nothing.
    let mut bad = finish(j2.id, "node-a", JobStatus::Completed);
    bad.status = JobStatus::Running;
    let err = db
        .finish_jobs_audited(&[
            audited(finish(j2.id, "node-a", JobStatus::Completed)),
            audited(bad),
        ])
        .await;
    assert!(matches!(err, Err(DbError::Invalid(_))), "{err:?}");
    assert_eq!(
        db.get_job(None, j2.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    assert_eq!(
        db.list_audit(&AuditFilter::default(), 10).await.unwrap().0,
        3
    );
    // Two outcomes of one job in a batch are refused: one row could take only one.
    let twice = [
        audited(finish(j2.id, "node-a", JobStatus::Completed)),
        audited(finish(j2.id, "node-a", JobStatus::Failed)),
    ];
    let err = db.finish_jobs_audited(&twice).await;
    assert!(matches!(err, Err(DbError::Invalid(_))), "{err:?}");
}

fn entry(account: &str, action: &str, target: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: chrono::Utc::now(),
        account_id: account.into(),
        token_id: None,
        action: action.into(),
        target: target.into(),
        result: "success".into(),
        detail: json!({}),
    }
}

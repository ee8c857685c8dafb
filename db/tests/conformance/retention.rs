//! Job retention: finished jobs purged into counts (once, even with two purgers),
//! payloads purged when no job names them, listings without params and logs.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{
    Database, JobCount, JobCountFilter, JobFilter, JobFinish, JobResult, JobStatus, Sort,
};
use serde_json::json;
use uuid::Uuid;

use crate::{new_job, t};

/// Inserts a job of `account` (and `config`), claims and finishes it with `status` and
/// `result`; `None` leaves it queued, `Some(Running)` running.
async fn job(
    db: &Arc<dyn Database>,
    account: &str,
    config: Option<Uuid>,
    end: Option<(JobStatus, Option<JobResult>)>,
) -> Uuid {
    // Jobs left queued are due later, so the claim below always takes the new job.
    let due = if end.is_none() { t(10) } else { t(0) };
    let mut j = new_job(account, "r", due, t(0));
    j.job_config_id = config;
    let id = j.id;
    db.insert_jobs(&[j]).await.unwrap();
    let Some((status, result)) = end else {
        return id;
    };
    let claimed = db
        .claim_jobs("n1", Utc::now(), 1, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, id);
    if status != JobStatus::Running {
        let finish = JobFinish {
            id,
            node_id: "n1".into(),
            attempt: None,
            status,
            result,
            message: Some("done".into()),
            details: None,
            logs: vec![],
            progress: None,
        };
        db.finish_jobs(&[finish]).await.unwrap();
    }
    id
}

async fn counts(db: &Arc<dyn Database>, f: JobCountFilter) -> Vec<JobCount> {
    db.job_counts(&f, 0, 100).await.unwrap().1
}

/// Purges in batches of `limit` until a pass deletes nothing; returns the total.
async fn purge_all(db: &Arc<dyn Database>, limit: i64) -> u64 {
    let before = Utc::now() + chrono::Duration::hours(1);
    let mut total = 0;
    loop {
        let n = db.purge_finished_jobs(before, limit).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

pub async fn purged_jobs_stay_counted(db: Arc<dyn Database>) {
    let config = Uuid::now_v7();
    let ok = Some((JobStatus::Completed, Some(JobResult::Success)));
    for _ in 0..3 {
        job(&db, "kylo", Some(config), ok).await;
    }
    job(
        &db,
        "kylo",
        Some(config),
        Some((JobStatus::Failed, Some(JobResult::Failure))),
    )
    .await;
    job(&db, "rey", None, ok).await;
    let running = job(&db, "rey", None, Some((JobStatus::Running, None))).await;
    let queued = job(&db, "kylo", Some(config), None).await;

    let today = Utc::now().date_naive();
    let before = counts(&db, JobCountFilter::default()).await;
    let want = |account: &str, config, status, result, count| JobCount {
        account_id: account.into(),
        day: today,
        job_config_id: config,
        operation: "cckm_key_rotation".into(),
        status,
        result,
        count,
    };
    assert_eq!(
        before,
        vec![
            want(
                "kylo",
                Some(config),
                JobStatus::Completed,
                Some(JobResult::Success),
                3
            ),
            want(
                "kylo",
                Some(config),
                JobStatus::Failed,
                Some(JobResult::Failure),
                1
            ),
            want(
                "rey",
                None,
                JobStatus::Completed,
                Some(JobResult::Success),
                1
            ),
        ],
        "finished jobs only, grouped, by day, account, config, status"
    );

    // Nothing ended before the epoch: nothing purged.
    assert_eq!(db.purge_finished_jobs(t(0), 100).await.unwrap(), 0);
    assert_eq!(purge_all(&db, 2).await, 5, "the five finished jobs");
    let (left, rows) = db
        .list_jobs(&JobFilter::default(), &Sort::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(left, 2);
    let mut ids: Vec<Uuid> = rows.iter().map(|j| j.id).collect();
    ids.sort();
    let mut want_ids = vec![queued, running];
    want_ids.sort();
    assert_eq!(ids, want_ids, "queued and running jobs are kept");
    assert_eq!(
        counts(&db, JobCountFilter::default()).await,
        before,
        "the counts do not change when their jobs are purged"
    );

    // A job finished after the purge adds to the same group.
    job(&db, "rey", None, ok).await;
    let rey = counts(
        &db,
        JobCountFilter {
            account_id: Some("rey".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rey.len(), 1);
    assert_eq!(rey[0].count, 2, "one purged plus one stored");

    // Filters apply to both halves.
    let by_config = counts(
        &db,
        JobCountFilter {
            job_config_id: Some(config),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_config.iter().map(|c| c.count).sum::<i64>(), 4);
    let tomorrow = today.succ_opt().unwrap();
    assert!(
        counts(
            &db,
            JobCountFilter {
                from: Some(tomorrow),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    assert_eq!(
        counts(
            &db,
            JobCountFilter {
                from: Some(today),
                to: Some(today),
                ..Default::default()
            }
        )
        .await
        .len(),
        3
    );
    assert!(
        counts(
            &db,
            JobCountFilter {
                operation: Some("database_backup".into()),
                ..Default::default()
            }
        )
        .await
        .is_empty()
    );
    let (total, page) = db
        .job_counts(&JobCountFilter::default(), 1, 1)
        .await
        .unwrap();
    assert_eq!(
        (total, page.len()),
        (3, 1),
        "paged, with the number of groups"
    );
}

pub async fn concurrent_purges_count_each_job_once(db: Arc<dyn Database>) {
    let ok = Some((JobStatus::Completed, Some(JobResult::Success)));
    for _ in 0..40 {
        job(&db, "kylo", None, ok).await;
    }
    let (a, b) = tokio::join!(purge_all(&db, 3), purge_all(&db, 5));
    assert_eq!(a + b, 40, "every job purged by exactly one purger");
    let c = counts(&db, JobCountFilter::default()).await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].count, 40, "and counted once");
}

pub async fn unreferenced_payloads_are_purged(db: Arc<dyn Database>) {
    let (used, unused) = ("a".repeat(64), "b".repeat(64));
    db.put_payload("kylo", &used, "CERT A").await.unwrap();
    db.put_payload("kylo", &unused, "CERT B").await.unwrap();
    // Another account's job naming `unused` does not keep kylo's copy.
    let mut other = new_job("rey", "m", t(0), t(0));
    other.params = json!({"certificate_sha256": unused});
    let mut j = new_job("kylo", "m", t(0), t(0));
    j.params = json!({"certificate_sha256": used});
    let id = j.id;
    db.insert_jobs(&[j, other]).await.unwrap();

    let grace = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        db.purge_unreferenced_payloads(grace).await.unwrap(),
        0,
        "payloads within the grace period are kept"
    );
    let later = Utc::now() + chrono::Duration::hours(1);
    assert_eq!(db.purge_unreferenced_payloads(later).await.unwrap(), 1);
    assert_eq!(
        db.get_payload("kylo", &used).await.unwrap().as_deref(),
        Some("CERT A")
    );
    assert_eq!(db.get_payload("kylo", &unused).await.unwrap(), None);

    db.delete_job(None, id).await.unwrap();
    assert_eq!(db.purge_unreferenced_payloads(later).await.unwrap(), 1);
    assert_eq!(db.get_payload("kylo", &used).await.unwrap(), None);

    // Storing a payload again restarts its grace period: a request about to reference an
    // old payload does not lose it to a purge between storing and queueing its jobs.
    db.put_payload("kylo", &used, "CERT A").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mark = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    db.put_payload("kylo", &used, "CERT A").await.unwrap();
    assert_eq!(db.purge_unreferenced_payloads(mark).await.unwrap(), 0);
    assert!(db.get_payload("kylo", &used).await.unwrap().is_some());
}

pub async fn listings_leave_out_params_and_logs(db: Arc<dyn Database>) {
    let mut j = new_job("kylo", "r", t(0), t(0));
    j.params = json!({"cloud_name": "aws", "big": "x".repeat(1000)});
    db.insert_jobs(&[j]).await.unwrap();
    let list = |omit_params, omit_logs| {
        let db = db.clone();
        async move {
            let f = JobFilter {
                omit_params,
                omit_logs,
                ..Default::default()
            };
            db.list_jobs(&f, &Sort::default(), 0, 10).await.unwrap().1
        }
    };
    let full = list(false, false).await;
    assert_eq!(full[0].params["cloud_name"], "aws");
    let light = list(true, true).await;
    assert_eq!(light[0].params, json!({}));
    assert!(light[0].logs.is_empty());
    let mut same = light[0].clone();
    same.params = full[0].params.clone();
    same.logs = full[0].logs.clone();
    assert_eq!(same, full[0], "every other field is read as before");
    assert_eq!(list(false, true).await[0].params, full[0].params);
    assert_eq!(list(true, false).await[0].params, json!({}));
}

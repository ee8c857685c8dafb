//! Job listing: every filter, sort keys (including NULL placement), paging with totals.

use std::sync::Arc;
use std::time::Duration;

use keywarden_db::{Database, DbError, JobFilter, JobFinish, JobStatus, Sort, Total};
use uuid::Uuid;

use crate::{new_job, t};

/// Jobs for the job-list tests, with a mix of statuses and nodes:
/// j0 (kylo, config A, rotation) completed on n1; j1 (kylo, config A) running on n2;
/// j2 (kylo, sync) queued; j3 (acme, config B, rotation) failed on n1; j4 (acme, backup) queued.
async fn seed_jobs(db: &Arc<dyn Database>) -> (Vec<Uuid>, Uuid, Uuid) {
    let (ca, cb) = (Uuid::now_v7(), Uuid::now_v7());
    let specs = [
        ("kylo", "rotate", Some(ca), "cckm_key_rotation", 10),
        ("kylo", "rotate", Some(ca), "cckm_key_rotation", 20),
        ("kylo", "sync", None, "cckm_synchronization", 30),
        ("acme", "rotate", Some(cb), "cckm_key_rotation", 40),
        ("acme", "backup", None, "database_backup", 50),
    ];
    let mut ids = Vec::new();
    for (account, name, config, op, at) in specs {
        let mut j = new_job(account, name, t(at), t(at));
        j.job_config_id = config;
        j.operation = op.into();
        ids.push(j.id);
        // One at a time so each claim below picks the intended job.
        db.insert_jobs(&[j]).await.unwrap();
    }
    let lease = Duration::from_secs(600);
    let claim = |node: &'static str, now| {
        let db = db.clone();
        async move {
            db.claim_jobs(node, now, 1, lease)
                .await
                .unwrap()
                .remove(0)
                .id
        }
    };
    assert_eq!(claim("n1", t(10)).await, ids[0]);
    assert_eq!(claim("n2", t(20)).await, ids[1]);
    let done = |id, node: &str, st: JobStatus| JobFinish {
        id,
        node_id: node.into(),
        attempt: None,
        status: st,
        result: None,
        message: None,
        details: None,
        logs: vec![],
        progress: None,
    };
    db.finish_jobs(&[done(ids[0], "n1", JobStatus::Completed)])
        .await
        .unwrap();
    db.delete_job(None, ids[2]).await.unwrap();
    let mut j2 = new_job("kylo", "sync", t(1_000_000), t(30));
    j2.id = ids[2];
    j2.operation = "cckm_synchronization".into();
    db.insert_jobs(&[j2]).await.unwrap(); // queued, due far in the future
    assert_eq!(claim("n1", t(40)).await, ids[3]);
    db.finish_jobs(&[done(ids[3], "n1", JobStatus::Failed)])
        .await
        .unwrap();
    (ids, ca, cb)
}

async fn job_ids(db: &Arc<dyn Database>, f: &JobFilter, sort: &Sort) -> (i64, Vec<Uuid>) {
    let (total, rows) = db.list_jobs(f, sort, 0, 100).await.unwrap();
    (total, rows.into_iter().map(|j| j.id).collect())
}

pub async fn job_filters(db: Arc<dyn Database>) {
    let (ids, ca, cb) = seed_jobs(&db).await;
    let sort = Sort::by("created_at", false);
    let check = |f: JobFilter, want: Vec<usize>| {
        let db = db.clone();
        let sort = sort.clone();
        let want: Vec<Uuid> = want.into_iter().map(|i| ids[i]).collect();
        async move {
            let (total, got) = job_ids(&db, &f, &sort).await;
            assert_eq!(got, want, "filter {f:?}");
            assert_eq!(total, want.len() as i64);
        }
    };
    check(JobFilter::default(), vec![0, 1, 2, 3, 4]).await;
    check(
        JobFilter {
            id: Some(ids[3]),
            ..Default::default()
        },
        vec![3],
    )
    .await;
    check(
        JobFilter {
            name: Some("rotate".into()),
            ..Default::default()
        },
        vec![0, 1, 3],
    )
    .await;
    check(
        JobFilter {
            account_id: Some("kylo".into()),
            ..Default::default()
        },
        vec![0, 1, 2],
    )
    .await;
    check(
        JobFilter {
            job_config_id: Some(ca),
            ..Default::default()
        },
        vec![0, 1],
    )
    .await;
    check(
        JobFilter {
            job_config_id: Some(cb),
            ..Default::default()
        },
        vec![3],
    )
    .await;
    check(
        JobFilter {
            operation: Some("database_backup".into()),
            ..Default::default()
        },
        vec![4],
    )
    .await;
    check(
        JobFilter {
            status: Some(JobStatus::Queued),
            ..Default::default()
        },
        vec![2, 4],
    )
    .await;
    check(
        JobFilter {
            status: Some(JobStatus::Running),
            ..Default::default()
        },
        vec![1],
    )
    .await;
    check(
        JobFilter {
            status: Some(JobStatus::Completed),
            ..Default::default()
        },
        vec![0],
    )
    .await;
    check(
        JobFilter {
            status: Some(JobStatus::Failed),
            ..Default::default()
        },
        vec![3],
    )
    .await;
    check(
        JobFilter {
            created_before: Some(t(20)),
            ..Default::default()
        },
        vec![0, 1],
    )
    .await;
    check(
        JobFilter {
            created_after: Some(t(40)),
            ..Default::default()
        },
        vec![3, 4],
    )
    .await;
    check(
        JobFilter {
            processing_node: Some("n1".into()),
            ..Default::default()
        },
        vec![0, 3],
    )
    .await;
    check(
        JobFilter {
            processing_node: Some("n2".into()),
            ..Default::default()
        },
        vec![1],
    )
    .await;
    check(
        JobFilter {
            account_id: Some("kylo".into()),
            name: Some("rotate".into()),
            status: Some(JobStatus::Completed),
            created_after: Some(t(10)),
            created_before: Some(t(10)),
            ..Default::default()
        },
        vec![0],
    )
    .await;
}

pub async fn job_sort_and_page(db: Arc<dyn Database>) {
    let (ids, _, _) = seed_jobs(&db).await;
    let f = JobFilter::default();
    let pick = |order: &[usize]| order.iter().map(|&i| ids[i]).collect::<Vec<_>>();
    assert_eq!(
        job_ids(&db, &f, &Sort::default()).await.1,
        pick(&[4, 3, 2, 1, 0])
    );
    assert_eq!(
        job_ids(&db, &f, &Sort::by("enqueued_at", false)).await.1,
        pick(&[0, 1, 2, 3, 4])
    );
    // Status then newest first: completed, failed, queued (4 then 2), running.
    assert_eq!(
        job_ids(&db, &f, &Sort::parse("status,-createdAt")).await.1,
        pick(&[0, 3, 4, 2, 1])
    );
    // NULLs sort first ascending and last descending, on both backends.
    assert_eq!(
        job_ids(&db, &f, &Sort::parse("processing_node,created_at"))
            .await
            .1,
        pick(&[2, 4, 0, 3, 1])
    );
    assert_eq!(
        job_ids(&db, &f, &Sort::parse("-processingNode,created_at"))
            .await
            .1,
        pick(&[1, 0, 3, 2, 4])
    );
    assert_eq!(
        job_ids(&db, &f, &Sort::parse("-name,-operation,enqueuedAt"))
            .await
            .1,
        pick(&[2, 0, 1, 3, 4])
    );
    let (total, page) = db
        .list_jobs(&f, &Sort::by("created_at", true), 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(page.iter().map(|j| j.id).collect::<Vec<_>>(), pick(&[3, 2]));
    let filtered = JobFilter {
        account_id: Some("kylo".into()),
        ..Default::default()
    };
    let (total, page) = db
        .list_jobs(&filtered, &Sort::by("created_at", false), 2, 2)
        .await
        .unwrap();
    assert_eq!((total, page.len()), (3, 1));
    assert!(matches!(
        db.list_jobs(&f, &Sort::by("disabled", false), 0, 10).await,
        Err(DbError::InvalidSort(_))
    ));
}

/// `updated_after` finds the jobs that changed since a moment, whatever changed them:
/// what the live streams of `GET /api/v1/scheduler/events` ask every second.
pub async fn jobs_changed_since(db: Arc<dyn Database>) {
    let a = new_job("kylo", "a", t(10), t(10));
    let b = new_job("kylo", "b", t(20), t(20));
    let other = new_job("acme", "c", t(20), t(20));
    db.insert_jobs(&[a.clone(), b.clone(), other.clone()])
        .await
        .unwrap();
    let since = |at, account: Option<&str>| JobFilter {
        updated_after: Some(at),
        account_id: account.map(str::to_owned),
        ..Default::default()
    };
    let sort = Sort::by("updated_at", false);
    let (_, found) = job_ids(&db, &since(t(15), Some("kylo")), &sort).await;
    assert_eq!(
        found,
        vec![b.id],
        "inserted after the moment, in the account"
    );
    let (_, found) = job_ids(&db, &since(t(20), None), &sort).await;
    assert_eq!(found.len(), 2, "inclusive bound: {found:?}");

    let claimed = db
        .claim_jobs("n1", t(30), 1, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, a.id);
    let before_progress = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert!(db.update_progress(a.id, 1, 4).await.unwrap());
    let (_, found) = job_ids(&db, &since(before_progress, Some("kylo")), &sort).await;
    assert_eq!(found, vec![a.id], "progress is a change");
}

/// `queue_stats`: waiting, due and running jobs, and how long the oldest due one waits
/// (the metrics' queue depth and age).
pub async fn queue_stats_count_the_queue(db: Arc<dyn Database>) {
    assert_eq!(
        db.queue_stats(t(0)).await.unwrap(),
        keywarden_db::QueueStats::default()
    );
    let first = new_job("kylo", "a", t(10), t(10));
    let second = new_job("acme", "b", t(20), t(10));
    let later = new_job("kylo", "c", t(1_000), t(10));
    db.insert_jobs(&[first.clone(), second.clone(), later])
        .await
        .unwrap();
    let claimed = db
        .claim_jobs("n1", t(30), 1, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, first.id);
    let stats = db.queue_stats(t(30)).await.unwrap();
    assert_eq!(
        stats,
        keywarden_db::QueueStats {
            queued: 2,
            due: 1,
            running: 1,
            oldest_due: Some(t(20)),
        }
    );
}

/// A listing with a `count_bound` counts one match past it and no further, so
/// `Total::of` can say "more than the bound"; below the bound the count is exact. The page
/// itself is the same either way. Job history and job configs count the same way.
pub async fn counts_stop_past_the_bound(db: Arc<dyn Database>) {
    seed_jobs(&db).await;
    let bounded = |bound: i64| JobFilter {
        count_bound: Some(bound),
        ..JobFilter::default()
    };
    let (exact, all) = db
        .list_jobs(&JobFilter::default(), &Sort::default(), 0, 2)
        .await
        .unwrap();
    assert_eq!(exact, 5);
    let (counted, page) = db
        .list_jobs(&bounded(3), &Sort::default(), 0, 2)
        .await
        .unwrap();
    assert_eq!(counted, 4, "one past the bound");
    assert_eq!(page, all);
    assert_eq!(
        Total::of(counted, Some(3)),
        Total {
            count: 3,
            exact: false
        }
    );
    assert_eq!(Total::of(counted, Some(3)).to_string(), "more than 3");
    let (counted, _) = db
        .list_jobs(&bounded(5), &Sort::default(), 0, 2)
        .await
        .unwrap();
    assert_eq!(Total::of(counted, Some(5)), Total::exact(5), "all five fit");
    let (counted, _) = db
        .list_jobs(&bounded(4), &Sort::default(), 0, 2)
        .await
        .unwrap();
    assert!(!Total::of(counted, Some(4)).exact, "five is more than four");
    // With a filter: one failed job, within the bound.
    let failed = JobFilter {
        status: Some(JobStatus::Failed),
        count_bound: Some(1),
        ..JobFilter::default()
    };
    let (counted, _) = db
        .list_jobs(&failed, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(Total::of(counted, Some(1)), Total::exact(1));

    let history = |bound| keywarden_db::JobQuery {
        account_id: None,
        condition: keywarden_db::JobCondition::True,
        order: vec![],
        count_bound: bound,
    };
    let (counted, entries) = db
        .query_job_history(&history(Some(2)), 0, 10)
        .await
        .unwrap();
    assert_eq!((counted, entries.len()), (3, 5));
    let (counted, _) = db.query_job_history(&history(None), 0, 10).await.unwrap();
    assert_eq!(counted, 5);

    for i in 0..3 {
        db.insert_config(&keywarden_db::JobConfig::new(
            "kylo",
            &format!("c{i}"),
            "cckm_key_rotation",
            "0 * * * *",
            t(0),
        ))
        .await
        .unwrap();
    }
    let configs = keywarden_db::ConfigFilter {
        count_bound: Some(1),
        ..Default::default()
    };
    let (counted, page) = db
        .list_configs(&configs, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!((counted, page.len()), (2, 3));
}

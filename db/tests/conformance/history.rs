//! Job history: audit ids, condition queries (every operator, NULL handling, nesting,
//! account scope), rank ordering, acknowledgement and reschedule.

use std::sync::Arc;
use std::time::Duration;

use keywarden_db::{
    Compare, ConfigFacts, Database, DbError, JobCondition, JobConfig, JobField, JobFinish,
    JobOrder, JobQuery, JobResult, JobStatus, JobValue, NewJob, Recurrence, ScheduleKind,
};
use uuid::Uuid;

use crate::{assert_conflict, new_job, t};

async fn ids(db: &Arc<dyn Database>, query: &JobQuery) -> Vec<Uuid> {
    db.query_job_history(query, 0, 100)
        .await
        .unwrap()
        .1
        .into_iter()
        .map(|e| e.job.id)
        .collect()
}

fn all(condition: JobCondition) -> JobQuery {
    JobQuery {
        account_id: None,
        condition,
        order: vec![],
        count_bound: None,
    }
}

fn cmp(field: JobField, op: Compare, value: JobValue) -> JobCondition {
    JobCondition::Compare { field, op, value }
}

fn text(s: &str) -> JobValue {
    JobValue::Text(s.to_owned())
}

/// Audit ids: assigned on insert, unique, increasing across single and batch inserts and
/// config fires, never reused after a delete.
pub async fn audit_ids_are_assigned_on_insert(db: Arc<dyn Database>) {
    let a = new_job("kylo", "a", t(0), t(0));
    db.insert_jobs(std::slice::from_ref(&a)).await.unwrap();
    let batch: Vec<_> = (1..=3)
        .map(|i| new_job("kylo", &format!("b{i}"), t(i), t(i)))
        .collect();
    db.insert_jobs(&batch).await.unwrap();
    db.delete_job(None, batch[2].id).await.unwrap();
    let c = new_job("acme", "c", t(9), t(9));
    db.insert_jobs(std::slice::from_ref(&c)).await.unwrap();
    let order = vec![(JobOrder::Field(JobField::AuditId), false)];
    let (total, page) = db
        .query_job_history(
            &JobQuery {
                account_id: None,
                condition: JobCondition::True,
                order,
                count_bound: None,
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(total, 4);
    let audit: Vec<i64> = page.iter().map(|e| e.audit_id).collect();
    let names: Vec<&str> = page.iter().map(|e| e.job.name.as_str()).collect();
    assert_eq!(names, ["a", "b1", "b2", "c"]);
    assert_eq!(audit[1], audit[0] + 1);
    assert_eq!(audit[2], audit[1] + 1);
    assert_eq!(audit[3], audit[2] + 2, "the deleted job's id is not reused");
    assert!(
        page.iter()
            .all(|e| !e.acknowledged && e.rescheduled_as.is_none())
    );
    // The id identifies the job.
    let by_id = all(JobCondition::eq(JobField::AuditId, JobValue::Int(audit[3])));
    assert_eq!(ids(&db, &by_id).await, [c.id]);
    // Concurrent inserters never get the same id (unique index + counter row).
    let mut tasks = Vec::new();
    for w in 0..4 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let j = new_job("kylo", &format!("w{w}-{i}"), t(100), t(100));
                db.insert_jobs(&[j]).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (total, page) = db
        .query_job_history(&all(JobCondition::True), 0, 100)
        .await
        .unwrap();
    assert_eq!(total, 44);
    let mut audit: Vec<i64> = page.iter().map(|e| e.audit_id).collect();
    audit.sort_unstable();
    audit.dedup();
    assert_eq!(audit.len(), 44);
}

/// Every operator on text, integer and time columns; NULLs; NOT/AND/OR; IN; scope.
pub async fn history_conditions(db: Arc<dyn Database>) {
    let mut jobs = Vec::new();
    for (i, (account, name, op, target)) in [
        ("kylo", "Rotate 50%", "cckm_key_rotation", Some("aws")),
        ("kylo", "sync_all", "cckm_synchronization", None),
        ("kylo", "hello", "hello", Some("AWS")),
        ("acme", "rotate", "cckm_key_rotation", Some("gcp")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut j = new_job(account, name, t(i as i64 * 10), t(i as i64 * 10));
        j.operation = op.into();
        j.target = target.map(str::to_owned);
        db.insert_jobs(std::slice::from_ref(&j)).await.unwrap();
        jobs.push(j.id);
    }
    let pick = |idx: &[usize]| idx.iter().map(|i| jobs[*i]).collect::<Vec<_>>();
    let q = |c: JobCondition| all(c);
    let check = async |c: JobCondition, want: &[usize]| {
        let mut got = ids(&db, &q(c.clone())).await;
        got.sort();
        let mut want = pick(want);
        want.sort();
        assert_eq!(got, want, "{c:?}");
    };
    // Text: case-insensitive equality, NULL never equal, Ne includes NULL.
    check(cmp(JobField::Target, Compare::Eq, text("aws")), &[0, 2]).await;
    check(cmp(JobField::Target, Compare::Ne, text("AWS")), &[1, 3]).await;
    check(JobCondition::IsNull(JobField::Target), &[1]).await;
    check(JobCondition::is(JobField::Target, "aws"), &[0]).await;
    // LIKE metacharacters are literal.
    check(cmp(JobField::Name, Compare::Contains, text("50%")), &[0]).await;
    check(cmp(JobField::Name, Compare::Contains, text("_")), &[1]).await;
    check(cmp(JobField::Name, Compare::Contains, text("%")), &[0]).await;
    check(
        cmp(JobField::Name, Compare::StartsWith, text("ROT")),
        &[0, 3],
    )
    .await;
    check(
        cmp(JobField::Operation, Compare::StartsWith, text("cckm_")),
        &[0, 1, 3],
    )
    .await;
    // Times and integers.
    check(
        cmp(JobField::CreatedAt, Compare::Gt, JobValue::Time(t(10))),
        &[2, 3],
    )
    .await;
    check(
        cmp(JobField::CreatedAt, Compare::Ge, JobValue::Time(t(10))),
        &[1, 2, 3],
    )
    .await;
    check(
        cmp(JobField::CreatedAt, Compare::Lt, JobValue::Time(t(10))),
        &[0],
    )
    .await;
    check(
        cmp(JobField::CreatedAt, Compare::Le, JobValue::Time(t(10))),
        &[0, 1],
    )
    .await;
    check(
        cmp(JobField::StartedAt, Compare::Lt, JobValue::Time(t(999))),
        &[],
    )
    .await;
    check(
        cmp(JobField::StartedAt, Compare::Lt, JobValue::Time(t(999))).negate(),
        &[0, 1, 2, 3],
    )
    .await;
    check(
        cmp(JobField::Attempt, Compare::Eq, JobValue::Int(0)),
        &[0, 1, 2, 3],
    )
    .await;
    // Nesting.
    check(
        JobCondition::Any(vec![
            JobCondition::All(vec![
                cmp(JobField::Operation, Compare::Eq, text("cckm_key_rotation")),
                cmp(JobField::Target, Compare::Ne, text("gcp")),
            ]),
            JobCondition::is(JobField::Name, "hello"),
        ]),
        &[0, 2],
    )
    .await;
    check(JobCondition::All(vec![]), &[0, 1, 2, 3]).await;
    check(JobCondition::Any(vec![]), &[]).await;
    check(
        JobCondition::In {
            field: JobField::Id,
            values: vec![],
        },
        &[],
    )
    .await;
    check(
        JobCondition::In {
            field: JobField::Id,
            values: vec![jobs[1].to_string(), jobs[3].to_string()],
        },
        &[1, 3],
    )
    .await;
    check(JobCondition::False.negate(), &[0, 1, 2, 3]).await;
    // Scope.
    let scoped = JobQuery {
        account_id: Some("acme".into()),
        condition: JobCondition::True,
        order: vec![],
        count_bound: None,
    };
    assert_eq!(ids(&db, &scoped).await, pick(&[3]));
    // A type mismatch is refused, not rendered.
    let bad = cmp(JobField::CreatedAt, Compare::Contains, text("x"));
    assert!(matches!(
        db.query_job_history(&q(bad), 0, 10).await,
        Err(DbError::Invalid(_))
    ));
    let bad = cmp(JobField::AuditId, Compare::Eq, text("1"));
    assert!(matches!(
        db.query_job_history(&q(bad), 0, 10).await,
        Err(DbError::Invalid(_))
    ));
    // Deep nesting is refused.
    let mut deep = JobCondition::True;
    for _ in 0..100 {
        deep = deep.negate();
    }
    assert!(matches!(
        db.query_job_history(&q(deep), 0, 10).await,
        Err(DbError::Invalid(_))
    ));
    // Ordering: by a field, by rank, paging.
    let by = |order: Vec<(JobOrder, bool)>| JobQuery {
        account_id: None,
        condition: JobCondition::True,
        order,
        count_bound: None,
    };
    assert_eq!(
        ids(&db, &by(vec![(JobOrder::Field(JobField::Name), false)])).await,
        pick(&[0, 2, 3, 1]),
        "bytewise: upper case first"
    );
    assert_eq!(
        ids(&db, &by(vec![(JobOrder::Field(JobField::Target), true)])).await,
        pick(&[3, 0, 2, 1]),
        "descending, NULL last"
    );
    let rank = JobOrder::Rank(vec![
        JobCondition::is(JobField::Operation, "hello"),
        JobCondition::is(JobField::Operation, "cckm_synchronization"),
    ]);
    assert_eq!(
        ids(&db, &by(vec![(rank.clone(), false)])).await,
        pick(&[2, 1, 0, 3])
    );
    assert_eq!(
        ids(&db, &by(vec![(rank, true)])).await,
        pick(&[3, 0, 1, 2]),
        "ties broken by audit id in the first key's direction"
    );
    let (total, page) = db
        .query_job_history(
            &by(vec![(JobOrder::Field(JobField::CreatedAt), true)]),
            1,
            2,
        )
        .await
        .unwrap();
    assert_eq!(total, 4);
    let page: Vec<Uuid> = page.into_iter().map(|e| e.job.id).collect();
    assert_eq!(page, pick(&[2, 1]));
}

/// Acknowledgement marks the latest attempt; a retry's new attempt is unacknowledged.
/// Reschedule is all or nothing and once per job.
pub async fn acknowledge_and_reschedule(db: Arc<dyn Database>) {
    let mut a = new_job("kylo", "a", t(0), t(0));
    a.max_attempts = 2;
    let b = new_job("kylo", "b", t(1), t(1));
    let other = new_job("acme", "c", t(2), t(2));
    db.insert_jobs(&[a.clone(), b.clone(), other.clone()])
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    let claimed = db.claim_jobs("n1", t(5), 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let fail = |id| JobFinish {
        id,
        node_id: "n1".into(),
        attempt: None,
        status: JobStatus::Failed,
        result: Some(JobResult::Failure),
        message: Some("boom".into()),
        details: None,
        logs: vec![],
        progress: None,
    };
    db.finish_jobs(&[fail(b.id), fail(other.id)]).await.unwrap();
    // a: attempt 1 failed, retry pending.
    assert!(
        db.retry_job(&crate::recovery::requeue(a.id, "n1", t(6), "retrying"))
            .await
            .unwrap()
    );

    let acked = |id: Uuid| {
        let db = db.clone();
        async move {
            let q = all(JobCondition::In {
                field: JobField::Id,
                values: vec![id.to_string()],
            });
            db.query_job_history(&q, 0, 1).await.unwrap().1[0].acknowledged
        }
    };
    // Scoped: kylo cannot acknowledge acme's job.
    let every = JobCondition::True;
    assert_eq!(db.acknowledge_jobs(Some("kylo"), &every).await.unwrap(), 2);
    assert!(acked(a.id).await && acked(b.id).await);
    assert!(!acked(other.id).await);
    let q = all(JobCondition::Acknowledged);
    assert_eq!(ids(&db, &q).await.len(), 2);
    // The retry runs: a new attempt, no longer acknowledged.
    let claimed = db.claim_jobs("n1", t(7), 10, lease).await.unwrap();
    assert_eq!(claimed[0].id, a.id);
    assert!(!acked(a.id).await);

    // Reschedule b into a re-run.
    let mut rerun = new_job("kylo", "b", t(8), t(8));
    rerun.job_config_id = b.job_config_id;
    assert_eq!(
        db.reschedule_jobs(Some("kylo"), &[(b.id, rerun.clone())])
            .await
            .unwrap(),
        1
    );
    let got = all(JobCondition::Rescheduled);
    let page = db.query_job_history(&got, 0, 10).await.unwrap().1;
    assert_eq!(page.len(), 1);
    assert_eq!(
        (page[0].job.id, page[0].rescheduled_as),
        (b.id, Some(rerun.id))
    );
    let new = db.get_job(None, rerun.id).await.unwrap().unwrap();
    assert_eq!(new.status, JobStatus::Queued);
    // Twice, or a running job, or another account's job: refused, and nothing changes.
    let before = db
        .query_job_history(&all(JobCondition::True), 0, 100)
        .await
        .unwrap()
        .0;
    let again = new_job("kylo", "b", t(9), t(9));
    assert_conflict(
        db.reschedule_jobs(Some("kylo"), &[(b.id, again.clone())])
            .await,
    );
    let running = new_job("kylo", "a", t(9), t(9));
    assert_conflict(db.reschedule_jobs(None, &[(a.id, running)]).await);
    let foreign = new_job("kylo", "c", t(9), t(9));
    assert_conflict(
        db.reschedule_jobs(Some("kylo"), &[(other.id, foreign)])
            .await,
    );
    // A batch with one bad member changes nothing.
    let ok = new_job("acme", "c", t(9), t(9));
    let bad = new_job("kylo", "b", t(9), t(9));
    assert_conflict(
        db.reschedule_jobs(None, &[(other.id, ok.clone()), (b.id, bad)])
            .await,
    );
    let after = db
        .query_job_history(&all(JobCondition::True), 0, 100)
        .await
        .unwrap()
        .0;
    assert_eq!(before, after);
    assert!(db.get_job(None, ok.id).await.unwrap().is_none());
    let c = db
        .query_job_history(&all(JobCondition::Rescheduled), 0, 10)
        .await
        .unwrap();
    assert_eq!(c.0, 1);
}

/// The facts recorded on configs (kind, target) travel into the jobs they fire, are a
/// condition like any other column, and configs written before they existed are found,
/// classified and their past jobs updated.
pub async fn schedule_kinds_are_recorded(db: Arc<dyn Database>) {
    let mut weekly = JobConfig::new("kylo", "weekly", "Inventory", "0 9 * * 1", t(0));
    weekly.schedule_kind = Some(ScheduleKind::Weekly);
    weekly.target = Some("PEM".into());
    db.insert_config(&weekly).await.unwrap();
    let fired = NewJob::from_config(&weekly, t(10), t(10));
    assert_eq!(fired.schedule_kind, Some(ScheduleKind::Weekly));
    assert_eq!(fired.target.as_deref(), Some("PEM"));
    let immediate = new_job("kylo", "now", t(10), t(10));
    db.insert_jobs(&[fired.clone(), immediate.clone()])
        .await
        .unwrap();
    let stored = db.get_job(None, fired.id).await.unwrap().unwrap();
    assert_eq!(stored.schedule_kind, Some(ScheduleKind::Weekly));
    let by_kind = |kind: ScheduleKind| JobQuery {
        account_id: Some("kylo".into()),
        condition: JobCondition::is(JobField::ScheduleKind, kind.as_str()),
        order: vec![],
        count_bound: None,
    };
    assert_eq!(ids(&db, &by_kind(ScheduleKind::Weekly)).await, [fired.id]);
    assert!(ids(&db, &by_kind(ScheduleKind::Daily)).await.is_empty());
    let none = JobQuery {
        account_id: Some("kylo".into()),
        condition: JobCondition::IsNull(JobField::ScheduleKind),
        order: vec![],
        count_bound: None,
    };
    assert_eq!(ids(&db, &none).await, [immediate.id]);

    // A config from before kinds were recorded, with a job it fired.
    let legacy = JobConfig::new("kylo", "legacy", "hello", "@daily", t(0));
    db.insert_config(&legacy).await.unwrap();
    let old_job = NewJob::from_config(&legacy, t(20), t(20));
    db.insert_jobs(std::slice::from_ref(&old_job))
        .await
        .unwrap();
    // One that only records an immediate run is not "unclassified".
    let mut recorded = JobConfig::new("kylo", "recorded", "Inventory", "0 0 0 1 1 *", t(0));
    recorded.recurrence = Some(Recurrence::Immediate);
    db.insert_config(&recorded).await.unwrap();
    let found = db.unclassified_configs(10).await.unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [legacy.id]);
    let n = db
        .record_config_facts(&[ConfigFacts {
            id: legacy.id,
            target: Some("aws".into()),
            schedule_kind: Some(ScheduleKind::Daily),
            recurrence: None,
            description: "daily greeting".into(),
        }])
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(db.unclassified_configs(10).await.unwrap().is_empty());
    let legacy = db.get_config(None, legacy.id).await.unwrap().unwrap();
    assert_eq!(
        (
            legacy.schedule_kind,
            legacy.target.as_deref(),
            legacy.description.as_str()
        ),
        (Some(ScheduleKind::Daily), Some("aws"), "daily greeting")
    );
    let old_job = db.get_job(None, old_job.id).await.unwrap().unwrap();
    assert_eq!(old_job.schedule_kind, Some(ScheduleKind::Daily));
    // Jobs of other configs are untouched.
    let stored = db.get_job(None, immediate.id).await.unwrap().unwrap();
    assert_eq!(stored.schedule_kind, None);
}

//! Scheduling policies: a config's windows, jitter and pause limit are stored as written;
//! a job keeps its `start_by`; the latest outcomes of a config come newest first and only
//! after a given instant; a pause is taken once.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keywarden_db::{
    Database, JobConfig, JobStatus, SchedulingPolicy, WhenBusy, WindowSpec, truncate_micros,
};

use super::executor::{LEASE, finish};
use super::{new_job, t};

pub async fn policies_and_pauses(db: Arc<dyn Database>) {
    let mut config = JobConfig::new("kylo", "nightly", "cckm_key_rotation", "0 3 * * *", t(0));
    config.policy = SchedulingPolicy {
        maintenance_windows: vec![WindowSpec {
            start: "0 22 * * sat".into(),
            timezone: Some("Europe/Berlin".into()),
            duration_secs: 6 * 3600,
        }],
        blackout_windows: vec![WindowSpec {
            start: "0 0 24 12 *".into(),
            timezone: None,
            duration_secs: 86_400,
        }],
        jitter_secs: 900,
        pause_after_failures: 3,
        when_target_busy: WhenBusy::Skip,
    };
    config.next_fire_at = Some(t(3600));
    let stored = db.insert_config(&config).await.unwrap();
    assert_eq!(stored.policy, config.policy);
    assert_eq!(stored.paused_reason, None);
    let again = db.get_config(None, config.id).await.unwrap().unwrap();
    assert_eq!(again.policy, config.policy);
    let mut edited = again.clone();
    edited.policy.maintenance_windows.clear();
    edited.policy.jitter_secs = 0;
    let edited = db.update_config(&edited).await.unwrap();
    assert!(edited.policy.maintenance_windows.is_empty());
    assert_eq!(
        edited.policy.blackout_windows,
        config.policy.blackout_windows
    );

    // Jobs of the config keep their start_by; outcomes come newest first.
    let before = Utc::now() - Duration::seconds(1);
    let mut finished_at = Vec::new();
    for (i, status) in [
        JobStatus::Failed,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        let mut job = new_job("kylo", "nightly", t(i as i64), t(0));
        job.job_config_id = Some(config.id);
        job.start_by = Some(t(i as i64 + 60));
        db.insert_jobs(std::slice::from_ref(&job)).await.unwrap();
        let got = db.get_job(None, job.id).await.unwrap().unwrap();
        assert_eq!(got.start_by, Some(t(i as i64 + 60)));
        let claimed = db.claim_jobs("node-a", t(100), 1, LEASE).await.unwrap();
        assert_eq!(claimed[0].id, job.id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        assert_eq!(
            db.finish_jobs(&[finish(job.id, "node-a", status)])
                .await
                .unwrap(),
            1
        );
        finished_at.push(
            db.get_job(None, job.id)
                .await
                .unwrap()
                .unwrap()
                .finished_at
                .unwrap(),
        );
    }
    assert_eq!(
        db.latest_outcomes(config.id, before, 3).await.unwrap(),
        [JobStatus::Failed, JobStatus::Failed, JobStatus::Completed]
    );
    assert_eq!(
        db.latest_outcomes(config.id, before, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    // Only what finished after `since`.
    assert_eq!(
        db.latest_outcomes(config.id, finished_at[1], 10)
            .await
            .unwrap(),
        [JobStatus::Failed, JobStatus::Failed]
    );
    assert!(
        db.latest_outcomes(config.id, finished_at[3], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.latest_outcomes(uuid::Uuid::now_v7(), before, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A pause is taken once and recorded; a user's change time stays.
    let at = truncate_micros(Utc::now());
    assert!(
        db.pause_config(config.id, "paused after 3 failed runs", at)
            .await
            .unwrap()
    );
    assert!(!db.pause_config(config.id, "again", at).await.unwrap());
    let paused = db.get_config(None, config.id).await.unwrap().unwrap();
    assert!(paused.disabled);
    assert_eq!(paused.next_fire_at, None);
    assert_eq!(
        paused.paused_reason.as_deref(),
        Some("paused after 3 failed runs")
    );
    assert_eq!(paused.paused_at, Some(at));
    assert_eq!(paused.updated_at, edited.updated_at);
    assert!(
        !db.pause_config(uuid::Uuid::now_v7(), "missing", at)
            .await
            .unwrap()
    );
}
